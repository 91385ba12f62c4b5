"""Client CPU per request, net of start-up: a focused measurement for profiling work.

The runner's cases (``python3 -m benchmarks``) report whole-process CPU over the requests, which
at small sizes is mostly interpreter start-up. This script subtracts it: it times (user + sys
CPU of the child, from ``wait4``) the initial sync and then a no-op `syncd reconcile` of a
one-file tree (start-up, config, journal, authorize, a listing), an initial sync of N small
files, and a no-op pass over an already synced tree, and prints

- ``upload_ms``: (initial sync CPU - the one-file tree's initial sync CPU) / file/upload
  requests;
- ``noop_us_per_file``: (no-op CPU - empty run CPU) / files;
- ``noop_ms_per_listing``: the same over the folder/listing requests;

and the same figures for the floors of ``benchmarks/floors.py`` (the requests alone, over httpx
as syncd builds it and over bare ``http.client``), net of the floor's own one-file run, so that
what syncd's work adds to a request stands apart from what carrying it costs.

    python3 -m benchmarks.per_request [--upload-files 2000 --upload-dirs 20]
        [--noop-files 20000 --noop-dirs 200] [--repeat 3] [--py-spy DIR]

``--py-spy DIR`` records each measured child with py-spy (every thread, native frames) as
speedscope files in DIR (only samples of the thread holding the GIL: Python
work, not waits); CPU figures of profiled runs are higher than unprofiled ones.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from benchmarks import data
from benchmarks.core import run_measured
from benchmarks.floors import STACKS, run_floor
from syncd.emulator.testing import EmulatorProcess


def _reconcile(config: Path, spy: Path | None, label: str) -> float:
    command = [*data.syncd_base_command(), "reconcile", "--config", str(config)]
    if spy is not None:
        spy.mkdir(parents=True, exist_ok=True)
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        command = [
            py_spy, "record", "--gil", "--threads", "--rate", "500", "--format",
            "speedscope", "-o", str(spy / f"{label}.speedscope.json"), "--", *command,
        ]  # fmt: skip
    return run_measured(command, env=data.syncd_env(), timeout=3600).check(label).cpu_s


def empty_run(work: Path, spy: Path | None) -> dict[str, float]:
    """The fixed costs: a no-op pass of a one-file pair, and each floor over that pair."""
    local = work / "empty"
    local.mkdir()
    (local / "one.txt").write_bytes(b"x" * 100)  # a pair with one file: the fixed costs
    state = work / "state-empty" / "state.db"
    state.parent.mkdir()
    with EmulatorProcess(data_dir=work / "emu-empty") as emu:
        config = data.write_config(
            work / "empty.toml", api_url=emu.api_url, state=state, local=local
        )
        # The first pass creates the journal and uploads the file: an initial sync's fixed cost.
        figures = {"syncd first": _reconcile(config, None, "empty-first")}
        figures["syncd"] = _reconcile(config, spy, "empty")  # a no-op pass's fixed cost
        figures |= {f"noop {s}": run_floor("noop", s, config).cpu_s for s in STACKS}
    return figures | floor_upload_run(work, local, "empty")


def upload_run(work: Path, local: Path, spy: Path | None) -> dict[str, float]:
    state = work / "state-up" / "state.db"
    state.parent.mkdir()
    with EmulatorProcess(data_dir=work / "emu-up") as emu:
        config = data.write_config(work / "up.toml", api_url=emu.api_url, state=state, local=local)
        figures = {"syncd": _reconcile(config, spy, "upload")}
        figures["requests"] = emu.admin.counts().get("file/upload", 0)
    return figures | floor_upload_run(work, local, "up")


def floor_upload_run(work: Path, local: Path, label: str) -> dict[str, float]:
    """The upload floor's CPU over each HTTP stack, each on a fresh emulator."""
    cpu = {}
    for stack in STACKS:
        with EmulatorProcess(data_dir=work / f"emu-floor-{label}-{stack}") as emu:
            config = data.write_config(
                work / f"floor-{label}.toml",
                api_url=emu.api_url,
                state=work / "unused",
                local=local,
            )
            cpu[f"upload {stack}"] = run_floor("upload", stack, config).cpu_s
    return cpu


