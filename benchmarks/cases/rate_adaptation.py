"""Rate adaptation: `syncd reconcile` of 2,000 small files against a host limited to 20 req/s.

The emulator answers 429 (with Retry-After) to requests beyond 20/s (a token bucket with one
second of burst). syncd does not know the limit: its adaptive limiter has to find it. Figures:
``syncd.achieved_rps`` (every answered request that was not a 429, over the pass's wall time,
process start included), ``syncd.rate_ratio`` (that over the limit), ``syncd.share_429`` (429
answers over all answers) and ``syncd.requests_429``.
"""

from __future__ import annotations

from benchmarks.cases.bulk_upload import make_tree, run_syncd, write_config
from benchmarks.core import Case, Figures, RunContext, Target
from syncd.emulator.testing import EmulatorProcess

LIMIT_RPS = 20.0


def run(ctx: RunContext) -> Figures:
    # Quick: enough uploads that the first overshoot (about one 429 per worker) is not 5 %.
    files, dirs = (300, 10) if ctx.quick else (2000, 20)
    tree = make_tree(ctx.cache, files, dirs)
    with EmulatorProcess(rate_limit_rps=LIMIT_RPS) as emu:
        config = write_config(ctx.work, emu.api_url, tree)
        emu.admin.reset_counts()
        wall, _, _ = run_syncd(config, launch=ctx.launch)
        counts = emu.admin.counts()
    if counts.get("file/upload", 0) < files:
        raise RuntimeError(f"expected {files} uploads, emulator counted {counts}")
    limited = counts.get("429", 0)
    # One count per action let through, plus "429": the front door refuses before counting.
    answered = sum(n for key, n in counts.items() if key not in ("429", "faults"))
    achieved = answered / wall
    ctx.note(
        f"{files} files x 4 KiB in {dirs} dirs, emulator limited to {LIMIT_RPS:g} req/s "
        f"(burst 1 s); {answered} requests served, {limited} answered 429"
    )
    return {
        "syncd.achieved_rps": round(achieved, 2),
        "syncd.rate_ratio": round(achieved / LIMIT_RPS, 3),
        "syncd.share_429": round(limited / (answered + limited), 4),
        "syncd.requests_429": float(limited),
        "syncd.wall_s": round(wall, 1),
    }


CASE = Case(
    name="rate_adaptation",
    title="2,000 small uploads against a host limited to 20 req/s: rate achieved, share of 429",
    run=run,
    targets=(
        Target(label="rate >= 0.85 x limit", metric="syncd.rate_ratio", op=">=", bound=0.85),
        Target(label="429 answers <= 5 %", metric="syncd.share_429", op="<=", bound=0.05),
    ),
    repeat=1,  # each repetition takes 100 s at the limit
)
