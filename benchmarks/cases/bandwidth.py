"""Bandwidth limit: the upload rate achieved under ``[sync] bwlimit`` vs the limit set, and a time
table switching the limit while uploads run.

**Limit vs achieved.** A real `syncd reconcile` subprocess uploads a tree (files of 64 KiB,
256 KiB and 1 MiB in turn: prebuilt and streamed bodies) to an emulator with no added latency,
once with ``bwlimit = "1M"`` and once with ``"4M"``, about 6 s of uploads each (3 s in
``--quick``). Its JSON debug log gives every file/upload exchange's end and duration; the
achieved rate is the files' bytes over the span from the first upload's start to the last one's
end (multipart framing, ~0.1 %, is not counted, so the ratio reads a hair low).

**A schedule switch.** `syncd run` with a daily time table whose boundary is the next minute
at least 20 s away (``<b-10m>,1M <b>,4M <b+10m>,off``); 8 s before the boundary 40 MiB of
64 KiB files land in the watched directory. The daemon's own cron job switches the shared
bucket at the boundary; the rate before is measured over the 6 s up to it, the rate after over
the 4 s from one second past it (pieces granted before the switch, at most one per worker,
finish at the old rate). Each upload's bytes are spread evenly over its exchange. Skipped in
``--quick``: it waits for a minute boundary (up to 80 s).

Figures: ``syncd.rate_1m_mib_s``, ``syncd.rate_4m_mib_s``, ``syncd.switch_before_mib_s``,
``syncd.switch_after_mib_s``, each also as a ratio to its limit (``*_ratio``), and
``syncd.limit_error_max`` / ``syncd.switch_error_max``: the largest |ratio - 1|.
"""

from __future__ import annotations

import json
import math
import os
import time
from datetime import datetime
from pathlib import Path

from benchmarks.cases.bulk_upload import run_syncd
from benchmarks.core import Case, Figures, RunContext, Target
from benchmarks.launch import start_daemon
from syncd.emulator import DEMO_KEY1, DEMO_KEY2
from syncd.emulator.testing import EmulatorProcess

MIB = 1024 * 1024
SIZES = (64 * 1024, 256 * 1024, MIB)  # in turn: small prebuilt bodies and streamed ones
SWITCH_FROM, SWITCH_TO = 1, 4  # MiB/s before and after the time table's boundary
SWITCH_DATA = 40 * MIB
# One size, so each exchange's bytes are known from the log alone; small, so the exchanges that
# straddle the boundary (each spread evenly, though its end went 4x faster) are short: with
# 256 KiB files the rate before read 3-5 % high from that alone.
SWITCH_FILE = 64 * 1024
LEAD_S = 8.0  # files land this long before the boundary
BEFORE_S, AFTER_S, SETTLE_S = 6.0, 4.0, 1.0


def make_tree(cache: Path, total: int, sizes: tuple[int, ...] = SIZES) -> Path:
    """Files of ``sizes`` in turn adding up to about ``total`` bytes; generated once."""
    name = f"bandwidth_{total // MIB}MiB_{'-'.join(str(s // 1024) for s in sizes)}k"
    root = cache / name
    done = cache / f"{name}.complete"
    if done.exists():
        return root
    root.mkdir(parents=True, exist_ok=True)
    written, index = 0, 0
    while written < total:
        size = sizes[index % len(sizes)]
        (root / f"f{index:04d}.bin").write_bytes(os.urandom(size))
        written += size
        index += 1
    done.touch()
    return root


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.iterdir())


def config_text(api_url: str, state: Path, local: Path, remote: str, bwlimit: str) -> str:
    return (
        "[remote]\n"
        f'api_url = "{api_url}"\nkey1 = "{DEMO_KEY1}"\nkey2 = "{DEMO_KEY2}"\n'
        f'[state]\npath = "{state}"\n'
        f'[sync]\nbwlimit = "{bwlimit}"\nreconcile_interval = 3600.0\n'
        '[log]\nlevel = "debug"\nformat = "json"\n'
        f'[[pairs]]\nname = "bw"\nlocal = "{local}"\nremote = "{remote}"\n'
    )


def uploads(log: str) -> list[tuple[float, float]]:
    """(start, end) in epoch seconds of every successful file/upload exchange in a JSON log."""
    spans = []
    for line in log.splitlines():
        if '"remote.request"' not in line or '"file/upload"' not in line:
            continue
        event = json.loads(line)
        if event.get("status") != 200:
            continue
        end = datetime.fromisoformat(event["timestamp"]).timestamp()
        spans.append((end - float(event["elapsed_ms"]) / 1000, end))
    return spans


def limited_rate(ctx: RunContext, api_url: str, rate_mib: int, seconds: float) -> float:
    """MiB/s a `syncd reconcile` achieves under ``bwlimit = "<rate_mib>M"``."""
    tree = make_tree(ctx.cache, int(rate_mib * MIB * seconds))
    work = ctx.work / f"limit{rate_mib}"
    work.mkdir()
    config = work / "config.toml"
    config.write_text(
        config_text(api_url, work / "state.db", tree, f"bw{rate_mib}", f"{rate_mib}M")
    )
    config.chmod(0o600)
    _, _, log = run_syncd(config, launch=ctx.launch, label=f"limit{rate_mib}m")
    spans = uploads(log)
    if len(spans) != len(list(tree.iterdir())):
        raise RuntimeError(f"expected {len(list(tree.iterdir()))} uploads, saw {len(spans)}")
    span = max(end for _, end in spans) - min(start for start, _ in spans)
    return tree_bytes(tree) / span / MIB


