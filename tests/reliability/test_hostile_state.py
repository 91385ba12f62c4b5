"""The state database under stress: locked by another process, read-only, corrupted, from an
older schema, on a full disk. The journal never loses or silently drops what it committed; the
commands that read it today (`syncd verify`) answer with one clear line.

Real SQLite files throughout; read-only and disk-full use a real tiny tmpfs (root only).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import syncd.journal.db as journal_db
from syncd.journal.db import JournalError, alembic_config, head_revision, make_engine
from syncd.journal.errors import JournalFull, JournalLocked
from syncd.journal.rows import FileRow
from syncd.journal.store import Journal
from tests.support.cli import error_line, run_syncd
from tests.support.config import FAIL_FAST, write_config
from tests.support.mounts import remount_read_only, tiny_tmpfs
from tests.support.trees import md5_file


@pytest.fixture
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wait 0.3 s, not 30 s, for a lock held by another process."""
    monkeypatch.setattr(journal_db, "BUSY_TIMEOUT_MS", 300)


def file_rows(dir_id: int, count: int, prefix: str = "f") -> list[FileRow]:
    return [
        FileRow(dir_id, f"{prefix}{i:05d}-" + "n" * 80, i, i, i, bytes(16), 1000 + i, None, i)
        for i in range(count)
    ]


def seeded(path: Path, count: int = 10) -> tuple[int, int]:
    """A journal at ``path`` with one pair and ``count`` committed file rows."""
    with Journal(path) as journal:
        pair = journal.ensure_pair("docs", "/data/docs", "Backup/Docs")
        with journal.transaction() as tx:
            for row in file_rows(pair.root_dir_id, count):
                tx.put_file(row)
        return pair.id, pair.root_dir_id


# ---- locked by another process ------------------------------------------------------------------

_HOLDER = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN EXCLUSIVE")
con.execute("INSERT INTO pairs (name, local_root, remote_path, created_at) "
            "VALUES ('x', '/x', 'X', 0)")
print("locked", flush=True)
if sys.stdin.readline().strip() == "commit":
    con.execute("COMMIT")
else:
    con.execute("ROLLBACK")
