"""Event -> remote latency: `syncd run` on an emulator with no added latency, single-file writes
spaced apart, from the writer's close() to the file listed complete on the emulator; with the
default quiet period and with ``quiet_period = 0.05``. Peers (lsyncd with its default delay,
Syncthing with its default fsWatcherDelayS) sync the same kind of writes to a local directory.

Figures: ``syncd.p50_s``, ``syncd.p95_s`` (+ min/max/mean), ``syncd_q005.*`` (quiet 0.05 s),
``lsyncd.p50_s``/``p95_s``, ``syncthing.p50_s``/``p95_s``. Peers are measured in the first
repetition only, with 20 writes side by side (their defaults make each write take ~10-15 s), and
not at all in --quick.
"""

from __future__ import annotations

import statistics
from concurrent.futures import ThreadPoolExecutor

from benchmarks.core import Case, Figures, RunContext, Target
from benchmarks.daemon_latency import SETTLE_GAP, measure_latency, percentile

FULL_WRITES = 50
# The peers' latency is their fixed default delay (lsyncd 15 s, Syncthing 10 s), the same on
# every write: 20 writes give the same median as 50 and save ~8 minutes of a full run.
PEER_WRITES = 20
QUICK_WRITES = 5
FAST_QUIET = 0.05


def _syncd(ctx: RunContext, writes: int) -> Figures:
    figures: Figures = {}
    for prefix, quiet in (("syncd", None), ("syncd_q005", FAST_QUIET)):
        result = measure_latency(
            ctx.work / prefix, writes=writes, quiet_period=quiet, launch=ctx.launch, label=prefix
        )
        figures.update({f"{prefix}.{k}": v for k, v in result.items() if k != "writes"})
    return figures


def _peer_figures(name: str, latencies: list[float]) -> Figures:
    return {
        f"{name}.p50_s": round(statistics.median(latencies), 4),
        f"{name}.p95_s": round(percentile(latencies, 0.95), 4),
        f"{name}.min_s": round(min(latencies), 4),
        f"{name}.max_s": round(max(latencies), 4),
    }


def _peers(ctx: RunContext, writes: int) -> Figures:
    # -- peers: harnesses in benchmarks/peers/ (lsyncd.py, syncthing.py) ------------------------
    # Each exposes available() -> reason or None, and
    # measure_latency(work, writes, spacing_s) -> list of seconds (close() -> complete copy).
    figures: Figures = {}
    if ctx.quick:
        for peer in ("lsyncd", "syncthing"):
            ctx.missing(peer, "not run in --quick (default delays of 10-15 s per write)")
        return figures
    if ctx.repeat_index > 0:
        return figures  # measured once per run: their spread is their fixed delay
    try:
        from benchmarks.peers import lsyncd, syncthing
    except ImportError as exc:
        for peer in ("lsyncd", "syncthing"):
            ctx.missing(peer, f"harness not importable: {exc}")
        return figures
    runnable = {}
    for peer, module in (("lsyncd", lsyncd), ("syncthing", syncthing)):
        why = module.available()
        if why is not None:
            ctx.missing(peer, why)
        else:
            runnable[peer] = module
    # Both peers side by side: each write waits out their fixed delay (15 s, 10 s), which load
    # does not change, so running them together halves the case's time and moves no figure.
    with ThreadPoolExecutor(max(1, len(runnable))) as pool:
        futures = {
            peer: pool.submit(module.measure_latency, ctx.work / peer, PEER_WRITES, SETTLE_GAP)
            for peer, module in runnable.items()
        }
        for peer, future in futures.items():
            try:
                latencies = future.result()
            except Exception as exc:  # a peer's failure must not lose syncd's figures
                ctx.note(f"{peer} latency failed: {type(exc).__name__}: {exc}")
                ctx.missing(peer, f"measurement failed: {exc}")
                continue
            figures.update(_peer_figures(peer, latencies))
    return figures


def run(ctx: RunContext) -> Figures:
    writes = QUICK_WRITES if ctx.quick else FULL_WRITES
    figures = _syncd(ctx, writes)
    figures.update(_peers(ctx, writes))
    return figures


CASE = Case(
    name="latency",
    title="event -> remote latency of `syncd run` (close() to listed) vs lsyncd, Syncthing",
    run=run,
    targets=(
        Target("default settings: p50 <= 1.0 s", "syncd.p50_s", "<=", 1.0),
        Target("default settings: p95 <= 2.0 s", "syncd.p95_s", "<=", 2.0),
        Target("quiet_period 0.05 s: p50 <= 0.1 s", "syncd_q005.p50_s", "<=", 0.1),
        Target("p50 vs lsyncd (ratio)", "syncd.p50_s", "<=", other="lsyncd.p50_s"),
        Target("p50 vs Syncthing (ratio)", "syncd.p50_s", "<=", other="syncthing.p50_s"),
    ),
    repeat=3,
)
