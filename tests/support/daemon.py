"""Helpers for the daemon tests: run `python -m syncd run` as a subprocess and compare trees.

Waiting is always a poll of a condition with a deadline; a timeout fails with the difference and
the tail of the daemon's log, so a failure explains itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from syncd.emulator import DEMO_KEY1, DEMO_KEY2

REPO = Path(__file__).resolve().parents[2]


def wait_for(
    condition: Callable[[], Any], timeout: float, what: str, explain: Callable[[], str] = str
) -> Any:
    """Poll ``condition`` until it returns something truthy; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{explain()}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)


def write_config(
    path: Path,
    *,
    api_url: str,
    state: Path,
    pairs: dict[str, tuple[Path, str]],
    quiet_period: float = 0.2,
    reconcile_interval: float = 900,
    max_delete: str | None = None,
    extra: str = "",
) -> Path:
    lines = [
        "[remote]",
        f'api_url = "{api_url}"',
        f'key1 = "{DEMO_KEY1}"',
        f'key2 = "{DEMO_KEY2}"',
        "max_retry_time = 5",
        "",
        "[state]",
        f'path = "{state}"',
        "",
        "[sync]",
        f"quiet_period = {float(quiet_period)}",
        f"reconcile_interval = {float(reconcile_interval)}",
        f'max_delete = "{max_delete}"' if max_delete else "",
        "",
        extra,
    ]
    for name, (local, remote) in pairs.items():
        lines += ["[[pairs]]", f'name = "{name}"', f'local = "{local}"', f'remote = "{remote}"', ""]
    path.write_text("\n".join(lines))
    path.chmod(0o600)
    return path


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
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *, wait_ready: bool = True, timeout: float = 30) -> DaemonProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
        env.update(
            NOTIFY_SOCKET=str(self.notify.path),
            PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
            **self.extra_env,
        )
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "syncd", "run", "--config", str(self.config)],
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if wait_ready:
            wait_for(
                lambda: self.notify.seen("READY=1") or self.proc.poll() is not None,
                timeout,
                "READY=1 from the daemon",
                self.log_tail,
            )
            assert self.proc.poll() is None, f"daemon exited early\n{self.log_tail()}"
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


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
                    files[rel] = _md5(Path(dirpath) / name)
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
    """Poll until the remote tree equals the local one; then check there are no duplicates."""
    last: dict[str, Any] = {}

    def converged() -> bool:
        local = local_snapshot(local_root, skip)
        remote_tree = remote_snapshot(admin, remote) or Snapshot({}, set())
        last.update(local=local, remote=remote_tree)
        return local == remote_tree

    def explain() -> str:
        text = "difference:\n" + last["local"].diff(last["remote"]) if last else ""
        return text + ("\n" + daemon.log_tail() if daemon else "")

    wait_for(converged, timeout, f"remote {remote} == local {local_root}", explain)
    dups = duplicate_names(admin)
    assert not dups, f"duplicates on the remote: {dups}"
    return last["local"]


@contextlib.contextmanager
def running_daemon(config: Path, workdir: Path, **kw: Any) -> Iterator[DaemonProcess]:
    daemon = DaemonProcess(config, workdir, **kw)
    try:
        yield daemon.start()
    finally:
        daemon.close()
