"""Helpers for the daemon tests: run `python -m syncd run` as a subprocess and compare trees.

Waiting is always a poll of a condition with a deadline; a timeout fails with the difference and
the tail of the daemon's log, so a failure explains itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from tests.support.cli import start_syncd
from tests.support.config import TomlValue, write_config
from tests.support.trees import md5_file
from tests.support.waiting import wait_for


def daemon_config(
    path: Path,
    *,
    api_url: str,
    state: Path,
    pairs: dict[str, tuple[Path, str]],
    quiet_period: float = 0.2,
    reconcile_interval: float = 900,
    max_delete: str | None = None,
    sync: Mapping[str, TomlValue] | None = None,
    daemon: Mapping[str, TomlValue] | None = None,
) -> Path:
    """A config for the daemon tests: a short quiet period (changes go out quickly), no periodic
    full reconcile within a test's lifetime, and retries given up after 5 s (outage tests)."""
    return write_config(
        path,
        api_url=api_url,
        state=state,
        pairs=pairs,
        remote={"max_retry_time": 5.0},
        sync={
            "quiet_period": float(quiet_period),
            "reconcile_interval": float(reconcile_interval),
            "max_delete": max_delete,
            **(sync or {}),
        },
        daemon=daemon,
    )


class NotifySocket:
    """A real unix datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self._lock = threading.Lock()
        self._closed = False
        # Read all the time, like systemd: a full socket buffer would drop messages.
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._closed:
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.messages.append(data.decode())

    def drain(self) -> list[str]:
        with self._lock:
            return list(self.messages)

    def seen(self, needle: str) -> bool:
        return any(needle in m.split("\n") for m in self.drain())

    def close(self) -> None:
        self._closed = True
        self._reader.join(1)
        self.sock.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class DaemonProcess:
    """`python -m syncd run --config FILE` with its output in a log file."""

    def __init__(self, config: Path, workdir: Path, *, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.workdir = workdir
        self.log_path = workdir / f"daemon-{time.monotonic_ns()}.log"
        self.notify = NotifySocket(workdir / f"notify-{time.monotonic_ns()}.sock")
        self.extra_env = env or {}
        self.proc: subprocess.Popen[str] | None = None

    def start(self, *, wait_ready: bool = True, timeout: float = 30) -> DaemonProcess:
        env = {"NOTIFY_SOCKET": str(self.notify.path), **self.extra_env}
        self.proc = start_syncd(
            "run", config=self.config, log=self.log_path, cwd=self.workdir, env=env
        )
        if wait_ready:
            proc = self.proc
            wait_for(
                lambda: self.notify.seen("READY=1") or proc.poll() is not None,
                timeout,
                "READY=1 from the daemon",
                self.log_tail,
            )
            assert proc.poll() is None, f"daemon exited early\n{self.log_tail()}"
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 120) -> str:
        return "--- daemon log (tail) ---\n" + "\n".join(self.log_text().splitlines()[-lines:])

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGUSR1)  # the daemon dumps its threads' stacks
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(1)
            raise AssertionError(
                f"daemon still running after {timeout}s\n{self.log_tail()}"
            ) from None

    def stop(self, timeout: float = 45) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def close(self) -> None:
        self.kill()
        self.notify.close()


# -- tree snapshots ---------------------------------------------------------------------------


def default_ignored(rel: str) -> bool:
    """syncd's built-in ignore rules (editor swap files, our temp files...); dirs end in '/'."""
    from syncd.local.ignore import IgnoreRules

    global _DEFAULT_RULES
    if _DEFAULT_RULES is None:
        _DEFAULT_RULES = IgnoreRules()
    return _DEFAULT_RULES.matches(rel.rstrip("/"), rel.endswith("/"))


_DEFAULT_RULES: Any = None


