"""API economy: requests by endpoint (the emulator's admin counts) of one `syncd reconcile` each
for a no-op pass, one file rename, one directory move of 1,000 files and one file edit; then,
with the pair in backup mode (versions kept), for a replace, a delete, a directory of 1,000
files deleted, and a prune of 6 versions.

The tree (3 directories of 1,000 files; quick: 3 × 100) is copied into scratch space (it is
changed), the emulator's store is seeded with the same tree and `syncd reconcile
--adopt-existing` builds the journal; then each change is made on disk and one real `syncd
reconcile` subprocess runs with the counts reset just before it. Counts are per endpoint:
``syncd.<pass>.<endpoint>`` (e.g. ``syncd.noop.folder_listing``), plus the judged figures.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from benchmarks import data
from benchmarks.core import Case, Figures, RunContext, Target, run_measured
from syncd.emulator.testing import MUTATING_ACTIONS, EmulatorProcess
from syncd.history.names import VERSIONS_DIR

FULL = data.TreeSpec(files=3_000, dirs=3, min_size=1024, max_size=4096, seed=7)
QUICK = data.TreeSpec(files=300, dirs=3, min_size=1024, max_size=4096, seed=7)
NOT_REQUESTS = ("429", "faults")


def _requests(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if v and k not in NOT_REQUESTS}


def _pass(
    ctx: RunContext, emu: EmulatorProcess, config: Path, label: str, *args: str
) -> dict[str, int]:
    """One real `syncd reconcile` with the counts reset before it; its requests by endpoint."""
    emu.admin.reset_counts()
    run_measured(
        [*data.syncd_base_command(), "reconcile", *args, "--config", str(config)],
        env=data.syncd_env(),
        timeout=600,
        launch=ctx.launch,
        label=label,
    ).check("syncd reconcile")
    return _requests(emu.admin.counts())


def _sorted(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


def _record(figures: Figures, label: str, counts: dict[str, int]) -> None:
    for endpoint, n in counts.items():
        figures[f"syncd.{label}.{endpoint.replace('/', '_')}"] = n
    figures[f"syncd.{label}.requests"] = sum(counts.values())
    figures[f"syncd.{label}.mutating"] = sum(counts.get(a, 0) for a in MUTATING_ACTIONS)


def run(ctx: RunContext) -> Figures:
    spec = QUICK if ctx.quick else FULL
    local = ctx.work / "local"
    data.copy_tree(data.tree(ctx.cache, spec), local)
    emu_dir = ctx.work / "emulator"
    emu_dir.mkdir()
    data.seed_emulator_store(emu_dir, spec)
    figures: Figures = {"tree.files": spec.files, "tree.folders": spec.folder_count()}
    leaves = spec.leaf_dirs()  # three leaves of files/3 files each
    with EmulatorProcess(data_dir=emu_dir) as emu:
        config = data.write_config(
            ctx.work / "config.toml",
            api_url=emu.api_url,
            state=ctx.work / "state" / "state.db",
            local=local,
        )
        (ctx.work / "state").mkdir()
        adopted = _pass(ctx, emu, config, "adopt", "--adopt-existing")
        if adopted.get("file/upload"):
            ctx.note(f"--adopt-existing uploaded {adopted['file/upload']} files")

        noop = _pass(ctx, emu, config, "noop")
        _record(figures, "noop", noop)
        listings = noop.get("folder/listing", 0)
        authorize = noop.get("authorize", 0)
        folders = spec.folder_count()
        # Beyond one listing per folder and at most one authorize (the target's allowance).
        figures["syncd.noop_extra_calls"] = (
            sum(noop.values()) - min(listings, folders) - min(authorize, 1)
        )
        figures["syncd.noop_listings_per_folder"] = listings / folders
        ctx.note(f"no-op pass, {folders} folders: {_sorted(noop)}")

        first = local / leaves[1] / sorted(os.listdir(local / leaves[1]))[0]
        first.rename(first.with_name("renamed-" + first.name))
        rename = _pass(ctx, emu, config, "rename")
        _record(figures, "rename", rename)
        figures["syncd.rename_calls"] = figures["syncd.rename.mutating"]
        ctx.note(f"rename pass: {_sorted(rename)}")

        # One directory of files/3 files moves to the other group directory.
        source = local / leaves[0]
        target_parent = local / leaves[1].split("/")[0]
        source.rename(target_parent / (source.name + "-moved"))
        moved = _pass(ctx, emu, config, "dir_move")
        _record(figures, "dir_move", moved)
        figures["syncd.dir_move_calls"] = figures["syncd.dir_move.mutating"]
        figures["syncd.dir_move_files"] = spec.files // spec.dirs
        ctx.note(f"dir move pass: {_sorted(moved)}")

        edited = local / leaves[2] / sorted(os.listdir(local / leaves[2]))[0]
        edited.write_bytes(edited.read_bytes() + b"edited\n")
        edit = _pass(ctx, emu, config, "edit")
        _record(figures, "edit", edit)
        figures["syncd.edit_uploads"] = edit.get("file/upload", 0)
        figures["syncd.edit_trashes"] = edit.get("file/delete", 0)
        ctx.note(f"edit pass: {_sorted(edit)}")
        figures["syncd.edit_other_mutating"] = (
            figures["syncd.edit.mutating"]
            - figures["syncd.edit_uploads"]
            - figures["syncd.edit_trashes"]
        )

        expected = {
            f"/{data.REMOTE_FOLDER}/{p.relative_to(local).as_posix()}"
            for p in local.rglob("*")
            if p.is_file()
        }
        actual = set(emu.admin.active_paths())
        if expected != actual:
            ctx.note(
                f"remote differs from local after the passes: {len(expected - actual)} missing, "
                f"{len(actual - expected)} extra"
            )
        figures["syncd.converged"] = 1.0 if expected == actual else 0.0
        _versions(ctx, emu, config, local, figures, leaves)
    return figures


PRUNE_EDITS = 5  # versions made of one file before a retention policy prunes all but one


def _versions(
    ctx: RunContext,
    emu: EmulatorProcess,
    config: Path,
    local: Path,
    figures: Figures,
    leaves: list[str],
) -> None:
    """The same pair switched to backup mode, which keeps versions (README "Backups and
    history"): what a replace, a delete, a directory delete and a prune cost."""
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('mode = "mirror"', 'mode = "backup"'), encoding="utf-8")
    # The first pass keeping versions sorts out older same-name uploads (none here).
    ctx.note(f"first pass keeping versions: {_sorted(_pass(ctx, emu, config, 'versions_on'))}")

    leaf = local / leaves[2]
    edited, deleted = sorted(os.listdir(leaf))[:2]

    def edit() -> None:
        (leaf / edited).write_bytes((leaf / edited).read_bytes() + b"again\n")

    edit()  # the first version in a directory also creates its folder in the versions area
    ctx.note(f"first version in a directory: {_sorted(_pass(ctx, emu, config, 'version_first'))}")
    edit()
    replace = _pass(ctx, emu, config, "replace")
    _record(figures, "replace", replace)
    figures["syncd.replace_uploads"] = replace.get("file/upload", 0)
    figures["syncd.replace_file_edits"] = replace.get("file/edit", 0)
    figures["syncd.replace_other_mutating"] = (
        figures["syncd.replace.mutating"]
        - figures["syncd.replace_uploads"]
        - figures["syncd.replace_file_edits"]
    )
    ctx.note(f"replace pass (versions kept): {_sorted(replace)}")

    (leaf / deleted).unlink()
    delete = _pass(ctx, emu, config, "delete")
    _record(figures, "delete", delete)
    figures["syncd.delete_calls"] = figures["syncd.delete.mutating"]
    ctx.note(f"delete pass (versions kept): {_sorted(delete)}")

    moved = next(
        p for p in (local / leaves[1].split("/")[0]).iterdir() if p.name.endswith("-moved")
    )
    count = len(os.listdir(moved))
    shutil.rmtree(moved)
    whole = _pass(ctx, emu, config, "dir_delete")
    _record(figures, "dir_delete", whole)
    figures["syncd.dir_delete_calls"] = figures["syncd.dir_delete.mutating"]
    figures["syncd.dir_delete_files"] = count
    ctx.note(f"dir delete pass, {count} files (versions kept): {_sorted(whole)}")

    for _ in range(PRUNE_EDITS):
        edit()
        _pass(ctx, emu, config, "version_more")
    # Versions of the edited file: 2 + PRUNE_EDITS; keeping the last one of each prunes the rest.
    with config.open("a", encoding="utf-8") as fh:
        fh.write("versions = { keep_last = 1 }\n")
    prune = _pass(ctx, emu, config, "prune")
    _record(figures, "prune", prune)
    figures["syncd.prune_versions"] = PRUNE_EDITS + 1
    figures["syncd.prune_trashes"] = prune.get("file/delete", 0) + prune.get("folder/delete", 0)
    figures["syncd.prune_other_mutating"] = (
        figures["syncd.prune.mutating"] - figures["syncd.prune_trashes"]
    )
    ctx.note(f"prune pass, {PRUNE_EDITS + 1} versions: {_sorted(prune)}")

    area = f"/{data.REMOTE_FOLDER}/{VERSIONS_DIR}/"
    expected = {
        f"/{data.REMOTE_FOLDER}/{p.relative_to(local).as_posix()}"
        for p in local.rglob("*")
        if p.is_file()
    }
    live = {p for p in emu.admin.active_paths() if not p.startswith(area)}
    figures["syncd.versions_converged"] = 1.0 if expected == live else 0.0