def spread_rate(spans: list[tuple[float, float, int]], lo: float, hi: float) -> float:
    """MiB/s within [lo, hi], each upload's bytes spread evenly over its exchange."""
    total = 0.0
    for start, end, size in spans:
        overlap = min(end, hi) - max(start, lo)
        if overlap > 0:
            total += size * overlap / max(end - start, 1e-9)
    return total / (hi - lo) / MIB


def hhmm(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).strftime("%H:%M")


def schedule_switch(ctx: RunContext, api_url: str, admin: object) -> tuple[float, float]:
    """MiB/s before and after a time-table boundary crossed by `syncd run` mid-upload."""
    from tests.support.daemon import DaemonProcess, wait_converged

    work = ctx.work / "switch"
    root = work / "root"
    root.mkdir(parents=True)
    source = make_tree(ctx.cache, SWITCH_DATA, (SWITCH_FILE,))
    boundary = math.ceil((time.time() + 20) / 60) * 60
    table = (
        f"{hhmm(boundary - 600)},{SWITCH_FROM}M {hhmm(boundary)},{SWITCH_TO}M "
        f"{hhmm(boundary + 600)},off"
    )
    config = work / "config.toml"
    config.write_text(config_text(api_url, work / "state.db", root, "switch", table))
    config.chmod(0o600)
    daemon = DaemonProcess(config, work)
    watch = None
    try:
        watch = start_daemon(daemon, ctx.launch, "switch")
        time.sleep(max(0.0, boundary - LEAD_S - time.time()))
        for path in source.iterdir():
            os.link(path, root / path.name)
        wait_converged(admin, root, "switch", daemon, timeout=120)  # type: ignore[arg-type]
        # Stopped before reading: an exchange is logged just after the host stored the file.
        daemon.stop()
        log = daemon.log_text()
    finally:
        daemon.close()
        if watch is not None:
            watch.close()
    if f"bandwidth limit now {SWITCH_TO} MiB/s (time table" not in log:
        raise RuntimeError("the daemon logged no switch to the table's second rate")
    count = len(list(source.iterdir()))
    sized = [(start, end, SWITCH_FILE) for start, end in uploads(log)]
    if len(sized) != count:
        raise RuntimeError(f"expected {count} uploads, saw {len(sized)}")
    first = min(start for start, _, _ in sized)
    if boundary - BEFORE_S < first:
        raise RuntimeError(f"uploads began only {boundary - first:.1f} s before the boundary")
    before = spread_rate(sized, boundary - BEFORE_S, boundary)
    after = spread_rate(sized, boundary + SETTLE_S, boundary + SETTLE_S + AFTER_S)
    return before, after


def run(ctx: RunContext) -> Figures:
    seconds = 3.0 if ctx.quick else 6.0
    figures: Figures = {}
    with EmulatorProcess() as emu:
        for rate in (1, 4):
            achieved = limited_rate(ctx, emu.api_url, rate, seconds)
            figures[f"syncd.rate_{rate}m_mib_s"] = round(achieved, 3)
            figures[f"syncd.rate_{rate}m_ratio"] = round(achieved / rate, 3)
        figures["syncd.limit_error_max"] = round(
            max(abs(figures[f"syncd.rate_{r}m_ratio"] - 1) for r in (1, 4)), 3
        )
        if ctx.quick:
            ctx.note("quick: the schedule switch is not run (it waits for a minute boundary)")
        else:
            before, after = schedule_switch(ctx, emu.api_url, emu.admin)
            figures["syncd.switch_before_mib_s"] = round(before, 3)
            figures["syncd.switch_after_mib_s"] = round(after, 3)
            figures["syncd.switch_before_ratio"] = round(before / SWITCH_FROM, 3)
            figures["syncd.switch_after_ratio"] = round(after / SWITCH_TO, 3)
            figures["syncd.switch_error_max"] = round(
                max(abs(before / SWITCH_FROM - 1), abs(after / SWITCH_TO - 1)), 3
            )
    ctx.note(
        f"limits 1 MiB/s and 4 MiB/s, ~{seconds:g} s of uploads each; switch {SWITCH_FROM}M -> "
        f"{SWITCH_TO}M at a time-table boundary; emulator on loopback, no added latency"
    )
    return figures


CASE = Case(
    name="bandwidth",
    title="bwlimit: achieved upload rate vs the limit (1M, 4M) and a time-table switch",
    run=run,
    targets=(
        Target(
            label="achieved within 10 % of the limit",
            metric="syncd.limit_error_max",
            op="<=",
            bound=0.10,
        ),
        Target(
            label="within 10 % of the limit before and after a switch",
            metric="syncd.switch_error_max",
            op="<=",
            bound=0.10,
        ),
    ),
    repeat=3,
)
