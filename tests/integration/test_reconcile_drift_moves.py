"""A local directory move meets remote drift of the same folder, against the real emulator.

Someone trashes (or renames) a folder on the web site while its directory is moved locally: the
next ``reconcile_pair`` pass must converge (remote == local, no duplicates, no failed op) and
the one after it must plan nothing, in mirror and in backup mode.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.emulator.testing import EmulatorProcess
from syncd.engine import reconcile
from syncd.history.names import VERSIONS_DIR, parse_versioned_name
from tests.support.reconcile import Syncer, expected_remote, mutating_calls, pair_config
from tests.support.trees import write_tree

PREFIX = "Backup/docs"


TREE = {
    "outer/keep.txt": "stays in outer\n",
    "outer/inner/x.txt": "x\n" * 10,
    "outer/inner/deeper/y.txt": "y\n" * 20,
    "other/z.txt": "z\n",
}


def _folder_id(emulator: EmulatorProcess, name: str) -> int:
    (folder,) = [
        f for f in emulator.admin.tree()["folders"] if f["name"] == name and f["status"] == "active"
    ]
    return int(folder["id"])


@pytest.fixture(params=["mirror", "backup"])
def pair(
    request: pytest.FixtureRequest, tmp_path: Path, emulator: EmulatorProcess
) -> Iterator[tuple[Syncer, Path, str]]:
    local = tmp_path / "local"
    write_tree(local, TREE)
    syncer = Syncer(pair_config(tmp_path, emulator.api_url, local, mode=request.param))
    first = syncer.run()
    assert first.exit_code == 0, first.outcome.failed
    assert emulator.admin.active_paths() == expected_remote(local, PREFIX)
    yield syncer, local, request.param
    syncer.close()


def _converges(syncer: Syncer, local: Path, emulator: EmulatorProcess) -> None:
    result = syncer.run()
    assert result.exit_code == 0, result.outcome.failed
    assert emulator.admin.active_paths() == expected_remote(local, PREFIX)
    assert emulator.admin.duplicates() == []
    emulator.admin.reset_counts()
    again = syncer.run()
    assert [op.describe() for op in again.plan.ops] == []
    assert mutating_calls(emulator.admin.counts()) == {}


@pytest.mark.parametrize("batch", [reconcile.BATCH_OPS, 1], ids=["whole", "batched"])
def test_move_out_of_a_folder_trashed_on_the_web_site(
    pair: tuple[Syncer, Path, str],
    emulator: EmulatorProcess,
    monkeypatch: pytest.MonkeyPatch,
    batch: int,
) -> None:
    """outer/inner moved to the top locally, outer (with inner) trashed remotely: inner is
    created anew and its files uploaded (folder/edit of a trashed folder would fail), also
    when a huge pass hands its ops out before it visits the moved folder (batch of 1)."""
    syncer, local, _mode = pair
    monkeypatch.setattr(reconcile, "BATCH_OPS", batch)
    (local / "outer/inner").rename(local / "inner")
    emulator.admin.drift("trash_folder", folder_id=_folder_id(emulator, "outer"))
    _converges(syncer, local, emulator)


def test_move_of_a_folder_renamed_on_the_web_site(
    pair: tuple[Syncer, Path, str], emulator: EmulatorProcess
) -> None:
    """outer/inner moved to the top locally while the host renamed inner to "other": the
    move must send the name too, or the pair's root holds two folders called "other"."""
    syncer, local, _mode = pair
    (local / "outer/inner").rename(local / "inner")
    emulator.admin.drift("rename_folder", folder_id=_folder_id(emulator, "inner"), name="other")
    _converges(syncer, local, emulator)


def test_file_moved_into_someone_elses_new_folder_is_put_back_by_id(
    tmp_path: Path, emulator: EmulatorProcess
) -> None:
    """Mirror mode: someone makes folder ``c`` on the web site and moves one of syncd's files
    into it. ``c`` is theirs and is trashed, but the file is syncd's: it is moved back by id
    first, not trashed with ``c`` and uploaded again (with versions kept, that trash lost a
    version from history: found by the model test)."""
    local = tmp_path / "local"
    write_tree(local, TREE)
    syncer = Syncer(pair_config(tmp_path, emulator.api_url, local, mode="mirror"))
    try:
        assert syncer.run().exit_code == 0
        (file,) = [
            f
            for f in emulator.admin.tree()["files"]
            if f["name"] == "z.txt" and f["status"] == "active"
        ]
        theirs = emulator.admin.drift(
            "add_folder", parent_id=_folder_id(emulator, "docs"), name="c"
        )
        emulator.admin.drift("move_file", file_id=file["id"], folder_id=theirs["id"])
        emulator.admin.reset_counts()
        _converges(syncer, local, emulator)
        (back,) = [
            f
            for f in emulator.admin.tree()["files"]
            if f["name"] == "z.txt" and f["status"] == "active"
        ]
        assert back["id"] == file["id"]
    finally:
        syncer.close()


def test_file_moved_into_someone_elses_new_folder_then_deleted_locally_is_kept_as_a_version(
    tmp_path: Path, emulator: EmulatorProcess
) -> None:
    """Mirror mode keeping versions: as above, but the file is also deleted locally. Its upload
    leaves the live tree as a version, moved out of ``c`` into the versions area; ``c`` is
    trashed. Both were in the trash phase and ran side by side, so ``c`` was often trashed
    first, taking the file with it, and the version was then renamed into the versions area
    inside the trash: a version lost from history (the model test, seed 20261232)."""
    local = tmp_path / "local"
    write_tree(local, TREE)
    config = pair_config(tmp_path, emulator.api_url, local, mode="mirror")
    with config.open("a") as fh:
        fh.write('versions = "keep"\n')
    syncer = Syncer(config)
    try:
        assert syncer.run().exit_code == 0
        admin = emulator.admin
        (file,) = [f for f in admin.tree()["files"] if f["name"] == "z.txt"]
        theirs = admin.drift("add_folder", parent_id=_folder_id(emulator, "docs"), name="c")
        admin.drift("move_file", file_id=file["id"], folder_id=theirs["id"])
        (local / "other" / "z.txt").unlink()
        result = syncer.run(force_deletes=True)  # theirs holds 1 file: over max_delete
        assert result.exit_code == 0, result.outcome.failed
        tree = admin.tree()
        (kept,) = [f for f in tree["files"] if f["id"] == file["id"]]
        assert kept["status"] == "active", kept
        version = parse_versioned_name(kept["name"])
        assert version is not None and version.original == "z.txt", kept["name"]
        folders = {f["id"]: f for f in tree["folders"]}
        assert folders[int(theirs["id"])]["status"] == "trash"
        area = folders[kept["folder_id"]]
        assert folders[area["parent_id"]]["name"] == VERSIONS_DIR  # .syncd-versions/other/
        assert area["name"] == "other" and area["status"] == "active"
        assert syncer.run().plan.ops == []
    finally:
        syncer.close()
