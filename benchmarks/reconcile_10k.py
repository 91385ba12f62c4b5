"""API calls and wall time of `syncd reconcile` over a large tree, initial and no-op.

A thin CLI for profiling one pass in-process (cProfile, py-spy, ``--tracemalloc``); the runner's
cases (``python3 -m benchmarks``) measure the real `syncd reconcile` command instead.

Makes N files in D directories (default 10,000 in 500, 200-2,000 bytes each), starts the
emulator, runs the initial sync and then a pass with nothing to do, both in-process through
``reconcile_pair``, and reports per pass: wall time, API calls by action (the emulator's admin
counts), and the journal's size on disk per file.

    python3 benchmarks/reconcile_10k.py [--files 10000] [--dirs 500] [--workers 8]
        [--latency-ms 0] [--batch N] [--tracemalloc] [--json]

Measured 2026-11-23 (2 vCPUs, emulator on the same machine, 0 ms latency, 8 workers):
initial sync 44 s and 10,529 API calls (10,000 file/upload, 524 folder/create, 3 folder/listing,
authorize, account/package); no-op pass 1.5-1.9 s and 525 calls (523 folder/listing, one
folder/info, account/package), zero mutating calls; Python heap peak of the no-op pass 1.4 MiB;
journal 141-155 bytes per file on disk. The initial sync is CPU-bound in the client process
(about 3 ms of CPU per upload: multipart encoding, MD5, two journal commits).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.data import make_tree
from syncd.config import load_config
from syncd.emulator.testing import EmulatorProcess
from syncd.engine import reconcile
from syncd.engine.reconcile import reconcile_pair
from syncd.journal.store import Journal
from syncd.logging import configure_logging
from syncd.remote.client import RemoteClient
from tests.support.reconcile import pair_config


def one_pass(client, journal, config, emu, label: str, trace: bool = False) -> dict:
    emu.admin.reset_counts()
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    result = reconcile_pair(
        client,
        journal,
        config.pair("docs"),
        sync=config.sync,
        state_path=config.state.path,
        package=client.account_package(),
    )
    elapsed = time.perf_counter() - started
    heap_peak = None
    if trace:
        heap_peak = round(tracemalloc.get_traced_memory()[1] / 2**20, 2)
        tracemalloc.stop()
    counts = {k: v for k, v in emu.admin.counts().items() if v}
    return {
        "pass": label,
        "seconds": round(elapsed, 2),
        "api_calls": sum(v for k, v in counts.items() if "/" in k or k == "authorize"),
        "calls_by_action": counts,
        "planned_ops": len(result.plan.ops),
        "outcome": result.outcome.counts,
        "failed": len(result.outcome.failed),
        "python_heap_peak_mib": heap_peak,  # with --tracemalloc (slower while measured)
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--dirs", type=int, default=500)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--batch", type=int, default=None, help="ops per batch (engine default)")
    parser.add_argument("--tracemalloc", action="store_true", help="heap peak of the no-op pass")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    configure_logging("warning")
    if args.batch is not None:
        reconcile.BATCH_OPS = args.batch

    with (
        tempfile.TemporaryDirectory(prefix="syncd-bench-") as tmp,
        EmulatorProcess(latency_ms=args.latency_ms) as emu,
    ):
        work = Path(tmp)
        local = work / "local"
        size = make_tree(local, args.files, args.dirs, min_size=200, max_size=2000)
        config_path = pair_config(work, emu.api_url, local)
        text = config_path.read_text().replace("workers = 4", f"workers = {args.workers}")
        config_path.write_text(text)
        config = load_config(config_path)
        client = RemoteClient(config.remote.api_url, config.remote.credentials())
        journal = Journal(config.state.path)
        try:
            passes = [
                one_pass(client, journal, config, emu, "initial"),
                one_pass(client, journal, config, emu, "no-op", trace=args.tracemalloc),
            ]
        finally:
            client.close()
            journal.close()
        db = config.state.path
        journal.close()
        db_bytes = sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if p.is_file())
        report = {
            "files": args.files,
            "dirs": args.dirs,
            "bytes": size,
            "workers": args.workers,
            "latency_ms": args.latency_ms,
            "passes": passes,
            "journal_bytes": db_bytes,
            "journal_bytes_per_file": round(db_bytes / args.files, 1),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"{args.files} files ({size / 1e6:.1f} MB) in {args.dirs} directories, "
            f"{args.workers} workers, emulator latency {args.latency_ms} ms"
        )
        for p in passes:
            print(
                f"  {p['pass']:<8} {p['seconds']:>7.2f} s  {p['api_calls']:>6} API calls  "
                f"{p['calls_by_action']}"
            )
            if p["python_heap_peak_mib"] is not None:
                print(
                    f"           Python heap peak during the pass: {p['python_heap_peak_mib']} MiB"
                )
        print(
            f"  journal: {db_bytes / 1e6:.2f} MB on disk, "
            f"{report['journal_bytes_per_file']} bytes per file; "
            f"peak RSS {report['peak_rss_mib']} MiB"
        )
    return 0 if all(p["failed"] == 0 for p in passes) else 1


if __name__ == "__main__":
    sys.exit(main())
