"""Helpers for tests and benchmarks: run the emulator as a real subprocess and drive its admin API.

with EmulatorProcess(rate_limit_rps=20) as emu:
    emu.api_url            # "http://127.0.0.1:PORT/api/v2/"
    emu.admin.tree()
    emu.kill(); emu.restart()   # same data dir, same port when possible
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

import syncd
from syncd.emulator.store import BLOB_DIR

# The actions that change the account: what "zero mutating calls" counts in admin counts.
MUTATING_ACTIONS = (
    "file/upload",
    "file/edit",
    "file/delete",
    "file/move",
    "file/copy",
    "folder/create",
    "folder/edit",
    "folder/delete",
    "folder/move",
)


_PROJECT_ROOT = str(Path(syncd.__file__).resolve().parent.parent)

# knob name -> command-line flag of `python -m syncd.emulator`
_FLAGS = {
    "host": "--host",
    "latency_ms": "--latency-ms",
    "rate_limit_rps": "--rate-limit",
    "upload_concurrency_limit": "--upload-concurrency-limit",
    "fault_rate": "--fault-rate",
    "fault_kinds": "--fault-kinds",
    "fault_seed": "--fault-seed",
    "stall_s": "--stall-s",
    "token_lifetime_s": "--token-lifetime",
    "max_upload_size": "--max-upload-size",
    "concurrent_uploads": "--concurrent-uploads",
    "auth_method": "--auth-method",
    "profile": "--profile",
    "key1": "--key1",
    "key2": "--key2",
    "username": "--username",
    "password": "--password",
    "lockout_after_failures": "--lockout-after-failures",
    # the command-line spellings work too
    "rate_limit": "--rate-limit",
    "token_lifetime": "--token-lifetime",
}


class EmulatorError(RuntimeError):
    """The emulator did not start, or an admin call failed."""


class EmulatorAdmin:
    """Client of the loopback admin API (see docs/contracts.md)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._http = httpx.Client(base_url=base_url, timeout=30.0)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, path, json=body)
        if response.status_code != 200:
            raise EmulatorError(
                f"admin {method} {path}: HTTP {response.status_code} {response.text}"
            )
        return response.json()

    def tree(self) -> dict[str, list[dict[str, Any]]]:
        return self._call("GET", "/admin/tree")

    def counts(self) -> dict[str, int]:
        return self._call("GET", "/admin/counts")

    def reset_counts(self) -> None:
        self._call("POST", "/admin/counts/reset")

    def knobs(self) -> dict[str, Any]:
        return self._call("GET", "/admin/knobs")

    def set_knobs(self, **knobs: Any) -> dict[str, Any]:
        return self._call("POST", "/admin/knobs", knobs)

    def drift(self, op: str, **fields: Any) -> dict[str, Any]:
        return self._call("POST", "/admin/drift", {"op": op, **fields})

    def revoke_tokens(self) -> None:
        self._call("POST", "/admin/revoke_tokens")

    def _active_folder_paths(self, tree: dict[str, list[dict[str, Any]]]) -> dict[int, str]:
        """Path of every folder whose whole chain up to the root is active."""
        folders = {f["id"]: f for f in tree["folders"]}
        paths: dict[int, str] = {}

        def path_of(folder_id: int, depth: int = 0) -> str | None:
            if folder_id in paths:
                return paths[folder_id]
            folder = folders.get(folder_id)
            if folder is None or folder["status"] != "active" or depth > 10_000:
                return None
            parent = folder["parent_id"]
            parent_path = "" if parent is None else path_of(parent, depth + 1)
            if parent_path is None:
                return None
            paths[folder_id] = f"{parent_path}/{folder['name']}"
            return paths[folder_id]

        for folder_id in folders:
            path_of(folder_id)
        return paths

    def active_paths(self) -> dict[str, str]:
        """`{"/a/b.txt": md5}` for every active file reachable from the root."""
        tree = self.tree()
        folder_paths = self._active_folder_paths(tree)
        result: dict[str, str] = {}
        for f in tree["files"]:
            if f["status"] != "active":
                continue
            parent = "" if f["folder_id"] is None else folder_paths.get(f["folder_id"])
            if parent is not None:
                result[f"{parent}/{f['name']}"] = f["md5"]
        return result

    def duplicates(self) -> list[tuple[str, str]]:
        """(folder path, name) pairs held by more than one active entry (file or folder)."""
        tree = self.tree()
        folder_paths = self._active_folder_paths(tree)
        seen: Counter[tuple[str, str]] = Counter()
        for folder in tree["folders"]:
            if folder["id"] not in folder_paths:
                continue
            parent = folder["parent_id"]
            parent_path = "/" if parent is None else folder_paths[parent]
            seen[(parent_path, folder["name"])] += 1
        for f in tree["files"]:
            if f["status"] != "active":
                continue
            parent = "/" if f["folder_id"] is None else folder_paths.get(f["folder_id"])
            if parent is not None:
                seen[(parent, f["name"])] += 1
        return sorted(key for key, count in seen.items() if count > 1)


