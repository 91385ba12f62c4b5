"""Backups made before versions existed: backup mode left every replaced upload beside its
successor under the same name. The first pass that keeps versions sorts each pile out: the
journal's current id stays live, the others become versions (oldest first, with the times the
host knows), and nothing is trashed."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from syncd.engine import versioning
from syncd.history.names import VERSIONS_DIR, parse_versioned_name
from tests.support.reconcile import Syncer, pair_config


def _active(admin: Any) -> tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]]]:
    tree = admin.tree()
    folders = {f["id"]: f for f in tree["folders"] if f["status"] == "active"}
    files = {f["id"]: f for f in tree["files"] if f["status"] == "active"}
    return folders, files


def test_same_name_piles_become_versions_without_trashing(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = tmp_path / "nas"
    (local / "sub").mkdir(parents=True)
    config = pair_config(tmp_path, emulator.api_url, local, mode="backup")
    contents = [b"one\n", b"two, longer\n", b"three, the newest\n"]

    # Backup mode as it was: no versions area, replaced uploads left beside the new ones.
    with config.open("a") as fh:
        fh.write('versions = "trash"\n')
    old = Syncer(config)
    monkeypatch.setattr(versioning, "for_pass", lambda *a, **k: None)
    for data in contents:
        (local / "a.txt").write_bytes(data)
        (local / "sub" / "c.txt").write_bytes(data * 2)
        assert old.run().exit_code == 0
    old.close()
    folders, files = _active(emulator.admin)
    assert sorted(f["name"] for f in files.values()).count("a.txt") == 3
    monkeypatch.undo()

    # The upgrade: the same pair, now with versions kept (backup's default).
    config.write_text(config.read_text().replace('versions = "trash"\n', ""))
    new = Syncer(config)
    emulator.admin.reset_counts()
    result = new.run()
    assert result.exit_code == 0, result.outcome.failed
    counts = emulator.admin.counts()
    assert counts.get("file/delete", 0) == 0 and counts.get("folder/delete", 0) == 0
    assert counts.get("file/upload", 0) == 0
    assert counts.get("file/edit", 0) == 4  # two old uploads of each of the two files

    tree = emulator.admin.tree()
    assert all(f["status"] == "active" for f in tree["files"])  # nothing trashed
    folders, files = _active(emulator.admin)

    def path_of(folder_id: int) -> str:
        parent = folders[folder_id]["parent_id"]
        name = folders[folder_id]["name"]
        return f"{path_of(parent)}/{name}" if parent in folders else name

    by_parent: dict[str, list[str]] = {}
    for f in files.values():
        by_parent.setdefault(path_of(f["folder_id"]), []).append(f["name"])
    assert sorted(by_parent["Backup/docs"]) == ["a.txt"]
    assert sorted(by_parent["Backup/docs/sub"]) == ["c.txt"]
    live_a = next(f for f in files.values() if f["name"] == "a.txt")
    assert live_a["md5"] == hashlib.md5(contents[-1]).hexdigest()

    area = next(i for i, f in folders.items() if f["name"] == VERSIONS_DIR)
    versions = [f for f in files.values() if f["folder_id"] == area]
    parsed = sorted(
        ((parse_versioned_name(f["name"]), f) for f in versions),
        key=lambda pf: pf[1]["name"],  # versioned names of one original sort by time
    )
    assert [p.original for p, _ in parsed if p] == ["a.txt", "a.txt"]
    assert [f["md5"] for _, f in parsed] == [hashlib.md5(c).hexdigest() for c in contents[:2]]
    assert all(p is not None and p.live_from_ns <= p.live_to_ns for p, _ in parsed)
    sub_area = [i for i, f in folders.items() if f["name"] == "sub" and f["parent_id"] == area]
    assert len(sub_area) == 1
    assert sorted(
        parse_versioned_name(f["name"]).original  # type: ignore[union-attr]
        for f in files.values()
        if f["folder_id"] == sub_area[0]
    ) == ["c.txt", "c.txt"]

    # Once only: a second pass changes nothing.
    emulator.admin.reset_counts()
    assert new.run().exit_code == 0
    assert emulator.admin.counts().get("file/edit", 0) == 0
    new.close()
