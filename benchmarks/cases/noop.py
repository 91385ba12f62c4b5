"""No-op reconcile: a 100,000-file tree already synced, one `syncd reconcile` with nothing to do.

The user's wall time of the real command (a subprocess: interpreter start-up, config, journal,
authorize, one listing per folder, the local walk), next to `rclone sync` local→local of the same
tree onto rclone's own up-to-date copy, and `find -printf` (the floor: just stat every entry).
The synced state is built once by syncd's own initial sync and cached (benchmarks/data.py); each
repetition works on fresh copies of the emulator's data dir and of the journal.
"""

from __future__ import annotations

from benchmarks import data
from benchmarks.core import (
    Case,
    Figures,
    PeerMissing,
    RunContext,
    Target,
    process_cpu_s,
    run_measured,
)
from benchmarks.peers import rclone
from syncd.emulator.testing import MUTATING_ACTIONS


def find_walk(root: object) -> float:
    """Wall time of `find ROOT -printf` (path, size, mtime of every entry) to /dev/null."""
    result = run_measured(
        ["find", str(root), "-printf", "%p %s %T@\n"], stdout_to_devnull=True
    ).check("find")
    return result.wall_s


def run(ctx: RunContext) -> Figures:
    spec = data.QUICK_SMALL if ctx.quick else data.NOOP_100K
    state = data.synced_state(ctx.cache, spec, method="sync")
    figures: Figures = {"tree.files": spec.files, "tree.folders": spec.folder_count()}

    # Warm the page cache the same way for every tool: one untimed walk first.
    find_walk(state.local)
    figures["find.wall_s"] = find_walk(state.local)

    try:
        copy = rclone.ensure_copy(ctx.cache, state.local, spec.key)
        result = rclone.sync(state.local, copy, extra=("-v",))
        moved = rclone.transfers_of(result)
        if moved:
            ctx.note(f"rclone transferred {moved} files in what should be a no-op")
        figures["rclone.wall_s"] = result.wall_s
        figures["rclone.cpu_s"] = result.cpu_s
        figures["rclone.peak_rss_mb"] = result.peak_rss_mb
    except PeerMissing as missing:
        ctx.missing(missing.peer, missing.why)

    with state.materialise(ctx.work / "syncd") as live:
        live.emulator.admin.reset_counts()
        assert live.emulator.pid is not None
        emulator_cpu = process_cpu_s(live.emulator.pid)
        result = run_measured(live.syncd_command("reconcile"), env=data.syncd_env()).check(
            "syncd reconcile"
        )
        # The host's side of the pass (answering the listings), for reading the wall time.
        figures["emulator.cpu_s"] = process_cpu_s(live.emulator.pid) - emulator_cpu
        counts = live.emulator.admin.counts()
    mutations = sum(counts.get(action, 0) for action in MUTATING_ACTIONS)
    if mutations:
        ctx.note(f"the no-op pass made {mutations} mutating calls: {counts}")
    figures["syncd.wall_s"] = result.wall_s
    figures["syncd.cpu_s"] = result.cpu_s
    figures["syncd.peak_rss_mb"] = result.peak_rss_mb
    figures["syncd.api_calls"] = sum(v for k, v in counts.items() if k not in ("429", "faults"))
    figures["syncd.mutating_calls"] = mutations
    return figures


CASE = Case(
    name="noop",
    title="no-op `syncd reconcile` of 100,000 synced files vs `rclone sync` no-op and `find`",
    run=run,
    targets=(
        Target(
            "wall time <= 1.5 x rclone sync (no-op)",
            "syncd.wall_s",
            "<=",
            other="rclone.wall_s",
            factor=1.5,
        ),
        Target("no mutating calls", "syncd.mutating_calls", "==", bound=0),
    ),
    repeat=3,
)
