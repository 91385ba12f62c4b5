"""Bulk upload: 10,000 files x 4 KiB in 200 dirs through `syncd reconcile`, 50 ms latency.

The emulator adds 50 ms to every request and allows 16 concurrent uploads (`account/package`
says so and it answers 429 above it), so no client can exceed 16 / 0.05 s = 320 files/s. The
emulator's own capacity for the same uploads is measured on the same emulator with a plain
httpx load of 64 clients in 4 processes (its concurrency limit lifted for that load); a plain
httpx load of 16 clients shows what a minimal client reaches under the same rules as syncd, and
a load of 16 bare ``http.client`` clients (``benchmarks/floors.py``'s, with syncd's own
multipart bodies) what the cheapest client there is reaches: the ceiling that the
emulator itself sets under these rules. It serves every request on one event loop after the
50 ms, so answers that were due together leave one after another.

Figures: ``syncd.files_per_s`` (the initial sync from an empty remote, a real `syncd reconcile`
subprocess with the default `[sync] workers`), ``syncd.cpu_s`` and ``syncd.cpu_ms_per_upload``
(its user+sys CPU, in all and per file/upload request), ``emulator.capacity_files_per_s``,
``httpx16.files_per_s``, ``stdlib16.files_per_s`` and
``bound.files_per_s = min(16 / 0.05, capacity)``.

Measured 2026-11-23 on the shared 2-vCPU machine (load 5-15, so lower bounds): syncd 224-229
files/s (108 before this work: 8 workers), 2.1 ms client CPU per file; the emulator 0.8-0.9 ms
per upload; capacity 400-616 files/s; the plain 16-client httpx load itself only 264-279 files/s
(0.83-0.87 x 320). Where syncd's 44 s go: ~1.4 s process start (imports, migrations), ~1.1 s
planning all 10,000 files before the first upload (below BATCH_OPS nothing runs before the whole
plan passed the guards), then ~268 files/s steady (in-process probe), i.e. ~9.7 ms per upload
beyond the 50 ms: the client's GIL at ~55 % busy (httpx is ~1 ms CPU of the 2.1 ms per file)
and the emulator's single event loop serving answers that come back in clumps.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.core import Case, Figures, RunContext, Target
from benchmarks.emulator_throughput import cpu_seconds, upload_load
from benchmarks.launch import Launch
from syncd.emulator import DEMO_KEY1, DEMO_KEY2
from syncd.emulator.testing import EmulatorProcess, RawApi

LATENCY_MS = 50.0
CONCURRENT_UPLOADS = 16
FILE_SIZE = 4096
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _sizes(quick: bool) -> tuple[int, int]:
    return (200, 10) if quick else (10_000, 200)


def make_tree(cache: Path, files: int, dirs: int) -> Path:
    """`files` random 4 KiB files spread over `dirs` directories; generated once per size."""
    root = cache / f"bulk_upload_{files}x{dirs}"
    done = cache / f"bulk_upload_{files}x{dirs}.complete"
    if done.exists():
        return root
    for i in range(files):
        folder = root / f"dir{i % dirs:03}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file{i:05}.bin").write_bytes(os.urandom(FILE_SIZE))
    done.touch()
    return root


def write_config(work: Path, api_url: str, local: Path, remote: str = "bulk") -> Path:
    """The defaults, except what the benchmark must pin: no `[sync] workers` on purpose."""
    work.mkdir(parents=True, exist_ok=True)
    path = work / "config.toml"
    path.write_text(
        "[remote]\n"
        f'api_url = "{api_url}"\n'
        f'key1 = "{DEMO_KEY1}"\n'
        f'key2 = "{DEMO_KEY2}"\n'
        "[state]\n"
        f'path = "{work / "state.db"}"\n'
        "[log]\n"
        'level = "warning"\n'
        "[[pairs]]\n"
        'name = "bulk"\n'
        f'local = "{local}"\n'
        f'remote = "{remote}"\n',
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


def run_syncd(
    config: Path, *args: str, launch: Launch | None = None, label: str = "reconcile"
) -> tuple[float, float, str]:
    """`syncd [args] reconcile` as a subprocess: (wall seconds, its user+sys CPU seconds,
    its stderr). ``launch``: pin and profile it as the measured child (``--cores``,
    ``--profile``)."""
    launch = launch or Launch()
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    started = time.perf_counter()
    with launch.pinned():
        proc = subprocess.Popen(
            [sys.executable, "-m", "syncd", "--config", str(config), *args, "reconcile"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    watch = launch.watch(proc.pid, label)
    try:
        assert proc.stderr is not None
        stderr = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
    finally:
        watch.close()
    if proc.returncode != 0:
        raise RuntimeError(f"syncd reconcile exited {proc.returncode}: {stderr[-2000:]!r}")
    return wall, usage.ru_utime + usage.ru_stime, stderr.decode("utf-8", "replace")


def load_items(api: RawApi, tree: Path, top: str) -> list[tuple[str, int, str]]:
    """Remote folders for a plain load of the tree's files: (path, folder id, name) each."""
    top_id = int(api.ok("folder/create", folder_name=top)["data"]["id"])
    items: list[tuple[str, int, str]] = []
    for folder in sorted(p for p in tree.iterdir() if p.is_dir()):
        folder_id = int(
            api.ok("folder/create", folder_name=folder.name, parent_id=top_id)["data"]["id"]
        )
        items += [(str(f), folder_id, f.name) for f in sorted(folder.iterdir())]
    return items