def noop_run(work: Path, synced: data.SyncedState, spy: Path | None) -> dict[str, float]:
    with synced.materialise(work / "noop") as live:
        live.emulator.admin.reset_counts()
        figures = {"syncd": _reconcile(live.config, spy, "noop")}
        figures["requests"] = live.emulator.admin.counts().get("folder/listing", 0)
        figures |= {f"noop {s}": run_floor("noop", s, live.config).cpu_s for s in STACKS}
    shutil.rmtree(work / "noop", ignore_errors=True)
    return figures


def _median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upload-files", type=int, default=2000)
    parser.add_argument("--upload-dirs", type=int, default=20)
    parser.add_argument("--noop-files", type=int, default=20000)
    parser.add_argument("--noop-dirs", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=data.CACHE_DEFAULT)
    parser.add_argument("--py-spy", type=Path, default=None)
    parser.add_argument("--skip", choices=("upload", "noop"), action="append", default=[])
    args = parser.parse_args()

    up_spec = data.TreeSpec(args.upload_files, args.upload_dirs, 1024, 4096)
    noop_spec = data.TreeSpec(args.noop_files, args.noop_dirs, 1024, 4096)
    up_tree = data.tree(args.cache, up_spec)
    synced = (
        data.synced_state(args.cache, noop_spec, method="sync") if "noop" not in args.skip else None
    )

    empties: list[dict[str, float]] = []
    uploads: list[dict[str, float]] = []
    noops: list[dict[str, float]] = []
    for rep in range(args.repeat):
        spy = args.py_spy if rep == 0 else None
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            empties.append(empty_run(work, spy))
            if "upload" not in args.skip:
                uploads.append(upload_run(work, up_tree, spy))
            if synced is not None:
                noops.append(noop_run(work, synced, spy))
        runs = {"empty": empties[-1], "upload": uploads[-1:], "noop": noops[-1:]}
        print(f"rep {rep}:", {k: v for k, v in runs.items() if v}, flush=True)

    print(f"empty run (no-op, one file): {_median(empties, 'syncd'):.3f} CPU-s "
          f"(median of {len(empties)})")  # fmt: skip
    # Each figure net of its own fixed cost, the same kind of run over the one-file pair: for
    # syncd's uploads its first pass there (which also creates the journal), for its no-op the
    # no-op pass; a floor's over that pair. (label, key of the run and of its fixed cost)
    floors = [(f"floor {s}", f"{kind} {s}") for s in STACKS for kind in ("upload", "noop")]
    if uploads:
        n = uploads[0]["requests"]
        upload_rows = [("syncd", "syncd", "syncd first")]
        upload_rows += [(label, key, key) for label, key in floors if key.startswith("upload")]
        for label, key, fixed_key in upload_rows:
            cpu, fixed = _median(uploads, key), _median(empties, fixed_key)
            print(f"upload, {label}: {cpu:.3f} CPU-s for {n:.0f} files -> "
                  f"{1000 * (cpu - fixed) / n:.3f} ms/upload (net of start-up; "
                  f"{1000 * cpu / n:.3f} gross)")  # fmt: skip
    if noops:
        listings = noops[0]["requests"]
        noop_rows = [("syncd", "syncd")]
        noop_rows += [(label, key) for label, key in floors if key.startswith("noop")]
        for label, key in noop_rows:
            cpu = _median(noops, key)
            net = cpu - _median(empties, key)
            print(f"noop, {label}: {cpu:.3f} CPU-s, {args.noop_files} files, {listings:.0f} "
                  f"listings -> {1e6 * net / args.noop_files:.1f} us/file, "
                  f"{1000 * net / listings:.3f} ms/listing (net of start-up)")  # fmt: skip


if __name__ == "__main__":
    main()
