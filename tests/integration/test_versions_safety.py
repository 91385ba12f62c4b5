"""Versions and the pair's guards: a recreated remote folder gets its own versions area, and a
mass local deletion in backup mode (versions kept) is still held by max_delete and the
emptied-root guard."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from syncd.history.names import VERSIONS_DIR, parse_versioned_name
from tests.support.cli import run_syncd
from tests.support.restore import restore_config


def _config(tmp_path: Path, api_url: str, root: Path, extra: str = "") -> Path:
    config = restore_config(
        tmp_path / "config.toml", api_url, tmp_path / "state.db", pairs={"p": (root, "B/P")}
    )
    with config.open("a") as fh:
        fh.write('mode = "backup"\n' + extra)
    return config


def _reconcile(config: Path, *args: str) -> None:
    result = run_syncd("reconcile", "--pair", "p", *args, config=config)
    assert result.returncode == 0, result.stdout + result.stderr


def _active_folders(admin: Any) -> dict[int, dict[str, Any]]:
    return {f["id"]: f for f in admin.tree()["folders"] if f["status"] == "active"}


def test_a_recreated_pair_folder_gets_its_own_versions_area(emulator: Any, tmp_path: Path) -> None:
    """The versions area's folder ids are cached in the journal: once the pair's folder was
    trashed on the web site and created again, versions must go into the new folder's area,
    not be sent to the old (trashed) area's id."""
    root = tmp_path / "local"
    root.mkdir()
    (root / "a.txt").write_bytes(b"one")
    (root / "b.txt").write_bytes(b"bee")
    config = _config(tmp_path, emulator.api_url, root)
    admin = emulator.admin
    _reconcile(config)
    (root / "a.txt").write_bytes(b"two!")
    _reconcile(config)  # the area is created and its id cached
    old_root = next(i for i, f in _active_folders(admin).items() if f["name"] == "P")
    admin.drift("trash_folder", folder_id=old_root)
    _reconcile(config)  # the pair's folder is looked up again: created anew, uploads again

    (root / "a.txt").write_bytes(b"three")
    admin.reset_counts()
    _reconcile(config)
    counts = admin.counts()
    assert counts.get("file/edit", 0) == 1, counts  # one move: never one to a stale id first
    folders = _active_folders(admin)
    new_root = next(i for i, f in folders.items() if f["name"] == "P")
    assert new_root != old_root
    (area,) = [i for i, f in folders.items() if f["name"] == VERSIONS_DIR]
    assert folders[area]["parent_id"] == new_root
    in_area = [
        f for f in admin.tree()["files"] if f["folder_id"] == area and f["status"] == "active"
    ]
    assert [parse_versioned_name(f["name"]).original for f in in_area] == ["a.txt"]  # type: ignore[union-attr]
    live = [f["name"] for f in admin.tree()["files"] if f["folder_id"] == new_root]
    assert sorted(live) == ["a.txt", "b.txt"]


@pytest.mark.parametrize("how", ["deleted", "emptied"])
def test_mass_local_deletion_in_backup_mode_is_held_by_the_guards(
    emulator: Any, tmp_path: Path, how: str
) -> None:
    """Backup mode with versions kept turns a local deletion into a move into the versions
    area: nothing is lost, but a disk that is not mounted (or a wrong `rm -r`) would still
    empty the live tree, so those moves count against max_delete like mirror mode's trashes,
    and the message says what would happen."""
    root = tmp_path / "local"
    (root / "keep").mkdir(parents=True)
    (root / "keep" / "k.txt").write_bytes(b"stays")
    for i in range(6):
        (root / f"f{i}.txt").write_bytes(b"x" * (i + 1))
    config = _config(tmp_path, emulator.api_url, root)
    _reconcile(config)
    admin = emulator.admin
    if how == "deleted":
        for i in range(6):
            (root / f"f{i}.txt").unlink()
    else:
        for child in [*root.iterdir()]:
            if child.is_dir():
                (child / "k.txt").unlink()
                child.rmdir()
            else:
                child.unlink()
    admin.reset_counts()
    refused = run_syncd("reconcile", "--pair", "p", config=config)
    assert refused.returncode == 3, refused.stdout + refused.stderr
    message = refused.stderr.strip().splitlines()[-1]
    if how == "deleted":
        assert "would move 6 of the 7 synced files out of the live tree" in message, message
        assert "into the versions area" in message and "max_delete" in message, message
    else:
        assert "is empty but 7 files were synced from it" in message, message
    # Only the moves out of the live tree wait (listed by `syncd status`); nothing else to do.
    assert "held, listed by `syncd status`" in message, message
    counts = admin.counts()
    assert not counts.get("file/edit") and not counts.get("folder/edit"), counts

    _reconcile(config, "--force-deletes")
    folders = _active_folders(admin)
    (area,) = [i for i, f in folders.items() if f["name"] == VERSIONS_DIR]
    kept = [f for f in admin.tree()["files"] if f["status"] != "active"]
    assert kept == []  # nothing trashed: the versions are all in the area
    moved = [f for f in admin.tree()["files"] if f["folder_id"] == area]
    assert len(moved) == 6


