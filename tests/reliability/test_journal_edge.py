"""The journal's edge: a read-only or full state disk and a state database locked by another
process reach the user as one typed line (syncd.journal.errors), never as a traceback.

Real tmpfs mounts (root only), real SQLite lock holders, real `syncd reconcile` subprocesses.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from syncd.errors import ExitCode
from syncd.journal.errors import JournalFull, JournalNotWritable
from syncd.journal.lock import StateLock
from tests.support.cli import error_line, run_syncd, syncd_env
from tests.support.config import FAIL_FAST, write_config
from tests.support.mounts import remount_read_only, tiny_tmpfs
from tests.support.trees import md5_bytes

# `python -m syncd` waiting 0.3 s, not 30 s, for a lock (the constant is read at connect).
_SHORT_BUSY_SYNCD = """
import runpy
import syncd.journal.db
syncd.journal.db.BUSY_TIMEOUT_MS = 300
runpy.run_module("syncd", run_name="__main__", alter_sys=True)
"""

# Holds the write lock of a SQLite database until a line arrives on stdin.
_HOLDER = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN IMMEDIATE")
con.execute("CREATE TABLE IF NOT EXISTS holder_probe (x)")
print("locked", flush=True)
sys.stdin.readline()
con.execute("ROLLBACK")
"""


def fill(mount: Path) -> None:
    """Take every free byte of a tmpfs."""
    fd = os.open(mount / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        with contextlib.suppress(OSError):
            while os.write(fd, b"\0" * 4096):
                pass
    finally:
        os.close(fd)


def test_state_lock_on_a_read_only_disk_is_a_configuration_error() -> None:
    with tiny_tmpfs("1m") as mount:
        remount_read_only(mount)
        with pytest.raises(JournalNotWritable) as caught:
            StateLock(mount / "state.db").acquire()
    message = caught.value.message
    assert caught.value.exit_code == ExitCode.USAGE
    assert str(mount / "state.db") in message and "[state] path" in message
    assert "\n" not in message


def test_state_lock_on_a_full_disk_is_journal_full_and_leaves_no_lock_held() -> None:
    with tiny_tmpfs("64k") as mount:
        fill(mount)
        lock = StateLock(mount / "state.db")
        with pytest.raises(JournalFull) as caught:
            lock.acquire()
        assert caught.value.exit_code == ExitCode.FAILED
        assert str(mount / "state.db") in caught.value.message
        assert not lock.held
        (mount / "filler").unlink()
        with StateLock(mount / "state.db") as again:  # space is back: the lock is free
            assert again.held


def test_reconcile_on_a_journal_locked_past_busy_timeout_is_one_line_exit_1(
    tmp_path: Path, emulator: Any
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.txt").write_bytes(b"a")
    config = write_config(
        tmp_path / "config.toml",
        api_url=emulator.api_url,
        pairs={"p": (root, "R")},
        remote=FAIL_FAST,
    )
    assert run_syncd("--config", str(config), "reconcile", home=tmp_path).returncode == 0
    (root / "b.txt").write_bytes(b"b")
    state = tmp_path / "state.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(state)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        locked = subprocess.run(
            [sys.executable, "-c", _SHORT_BUSY_SYNCD, "--config", str(config), "reconcile"],
            capture_output=True,
            text=True,
            env=syncd_env(home=tmp_path),
            cwd=tmp_path,
            timeout=60,
            check=False,
        )
    finally:
        if holder.stdin is not None:
            holder.stdin.write("\n")
            holder.stdin.flush()
        holder.wait(timeout=30)
    assert locked.returncode == ExitCode.FAILED, locked.stderr
    line = error_line(locked)
    assert "is locked by another process" in line and str(state) in line
    assert emulator.admin.active_paths() == {"/R/a.txt": md5_bytes(b"a")}

    again = run_syncd("--config", str(config), "reconcile", home=tmp_path)
    assert again.returncode == 0, again.stderr
    assert set(emulator.admin.active_paths()) == {"/R/a.txt", "/R/b.txt"}