CASE = Case(
    name="api_economy",
    title=(
        "requests by endpoint: no-op pass, one rename, one dir move of 1,000 files, one edit; "
        "versions kept: replace, delete, dir delete, prune"
    ),
    run=run,
    targets=(
        Target(
            "no-op = 1 listing per folder + <= 1 authorize (extra calls <= 0)",
            "syncd.noop_extra_calls",
            "<=",
            bound=0,
        ),
        Target("rename = 1 call", "syncd.rename_calls", "==", bound=1),
        Target("dir move = 1 call", "syncd.dir_move_calls", "==", bound=1),
        Target("edit = 1 upload", "syncd.edit_uploads", "==", bound=1),
        Target("edit = 1 trash", "syncd.edit_trashes", "==", bound=1),
        Target("edit: no other mutating call", "syncd.edit_other_mutating", "==", bound=0),
        Target("remote == local after the passes", "syncd.converged", "==", bound=1),
        Target("replace (versions kept) = 1 upload", "syncd.replace_uploads", "==", bound=1),
        Target("replace (versions kept) = 1 file/edit", "syncd.replace_file_edits", "==", bound=1),
        Target("replace: no other mutating call", "syncd.replace_other_mutating", "==", bound=0),
        Target("delete (versions kept) = 1 call", "syncd.delete_calls", "==", bound=1),
        Target("dir delete (versions kept) <= 3 calls", "syncd.dir_delete_calls", "<=", bound=3),
        Target("prune of N versions = N trashes", "syncd.prune_trashes", "==", bound=6),
        Target("prune: no other mutating call", "syncd.prune_other_mutating", "==", bound=0),
        Target("live == local with versions kept", "syncd.versions_converged", "==", bound=1),
    ),
    repeat=1,  # counts, not timings: one run says it all
)
