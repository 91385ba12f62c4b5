"""verify with a journal: the differences only the synced tree can tell apart."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from syncd.local.markers import INCOMPLETE_MARKER
from tests.support.cli import run_syncd
from tests.support.restore import add_file, restore_config, upload_tree
from tests.support.trees import write_tree


def test_verify_uses_the_journal(emulator: Any, client: Any, tmp_path: Path) -> None:
    root = tmp_path / "Docs"
    write_tree(
        root,
        {"keep.txt": b"keep", "gone-here.txt": b"deleted locally", "gone-both.txt": b"both"},
    )
    state = tmp_path / "state.db"
    config = restore_config(
        tmp_path / "config.toml", emulator.api_url, state, pairs={"docs": (root, "Docs")}
    )
    folder = client.folder_create("Docs", None)
    ids = upload_tree(client, root, folder.id)
    # Build the journal the way a fresh machine would: restore into the pair root.
    for name in list(os.listdir(root)):
        (root / name).unlink()
    restored = run_syncd("restore", "--pair", "docs", str(root), config=config)
    assert restored.returncode == 0, restored.stderr
    assert run_syncd("verify", config=config).returncode == 0

    (root / "gone-here.txt").unlink()  # journal + remote, not local
    (root / "gone-both.txt").unlink()  # journal only
    emulator.admin.drift("trash_file", file_id=ids["gone-both.txt"])
    add_file(emulator.admin, folder.id, "stranger.txt", b"unknown to the journal")
    (root / "new-local.txt").write_bytes(b"new")
    emulator.admin.drift("rename_file", file_id=ids["keep.txt"], name="keep-renamed.txt")
    (root / INCOMPLETE_MARKER).write_bytes(b"")

    result = run_syncd("verify", "--json", config=config)
    assert result.returncode == 1
    (pair,) = json.loads(result.stdout)["pairs"]
    found = {(d["kind"], d["path"]) for d in pair["differences"]}
    assert found == {
        ("missing_locally", "gone-here.txt"),
        ("journal_without_either_side", "gone-both.txt"),
        ("extra_remotely", "stranger.txt"),
        ("missing_remotely", "new-local.txt"),
        ("journal_differs", "keep.txt"),  # matched by id, renamed remotely
        ("restore_incomplete", INCOMPLETE_MARKER),
    }


def test_verify_after_the_engine_synced(emulator: Any, tmp_path: Path) -> None:
    """The engine's own journal: a clean pass verifies OK, --deep too; a zero-byte file the
    host refuses is a note (skipped for a stated reason), not a difference."""
    root = tmp_path / "Docs"
    write_tree(root, {"a.txt": b"a", "sub/b.txt": b"bb", "sub/empty.txt": b"", "c d.txt": b"c"})
    state = tmp_path / "state.db"
    config = restore_config(
        tmp_path / "config.toml", emulator.api_url, state, pairs={"docs": (root, "Backup/Docs")}
    )
    synced = run_syncd("reconcile", "--pair", "docs", config=config)
    assert synced.returncode == 0, synced.stderr

    result = run_syncd("verify", "--deep", "--json", config=config)
    assert result.returncode == 0, result.stdout
    (pair,) = json.loads(result.stdout)["pairs"]
    assert pair["deep_checked"] == 3
    assert [(n["kind"], n["path"]) for n in pair["notes"]] == [("not_synced", "sub/empty.txt")]
