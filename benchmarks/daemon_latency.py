"""Event-to-remote latency of `syncd run`: percentiles over N single-file writes.

Starts the emulator (no added latency) and the daemon as subprocesses, waits for the start-up
reconcile, then writes one small file at a time (open, write, close) and polls the emulator's
admin tree in a tight loop until the file is listed active with the right MD5. Latency = the
writer's ``close()`` returned -> first poll that sees the file. The next write waits until the
daemon is idle again (writes spaced apart, as the issue asks).

    python3 benchmarks/daemon_latency.py [--writes 50] [--quiet-period 0.5]

Measured 2026-11-23 on the shared 2-core machine (load average 12-17 from other work):
default quiet period (0.5 s) p50 0.526 s, p95 0.561 s (20 writes); quiet 0.05 s p50 0.065-0.073 s,
p95 0.09-0.12 s (30 writes). Before the latency work of that day: 0.666 s / 0.699 s, and 0.104 s at
quiet 0.05. What remains after the quiet period: ~3 ms watcher delivery, then the pass: one
folder listing, one upload, four journal transactions, ~9 ms of CPU.

Importable: ``measure_latency(work, writes=50, quiet_period=None)`` (None: the daemon's default
quiet period) returns ``{"p50_s", "p95_s", "min_s", "max_s", "mean_s", "writes"}``; the
benchmark case ``benchmarks/cases/latency.py`` calls it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.launch import Launch, start_daemon
from syncd.emulator import DEMO_KEY1, DEMO_KEY2
from syncd.emulator.testing import EmulatorProcess

POLL_EVERY = 0.002  # seconds between admin-tree polls while waiting for one file
SETTLE_GAP = 0.2  # idle time between one file's arrival and the next write
PER_WRITE_TIMEOUT = 60.0


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of a non-empty list."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def write_daemon_config(
    path: Path,
    *,
    api_url: str,
    state: Path,
    local: Path,
    remote: str,
    quiet_period: float | None = None,
    reconcile_interval: float = 3600,
) -> Path:
    """A config for one pair; ``quiet_period`` None leaves syncd's default in force."""
    lines = [
        "[remote]",
        f'api_url = "{api_url}"',
        f'key1 = "{DEMO_KEY1}"',
        f'key2 = "{DEMO_KEY2}"',
        "",
        "[state]",
        f'path = "{state}"',
        "",
        "[sync]",
        f"reconcile_interval = {float(reconcile_interval)}",
    ]
    if quiet_period is not None:
        lines.append(f"quiet_period = {float(quiet_period)}")
    lines += ["", "[[pairs]]", 'name = "bench"', f'local = "{local}"', f'remote = "{remote}"', ""]
    path.write_text("\n".join(lines))
    path.chmod(0o600)
    return path


def _remote_md5(admin: Any, name: str) -> str | None:
    for f in admin.tree()["files"]:
        if f["name"] == name and f["status"] == "active":
            return str(f["md5"])
    return None


def _wait_remote(admin: Any, name: str, digest: str, daemon: Any) -> float:
    """Poll until ``name`` is active remotely with ``digest``; returns the monotonic time seen."""
    deadline = time.monotonic() + PER_WRITE_TIMEOUT
    while True:
        if _remote_md5(admin, name) == digest:
            return time.monotonic()
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{name} not on the remote after {PER_WRITE_TIMEOUT:.0f}s\n" + daemon.log_tail()
            )
        if daemon.proc is not None and daemon.proc.poll() is not None:
            raise RuntimeError("the daemon exited\n" + daemon.log_tail())
        time.sleep(POLL_EVERY)


def measure_latency(
    work: Path,
    *,
    writes: int = 50,
    quiet_period: float | None = None,
    size: int = 512,
    launch: Launch | None = None,
    label: str = "run",
) -> dict[str, float]:
    """Run the emulator and `syncd run` in ``work``; time ``writes`` spaced single-file writes.
    ``launch``: pin and profile the daemon as the measured child (``--cores``, ``--profile``)."""
    from tests.support.daemon import DaemonProcess, wait_converged

    work.mkdir(parents=True, exist_ok=True)
    root = work / "root"
    root.mkdir()
    with EmulatorProcess(data_dir=work / "emulator") as emu:
        config = write_daemon_config(
            work / "config.toml",
            api_url=emu.api_url,
            state=work / "state.db",
            local=root,
            remote="bench",
            quiet_period=quiet_period,
        )
        daemon = DaemonProcess(config, work)
        watch = None
        try:
            watch = start_daemon(daemon, launch or Launch(), label)
            wait_converged(emu.admin, root, "bench", daemon, timeout=60)
            latencies: list[float] = []
            for i in range(writes):
                name = f"file-{i:03d}.txt"
                data = os.urandom(size - 8) + f"{i:07d}\n".encode()
                digest = hashlib.md5(data).hexdigest()
                with open(root / name, "wb") as f:
                    f.write(data)
                closed = time.monotonic()  # close() has returned
                seen = _wait_remote(emu.admin, name, digest, daemon)
                latencies.append(seen - closed)
                time.sleep(SETTLE_GAP)
            daemon.stop()
        finally:
            daemon.close()
            if watch is not None:
                watch.close()
    return {
        "writes": float(len(latencies)),
        "p50_s": round(statistics.median(latencies), 4),
        "p95_s": round(percentile(latencies, 0.95), 4),
        "min_s": round(min(latencies), 4),
        "max_s": round(max(latencies), 4),
        "mean_s": round(statistics.fmean(latencies), 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--writes", type=int, default=50)
    parser.add_argument(
        "--quiet-period", type=float, default=None, help="seconds (default: syncd's default)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="syncd-bench-latency-") as tmp:
        result = measure_latency(Path(tmp), writes=args.writes, quiet_period=args.quiet_period)
    print(json.dumps({"quiet_period_s": args.quiet_period, **result}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
