"""Hashing: MD5 of a 1 GiB file as syncd computes it (`syncd.local.hashing.md5_file`) vs `md5sum`.

The file is generated once (random bytes, kept in the cache) and read once before the clocks
run, so both measure hashing from the page cache, not the disk. Each tool hashes it three times
in alternation and keeps its fastest run (a shared machine only ever makes a run slower).

Figures: ``<tool>.mb_per_s`` (MiB per second of wall time) and ``<tool>.cpu_mb_per_s`` (MiB per
CPU-second, user+sys, of the process doing the hashing). The target is judged on the CPU
figure: on a quiet machine both agree (hashing from the page cache keeps one core busy), on a
shared one only the CPU figure is repeatable.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from benchmarks.core import Case, Figures, RunContext, Target
from syncd.local.hashing import md5_file

MIB = 1 << 20


def make_file(cache: Path, size: int) -> Path:
    path = cache / f"hashing_{size // MIB}MiB.bin"
    if path.exists() and path.stat().st_size == size:
        return path
    partial = path.with_suffix(".partial")
    with partial.open("wb") as out:
        for _ in range(size // (16 * MIB)):
            out.write(os.urandom(16 * MIB))
        out.write(os.urandom(size % (16 * MIB)))
    partial.rename(path)
    return path


def time_syncd(path: Path) -> tuple[float, float, str]:
    """(wall s, CPU s, hex digest) of md5_file in this process."""
    cpu, wall = time.process_time(), time.perf_counter()
    digest = md5_file(path)
    return time.perf_counter() - wall, time.process_time() - cpu, digest


def time_md5sum(path: Path) -> tuple[float, float, str]:
    """(wall s, CPU s, hex digest) of an `md5sum` subprocess."""
    wall = time.perf_counter()
    proc = subprocess.Popen(["md5sum", str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"md5sum exited {proc.returncode}")
    return time.perf_counter() - wall, usage.ru_utime + usage.ru_stime, out.split()[0]


def run(ctx: RunContext) -> Figures:
    size = 16 * MIB if ctx.quick else 1024 * MIB
    path = make_file(ctx.cache, size)
    md5_file(path)  # into the page cache
    have_peer = ctx.which("md5sum") is not None
    best: dict[str, list[float]] = {"syncd": [float("inf")] * 2, "md5sum": [float("inf")] * 2}
    for _ in range(3):
        with ctx.launch.pinned():  # syncd's code runs in this thread: pinned like a child
            ctx.launch.record_in_process("md5_file")
            wall, cpu, digest = time_syncd(path)
        best["syncd"] = [min(best["syncd"][0], wall), min(best["syncd"][1], cpu)]
        if have_peer:
            peer_wall, peer_cpu, peer_digest = time_md5sum(path)
            if peer_digest != digest:
                raise RuntimeError(f"md5sum says {peer_digest}, syncd {digest}")
            best["md5sum"] = [min(best["md5sum"][0], peer_wall), min(best["md5sum"][1], peer_cpu)]
    if not have_peer:
        ctx.missing("md5sum", "md5sum (coreutils) is not on PATH")
        del best["md5sum"]
    figures: Figures = {}
    for tool, (wall, cpu) in best.items():
        figures[f"{tool}.mb_per_s"] = round(size / MIB / wall, 1)
        figures[f"{tool}.cpu_mb_per_s"] = round(size / MIB / max(cpu, 1e-6), 1)
    ctx.note(f"{size // MIB} MiB from the page cache; best of 3 runs each, alternating")
    return figures


CASE = Case(
    name="hashing",
    title="MD5 of a 1 GiB file: syncd.local.hashing vs md5sum",
    run=run,
    targets=(
        Target(
            label="MB/s >= 0.9 x md5sum (per CPU-second)",
            metric="syncd.cpu_mb_per_s",
            op=">=",
            other="md5sum.cpu_mb_per_s",
            factor=0.9,
        ),
    ),
    repeat=3,
)
