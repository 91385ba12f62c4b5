"""The NAS journey of versioned backups, end to end through the command line.

One pair in backup mode: create a.txt and b.txt, reconcile; edit a.txt twice and delete b.txt,
reconciling after each step. The live folder must then hold exactly the local tree (one a.txt,
the newest bytes; no b.txt), the history must hold the rest, and `restore` / `restore --at`
must give back the tree of now and of a moment between the two edits, with or without the
journal. `verify` must call this healthy backup healthy.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.support.cli import run_syncd
from tests.support.restore import restore_config
from tests.support.trees import md5_tree

A1, A2, A3 = b"a: first\n", b"a: second, longer\n", b"a: third, the newest of all\n"
B = b"b: only version\n"


def _config(tmp_path: Path, api_url: str, root: Path, state: Path) -> Path:
    config = restore_config(
        tmp_path / "config.toml", api_url, state, pairs={"nas": (root, "Backup/NAS")}
    )
    with config.open("a") as fh:
        fh.write('mode = "backup"\n')
    return config


def _reconcile(config: Path) -> None:
    result = run_syncd("reconcile", "--pair", "nas", config=config)
    assert result.returncode == 0, result.stdout + result.stderr


def _moment() -> datetime:
    """A moment strictly after everything done so far and strictly before anything to come
    (the clock is read until it has moved on by a millisecond, on both sides)."""
    start = time.time_ns()
    while time.time_ns() - start < 2_000_000:
        pass
    moment = time.time_ns()
    while time.time_ns() - moment < 2_000_000:
        pass
    return datetime.fromtimestamp(moment / 1e9, UTC)


def _live(admin: Any, folder: str) -> dict[str, list[dict[str, Any]]]:
    """Active files directly in the remote folder named ``folder``: {name: [rows]}."""
    tree = admin.tree()
    ids = [f["id"] for f in tree["folders"] if f["name"] == folder and f["status"] == "active"]
    assert len(ids) == 1, ids
    out: dict[str, list[dict[str, Any]]] = {}
    for f in tree["files"]:
        if f["folder_id"] == ids[0] and f["status"] == "active":
            out.setdefault(f["name"], []).append(f)
    return out


def test_backup_journey_keeps_one_live_tree_and_restores_any_moment(
    emulator: Any, tmp_path: Path
) -> None:
    root = tmp_path / "nas"
    root.mkdir()
    state = tmp_path / "state" / "state.db"
    config = _config(tmp_path, emulator.api_url, root, state)

    (root / "a.txt").write_bytes(A1)
    (root / "b.txt").write_bytes(B)
    _reconcile(config)
    (root / "a.txt").write_bytes(A2)
    _reconcile(config)
    between = _moment()
    (root / "a.txt").write_bytes(A3)
    _reconcile(config)
    (root / "b.txt").unlink()
    _reconcile(config)

    live = _live(emulator.admin, "NAS")
    assert sorted(live) == ["a.txt"], live
    assert len(live["a.txt"]) == 1
    assert live["a.txt"][0]["md5"] == hashlib.md5(A3).hexdigest()
    # Nothing was trashed: every version is kept.
    assert all(f["status"] == "active" for f in emulator.admin.tree()["files"])

    expected_now = md5_tree(root)
    expected_then = {
        "a.txt": hashlib.md5(A2).hexdigest(),
        "b.txt": hashlib.md5(B).hexdigest(),
    }
    at = between.isoformat()

    def check_restores(label: str) -> None:
        now_dest = tmp_path / f"now-{label}"
        result = run_syncd("restore", "--pair", "nas", str(now_dest), config=config)
        assert result.returncode == 0, result.stdout + result.stderr
        assert md5_tree(now_dest) == expected_now
        then_dest = tmp_path / f"then-{label}"
        result = run_syncd("restore", "--pair", "nas", "--at", at, str(then_dest), config=config)
        assert result.returncode == 0, result.stdout + result.stderr
        assert md5_tree(then_dest) == expected_then

    check_restores("with-journal")

    verify = run_syncd("verify", "--pair", "nas", config=config)
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # The journal lost: the host alone must give the same answers.
    for suffix in ("", "-wal", "-shm"):
        Path(f"{state}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(state.parent)
    check_restores("without-journal")
