"""The daemon's partial passes (``reconcile_pair(dirty=...)``) skip counting every tracked file
unless a guard needs the number; the guards must hold all the same: an emptied root and too
many deletions are refused, and an ordinary deletion goes through."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.emulator.testing import EmulatorProcess
from syncd.errors import GuardRefused
from tests.support.reconcile import Syncer, pair_config


@pytest.fixture
def synced(tmp_path: Path, emulator: EmulatorProcess) -> Iterator[tuple[Path, Syncer]]:
    local = tmp_path / "local"
    for d in range(2):
        (local / f"d{d}").mkdir(parents=True)
        for i in range(4):
            (local / f"d{d}" / f"f{i}.txt").write_text(f"{d}/{i}")
    syncer = Syncer(pair_config(tmp_path, emulator.api_url, local))
    try:
        assert syncer.run().exit_code == 0
        yield local, syncer
    finally:
        syncer.close()


def active_files(emulator: EmulatorProcess) -> int:
    return sum(1 for f in emulator.admin.tree()["files"] if f["status"] == "active")


def test_partial_pass_on_an_emptied_root_is_refused(synced, emulator: EmulatorProcess) -> None:
    local, syncer = synced
    for child in local.iterdir():
        shutil.rmtree(child)
    with pytest.raises(GuardRefused, match="empty"):
        syncer.run(dirty=["d0", "d1"])
    assert active_files(emulator) == 8


def test_partial_pass_with_too_many_deletions_is_refused(synced, emulator: EmulatorProcess) -> None:
    local, syncer = synced
    shutil.rmtree(local / "d0")
    for i in range(3):
        (local / "d1" / f"f{i}.txt").unlink()
    with pytest.raises(GuardRefused, match="7 of the 8"):
        syncer.run(dirty=["d0", "d1/f0.txt", "d1/f1.txt", "d1/f2.txt"])
    assert active_files(emulator) == 8


def test_partial_pass_deletes_within_the_limit(synced, emulator: EmulatorProcess) -> None:
    local, syncer = synced
    (local / "d1" / "f3.txt").unlink()
    (local / "d0" / "new.txt").write_text("new")
    result = syncer.run(dirty=["d1/f3.txt", "d0/new.txt"])
    assert result.exit_code == 0
    assert result.outcome.counts.get("uploaded") == 1
    assert active_files(emulator) == 8
