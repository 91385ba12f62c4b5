"""Encryption at rest: what `[pairs.encryption]` costs, encrypted vs unencrypted syncd.

- **Upload**: the initial sync of a directory holding one large file (1 GiB; ``--quick`` 16 MiB)
  by a real `syncd reconcile`, once as a plain pair and once as an encrypted pair (rclone crypt:
  64 KiB secretbox blocks, MD5 over the ciphertext), alternating, two attempts each (each kind
  first once; the page cache flushed before every upload, and the emulator's stored copy deleted
  after it); each keeps its faster run. MiB per second of the file/upload exchange as syncd's
  debug log times it (encryption and hashing happen while the body streams, so they are inside
  it).
- **No-op pass**: a tree of many small files (100,000 in 1,000 folders; ``--quick`` 500) synced
  once by each pair (plain and encrypted, each to its own remote folder of one emulator), then a
  `syncd reconcile` with nothing to do, alternating, two attempts each, the faster kept. The
  encrypted pass decrypts every name and maps every size of every listing.

Sizes can be set between the two for a run on a shared machine:
``SYNCD_BENCH_ENC_UPLOAD_MIB`` (upload size, MiB) and ``SYNCD_BENCH_ENC_NOOP_FILES`` (files of
the no-op tree; folders are a hundredth of it).
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks import data
from benchmarks.cases.bulk_upload import run_syncd, write_config
from benchmarks.cases.hashing import MIB
from benchmarks.cases.large_file import drop_stored_copies, source_tree, upload_seconds
from benchmarks.core import Case, Figures, RunContext, Target
from syncd.emulator.testing import MUTATING_ACTIONS, EmulatorProcess

PASSWORD = "benchmark passphrase"
PASSWORD2 = "benchmark salt"


def _encrypt(config: Path) -> Path:
    with config.open("a", encoding="utf-8") as fh:
        fh.write(f'\n[pairs.encryption]\npassword = "{PASSWORD}"\npassword2 = "{PASSWORD2}"\n')
    return config


def _config(ctx: RunContext, label: str, api_url: str, local: Path, encrypted: bool) -> Path:
    config = write_config(ctx.work / label, api_url, local, label)
    return _encrypt(config) if encrypted else config


def _upload(ctx: RunContext, size: int) -> Figures:
    tree, _ = source_tree(ctx.cache, size)
    best = {"plain": float("inf"), "encrypted": float("inf")}
    cpu = dict(best)
    with EmulatorProcess(max_upload_size=2 * size) as emu:
        for attempt in range(2):
            for kind in ("plain", "encrypted") if attempt == 0 else ("encrypted", "plain"):
                # The emulator writes every upload to its data dir: without a flush, the dirty
                # pages of the uploads before (1 GiB each) are written back, and the writer
                # throttled, during the next one, which then took up to twice as long. The
                # old fixed order put that on the encrypted runs; each kind now goes first
                # once, and each upload starts with nothing left to write back.
                os.sync()
                config = _config(ctx, f"up-{kind}{attempt}", emu.api_url, tree, kind == "encrypted")
                _, used, log = run_syncd(
                    config, "-v", "--log-format", "json", launch=ctx.launch, label=kind
                )
                drop_stored_copies(emu)
                best[kind] = min(best[kind], upload_seconds(log))
                cpu[kind] = min(cpu[kind], used)
        stored = sorted(f["size"] for f in emu.admin.tree()["files"])
    from syncd.crypt import encrypted_size

    if stored != sorted([size, size, encrypted_size(size), encrypted_size(size)]):
        raise RuntimeError(f"stored sizes {stored} are not 2 x plain and 2 x encrypted")
    plain_mb, enc_mb = size / MIB / best["plain"], size / MIB / best["encrypted"]
    return {
        "syncd.upload_size_mib": size // MIB,
        "syncd.upload_plain_mb_per_s": round(plain_mb, 1),
        "syncd.upload_encrypted_mb_per_s": round(enc_mb, 1),
        "syncd.upload_encrypted_vs_plain": round(enc_mb / plain_mb, 3),
        "syncd.upload_plain_cpu_s": round(cpu["plain"], 2),
        "syncd.upload_encrypted_cpu_s": round(cpu["encrypted"], 2),
    }


def _noop(ctx: RunContext, files: int) -> Figures:
    spec = data.TreeSpec(files=files, dirs=max(1, files // 100))
    tree = data.tree(ctx.cache, spec)
    with EmulatorProcess() as emu:
        configs = {
            kind: _config(ctx, f"noop-{kind}", emu.api_url, tree, kind == "encrypted")
            for kind in ("plain", "encrypted")
        }
        for config in configs.values():
            run_syncd(config)  # the initial sync (not measured)
        best = {"plain": float("inf"), "encrypted": float("inf")}
        cpu = dict(best)
        for _ in range(2):
            for kind, config in configs.items():
                emu.admin.reset_counts()
                wall, used, _ = run_syncd(config, launch=ctx.launch, label=f"noop-{kind}")
                counts = emu.admin.counts()
                if any(counts.get(action, 0) for action in MUTATING_ACTIONS):
                    raise RuntimeError(f"the {kind} no-op pass changed something: {counts}")
                best[kind], cpu[kind] = min(best[kind], wall), min(cpu[kind], used)
    return {
        "syncd.noop_files": files,
        "syncd.noop_plain_wall_s": round(best["plain"], 2),
        "syncd.noop_encrypted_wall_s": round(best["encrypted"], 2),
        "syncd.noop_encrypted_vs_plain": round(best["encrypted"] / best["plain"], 3),
        "syncd.noop_plain_cpu_s": round(cpu["plain"], 2),
        "syncd.noop_encrypted_cpu_s": round(cpu["encrypted"], 2),
    }


def run(ctx: RunContext) -> Figures:
    upload_mib = int(os.environ.get("SYNCD_BENCH_ENC_UPLOAD_MIB", 16 if ctx.quick else 1024))
    noop_files = int(os.environ.get("SYNCD_BENCH_ENC_NOOP_FILES", 500 if ctx.quick else 100_000))
    figures = _upload(ctx, upload_mib * MIB)
    figures.update(_noop(ctx, noop_files))
    ctx.note(
        f"{upload_mib} MiB upload and a {noop_files:,}-file no-op pass, plain vs encrypted "
        "(rclone crypt), one emulator over loopback"
    )
    return figures


CASE = Case(
    name="encryption",
    title="encrypted vs unencrypted: 1 GiB upload throughput, 100,000-file no-op pass",
    run=run,
    targets=(
        Target(
            "encrypted upload MB/s >= 0.8 x unencrypted",
            "syncd.upload_encrypted_mb_per_s",
            ">=",
            other="syncd.upload_plain_mb_per_s",
            factor=0.8,
        ),
        Target(
            "encrypted no-op pass wall time <= 1.2 x unencrypted",
            "syncd.noop_encrypted_wall_s",
            "<=",
            other="syncd.noop_plain_wall_s",
            factor=1.2,
        ),
    ),
    repeat=1,
)
