"""lsyncd as a peer: ``default.rsync`` with its default delay (15 s in lsyncd 2.2) mirroring a
directory to another local directory, run in the foreground (``lsyncd -nodaemon CONFIG``).

Functions (all raise ``PeerError`` on a timeout or a dead lsyncd; nothing is left running):

- ``available() -> str | None``: why it cannot run here, or None.
- ``require() -> str``: the binary, or raises ``benchmarks.core.PeerMissing`` (so does every
  ``measure_*`` when lsyncd or rsync is not installed).
- ``measure_latency(work, writes, spacing_s) -> list[float]``: seconds from a writer's close()
  to the file complete in the target, for ``writes`` single-file writes (1 KiB each, new names,
  one at a time: each write waits for the previous one to arrive, then ``spacing_s``).
- ``measure_idle(work, tree, seconds) -> dict[str, float]``: lsyncd watching ``tree`` (after its
  start-up rsync into a target under ``work`` finished), over ``seconds`` quiet seconds:
  ``cpu_s``, ``cpu_pct`` (of one core, lsyncd plus any rsync it ran), ``rss_mb`` (MiB, peak
  of the lsyncd process), ``startup_sync_s``, ``window_s``.

``Lsyncd(source, target, home)`` is the context manager underneath (``start()`` returns once the
start-up rsync has finished, as lsyncd's log reports it). Tests pass ``delay_s=1`` to
``measure_latency`` to be quick; the benchmark keeps the default.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from types import TracebackType

from benchmarks.core import PeerMissing
from benchmarks.peers.common import (
    PeerError,
    PeerProcess,
    fresh_dir,
    idle_sample,
    timed_write,
    wait_for_file,
    wait_until,
)

PEER = "lsyncd"
INSTALL_HINT = "run `bash benchmarks/setup_peers.sh` (apt-get install lsyncd rsync)"
STARTUP_TIMEOUT_S = 3600.0  # the start-up rsync of a 100,000-file tree on a loaded machine
ARRIVAL_TIMEOUT_S = 120.0  # one write (the default delay is 15 s)


def available() -> str | None:
    """Why the peer cannot run here, or None (what the latency and idle cases ask)."""
    try:
        require()
    except PeerMissing as missing:
        return missing.why
    return None


def require() -> str:
    """The lsyncd binary, or PeerMissing (the runner reports the peer by name)."""
    for program in ("lsyncd", "rsync"):
        if shutil.which(program) is None:
            raise PeerMissing(PEER, f"{program} not installed: {INSTALL_HINT}")
    return str(shutil.which("lsyncd"))


def _lua_string(text: str) -> str:
    """A Lua long-bracket literal (no escapes to get wrong in a path)."""
    level = "=" * 4
    if f"]{level}]" in text:
        raise ValueError(f"cannot quote {text!r} for Lua")
    return f"[{level}[{text}]{level}]"


class Lsyncd:
    """One lsyncd mirroring ``source`` into ``target``; config, log and status under ``home``."""

    def __init__(
        self, source: Path, target: Path, home: Path, *, delay_s: int | None = None
    ) -> None:
        self.source = source
        self.target = target
        self.home = home
        self.delay_s = delay_s
        self.log = home / "lsyncd.log"
        self.process: PeerProcess | None = None

    def config_text(self) -> str:
        # Only what it takes to run in the foreground with a log we can read: every sync
        # setting (delay, rsync options) stays lsyncd's default.
        return (
            "settings {\n"
            f"  logfile = {_lua_string(str(self.log))},\n"
            f"  statusFile = {_lua_string(str(self.home / 'lsyncd.status'))},\n"
            "  nodaemon = true,\n"
            "}\n"
            "sync {\n"
            "  default.rsync,\n"
            + ("" if self.delay_s is None else f"  delay = {self.delay_s},\n")
            + f"  source = {_lua_string(str(self.source))},\n"
            f"  target = {_lua_string(str(self.target))},\n"
            "}\n"
        )

    def start(self, timeout: float = STARTUP_TIMEOUT_S) -> float:
        """Start lsyncd; return the seconds its start-up rsync took once its log says so."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.target.mkdir(parents=True, exist_ok=True)
        config = self.home / "lsyncd.conf.lua"
        config.write_text(self.config_text(), encoding="utf-8")
        self.log.write_text("")
        started = time.monotonic()
        self.process = PeerProcess(["lsyncd", "-nodaemon", str(config)], self.home / "stdout.log")

        def startup_finished() -> bool:
            assert self.process is not None
            self.process.check_alive()
            return "Startup of" in (text := self.log.read_text(errors="replace")) and (
                "finished." in text
            )

        wait_until(startup_finished, timeout, "lsyncd's start-up rsync", poll=0.05)
        return time.monotonic() - started

    @property
    def pid(self) -> int:
        if self.process is None:
            raise PeerError("lsyncd is not running")
        return self.process.pid

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def __enter__(self) -> Lsyncd:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def measure_latency(
    work: Path, writes: int, spacing_s: float, *, delay_s: int | None = None
) -> list[float]:
    """Seconds from close() in the source to the whole file in the target, one per write.
    ``delay_s`` overrides lsyncd's ``delay`` (default 15; tests use 1)."""
    require()
    source, target = work / "lsyncd-src", work / "lsyncd-dst"
    fresh_dir(source)
    fresh_dir(target)  # a file left from an earlier run would "arrive" at once
    with Lsyncd(source, target, work / "lsyncd-home", delay_s=delay_s) as peer:
        peer.start()
        latencies: list[float] = []
        for index in range(-1, writes):  # write -1 warms up the path end to end, not counted
            name = f"latency-{index + 1:04d}.bin" if index >= 0 else "warm-up.bin"
            data = f"{name} {time.time_ns()}\n".encode().ljust(1024, b".")
            closed = timed_write(source / name, data)
            arrived = wait_for_file(target / name, len(data), closed + ARRIVAL_TIMEOUT_S)
            assert peer.process is not None
            peer.process.check_alive()
            if (target / name).read_bytes() != data:
                raise PeerError(f"lsyncd delivered {name} with other contents")
            if index >= 0:
                latencies.append(arrived - closed)
            if index < writes - 1:
                time.sleep(spacing_s)  # the spacing between writes the case asks for
        return latencies


def measure_idle(work: Path, tree: Path, seconds: float) -> dict[str, float]:
    """CPU and RSS of lsyncd watching ``tree`` for ``seconds`` after its start-up sync."""
    require()
    target = fresh_dir(work / "lsyncd-idle-dst")
    with Lsyncd(tree, target, work / "lsyncd-idle-home") as peer:
        startup = peer.start()
        sample = idle_sample({"lsyncd": peer.pid}, seconds, children=True)["lsyncd"]
        assert peer.process is not None
        peer.process.check_alive()
    return {**sample, "startup_sync_s": round(startup, 2)}
