"""Initial sync: 100,000 files × 1-4 KB in 1,000 dirs pushed to an empty remote.

syncd: one real `syncd reconcile` subprocess (default settings, 8 workers) against a fresh
emulator with no added latency; the clock runs from spawning it to its exit (interpreter start-up,
authorize, every folder/create and file/upload, the journal). Checked afterwards: exit 0 and
every file active on the emulator.

Syncthing: its initial sync of the same tree between two local instances, A send-only → B
receive-only (benchmarks/peers/syncthing.py): from spawning A (B already up, empty) until B's
REST API reports the folder idle at 100 % with every file, and all of them are on B's disk.

Both read the same cached tree (benchmarks/data.py), warm in the page cache. CPU seconds are
reported beside wall time (the machine may be shared): ``syncd.cpu_s`` is the client alone
(``syncd.cpu_ms_per_upload`` the same over the file/upload requests the emulator counted),
``emulator.cpu_s`` the emulator serving it, ``syncthing.cpu_s`` both Syncthing instances.
Quick mode: 1,000 files in 10 dirs.
"""

from __future__ import annotations

from benchmarks import data
from benchmarks.core import Case, Figures, PeerMissing, RunContext, Target, run_measured
from benchmarks.peers import syncthing
from benchmarks.peers.common import cpu_seconds
from syncd.emulator.testing import EmulatorProcess

FULL = data.NOOP_100K  # 100,000 files, 1,000 dirs, 1-4 KB
QUICK = data.TreeSpec(files=1_000, dirs=10, min_size=1024, max_size=4096)


def run_syncd(ctx: RunContext, spec: data.TreeSpec) -> Figures:
    local = data.tree(ctx.cache, spec)
    work = ctx.work / "syncd"
    state = work / "state" / "state.db"
    state.parent.mkdir(parents=True)
    with EmulatorProcess(data_dir=work / "emulator") as emu:
        config = data.write_config(
            work / "config.toml", api_url=emu.api_url, state=state, local=local
        )
        result = run_measured(
            [*data.syncd_base_command(), "reconcile", "--config", str(config)],
            env=data.syncd_env(),
            timeout=3 * 3600,
            launch=ctx.launch,
            label="reconcile",
        ).check("syncd reconcile")
        assert emu.pid is not None
        emulator_cpu = cpu_seconds(emu.pid)
        counts = emu.admin.counts()
        active = sum(1 for f in emu.admin.tree()["files"] if f["status"] == "active")
    if active != spec.files:
        raise RuntimeError(f"syncd left {active} of {spec.files} files on the emulator")
    uploads = counts.get("file/upload", 0)
    return {
        "syncd.wall_s": result.wall_s,
        "syncd.files_per_s": spec.files / result.wall_s,
        "syncd.cpu_s": result.cpu_s,
        # The client's CPU per file/upload request: whole-process CPU (start-up, planning,
        # folder/create, journal writes included) over the uploads the emulator counted.
        "syncd.cpu_ms_per_upload": 1000 * result.cpu_s / uploads if uploads else float("nan"),
        "syncd.peak_rss_mb": result.peak_rss_mb,
        "syncd.api_calls": sum(v for k, v in counts.items() if k not in ("429", "faults")),
        "emulator.cpu_s": emulator_cpu,
    }


def run_syncthing(ctx: RunContext, spec: data.TreeSpec) -> Figures:
    local = data.tree(ctx.cache, spec)
    measured = syncthing.measure_initial_sync(ctx.work / "syncthing", local)
    if measured["files"] != spec.files:
        raise RuntimeError(f"Syncthing counted {measured['files']:.0f} of {spec.files} files")
    return {f"syncthing.{k}": v for k, v in measured.items() if k != "files"}


def run(ctx: RunContext) -> Figures:
    spec = QUICK if ctx.quick else FULL
    figures: Figures = {"tree.files": spec.files, "tree.dirs": spec.dirs}
    figures.update(run_syncd(ctx, spec))
    try:
        figures.update(run_syncthing(ctx, spec))
    except PeerMissing as missing:
        ctx.missing(missing.peer, missing.why)
    return figures


CASE = Case(
    name="initial_sync",
    title="initial sync of 100,000 files × 1-4 KB: `syncd reconcile` to an empty emulator "
    "vs Syncthing A (send-only) → B (receive-only)",
    run=run,
    targets=(
        Target(
            "files/s >= 1.0 x Syncthing",
            "syncd.files_per_s",
            ">=",
            other="syncthing.files_per_s",
            factor=1.0,
        ),
        Target("client CPU per upload <= 1.2 ms", "syncd.cpu_ms_per_upload", "<=", bound=1.2),
    ),
    repeat=1,  # one repetition uploads 100,000 files and syncs them again with Syncthing (~9 min)
)
