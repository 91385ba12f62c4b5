"""Every safety guard refuses with exit code 3, one clear line, and trashes nothing (the
deletion guards hold the deletions and nothing else: test_guards_hold_deletions.py).
The CLI runs as a real subprocess against the emulator."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from syncd.emulator.testing import EmulatorProcess
from syncd.local.markers import INCOMPLETE_MARKER
from tests.support.cli import run_syncd
from tests.support.reconcile import mutating_calls, synced_tree


@pytest.fixture
def synced(tmp_path: Path, emulator: EmulatorProcess) -> tuple[Path, Path, EmulatorProcess]:
    local, config = synced_tree(tmp_path, emulator.api_url)
    emulator.admin.reset_counts()
    return local, config, emulator


def assert_refused(result, emulator: EmulatorProcess, *words: str) -> None:
    assert result.returncode == 3, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    message = lines[-1]
    assert message.startswith("syncd: error: "), result.stderr
    assert "Traceback" not in result.stderr
    assert "nothing was changed" in message or "held, listed by `syncd status`" in message
    for word in words:
        assert word in message, message
    assert mutating_calls(emulator.admin.counts()) == {}
    trashed = [f for f in emulator.admin.tree()["files"] if f["status"] != "active"]
    assert trashed == []


def test_missing_root_is_refused(synced) -> None:
    local, config, emulator = synced
    shutil.move(local, local.with_name("elsewhere"))
    assert_refused(run_syncd("reconcile", config=config), emulator, "missing")


def test_emptied_root_is_refused(synced) -> None:
    local, config, emulator = synced
    for child in local.iterdir():
        shutil.rmtree(child)
    assert_refused(run_syncd("reconcile", config=config), emulator, "empty", "mounted")


def test_root_on_another_device_is_refused(synced) -> None:
    _local, config, emulator = synced
    # The journal remembers the device of the root; pretend it was another disk then.
    db = sqlite3.connect(config.parent / "state.db")
    db.execute("UPDATE pairs SET device = device + 1")
    db.commit()
    db.close()
    assert_refused(run_syncd("reconcile", config=config), emulator, "another filesystem")
    ok = run_syncd("reconcile", "--accept-new-root", config=config)
    assert ok.returncode == 0, ok.stderr


def test_too_many_deletions_are_refused_unless_allowed_for_one_run(synced) -> None:
    local, config, emulator = synced
    shutil.rmtree(local / "d0")
    shutil.rmtree(local / "d1")  # 8 of 12 files: above the default 50 %
    assert_refused(run_syncd("reconcile", config=config), emulator, "8 of the 12", "max_delete")
    assert_refused(run_syncd("reconcile", "--max-delete", "5", config=config), emulator, "(5)")
    held = run_syncd("reconcile", "--dry-run", config=config)
    assert held.returncode == 3 and "a guard would hold 2 deletions" in held.stdout
    ok = run_syncd("reconcile", "--max-delete", "70%", config=config)
    assert ok.returncode == 0, ok.stderr
    assert mutating_calls(emulator.admin.counts()) == {"folder/delete": 2}


def test_interrupted_restore_marker_is_refused(synced) -> None:
    local, config, emulator = synced
    (local / INCOMPLETE_MARKER).write_text("")
    assert_refused(run_syncd("reconcile", config=config), emulator, "restore")


def test_bad_max_delete_is_a_usage_error(synced) -> None:
    _local, config, _emulator = synced
    result = run_syncd("reconcile", "--max-delete", "lots", config=config)
    assert result.returncode == 2


def test_reconcile_refuses_beside_a_running_daemon(synced) -> None:
    from syncd.journal.lock import StateLock

    _local, config, emulator = synced
    with StateLock(config.parent / "state.db"):  # what `syncd run` holds
        result = run_syncd("reconcile", config=config)
        assert run_syncd("reconcile", "--dry-run", config=config).returncode == 0
    assert result.returncode == 2
    assert "already running" in result.stderr and "Traceback" not in result.stderr
    assert mutating_calls(emulator.admin.counts()) == {}


@pytest.mark.parametrize("case", ["missing", "another filesystem", "restore"])
def test_a_dry_run_is_never_refused_but_says_what_a_guard_would_refuse(synced, case) -> None:
    local, config, emulator = synced
    if case == "missing":
        shutil.move(local, local.with_name("elsewhere"))
    elif case == "restore":
        (local / INCOMPLETE_MARKER).write_text("")
    else:
        db = sqlite3.connect(config.parent / "state.db")
        db.execute("UPDATE pairs SET device = device + 1")
        db.commit()
        db.close()
    dry = run_syncd("reconcile", "--dry-run", config=config)
    assert dry.returncode == 3, dry.stderr
    assert "Traceback" not in dry.stderr and "syncd: error" not in dry.stderr
    assert "dry run" in dry.stdout and "a guard would refuse: pair 'docs': " in dry.stdout
    assert case in dry.stdout
    assert mutating_calls(emulator.admin.counts()) == {}