def test_restore_at_a_moment_before_a_kept_directory_was_filled(
    emulator: Any, tmp_path: Path
) -> None:
    """Found by the model test (mirror keeping versions, long run): a moment M; then a
    directory with a file is created and synced within the same wall-clock second; then the
    directory is removed (kept whole). `restore --at M` must not give the file."""
    from datetime import UTC, datetime

    from tests.support.reconcile import Syncer, pair_config

    root = tmp_path / "local"
    root.mkdir()
    (root / "keep.txt").write_bytes(b"here all along")
    config = pair_config(tmp_path, emulator.api_url, root, mode="backup")
    syncer = Syncer(config)
    try:
        assert syncer.run().exit_code == 0
        while time.time() % 1 > 0.05:  # the start of a second: what follows shares it
            time.sleep(0.005)
        moment = time.time_ns()
        while time.time_ns() - moment < 2_000_000:
            pass
        (root / "q").mkdir()
        (root / "q" / "d.md").write_bytes(b"made after the moment")
        assert syncer.run().exit_code == 0
        assert time.time_ns() // 10**9 == moment // 10**9, "the pass took too long to show it"
        (root / "q" / "d.md").unlink()
        (root / "q").rmdir()
        assert syncer.run().exit_code == 0
    finally:
        syncer.close()
    at = datetime.fromtimestamp(moment / 1e9, UTC).isoformat()
    dest = tmp_path / "then"
    result = run_syncd("restore", "--pair", "docs", "--at", at, str(dest), config=config)
    assert result.returncode == 0, result.stdout + result.stderr
    restored = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert restored == ["keep.txt"], restored


def test_a_directory_kept_whole_whose_upload_times_are_unknown_is_not_dated_from_the_epoch(
    emulator: Any, tmp_path: Path
) -> None:
    """Found by the long crash trials (backup): a directory removed locally becomes one versioned
    folder whose FROM is the newest upload time the journal knows of its files. With none known
    (uploads made before this journal recorded them) FROM was the epoch, so `restore --at` a
    moment before the directory existed gave its files back. The unknown times are asked of the
    host instead (file/info, as for a single file)."""
    from datetime import UTC, datetime

    root = tmp_path / "local"
    root.mkdir()
    (root / "keep.txt").write_bytes(b"stays")
    config = _config(tmp_path, emulator.api_url, root)
    _reconcile(config)
    moment = time.time()
    # The host dates uploads to the second: d/ goes up in a later second than the moment.
    while int(time.time()) == int(moment):
        time.sleep(0.01)
    (root / "d").mkdir()
    (root / "d" / "f.txt").write_bytes(b"in a directory removed later")
    _reconcile(config)
    with sqlite3.connect(tmp_path / "state.db") as db:  # as a journal from before the records
        db.execute("DELETE FROM uploads")
    (root / "d" / "f.txt").unlink()
    (root / "d").rmdir()
    _reconcile(config)
    (area,) = [f for f in _active_folders(emulator.admin).values() if f["name"] == VERSIONS_DIR]
    kept = [f for f in _active_folders(emulator.admin).values() if f["parent_id"] == area["id"]]
    assert len(kept) == 1 and parse_versioned_name(kept[0]["name"]) is not None, kept
    assert parse_versioned_name(kept[0]["name"]).live_from_ns > 0, kept  # type: ignore[union-attr]

    dest = tmp_path / "then"
    at = datetime.fromtimestamp(moment, UTC).isoformat()
    restored = run_syncd("restore", "--pair", "p", "--at", at, str(dest), config=config)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert (dest / "keep.txt").read_bytes() == b"stays"  # the restore ran, of that moment
    assert not (dest / "d" / "f.txt").exists()
