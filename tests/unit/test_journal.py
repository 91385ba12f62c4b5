"""The journal on a real SQLite file: schema by Alembic, WAL, one writer, readers alongside."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
from pathlib import Path

import pytest

from syncd.journal.db import JournalError, head_revision
from syncd.journal.rows import FAILED, SKIPPED, DaemonStatus, FileRow
from syncd.journal.store import Journal


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    j = Journal(tmp_path / "state" / "state.db")
    yield j
    j.close()


def test_fresh_database_is_wal_at_head(journal: Journal) -> None:
    con = sqlite3.connect(journal.path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head_revision()


def test_reopen_keeps_data_and_an_unversioned_db_is_upgraded_not_dropped(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE keepme (x INTEGER)")
    con.execute("INSERT INTO keepme VALUES (42)")
    con.commit()
    con.close()
    with Journal(path) as j:
        pair = j.ensure_pair("p", "/l", "R")
    with Journal(path) as j:
        assert j.pair("p") == pair
    assert sqlite3.connect(path).execute("SELECT x FROM keepme").fetchone() == (42,)


def test_database_from_a_newer_syncd_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    Journal(path).close()
    con = sqlite3.connect(path)
    con.execute("UPDATE alembic_version SET version_num = '9999_future'")
    con.commit()
    con.close()
    with pytest.raises(JournalError, match="newer syncd"):
        Journal(path)


def test_tree_rows_moves_and_subtree_delete(journal: Journal) -> None:
    pair = journal.ensure_pair("p", "/l", "R")
    with journal.transaction() as tx:
        tx.set_root_folder(pair.root_dir_id, 100)
        a = tx.insert_dir(pair.id, pair.root_dir_id, "a", inode=5, folder_id=101)
        b = tx.insert_dir(pair.id, a, "b", inode=6, folder_id=102)
        tx.put_file(FileRow(b, "x.txt", 3, 10, 77, bytes(16), 1000, "x.txt", 3))
        tx.put_file(FileRow(a, "z", 0, 11, 78, None, None, None, None, SKIPPED, "empty"))
    files, dirs = journal.children(a)
    assert [f.name for f in files] == ["z"] and [d.name for d in dirs] == ["b"]
    assert files[0].stored_name == "z"
    assert journal.dir_path(b) == "a/b"
    assert journal.files_by_inode(pair.id, 77)[0].file_id == 1000
    assert journal.file_by_file_id(pair.id, 1000).name == "x.txt"
    assert journal.dir_by_folder_id(pair.id, 102).id == b
    assert journal.subtree_counts(a) == (1, 1)
    assert journal.tracked_files(pair.id) == 1
    assert [p.path for p in journal.problems(pair.id)] == ["a/z"]
    with journal.transaction() as tx:
        tx.move_dir(b, pair.root_dir_id, "b2", "b2", 6)
    assert journal.dir_path(b) == "b2"
    with journal.transaction() as tx:
        tx.delete_dir_tree(a)
    assert journal.get_dir(a) is None and journal.get_dir(b) is not None
    with journal.transaction() as tx:
        tx.delete_dir_tree(b)
    assert journal.tracked_files(pair.id) == 0


def test_intent_and_outcome_commit_together_or_not_at_all(journal: Journal) -> None:
    pair = journal.ensure_pair("p", "/l", "R")
    with journal.transaction() as tx:
        intent = tx.add_intent(pair.id, "upload", folder_id=1, name="f", size=3)
    with pytest.raises(RuntimeError), journal.transaction() as tx:
        tx.put_file(FileRow(pair.root_dir_id, "f", 3, 1, 2, None, 1000, None, 3))
        tx.clear_intent(intent)
        raise RuntimeError("crash between the two writes")
    assert [i.id for i in journal.intents(pair.id)] == [intent]
    assert journal.get_file(pair.root_dir_id, "f") is None


def test_runs_status_and_daemon_status(journal: Journal) -> None:
    pair = journal.ensure_pair("p", "/l", "R")
    run = journal.start_run(pair.id, "reconcile")
    journal.finish_run(run, "ok", {"uploaded": 3})
    (last,) = journal.runs(pair.id)
    assert last.result == "ok" and last.counts == {"uploaded": 3} and last.ended_at
    with journal.transaction() as tx:
        tx.put_file(FileRow(pair.root_dir_id, "f", 3, 1, 2, None, None, None, None, FAILED, "x"))
    assert journal.status_counts(pair.id)["failed"] == 1
    journal.write_daemon_status(
        "p", DaemonStatus(pid=42, running=True, busy="full", queue_length=3)
    )
    record = journal.daemon_status()["p"]
    assert (record.pid, record.running, record.busy, record.queue_length) == (42, True, "full", 3)
    assert record.updated_at > 0


def test_reader_in_another_connection_works_while_a_write_is_open(journal: Journal) -> None:
    pair = journal.ensure_pair("p", "/l", "R")
    writing, release = threading.Event(), threading.Event()

    def writer() -> None:
        with journal.transaction() as tx:
            tx.put_file(FileRow(pair.root_dir_id, "f", 3, 1, 2, None, 9, None, 3))
            writing.set()
            release.wait(10)

    t = threading.Thread(target=writer)
    t.start()
    assert writing.wait(10)
    other = Journal(journal.path)  # a second process would look like this: its own engines
    assert other.tracked_files(pair.id) == 0  # sees the last commit, does not block
    release.set()
    t.join()
    assert other.tracked_files(pair.id) == 1
    other.close()


def test_a_database_at_an_older_revision_is_upgraded_with_its_data(tmp_path: Path) -> None:
    from alembic import command

    from syncd.journal.db import alembic_config, make_engine

    path = tmp_path / "state.db"
    engine = make_engine(path, writer=True)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.exec_driver_sql(
            "INSERT INTO pairs (name, local_root, remote_path, created_at) "
            "VALUES ('p', '/l', 'R', 0)"
        )
        conn.exec_driver_sql(
            "INSERT INTO dirs (pair_id, parent_id, name, folder_id) VALUES (1, NULL, '', 100)"
        )
    engine.dispose()
    with Journal(path) as journal:
        pair = journal.pair("p")
        assert pair is not None and pair.root_folder_id == 100
    con = sqlite3.connect(path)
    assert con.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head_revision()
    indexes = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "files_problems" in indexes


def test_daemon_status_round_trips_and_reads_foreign_records_safely() -> None:
    record = DaemonStatus(
        pid=5,
        running=True,
        busy="full",
        queue_length=2,
        passes={"full": 1},
        stalled_since=3.0,
        stall_reason="credentials refused",
        advice="check key1/key2",
    )
    stored = record.to_json()
    assert stored["daemon_pid"] == 5 and stored["daemon_running"] is True  # the stored format
    assert DaemonStatus.from_json(stored, 10.0) == dataclasses.replace(record, updated_at=10.0)
    odd = DaemonStatus.from_json({"daemon_pid": True, "queue_length": "3", "busy": 4}, 1.0)
    assert (odd.pid, odd.queue_length, odd.busy, odd.passes) == (0, 0, None, {})


def test_read_connections_are_reused_ended_and_closed_on_dispose(tmp_path: Path) -> None:
    """The journal's read pool (journal/db.py): a reader that fails inside its transaction
    hands back a connection with the transaction ended (an open one would pin an old snapshot
    of the WAL), at most READERS_KEPT stay idle, and dispose closes every one of them."""
    from syncd.journal.db import READERS_KEPT, ReadPool

    with Journal(tmp_path / "state.db"):
        pass  # the schema
    pool = ReadPool(tmp_path / "state.db")
    with pool.connection() as first:
        pass
    with pool.connection() as again:
        assert again is first
    with pytest.raises(ZeroDivisionError), pool.connection() as failing:
        failing.execute("BEGIN")
        failing.execute("SELECT count(*) FROM pairs").fetchall()
        raise ZeroDivisionError
    assert not failing.in_transaction
    with pool.connection() as after_failure:
        assert after_failure is failing

    held = [pool.connection() for _ in range(READERS_KEPT + 2)]
    conns = [h.__enter__() for h in held]
    for h in held[:-1]:
        h.__exit__(None, None, None)
    assert sum(_closed(conn) for conn in conns[:-1]) == 1  # one more than READERS_KEPT came back
    pool.dispose()  # the last one is still in use
    held[-1].__exit__(None, None, None)
    assert all(_closed(conn) for conn in conns)


def _closed(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("SELECT 1")
    except sqlite3.ProgrammingError:
        return True
    return False