def run(ctx: RunContext) -> Figures:
    files, dirs = _sizes(ctx.quick)
    tree = make_tree(ctx.cache, files, dirs)
    with EmulatorProcess(latency_ms=LATENCY_MS, concurrent_uploads=CONCURRENT_UPLOADS) as emu:
        assert emu.pid is not None
        config = write_config(ctx.work, emu.api_url, tree)
        emu.admin.reset_counts()
        emu_cpu_before = cpu_seconds(emu.pid)
        wall, client_cpu, _ = run_syncd(config, launch=ctx.launch)
        emu_cpu = cpu_seconds(emu.pid) - emu_cpu_before
        counts = emu.admin.counts()
        if counts.get("file/upload", 0) != files or counts.get("429", 0):
            raise RuntimeError(f"expected {files} uploads and no 429, emulator counted {counts}")
        with RawApi(emu.api_url) as api:
            api.authorize()
            # Capacity: enough clients that 50 ms latency is not the limit; no upload cap.
            emu.admin.set_knobs(concurrent_uploads=0)
            capacity = upload_load(
                api.api_url,
                api.access_token,
                api.account_id,
                load_items(api, tree, "capacity"),
                clients=64,
                procs=4,
                emulator_pid=emu.pid,
            )
            emu.admin.set_knobs(concurrent_uploads=CONCURRENT_UPLOADS)
            # Plain clients under syncd's rules: (figure prefix, HTTP stack).
            plain = {
                name: upload_load(
                    api.api_url,
                    api.access_token,
                    api.account_id,
                    load_items(api, tree, name),
                    clients=CONCURRENT_UPLOADS,
                    procs=2,
                    stack=stack,
                )
                for name, stack in (("httpx16", "httpx"), ("stdlib16", "stdlib"))
            }
        for load in (capacity, *plain.values()):
            if load.errors or load.uploads != files:
                raise RuntimeError(f"plain load: {load.uploads}/{files}, errors {load.errors[:3]}")
    syncd_rate = files / wall
    bound = min(CONCURRENT_UPLOADS / (LATENCY_MS / 1000), capacity.per_s)
    ctx.note(
        f"{files} files x {FILE_SIZE} B in {dirs} dirs, {LATENCY_MS:g} ms latency, "
        f"concurrent_uploads {CONCURRENT_UPLOADS}; capacity load: 64 httpx clients in 4 processes"
    )
    return {
        "syncd.files_per_s": round(syncd_rate, 1),
        "syncd.wall_s": round(wall, 2),
        "syncd.cpu_s": round(client_cpu, 3),
        # The client's CPU per upload request (every file is one file/upload, checked above):
        # whole-process CPU, interpreter start-up and planning included.
        "syncd.cpu_ms_per_upload": round(1000 * client_cpu / files, 3),
        "syncd.emulator_cpu_ms_per_file": round(1000 * emu_cpu / files, 3),
        "emulator.capacity_files_per_s": round(capacity.per_s, 1),
        "emulator.cpu_ms_per_upload": round(1000 * capacity.emulator_cpu_s / files, 3),
        **{f"{name}.files_per_s": round(load.per_s, 1) for name, load in plain.items()},
        "bound.files_per_s": round(bound, 1),
    }


CASE = Case(
    name="bulk_upload",
    title="10,000 x 4 KiB files in 200 dirs, 50 ms latency, 16 concurrent uploads",
    run=run,
    targets=(
        Target(
            label="files/s >= 0.85 x min(16 / 0.05 s, emulator capacity)",
            metric="syncd.files_per_s",
            op=">=",
            other="bound.files_per_s",
            factor=0.85,
        ),
    ),
    repeat=3,
)
