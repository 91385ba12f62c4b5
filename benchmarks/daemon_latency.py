"""Event-to-remote latency of `syncd run`: median and p95 over N single-file writes.

Starts the emulator (no added latency) and the daemon as subprocesses, waits for the start-up
reconcile, then writes one small file at a time and polls the emulator's admin tree until the
file is there with the right MD5. Latency = end of the local write -> visible remotely.

    python3 benchmarks/daemon_latency.py [--writes 50] [--quiet-period 0.5]

Measured 2026-11-23 (2 cores, emulator without added latency, quiet_period 0.5 s): 50 writes,
median 0.666 s, p95 0.699 s, min 0.658 s, max 0.933 s: the quiet period plus ~0.17 s for the
incremental pass (stat, one folder listing, upload, journal) and the poll.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from syncd.emulator.testing import EmulatorProcess
from tests.integration.daemon_harness import (
    DaemonProcess,
    wait_converged,
    wait_for,
    write_config,
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def remote_md5(admin, name: str) -> str | None:
    for f in admin.tree()["files"]:
        if f["name"] == name and f["status"] == "active":
            return f["md5"]
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=50)
    parser.add_argument("--quiet-period", type=float, default=0.5)
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="syncd-bench-latency-") as tmp,
        EmulatorProcess() as emu,
    ):
        work = Path(tmp)
        root = work / "root"
        root.mkdir()
        config = write_config(
            work / "config.toml",
            api_url=emu.api_url,
            state=work / "state.db",
            pairs={"bench": (root, "bench")},
            quiet_period=args.quiet_period,
        )
        daemon = DaemonProcess(config, work).start()
        try:
            wait_converged(emu.admin, root, "bench", daemon, timeout=60)
            latencies: list[float] = []
            for i in range(args.writes):
                name = f"file-{i:03d}.txt"
                data = os.urandom(512) + f"{i}\n".encode()
                digest = hashlib.md5(data).hexdigest()
                (root / name).write_bytes(data)
                written = time.monotonic()
                wait_for(
                    lambda n=name, d=digest: remote_md5(emu.admin, n) == d,
                    60,
                    f"{name} on the remote",
                    daemon.log_tail,
                )
                latencies.append(time.monotonic() - written)
            rc = daemon.stop()
        finally:
            daemon.close()
    result = {
        "writes": len(latencies),
        "quiet_period_s": args.quiet_period,
        "median_s": round(statistics.median(latencies), 3),
        "p95_s": round(percentile(latencies, 0.95), 3),
        "min_s": round(min(latencies), 3),
        "max_s": round(max(latencies), 3),
        "daemon_exit": rc,
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
