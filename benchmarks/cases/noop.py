"""No-op reconcile: a 100,000-file tree already synced, one `syncd reconcile` with nothing to do.

The user's wall time of the real command (a subprocess: interpreter start-up, config, journal,
authorize, one listing per folder, the local walk), next to two `rclone sync` no-ops of the same
tree and `find -printf` (the floor: just stat every entry):

- ``rclone``: local→local onto rclone's own up-to-date copy. No network at all, so it is a
  floor for any tool that has to ask a host;
- ``rclone_webdav``: `rclone sync --size-only` to `rclone serve webdav` on 127.0.0.1 serving
  that same copy (read-only, no auth; started and killed by this case, a fresh server each
  repetition so its directory cache starts cold like the emulator's). One PROPFIND per remote
  directory over loopback HTTP, as syncd makes one folder/listing per folder: the fairer
  reference. ``rclone_webdav.server_cpu_s`` is the server's side, like ``emulator.cpu_s``.

Two floors under syncd's own CPU (``benchmarks/floors.py``), run on the same state after syncd:
programs that make the pass's requests and `lstat` every local entry and do nothing else, over
httpx as syncd builds it (``floor_httpx``) and over bare ``http.client`` (``floor_stdlib``).
``syncd.cpu_over_floor_httpx_s`` is what syncd's own work costs above the first: config,
journal, plan, checks.

Per-request CPU of syncd (whole-process user+sys CPU, interpreter start-up included, so an
upper bound of each): ``syncd.cpu_ms_per_listing`` over the folder/listing requests the emulator
counted, ``syncd.cpu_us_per_file`` over the files of the tree. ``syncd.wall_vs_rclone`` and
``syncd.wall_vs_rclone_webdav`` are the ratios of wall times per repetition.

The synced state is built once by syncd's own initial sync and cached (benchmarks/data.py); each
repetition works on fresh copies of the emulator's data dir and of the journal.
"""

from __future__ import annotations

from pathlib import Path

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
from benchmarks.floors import STACKS, run_floor
from benchmarks.peers import rclone
from benchmarks.peers.common import PeerError
from syncd.emulator.testing import MUTATING_ACTIONS


def find_walk(root: object) -> float:
    """Wall time of `find ROOT -printf` (path, size, mtime of every entry) to /dev/null."""
    result = run_measured(
        ["find", str(root), "-printf", "%p %s %T@\n"], stdout_to_devnull=True
    ).check("find")
    return result.wall_s


def _rclone_local(ctx: RunContext, local: Path, copy: Path) -> Figures:
    result = rclone.sync(local, copy, extra=("-v",))
    moved = rclone.transfers_of(result)
    if moved:
        ctx.note(f"rclone transferred {moved} files in what should be a no-op")
    return {
        "rclone.wall_s": result.wall_s,
        "rclone.cpu_s": result.cpu_s,
        "rclone.peak_rss_mb": result.peak_rss_mb,
    }


def _rclone_webdav(ctx: RunContext, local: Path, copy: Path) -> Figures:
    """`rclone sync --size-only` of the tree to a WebDAV server on loopback serving ``copy``."""
    with rclone.serve_webdav(copy, ctx.work / "rclone-serve-webdav.log") as server:
        server_cpu = process_cpu_s(server.pid)
        result = rclone.sync_to_webdav(local, server.url, extra=("-v",))
        server_cpu = process_cpu_s(server.pid) - server_cpu
    moved = rclone.transfers_of(result)
    if moved:
        ctx.note(f"rclone to webdav transferred {moved} files in what should be a no-op")
    return {
        "rclone_webdav.wall_s": result.wall_s,
        "rclone_webdav.cpu_s": result.cpu_s,
        "rclone_webdav.peak_rss_mb": result.peak_rss_mb,
        "rclone_webdav.server_cpu_s": server_cpu,
    }


def run(ctx: RunContext) -> Figures:
    spec = data.QUICK_SMALL if ctx.quick else data.NOOP_100K
    state = data.synced_state(ctx.cache, spec, method="sync")
    figures: Figures = {"tree.files": spec.files, "tree.folders": spec.folder_count()}

    # Warm the page cache the same way for every tool: one untimed walk first.
    find_walk(state.local)
    figures["find.wall_s"] = find_walk(state.local)

    try:
        copy = rclone.ensure_copy(ctx.cache, state.local, spec.key)
        figures.update(_rclone_local(ctx, state.local, copy))
        try:
            figures.update(_rclone_webdav(ctx, state.local, copy))
        except PeerError as exc:  # the server did not come up: syncd's figures still count
            ctx.missing("rclone_webdav", f"rclone serve webdav failed: {exc}")
    except PeerMissing as missing:
        ctx.missing(missing.peer, missing.why)
        ctx.missing("rclone_webdav", missing.why)

    with state.materialise(ctx.work / "syncd") as live:
        live.emulator.admin.reset_counts()
        assert live.emulator.pid is not None
        emulator_cpu = process_cpu_s(live.emulator.pid)
        result = run_measured(
            live.syncd_command("reconcile"),
            env=data.syncd_env(),
            launch=ctx.launch,
            label="reconcile",
        ).check("syncd reconcile")
        # The host's side of the pass (answering the listings), for reading the wall time.
        figures["emulator.cpu_s"] = process_cpu_s(live.emulator.pid) - emulator_cpu
        counts = live.emulator.admin.counts()
        for stack in STACKS:
            floor = run_floor("noop", stack, live.config, launch=ctx.launch)
            figures[f"floor_{stack}.wall_s"] = floor.wall_s
            figures[f"floor_{stack}.cpu_s"] = floor.cpu_s
    mutations = sum(counts.get(action, 0) for action in MUTATING_ACTIONS)
    if mutations:
        ctx.note(f"the no-op pass made {mutations} mutating calls: {counts}")
    listings = counts.get("folder/listing", 0)
    figures["syncd.wall_s"] = result.wall_s
    figures["syncd.cpu_s"] = result.cpu_s
    figures["syncd.peak_rss_mb"] = result.peak_rss_mb
    figures["syncd.api_calls"] = sum(v for k, v in counts.items() if k not in ("429", "faults"))
    figures["syncd.listings"] = listings
    figures["syncd.mutating_calls"] = mutations
    if listings:
        figures["syncd.cpu_ms_per_listing"] = 1000 * result.cpu_s / listings
    figures["syncd.cpu_us_per_file"] = 1e6 * result.cpu_s / spec.files
    figures["syncd.cpu_over_floor_httpx_s"] = result.cpu_s - figures["floor_httpx.cpu_s"]
    for peer in ("rclone", "rclone_webdav"):
        if f"{peer}.wall_s" in figures:
            figures[f"syncd.wall_vs_{peer}"] = result.wall_s / figures[f"{peer}.wall_s"]
    return figures


CASE = Case(
    name="noop",
    title="no-op `syncd reconcile` of 100,000 synced files vs `rclone sync` no-op "
    "(local and to `rclone serve webdav`) and `find`",
    run=run,
    targets=(
        Target(
            "wall time <= 1.5 x rclone sync (no-op)",
            "syncd.wall_s",
            "<=",
            other="rclone.wall_s",
            factor=1.5,
        ),
        Target(
            "wall time <= 1.5 x rclone sync to rclone serve webdav (no-op, loopback HTTP)",
            "syncd.wall_s",
            "<=",
            other="rclone_webdav.wall_s",
            factor=1.5,
        ),
        Target("client CPU <= 2.0 s", "syncd.cpu_s", "<=", bound=2.0),
        Target("no mutating calls", "syncd.mutating_calls", "==", bound=0),
    ),
    repeat=3,
)