class EmulatorProcess:
    """The emulator as a subprocess with its own data dir; a context manager."""

    def __init__(
        self,
        *,
        data_dir: Path | str | None = None,
        port: int = 0,
        startup_timeout: float = 30.0,
        no_api_access: bool = False,
        **knobs: Any,
    ) -> None:
        unknown = set(knobs) - set(_FLAGS) - {"api_access"}
        if unknown:
            raise TypeError(f"unknown emulator knob(s): {sorted(unknown)}")
        if knobs.pop("api_access", True) is False:
            no_api_access = True
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="syncd-emu-test-"))
        self._log_dir = Path(tempfile.mkdtemp(prefix="syncd-emu-log-"))
        self.port = port
        self.startup_timeout = startup_timeout
        self._knobs = knobs
        self._no_api_access = no_api_access
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._ready = threading.Event()
        self._ready_url = ""
        self.api_url = ""
        self.base_url = ""
        self._admin: EmulatorAdmin | None = None

    # ---------------------------------------------------------------- lifecycle
    def __enter__(self) -> EmulatorProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def admin(self) -> EmulatorAdmin:
        if self._admin is None:
            raise EmulatorError("emulator is not running")
        return self._admin

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def blob_files(self) -> list[Path]:
        """The files the emulator holds stored uploads in (those above its inline size)."""
        return [p for p in (self.data_dir / BLOB_DIR).rglob("*") if p.is_file()]

    def _command(self, port: int) -> list[str]:
        command = [sys.executable, "-m", "syncd.emulator", "--port", str(port)]
        command += ["--data", str(self.data_dir)]
        for name, value in self._knobs.items():
            if value is None:
                continue
            if name == "fault_kinds" and not isinstance(value, str):
                value = ",".join(value)
            command += [_FLAGS[name], str(value)]
        if self._no_api_access:
            command.append("--no-api-access")
        return command

    def start(self) -> None:
        if self.running:
            raise EmulatorError("emulator already running")
        self._launch(self.port)

    def _launch(self, port: int) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PROJECT_ROOT, env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        self._ready = threading.Event()
        self._ready_url = ""
        stderr_path = self._log_dir / "stderr.log"
        with open(stderr_path, "ab") as stderr:
            self._proc = subprocess.Popen(
                self._command(port),
                stdout=subprocess.PIPE,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
                text=True,
                env=env,
            )
        self._reader = threading.Thread(
            target=self._read_stdout, args=(self._proc,), name="emulator-stdout", daemon=True
        )
        self._reader.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self._ready.wait(0.05):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise EmulatorError(
                    f"emulator did not print READY (exit {self._proc.returncode}); "
                    f"stderr: {self._stderr_tail()}"
                )
        self.api_url = self._ready_url
        self.base_url = self.api_url.removesuffix("/api/v2/")
        self.port = int(self.base_url.rsplit(":", 1)[1])
        if self._admin is not None:
            self._admin.close()
        self._admin = EmulatorAdmin(self.base_url)

    def _read_stdout(self, proc: subprocess.Popen[str]) -> None:
        # Keep draining so the child can never block on a full pipe.
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("READY ") and not self._ready.is_set():
                self._ready_url = line.split(None, 1)[1].strip()
                self._ready.set()

    def _stderr_tail(self) -> str:
        try:
            return (self._log_dir / "stderr.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def _wait(self, timeout: float) -> None:
        assert self._proc is not None
        self._proc.wait(timeout)
        if self._reader is not None:
            self._reader.join(5)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM and wait (SIGKILL if it does not go)."""
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.send_signal(signal.SIGTERM)
        try:
            self._wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL: like a crash or a power cut; the data dir stays."""
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.kill()
        self._wait(15)

    def restart(self) -> None:
        """Stop (if running) and start again on the same data dir and, if possible, port."""
        self.stop()
        deadline = time.monotonic() + 10.0
        while True:
            try:
                self._launch(self.port)
                return
            except EmulatorError:
                if "cannot listen" not in self._stderr_tail() or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)  # port still held by someone: retry, then give up on it
                if time.monotonic() > deadline - 2:
                    self._launch(0)
                    return

    def close(self) -> None:
        self.stop()
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        shutil.rmtree(self._log_dir, ignore_errors=True)


