"""What the peer harnesses share: child processes that never outlive us, /proc sampling, waits.

- ``PeerProcess(argv, log)``: a child in its own session; ``stop()`` ends its whole process
  group (the group id is the child's pid, so nothing else is touched); every one still running
  is killed at interpreter exit, and the kernel kills it if we are killed (PDEATHSIG).
- ``cpu_seconds(pid, children=False)``, ``rss_mib(pid)``: from /proc (utime+stime; VmRSS).
- ``free_port()``: a loopback port the kernel just handed out (bind port 0, close).
- ``fresh_dir(path)``: an empty directory, whatever an earlier run left there removed.
- ``wait_until(check, timeout, what)``: poll a condition with a deadline (never a blind sleep).
- ``timed_write(path, data)``: write and close a file, return ``time.monotonic()`` after close().
- ``wait_for_file(path, size, deadline)``: the monotonic time the file is seen whole there.
- ``idle_sample(pids, seconds)``: CPU seconds and peak RSS of processes over a quiet window.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

_TICKS = os.sysconf("SC_CLK_TCK")
_PR_SET_PDEATHSIG = 1
_LIVE: set[PeerProcess] = set()


class PeerError(RuntimeError):
    """A peer did not start, did not converge in time, or died."""


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """User+system CPU seconds of a process (all threads); with ``children``, plus its reaped
    children's (rsync runs that lsyncd has waited for)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of proc(5))
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / _TICKS


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], T | None], timeout: float, what: str, poll: float = 0.05) -> T:
    """Call ``check`` until it returns something truthy; PeerError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise PeerError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)


def fresh_dir(path: Path) -> Path:
    """``path`` as a new empty directory (whatever an earlier run left there is removed)."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def timed_write(path: Path, data: bytes) -> float:
    """Write ``data`` to ``path`` and return the monotonic time right after close()."""
    with open(path, "wb") as handle:
        handle.write(data)
    return time.monotonic()


def wait_for_file(path: Path, size: int, deadline: float, poll: float = 0.005) -> float:
    """Monotonic time at which ``path`` exists with ``size`` bytes (peers write a temporary name
    and rename it, so the final name at full size means the file is complete)."""
    while True:
        try:
            if path.stat().st_size == size:
                return time.monotonic()
        except FileNotFoundError:
            pass
        if time.monotonic() > deadline:
            raise PeerError(f"{path.name} did not arrive before the deadline")
        time.sleep(poll)


def idle_sample(
    pids: dict[str, int], seconds: float, *, children: bool = False
) -> dict[str, dict[str, float]]:
    """Per named pid: CPU seconds used, CPU % of one core and peak RSS (MiB, sampled once a
    second) over a window of ``seconds`` in which nothing is changed."""
    start = {name: cpu_seconds(pid, children=children) for name, pid in pids.items()}
    peak = {name: rss_mib(pid) for name, pid in pids.items()}
    began = time.monotonic()
    end = began + seconds
    while (now := time.monotonic()) < end:
        time.sleep(min(1.0, end - now))  # the window itself: sampling RSS once a second
        for name, pid in pids.items():
            peak[name] = max(peak[name], rss_mib(pid))
    window = time.monotonic() - began
    result: dict[str, dict[str, float]] = {}
    for name, pid in pids.items():
        used = cpu_seconds(pid, children=children) - start[name]
        result[name] = {
            "cpu_s": round(used, 3),
            "cpu_pct": round(100 * used / window, 4),
            "rss_mb": round(max(peak[name], rss_mib(pid)), 1),
            "window_s": round(window, 2),
        }
    return result


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it if we die without cleaning up (SIGKILL, OOM), so a
    peer never outlives the benchmark that started it (Linux prctl PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class PeerProcess:
    """A peer's process in its own session, its output in ``log``; killed with its group."""

    def __init__(self, argv: Sequence[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.argv = list(argv)
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
                preexec_fn=_die_with_parent,
            )
        _LIVE.add(self)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            tail = self.log.read_text(errors="replace")[-2000:]
            raise PeerError(f"{self.argv[0]} exited with {self.proc.returncode}:\n{tail}")

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM to the group, then SIGKILL after ``grace`` seconds; returns the exit code."""
        try:
            if self.alive():
                self._signal_group(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    self._signal_group(signal.SIGKILL)
                    self.proc.wait(timeout=10)
            # Children the peer left behind (an rsync mid-copy) share its group.
            self._signal_group(signal.SIGKILL)
        finally:
            _LIVE.discard(self)
        return self.proc.returncode

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)


@atexit.register
def _kill_leftovers() -> None:
    for peer in list(_LIVE):
        peer.stop(grace=2.0)
