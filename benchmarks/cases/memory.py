"""Memory: peak RSS of a no-op `syncd reconcile` over 1,000,000 tiny files and over 100,000, the
journal's size per file, and rclone's peak RSS for a no-op `rclone sync` of the same trees.

The 1M tree (8-64 byte files in 10,000 directories) is generated once and cached; the emulator's
store is seeded directly and `syncd reconcile --adopt-existing` builds the journal (syncd itself,
no uploads). The 100k tree is the no-op case's (1-4 KB files in 1,000 directories, synced by a
normal initial sync): for a no-op pass only the number of entries matters, not their size.
Peak RSS is the child's own VmHWM, read from /proc while it runs (see core.run_measured).
Quick mode: 2,000 tiny files only.

Figures: ``syncd.peak_rss_mb`` and ``syncd.journal_bytes_per_file`` for the big tree (1M, or
2,000 in quick mode; ``tree.files`` says which), ``*_100k`` for the 100k tree, ``rclone.*`` alike.
"""

from __future__ import annotations

from benchmarks import data
from benchmarks.core import Case, Figures, PeerMissing, RunContext, Target, run_measured
from benchmarks.peers import rclone
from syncd.emulator.testing import MUTATING_ACTIONS


def _measure(ctx: RunContext, spec: data.TreeSpec, method: str, suffix: str) -> Figures:
    state = data.synced_state(ctx.cache, spec, method=method)
    figures: Figures = {}
    with state.materialise(ctx.work / f"syncd{suffix}") as live:
        journal = live.journal_bytes()
        live.emulator.admin.reset_counts()
        result = run_measured(
            live.syncd_command("reconcile"),
            env=data.syncd_env(),
            timeout=3600,
            launch=ctx.launch,
            label=f"reconcile{suffix}",
        ).check("syncd reconcile")
        counts = live.emulator.admin.counts()
    mutations = sum(counts.get(action, 0) for action in MUTATING_ACTIONS)
    if mutations:
        ctx.note(f"no-op pass over {spec.files:,} files made {mutations} mutating calls")
    figures[f"syncd.peak_rss_mb{suffix}"] = result.peak_rss_mb
    figures[f"syncd.wall_s{suffix}"] = result.wall_s
    figures[f"syncd.cpu_s{suffix}"] = result.cpu_s
    figures[f"syncd.journal_bytes_per_file{suffix}"] = journal / spec.files
    figures[f"syncd.mutating_calls{suffix}"] = mutations
    try:
        copy = rclone.ensure_copy(ctx.cache, state.local, spec.key)
        peer = rclone.sync(state.local, copy)
        figures[f"rclone.peak_rss_mb{suffix}"] = peer.peak_rss_mb
        figures[f"rclone.wall_s{suffix}"] = peer.wall_s
        figures[f"rclone.cpu_s{suffix}"] = peer.cpu_s
    except PeerMissing as missing:
        ctx.missing(missing.peer, missing.why)
    return figures


def run(ctx: RunContext) -> Figures:
    if ctx.quick:
        big, method = data.QUICK_TINY, "adopt"
    else:
        big, method = data.TINY_1M, "adopt"
        if not data.adopt_flag_available():
            raise RuntimeError("`syncd reconcile --adopt-existing` is missing: no 1M journal")
    figures: Figures = {"tree.files": big.files, "tree.folders": big.folder_count()}
    figures.update(_measure(ctx, big, method, ""))
    if not ctx.quick:
        figures["tree.files_100k"] = data.NOOP_100K.files
        figures.update(_measure(ctx, data.NOOP_100K, "sync", "_100k"))
    return figures


CASE = Case(
    name="memory",
    title="peak RSS of a no-op reconcile over 1,000,000 tiny files and 100,000; journal per file",
    run=run,
    targets=(
        Target("peak RSS <= 250 MB at 1M files", "syncd.peak_rss_mb", "<=", bound=250),
        Target("journal <= 300 bytes per file", "syncd.journal_bytes_per_file", "<=", bound=300),
    ),
    repeat=2,
)