class RawApi:
    """Plain httpx calls to the API, with no client-side cleverness (for emulator tests and
    benchmarks; the real client is `syncd.remote.RemoteClient`)."""

    def __init__(
        self, api_url: str, key1: str | None = None, key2: str | None = None, timeout: float = 30.0
    ) -> None:
        from syncd.emulator import DEMO_KEY1, DEMO_KEY2

        self.api_url = api_url
        self.key1 = key1 or DEMO_KEY1
        self.key2 = key2 or DEMO_KEY2
        self.http = httpx.Client(timeout=timeout)
        self.access_token = ""
        self.account_id = ""

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RawApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def post(self, action: str, **params: Any) -> httpx.Response:
        """POST form fields as they are (no token added)."""
        data = {k: "" if v is None else str(v) for k, v in params.items()}
        return self.http.post(self.api_url + action, data=data)

    def authorize(self) -> dict[str, Any]:
        answer = self.post("authorize", key1=self.key1, key2=self.key2).json()
        if answer.get("_status") != "success":
            raise EmulatorError(f"authorize refused: {answer.get('response')}")
        self.access_token = answer["data"]["access_token"]
        self.account_id = answer["data"]["account_id"]
        return answer

    def call(self, action: str, **params: Any) -> httpx.Response:
        """POST with this session's access_token and account_id."""
        return self.post(
            action, access_token=self.access_token, account_id=self.account_id, **params
        )

    def ok(self, action: str, **params: Any) -> dict[str, Any]:
        """Call and insist on success; returns the decoded answer."""
        response = self.call(action, **params)
        answer = response.json()
        if response.status_code != 200 or answer.get("_status") != "success":
            raise EmulatorError(f"{action} failed: HTTP {response.status_code} {answer}")
        return answer

    def upload_response(
        self, content: bytes, filename: str = "file.bin", folder_id: int | None = None
    ) -> httpx.Response:
        data = {"access_token": self.access_token, "account_id": self.account_id}
        if folder_id is not None:
            data["folder_id"] = str(folder_id)
        return self.http.post(
            self.api_url + "file/upload",
            data=data,
            files={"upload_file": (filename, content, "application/octet-stream")},
        )

    def upload(
        self, content: bytes, filename: str = "file.bin", folder_id: int | None = None
    ) -> dict[str, Any]:
        """Upload and insist on success; returns the one item of `data`."""
        answer = self.upload_response(content, filename, folder_id).json()
        if answer.get("_status") != "success":
            raise EmulatorError(f"upload failed: {answer}")
        return answer["data"][0]