def local_snapshot(root: Path, skip: Callable[[str], bool] = default_ignored) -> Snapshot:
    files: dict[str, str] = {}
    dirs: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir
        for d in list(dirnames):
            rel = f"{rel_dir}/{d}" if rel_dir else d
            if skip(rel + "/"):
                dirnames.remove(d)
            else:
                dirs.add(rel)
        for name in filenames:
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if not skip(rel):
                with contextlib.suppress(FileNotFoundError):
                    files[rel] = md5_file(Path(dirpath) / name)
    return Snapshot(files, dirs)


class Snapshot:
    def __init__(self, files: dict[str, str], dirs: set[str]) -> None:
        self.files = files
        self.dirs = dirs

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Snapshot) and self.files == other.files and self.dirs == other.dirs

    def diff(self, other: Snapshot) -> str:
        out = []
        for path in sorted(self.files.keys() | other.files.keys()):
            a, b = self.files.get(path), other.files.get(path)
            if a != b:
                out.append(f"  {path}: local={a} remote={b}")
        for path in sorted(self.dirs ^ other.dirs):
            out.append(f"  dir {path}: local={path in self.dirs} remote={path in other.dirs}")
        return "\n".join(out[:40]) + (f"\n  ... {len(out) - 40} more" if len(out) > 40 else "")


def remote_snapshot(admin: Any, remote: str) -> Snapshot | None:
    """The active tree under the remote folder path ``remote``; None if it does not exist yet."""
    tree = admin.tree()
    folders = {f["id"]: f for f in tree["folders"] if f["status"] == "active"}
    children: dict[int | None, list[dict[str, Any]]] = {}
    for folder in folders.values():
        children.setdefault(folder["parent_id"], []).append(folder)
    # Find the pair's folder by walking names from the account root.
    current: int | None = None
    for part in [p for p in remote.split("/") if p]:
        match = [f for f in children.get(current, []) if f["name"] == part]
        if not match:
            return None
        current = match[0]["id"]
    paths: dict[int | None, str] = {current: ""}
    dirs: set[str] = set()
    stack = [current]
    while stack:
        parent = stack.pop()
        for folder in children.get(parent, []):
            rel = f"{paths[parent]}/{folder['name']}" if paths[parent] else folder["name"]
            paths[folder["id"]] = rel
            dirs.add(rel)
            stack.append(folder["id"])
    files: dict[str, str] = {}
    for f in tree["files"]:
        if f["status"] == "active" and f["folder_id"] in paths:
            parent = paths[f["folder_id"]]
            files[f"{parent}/{f['name']}" if parent else f["name"]] = f["md5"]
    return Snapshot(files, dirs)


def duplicate_names(admin: Any) -> list[Any]:
    return list(admin.duplicates())


def wait_converged(
    admin: Any,
    local_root: Path,
    remote: str,
    daemon: DaemonProcess | None = None,
    *,
    timeout: float = 30,
    skip: Callable[[str], bool] = default_ignored,
) -> Snapshot:
    """Poll until the remote tree equals the local one with no duplicate names.

    A duplicate counts as a difference, not as a failure seen once: a replaced file's new upload
    goes live before its old one is retired (the host has no replace call), so for the length of
    one request both carry the name. One that outlasts the deadline fails the test.
    """
    last: dict[str, Any] = {}

    def converged() -> bool:
        local = local_snapshot(local_root, skip)
        remote_tree = remote_snapshot(admin, remote) or Snapshot({}, set())
        dups = duplicate_names(admin)
        last.update(local=local, remote=remote_tree, dups=dups)
        return local == remote_tree and not dups

    def explain() -> str:
        text = "difference:\n" + last["local"].diff(last["remote"]) if last else ""
        if last.get("dups"):
            text += f"\nduplicates on the remote: {last['dups']}"
        return text + ("\n" + daemon.log_tail() if daemon else "")

    wait_for(converged, timeout, f"remote {remote} == local {local_root}", explain)
    return last["local"]


@contextlib.contextmanager
def running_daemon(config: Path, workdir: Path, **kw: Any) -> Iterator[DaemonProcess]:
    daemon = DaemonProcess(config, workdir, **kw)
    try:
        yield daemon.start()
    finally:
        daemon.close()
