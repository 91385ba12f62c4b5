"""Idle cost of `syncd run` watching a large, already synced tree: CPU and RSS over a quiet window.

Uses the cached synced state of ``benchmarks/data.py`` (tree + emulator store + journal built by
syncd itself), starts the emulator on private copies and the daemon, waits until the daemon says
it is up to date (its start-up full pass is a no-op), then samples the daemon's CPU time (per
thread from /proc/PID/task/*/schedstat, in ns; the peers' 10 ms ticks of /proc/PID/stat if a
thread ended) and resident memory (VmRSS, peak of one sample a second) over the window, with
nothing changing.

Measured 2026-11-23 on the shared 2-core machine (load average 12-17 from other work):
100,000 files in 1,000 dirs, 60 s idle: 0.02 s CPU (0.033 % of one core), RSS 72 MiB, 7 threads;
start-up no-op pass 17-36 s wall, 5.1 s CPU including interpreter start-up. Before the memory
work of that day: 86 MiB. The import floor (`python -c "import syncd.cli.main,
syncd.daemon.backend"` with a journal opened) is ~65 MiB: SQLAlchemy, httpx, pydantic,
structlog (+ rich, pygments, asyncio that structlog pulls in).

    python3 benchmarks/daemon_idle.py [--files 100000] [--dirs 1000] [--seconds 60]

Importable: ``measure_idle(live, seconds)`` for a :class:`benchmarks.data.LiveState` returns
``{"cpu_s", "cpu_pct", "rss_mb", "window_s", "startup_s", "startup_cpu_s", "threads",
"rss_after_startup_mb", "rss_startup_peak_mb"}``;
the case ``benchmarks/cases/idle.py`` calls it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import data
from benchmarks.launch import Launch, start_daemon
from benchmarks.peers.common import cpu_seconds, idle_sample, rss_mib
from syncd.journal.errors import JournalError
from syncd.journal.reader import JournalReader
from syncd.journal.rows import DaemonStatus

STARTUP_TIMEOUT = 1800.0  # the start-up no-op pass over 100,000 files on a loaded machine
SETTLE = 2.0  # after "up to date": let the pass's bookkeeping (status write, GC) finish


def daemon_status(state_db: Path, pair: str = data.PAIR_NAME) -> DaemonStatus | None:
    """The daemon's own status record for ``pair`` (what `syncd status` reads), read-only."""
    if not state_db.exists():
        return None
    try:
        with JournalReader(state_db) as journal:
            return journal.daemon_status().get(pair)
    except JournalError:
        return None  # not created yet, or locked for a moment


def thread_cpu_ns(pid: int) -> dict[int, int]:
    """Nanoseconds on CPU per live thread (/proc/PID/task/TID/schedstat): exact, where
    /proc/PID/stat counts 10 ms ticks (one tick in a 5 s window reads as 0.2 %)."""
    out: dict[int, int] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out[int(task.name)] = int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # the thread ended meanwhile
    return out


def _up_to_date(state_db: Path) -> bool:
    status = daemon_status(state_db)
    return bool(status and status.running and status.up_to_date)


def measure_idle(
    live: data.LiveState, seconds: float, launch: Launch | None = None
) -> dict[str, float]:
    """Start `syncd run` on ``live``; once up to date, sample it idle for ``seconds``.
    ``launch``: pin and profile the daemon as the measured child (``--cores``, ``--profile``)."""
    from tests.support.daemon import DaemonProcess

    daemon = DaemonProcess(live.config, live.work)
    watch = None
    try:
        watch = start_daemon(daemon, launch or Launch(), "run", timeout=120)
        started = time.monotonic()
        deadline = started + STARTUP_TIMEOUT
        startup_peak = 0.0  # RSS while the start-up pass walks the tree (sampled)
        while not _up_to_date(live.state_db):
            if daemon.proc is not None and daemon.proc.poll() is not None:
                raise RuntimeError("the daemon exited during start-up\n" + daemon.log_tail())
            if time.monotonic() > deadline:
                raise RuntimeError("the daemon never became up to date\n" + daemon.log_tail())
            startup_peak = max(startup_peak, rss_mib(daemon.pid))
            time.sleep(0.2)
        startup = time.monotonic() - started
        # Interpreter start-up plus the start-up full pass (a no-op): what each periodic full
        # reconcile (default every 900 s) costs again, less the imports.
        startup_cpu = cpu_seconds(daemon.pid)
        time.sleep(SETTLE)
        pid = daemon.pid
        after_startup = rss_mib(pid)
        before = thread_cpu_ns(pid)
        sample = idle_sample({"syncd": pid}, seconds)["syncd"]
        after = thread_cpu_ns(pid)
        if set(before) <= set(after):  # no thread ended in the window: the exact figure
            used = sum(after.values()) - sum(before.values())
            sample["cpu_s"] = round(used / 1e9, 4)
            sample["cpu_pct"] = round(100 * used / 1e9 / sample["window_s"], 4)
        threads = len(os.listdir(f"/proc/{pid}/task"))
        if daemon.proc is not None and daemon.proc.poll() is not None:
            raise RuntimeError("the daemon died while idle\n" + daemon.log_tail())
        daemon.stop()
    finally:
        daemon.close()
        if watch is not None:
            watch.close()
    return {
        **sample,
        "startup_s": round(startup, 2),
        "startup_cpu_s": round(startup_cpu, 2),
        "rss_after_startup_mb": round(after_startup, 1),
        "rss_startup_peak_mb": round(max(startup_peak, after_startup), 1),
        "threads": float(threads),
    }


def measure_idle_tree(
    cache: Path, work: Path, spec: data.TreeSpec, seconds: float, launch: Launch | None = None
) -> dict:
    """The cached synced state of ``spec`` (built on first use), materialised in ``work``."""
    state = data.synced_state(cache, spec, method="sync")
    with state.materialise(work) as live:
        return measure_idle(live, seconds, launch)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--dirs", type=int, default=1_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--cache", type=Path, default=data.CACHE_DEFAULT)
    args = parser.parse_args()
    spec = data.TreeSpec(files=args.files, dirs=args.dirs)
    with tempfile.TemporaryDirectory(prefix="syncd-bench-idle-") as tmp:
        result = measure_idle_tree(args.cache, Path(tmp) / "work", spec, args.seconds)
    print(json.dumps({"files": args.files, "dirs": args.dirs, **result}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
