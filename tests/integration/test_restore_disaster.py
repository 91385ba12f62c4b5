"""Disaster recovery: lose the state database and the local tree, restore into the pair's own
root, and the journal is rebuilt so that the next reconcile uploads nothing."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
from pathlib import Path
from typing import Any

from syncd.journal.lock import StateLock
from syncd.journal.store import Journal
from syncd.local.markers import INCOMPLETE_MARKER
from tests.support.cli import run_syncd, start_syncd
from tests.support.restore import restore_config, upload_tree
from tests.support.trees import md5_tree, write_tree
from tests.support.waiting import wait_for

FILES = {
    "top.txt": b"top level",
    "naïve/café ☕.txt": "unicode ✓".encode() * 50,
    "nested/a/b/deep.bin": os.urandom(4096),
    "nested/a/sibling.txt": b"sibling",
    "big.bin": os.urandom(2 * 1024 * 1024 + 7),
}


def sync_tree(config: Path) -> None:
    """The first sync, through the engine (`syncd reconcile`)."""
    result = run_syncd("reconcile", "--pair", "docs", config=config)
    assert result.returncode == 0, result.stderr


def lose_everything(root: Path, state: Path) -> None:
    shutil.rmtree(root)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{state}{suffix}").unlink(missing_ok=True)


def journal_files(state: Path) -> dict[str, Any]:
    """{rel path: FileRow} of pair 'docs', plus '/root' -> the pair row."""
    rows: dict[str, Any] = {}
    with Journal(state) as journal:
        pair = journal.pair("docs")
        assert pair is not None
        rows["/root"] = pair

        def walk(dir_id: int, prefix: str) -> None:
            files, dirs = journal.children(dir_id)
            for f in files:
                rows[prefix + f.name] = f
            for d in dirs:
                rows[prefix + d.name + "/"] = d
                walk(d.id, prefix + d.name + "/")

        walk(pair.root_dir_id, "")
    return rows


def test_restore_into_the_pair_root_rebuilds_the_journal(
    emulator: Any, client: Any, tmp_path: Path
) -> None:
    root = tmp_path / "Docs"
    write_tree(root, FILES)
    state = tmp_path / "state" / "state.db"
    config = restore_config(
        tmp_path / "config.toml", emulator.api_url, state, pairs={"docs": (root, "Backup/Docs")}
    )
    sync_tree(config)
    expected = md5_tree(root)
    lose_everything(root, state)

    emulator.admin.reset_counts()
    result = run_syncd("restore", "--pair", "docs", "--json", str(root), config=config)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["restored"] == len(FILES)
    assert md5_tree(root) == expected
    assert not (root / INCOMPLETE_MARKER).exists()

    remote = {f["id"]: f for f in emulator.admin.tree()["files"] if f["status"] == "active"}
    folders = {f["name"]: f["id"] for f in emulator.admin.tree()["folders"]}
    rows = journal_files(state)
    assert rows["/root"].root_folder_id == folders["Docs"]
    assert rows["/root"].device == os.stat(root).st_dev
    file_rows = {k: v for k, v in rows.items() if k != "/root" and not k.endswith("/")}
    assert set(file_rows) == set(expected)
    for rel, row in file_rows.items():
        st = os.stat(root / rel)
        assert (row.size, row.mtime_ns, row.inode) == (st.st_size, st.st_mtime_ns, st.st_ino)
        assert row.md5_hex == expected[rel] == remote[row.file_id]["md5"]
        assert row.remote_size == remote[row.file_id]["size"]
        assert row.stored_name == remote[row.file_id]["name"]
    for rel, row in rows.items():
        if rel.endswith("/"):
            assert row.folder_id == folders[rel.rstrip("/").rsplit("/", 1)[-1]]
            assert row.inode == os.stat(root / rel).st_ino

    verify = run_syncd("verify", "--pair", "docs", config=config)
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # A second restore into the root is a no-op that keeps the journal as it is.
    emulator.admin.reset_counts()
    again = run_syncd("restore", "--pair", "docs", "--json", str(root), config=config)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["already_present"] == len(FILES)
    assert emulator.admin.counts().get("file/download", 0) == 0
    assert journal_files(state).keys() == rows.keys()

    emulator.admin.reset_counts()
    reconcile = run_syncd("reconcile", "--pair", "docs", config=config)
    assert reconcile.returncode == 0, reconcile.stderr
    counts = emulator.admin.counts()
    for action in ("file/upload", "folder/create", "file/delete", "folder/delete", "file/edit"):
        assert counts.get(action, 0) == 0, (action, counts)
    assert md5_tree(root) == expected


def test_disaster_recovery_refuses_while_a_daemon_holds_the_state(
    emulator: Any, client: Any, tmp_path: Path
) -> None:
    root = tmp_path / "Docs"
    state = tmp_path / "state" / "state.db"
    config = restore_config(
        tmp_path / "config.toml", emulator.api_url, state, pairs={"docs": (root, "Backup/Docs")}
    )
    backup = client.folder_create("Backup", None)
    client.folder_create("Docs", backup.id)
    with StateLock(state):
        result = run_syncd("restore", "--pair", "docs", str(root), config=config)
    assert result.returncode == 2
    assert "already running" in result.stderr and "Traceback" not in result.stderr
    assert not root.exists()


def test_journal_md5_checks_downloads_and_present_files(
    emulator: Any, client: Any, tmp_path: Path
) -> None:
    """Restoring a pair elsewhere uses the MD5s the journal knows: a same-size local file with
    other bytes is not taken as present, and remote bytes changed since the sync are refused."""
    root = tmp_path / "Docs"
    write_tree(root, {"kept.txt": b"12345678", "drifted.txt": b"abcdefgh", "ok.txt": b"fine"})
    state = tmp_path / "state" / "state.db"
    config = restore_config(
        tmp_path / "config.toml", emulator.api_url, state, pairs={"docs": (root, "Docs")}
    )
    folder = client.folder_create("Docs", None)
    ids = upload_tree(client, root, folder.id)
    shutil.rmtree(root)
    assert run_syncd("restore", "--pair", "docs", str(root), config=config).returncode == 0

    changed = base64.b64encode(b"ABCDEFGH").decode()  # same size, other bytes
    emulator.admin.drift("modify_file", file_id=ids["drifted.txt"], content_b64=changed)
    elsewhere = tmp_path / "elsewhere"
    write_tree(elsewhere, {"kept.txt": b"87654321"})  # same size as the synced one
    result = run_syncd("restore", "--pair", "docs", "--json", str(elsewhere), config=config)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert [(i["local"], "content differs (MD5)" in i["reason"]) for i in report["skipped"]] == [
        ("kept.txt", True)
    ]
    assert [i["local"] for i in report["failed"]] == ["drifted.txt"]
    assert "changed since it was synced" in report["failed"][0]["reason"]
    assert not (elsewhere / "drifted.txt").exists()
    assert (elsewhere / "ok.txt").read_bytes() == b"fine"


def test_killed_disaster_recovery_blocks_reconcile_until_resumed(
    emulator: Any, client: Any, tmp_path: Path
) -> None:
    """Half a restore must never be reconciled: in mirror mode the files not yet restored would
    be trashed remotely. The marker holds reconcile off (exit 3) until a rerun completes."""
    root = tmp_path / "Docs"
    write_tree(root, {f"d{i % 3}/f{i:02}.bin": os.urandom(30_000) for i in range(30)})
    state = tmp_path / "state" / "state.db"
    config = restore_config(
        tmp_path / "config.toml",
        emulator.api_url,
        state,
        pairs={"docs": (root, "Docs")},
        workers=2,
    )
    sync_tree(config)
    expected = md5_tree(root)
    lose_everything(root, state)

    emulator.admin.set_knobs(latency_ms=120)
    proc = start_syncd("restore", "--pair", "docs", str(root), config=config)
    try:
        wait_for(lambda: len(list(root.rglob("f*.bin"))) >= 3 or proc.poll() is not None, 60, "3")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    assert (root / INCOMPLETE_MARKER).exists()
    emulator.admin.set_knobs(latency_ms=0)
    emulator.admin.reset_counts()

    refused = run_syncd("reconcile", "--pair", "docs", config=config)
    assert refused.returncode == 3, refused.stderr
    assert INCOMPLETE_MARKER in refused.stderr
    assert len(emulator.admin.active_paths()) == 30  # nothing trashed

    resumed = run_syncd("restore", "--pair", "docs", str(root), config=config)
    assert resumed.returncode == 0, resumed.stderr
    assert md5_tree(root) == expected
    emulator.admin.reset_counts()
    assert run_syncd("reconcile", "--pair", "docs", config=config).returncode == 0
    counts = emulator.admin.counts()
    assert counts.get("file/upload", 0) == counts.get("file/delete", 0) == 0, counts
