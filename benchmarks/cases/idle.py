"""Idle cost: `syncd run` watching an already synced 100,000-file tree in 1,000 directories,
60 s with nothing changing: CPU (% of one core; syncd's per thread in ns) and peak RSS. Same
for Syncthing (sender A watching the tree, receiver B) and lsyncd (watching the tree, mirroring
it to a local copy).

Figures: ``syncd.cpu_pct``, ``syncd.cpu_s``, ``syncd.rss_mb`` (MiB, peak over the window),
``syncd.startup_s`` and ``syncd.startup_cpu_s`` (start-up no-op pass, what each periodic full
reconcile costs again), ``syncd.rss_after_startup_mb``, ``syncd.rss_startup_peak_mb``,
``syncd.threads``;
``syncthing.cpu_pct``/``rss_mb``, ``lsyncd.cpu_pct``/``rss_mb`` (peers in the first repetition
only: each start-up copies the whole tree). --quick: 500 files, 5 s, no peers.
"""

from __future__ import annotations

from benchmarks import data
from benchmarks.core import Case, Figures, RunContext, Target
from benchmarks.daemon_idle import measure_idle_tree

FULL_SECONDS = 60.0
QUICK_SECONDS = 5.0
PEER_FIGURES = ("cpu_pct", "cpu_s", "rss_mb")


def _peers(ctx: RunContext, spec: data.TreeSpec, seconds: float) -> Figures:
    # -- peers: harnesses in benchmarks/peers/ (lsyncd.py, syncthing.py) ------------------------
    # Each exposes available() -> reason or None, and
    # measure_idle(work, tree, seconds) -> {"cpu_pct", "cpu_s", "rss_mb", ...}.
    figures: Figures = {}
    if ctx.quick:
        for peer in ("lsyncd", "syncthing"):
            ctx.missing(peer, "not run in --quick (start-up sync of the whole tree)")
        return figures
    if ctx.repeat_index > 0:
        return figures  # once per run: each start-up copies all 100,000 files (minutes)
    try:
        from benchmarks.peers import lsyncd, syncthing
    except ImportError as exc:
        for peer in ("lsyncd", "syncthing"):
            ctx.missing(peer, f"harness not importable: {exc}")
        return figures
    tree = data.tree(ctx.cache, spec)
    for peer, module in (("lsyncd", lsyncd), ("syncthing", syncthing)):
        why = module.available()
        if why is not None:
            ctx.missing(peer, why)
            continue
        try:
            result = module.measure_idle(ctx.work / peer, tree, seconds)
        except Exception as exc:  # a peer's failure must not lose syncd's figures
            ctx.note(f"{peer} idle failed: {type(exc).__name__}: {exc}")
            ctx.missing(peer, f"measurement failed: {exc}")
            continue
        figures.update({f"{peer}.{k}": float(v) for k, v in result.items()})
    return figures


def run(ctx: RunContext) -> Figures:
    spec = data.QUICK_SMALL if ctx.quick else data.NOOP_100K
    seconds = QUICK_SECONDS if ctx.quick else FULL_SECONDS
    result = measure_idle_tree(ctx.cache, ctx.work / "syncd", spec, seconds, ctx.launch)
    figures: Figures = {"tree.files": float(spec.files), "tree.dirs": float(spec.dirs)}
    figures.update({f"syncd.{k}": float(v) for k, v in result.items()})
    figures.update(_peers(ctx, spec, seconds))
    return figures


CASE = Case(
    name="idle",
    title="idle cost of `syncd run` watching 100,000 synced files (CPU, RSS) vs Syncthing, lsyncd",
    run=run,
    targets=(
        Target("CPU <= 0.1 % of one core", "syncd.cpu_pct", "<=", 0.1),
        Target("RSS <= 100 MB", "syncd.rss_mb", "<=", 100.0),
        Target("RSS vs Syncthing (ratio)", "syncd.rss_mb", "<=", other="syncthing.rss_mb"),
        Target("CPU vs Syncthing (ratio)", "syncd.cpu_pct", "<=", other="syncthing.cpu_pct"),
    ),
    repeat=2,  # each repetition idles 60 s after a start-up pass over 100,000 files
)