print("released", flush=True)
"""


@pytest.fixture
def lock_holder(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    path = tmp_path / "state.db"
    seeded(path)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    try:
        yield path, holder
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait()


def release(holder: subprocess.Popen[str], how: str) -> None:
    assert holder.stdin is not None and holder.stdout is not None
    holder.stdin.write(how + "\n")
    holder.stdin.flush()
    assert holder.stdout.readline().strip() == "released"


@pytest.mark.usefixtures("short_busy_timeout")
def test_locked_journal_reads_work_and_writes_fail_whole_then_recover(
    lock_holder: tuple[Path, subprocess.Popen[str]],
) -> None:
    path, holder = lock_holder
    journal = Journal(path)  # opening only reads the schema version: no wait
    try:
        pair = journal.pair("docs")
        assert pair is not None and journal.tracked_files(pair.id) == 10
        with (
            pytest.raises(JournalLocked, match="is locked by another process") as caught,
            journal.transaction() as tx,
        ):
            tx.put_file(file_rows(pair.root_dir_id, 1, "new")[0])
        assert str(path) in caught.value.message and caught.value.exit_code == 1
        # The driver's own error: writes run on the sqlite3 connection (journal/store.py).
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        assert journal.tracked_files(pair.id) == 10  # nothing half-written
        release(holder, "rollback")
        with journal.transaction() as tx:  # the same journal writes once the lock is gone
            tx.put_file(file_rows(pair.root_dir_id, 1, "new")[0])
        assert journal.tracked_files(pair.id) == 11
    finally:
        journal.close()


def test_locked_journal_waits_for_a_short_lock_instead_of_failing(
    lock_holder: tuple[Path, subprocess.Popen[str]],
) -> None:
    path, holder = lock_holder
    with Journal(path) as journal:
        pair = journal.pair("docs")
        assert pair is not None
        done = threading.Event()
        errors: list[BaseException] = []

        def write() -> None:
            try:
                with journal.transaction() as tx:
                    tx.put_file(file_rows(pair.root_dir_id, 1, "waited")[0])
            except BaseException as exc:  # reported below
                errors.append(exc)
            done.set()

        writer = threading.Thread(target=write)
        writer.start()
        assert not done.wait(0.2)  # blocked by the other process (busy_timeout), not failed
        release(holder, "commit")
        writer.join(timeout=30)
        assert done.is_set() and errors == []
        assert journal.tracked_files(pair.id) == 11
        names = sqlite3.connect(path).execute("SELECT name FROM pairs ORDER BY name").fetchall()
        assert names == [("docs",), ("x",)]  # both writers' work kept


def test_verify_reads_a_journal_another_process_is_writing(
    lock_holder: tuple[Path, subprocess.Popen[str]], tmp_path: Path, emulator: Any
) -> None:
    path, _ = lock_holder
    local = tmp_path / "docs"
    local.mkdir()
    config = write_config(
        tmp_path / "config.toml",
        api_url=emulator.api_url,
        pairs={"docs": (local, "Backup/Docs")},
        remote=FAIL_FAST,
    )
    assert Path(config).parent / "state.db" == path
    result = run_syncd("--config", str(config), "verify", home=tmp_path)
    assert result.returncode in (0, 1), result.stderr  # an answer, not a lock error
    assert "Traceback" not in result.stderr


# ---- corrupted ----------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["garbage", "text", "torn-pages", "empty-header"])
def test_corrupted_journal_is_one_clear_error_and_left_untouched(
    tmp_path: Path, damage: str
) -> None:
    path = tmp_path / "state.db"
    if damage == "garbage":
        path.write_bytes(os.urandom(16384))
    elif damage == "text":
        path.write_text("this is my shopping list, not a database\n" * 50)
    else:
        seeded(path, 200)
        data = bytearray(path.read_bytes())
        if damage == "torn-pages":
            data[100:12000] = os.urandom(11900)
        else:
            data[:16] = b"\0" * 16
        path.write_bytes(bytes(data))
    before = md5_file(path)
    with pytest.raises(JournalError) as caught:
        Journal(path)
    message = caught.value.message
    assert str(path) in message and "\n" not in message
    assert "check [state] path" in message
    assert md5_file(path) == before  # never "repaired" by starting over


def test_verify_with_a_corrupted_journal_is_exit_2_and_one_line(
    tmp_path: Path, emulator: Any
) -> None:
    local = tmp_path / "docs"
    local.mkdir()
    config = write_config(
        tmp_path / "config.toml",
        api_url=emulator.api_url,
        pairs={"docs": (local, "Backup/Docs")},
        remote=FAIL_FAST,
    )
    state = tmp_path / "state.db"
    state.write_bytes(os.urandom(8192))
    before = md5_file(state)
    result = run_syncd("--config", str(config), "verify", home=tmp_path)
    assert result.returncode == 2, result.stderr
    line = error_line(result)
    assert "cannot read the state database" in line and str(state) in line
    assert md5_file(state) == before


# ---- older schema -------------------------------------------------------------------------------


def test_journal_from_the_first_schema_revision_is_upgraded_keeping_its_rows(
    tmp_path: Path,
) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory

    path = tmp_path / "state.db"
    config = alembic_config()
    first = next(iter(ScriptDirectory.from_config(config).walk_revisions()))
    while first.down_revision is not None:  # walk back to the first revision
        first = ScriptDirectory.from_config(config).get_revision(first.down_revision)
    engine = make_engine(path, writer=True)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, first.revision)
    engine.dispose()
    con = sqlite3.connect(path)
    con.execute(
        "INSERT INTO pairs (id, name, local_root, remote_path, created_at)"
        " VALUES (7, 'old', '/o', 'O', 0)"
    )
    con.execute("INSERT INTO dirs (pair_id, parent_id, name) VALUES (7, NULL, '')")
    con.commit()
    con.close()

    with Journal(path) as journal:
        pair = journal.pair("old")
        assert pair is not None and pair.id == 7
    version = sqlite3.connect(path).execute("SELECT version_num FROM alembic_version").fetchone()
    assert version[0] == head_revision()


# ---- read-only and full disks (a real tiny tmpfs) -----------------------------------------------


def test_read_only_journal_is_one_clear_error_and_untouched(tmp_path: Path) -> None:
    with tiny_tmpfs("1m") as mount:
        path = mount / "state.db"
        seeded(path)
        before = md5_file(path)
        remount_read_only(mount)
        with pytest.raises(JournalError) as caught:
            Journal(path)
        assert str(path) in caught.value.message and "\n" not in caught.value.message
        assert md5_file(path) == before


def test_read_only_journal_in_verify_is_exit_2_and_one_line(tmp_path: Path, emulator: Any) -> None:
    with tiny_tmpfs("1m") as mount:
        local = tmp_path / "docs"
        local.mkdir()
        config = write_config(
            mount / "config.toml",
            api_url=emulator.api_url,
            pairs={"docs": (local, "Backup/Docs")},
            remote=FAIL_FAST,
        )
        seeded(mount / "state.db")
        remount_read_only(mount)
        result = run_syncd("--config", str(config), "verify", home=tmp_path)
        assert result.returncode == 2, result.stderr
        assert "state database" in error_line(result)


def test_disk_full_fails_the_transaction_whole_and_keeps_the_journal(tmp_path: Path) -> None:
    with tiny_tmpfs("512k") as mount:
        path = mount / "state.db"
        _, root_dir = seeded(path, 50)
        journal = Journal(path)
        try:
            pair = journal.pair("docs")
            assert pair is not None
            filler = mount / "filler"
            fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
            try:  # take all the free space
                while os.write(fd, b"\0" * 4096):
                    pass
            except OSError:
                pass
            finally:
                os.close(fd)
            with (
                pytest.raises(JournalFull, match="disk is full") as caught,
                journal.transaction() as tx,
            ):
                for row in file_rows(root_dir, 2000, "big"):
                    tx.put_file(row)
            assert str(path) in caught.value.message and caught.value.exit_code == 1
            assert journal.tracked_files(pair.id) == 50  # all or nothing
            filler.unlink()
            with journal.transaction() as tx:  # space is back: the same journal writes again
                tx.put_file(file_rows(root_dir, 1, "after")[0])
            assert journal.tracked_files(pair.id) == 51
        finally:
            journal.close()
        with Journal(path) as reopened:  # and the file is intact for the next process
            pair = reopened.pair("docs")
            assert pair is not None and reopened.tracked_files(pair.id) == 51
            integrity = sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()
            assert integrity == ("ok",)
