"""A directory renamed in the daemon's partial pass (``reconcile_pair(dirty=...)``) is one
``folder/edit`` and a few listings, however many subfolders it holds; changes made inside it in
the same burst are still synced by that pass. The dirty paths are those the watcher reports for
the burst (both ends of the move, and the changed paths)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.emulator.testing import EmulatorProcess
from syncd.engine.executor import Progress
from syncd.engine.ops import Op
from syncd.engine.reconcile import Rechecks
from tests.support.reconcile import Syncer, expected_remote, pair_config

SUBFOLDERS = 20
PREFIX = "Backup/docs"


@pytest.fixture
def synced(tmp_path: Path, emulator: EmulatorProcess) -> Iterator[tuple[Path, Syncer]]:
    """``a/`` with 20 subfolders of one file each, synced."""
    local = tmp_path / "local"
    for i in range(SUBFOLDERS):
        sub = local / "a" / f"sub{i:02d}"
        sub.mkdir(parents=True)
        (sub / "f.txt").write_text(f"file {i}\n")
    (local / "a" / "top.txt").write_text("top\n")
    syncer = Syncer(pair_config(tmp_path, emulator.api_url, local))
    try:
        assert syncer.run().exit_code == 0
        emulator.admin.reset_counts()
        yield local, syncer
    finally:
        syncer.close()


def converged(local: Path, emulator: EmulatorProcess) -> bool:
    return emulator.admin.active_paths() == expected_remote(local, PREFIX)


def test_renamed_directory_is_one_edit_and_few_listings(
    synced: tuple[Path, Syncer], emulator: EmulatorProcess
) -> None:
    local, syncer = synced
    os.rename(local / "a", local / "b")
    result = syncer.run(dirty=["a", "b"])
    assert result.exit_code == 0
    counts = emulator.admin.counts()
    assert counts.get("folder/edit", 0) == 1, counts
    # The parent and the moved folder; its untouched subfolders are not listed.
    assert counts.get("folder/listing", 0) <= 3, counts
    assert counts.get("file/upload", 0) == 0, counts
    assert converged(local, emulator)


def test_file_created_in_a_subfolder_of_the_moved_directory_is_uploaded(
    synced: tuple[Path, Syncer], emulator: EmulatorProcess
) -> None:
    local, syncer = synced
    os.rename(local / "a", local / "b")
    (local / "b" / "sub07" / "new.txt").write_text("made right after the move\n")
    result = syncer.run(dirty=["a", "b", "b/sub07/new.txt"])
    assert result.exit_code == 0
    counts = emulator.admin.counts()
    assert counts.get("folder/edit", 0) == 1, counts
    assert counts.get("file/upload", 0) == 1, counts
    assert counts.get("folder/listing", 0) <= 4, counts
    assert converged(local, emulator)


@pytest.mark.parametrize("reported_at", ["new place", "old place"])
def test_file_edited_in_a_subfolder_of_the_moved_directory_is_uploaded(
    synced: tuple[Path, Syncer], emulator: EmulatorProcess, reported_at: str
) -> None:
    """The edit may be reported under either name: after the move, or before it (an event
    the watcher delivered under the old path)."""
    local, syncer = synced
    edited = local / "a" / "sub03" / "f.txt"
    edited.write_text("edited, and longer than before\n")
    os.rename(local / "a", local / "b")
    changed = "b/sub03/f.txt" if reported_at == "new place" else "a/sub03/f.txt"
    result = syncer.run(dirty=[changed, "a", "b"])
    assert result.exit_code == 0
    counts = emulator.admin.counts()
    assert counts.get("folder/edit", 0) == 1, counts
    assert counts.get("file/upload", 0) == 1, counts
    assert converged(local, emulator)


def test_directory_moved_within_the_moved_directory_keeps_its_changes(
    synced: tuple[Path, Syncer], emulator: EmulatorProcess
) -> None:
    """``mv a/sub01 a/inner; mv a b`` and a file added below: both moves are edits, the file
    is uploaded."""
    local, syncer = synced
    (local / "a" / "sub01" / "deeper").mkdir()
    (local / "a" / "sub01" / "deeper" / "d.txt").write_text("deeper\n")
    assert syncer.run(dirty=["a/sub01/deeper"]).exit_code == 0
    emulator.admin.reset_counts()
    os.rename(local / "a" / "sub01", local / "a" / "inner")
    os.rename(local / "a", local / "b")
    (local / "b" / "inner" / "deeper" / "new.txt").write_text("new\n")
    result = syncer.run(dirty=["a/sub01", "a/inner", "a", "b", "b/inner/deeper/new.txt"])
    assert result.exit_code == 0
    counts = emulator.admin.counts()
    assert counts.get("folder/edit", 0) == 2, counts
    assert counts.get("file/upload", 0) == 1, counts
    assert converged(local, emulator)


def test_file_whose_directory_moves_between_plan_and_upload_is_uploaded_after_the_move(
    synced: tuple[Path, Syncer], emulator: EmulatorProcess
) -> None:
    """The watcher reported ``a/sub05/new.txt``; ``a`` became ``b`` after the pass planned the
    upload and before it ran (the 60-second directory-churn soak lost files this way: the upload
    found nothing and was dropped, and the move's pass walks the moved folder only towards the
    paths it is given). The file is looked at again by later partial passes at its folder's
    path of then: one that runs before the move is known changes nothing, the move's pass
    uploads it."""
    local, syncer = synced
    (local / "a" / "sub05" / "new.txt").write_text("made just before the move\n")

    class MoveBeforeUpload(Progress):
        def begin(self, ops: list[Op]) -> None:
            os.rename(local / "a", local / "b")

    rechecks = Rechecks()
    first = syncer.run(progress=MoveBeforeUpload(), dirty=["a/sub05/new.txt"])
    assert first.exit_code == 0
    rechecks.after(first.outcome)
    assert counts_of(emulator)["file/upload"] == 0
    # A pass for something else, before the move's events: the file's folder is not there yet.
    (local / "elsewhere.txt").write_text("x\n")
    dirty = ["elsewhere.txt", *rechecks.paths(syncer.journal, local)]
    assert dirty == ["elsewhere.txt", "a/sub05/new.txt"]
    between = syncer.run(dirty=dirty)
    rechecks.after(between.outcome)
    # The move's pass.
    moved = syncer.run(dirty=["a", "b", *rechecks.paths(syncer.journal, local)])
    assert moved.exit_code == 0
    rechecks.after(moved.outcome)
    assert converged(local, emulator)
    assert rechecks.paths(syncer.journal, local) == []


def counts_of(emulator: EmulatorProcess) -> dict[str, int]:
    return {"file/upload": 0, **emulator.admin.counts()}


def test_path_reported_before_its_directory_moved_is_synced_by_the_moves_pass(
    synced: tuple[Path, Syncer], emulator: EmulatorProcess
) -> None:
    """The watcher reported ``a/sub06/new.txt``, but ``a`` had become ``b`` before the pass
    looked: the pass sees no directory there and changes nothing; the path is looked at again
    with the move's pass."""
    local, syncer = synced
    (local / "a" / "sub06" / "new.txt").write_text("made just before the move\n")
    os.rename(local / "a", local / "b")
    rechecks = Rechecks()
    first = syncer.run(dirty=["a/sub06/new.txt"])
    assert first.exit_code == 0
    rechecks.after(first.outcome)
    assert counts_of(emulator)["file/upload"] == 0
    moved = syncer.run(dirty=["a", "b", *rechecks.paths(syncer.journal, local)])
    assert moved.exit_code == 0
    assert converged(local, emulator)


def test_directory_walked_whole_is_not_walked_again_for_a_path_beneath_it(
    synced: tuple[Path, Syncer], emulator: EmulatorProcess
) -> None:
    """``a`` itself is dirty (its whole subtree is walked) and so is a file two levels down:
    the file's directory is visited once, not once more on its own (the directory-churn run's
    seed 5 uploaded such files twice, leaving two under one name on the host)."""
    local, syncer = synced
    (local / "a" / "sub01" / "f.txt").write_text("edited, and longer than before\n")
    (local / "a" / "sub01" / "new.txt").write_text("new\n")
    result = syncer.run(dirty=["a/sub01/f.txt", "a/sub01/new.txt", "a"])
    assert result.exit_code == 0
    assert counts_of(emulator)["file/upload"] == 2, emulator.admin.counts()
    assert converged(local, emulator)
