"""Opening the state database: SQLite in WAL mode, one writer, schema upgraded by Alembic.

Python's sqlite3 driver starts transactions lazily and never before reads; we turn that off and
emit BEGIN ourselves (SQLAlchemy's documented pysqlite recipe), ``BEGIN IMMEDIATE`` on the writer
so a write transaction takes the lock up front instead of failing half-way with SQLITE_BUSY.

SQLAlchemy and Alembic own the schema: they are imported only when it must be created or
upgraded. A journal already at head is read and written through sqlite3 connections opened
here (:func:`connect`, :class:`ReadPool`), so a pass does not pay SQLAlchemy's import (~0.2
CPU-s per command on the 2-core benchmark machine, and its memory in the daemon).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from syncd.journal.errors import JournalError, from_operational_error
from syncd.journal.reader import head_from_scripts, read_on, schema_version

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig
    from sqlalchemy import Engine

# Alembic with Mako under it (~11 MiB resident) and SQLAlchemy (~11 MiB) are imported only when
# the schema must be created or upgraded: a daemon opening an up-to-date journal never needs them.

__all__ = ["JournalError", "ReadPool", "connect", "make_engine", "upgrade"]

BUSY_TIMEOUT_MS = 30_000
READERS_KEPT = 5  # idle read connections kept for reuse (SQLAlchemy's default pool size)

# Alembic reports every step at INFO; a normal start needs none of it on the console.
logging.getLogger("alembic").setLevel(logging.WARNING)
SCRIPT_LOCATION = "syncd.journal:migrations"


def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see module docstring)
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys = OFF")
    cur.execute("PRAGMA synchronous = NORMAL")  # durable enough in WAL; a crash loses <1 txn
    mode = cur.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    cur.close()
    if str(mode).lower() != "wal":
        raise JournalError(
            f"the state database could not switch to WAL mode (got {mode}) — keep [state] "
            "path on a local disk, not a network filesystem"
        )


def connect(path: Path) -> sqlite3.Connection:
    """A connection as every journal connection is set up: no implicit transactions (we emit
    BEGIN ourselves), WAL, the busy timeout. Usable from any thread, one at a time."""
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    try:
        _on_connect(conn, None)
    except BaseException:
        conn.close()
        raise
    return conn


class ReadPool:
    """Read connections: one per concurrent reader, reused most recent first; at most
    ``READERS_KEPT`` idle ones are kept. ``dispose`` closes the idle ones, and those in use
    when they come back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._generation = 0

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
            generation = self._generation
        if conn is None:
            conn = connect(self.path)
        try:
            yield conn
        finally:
            keep = True
            if conn.in_transaction:  # left open by an error: end it, or drop the connection
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    keep = False
            with self._lock:
                keep = keep and generation == self._generation and len(self._idle) < READERS_KEPT
                if keep:
                    self._idle.append(conn)
            if not keep:
                conn.close()

    def dispose(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            self._generation += 1
        for conn in idle:
            conn.close()


def make_engine(path: Path, *, writer: bool) -> Engine:
    """A SQLAlchemy engine set up as :func:`connect` (for Alembic, which needs one): the writer
    engine holds exactly one connection; readers get a small pool."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.pool import StaticPool

    url = f"sqlite+pysqlite:///{path}"
    kwargs: dict[str, Any] = {
        "connect_args": {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}
    }
    if writer:
        kwargs["poolclass"] = StaticPool
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _on_connect)
    begin_sql = "BEGIN IMMEDIATE" if writer else "BEGIN"

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql(begin_sql)

    return engine


def alembic_config() -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(path: Path, reads: ReadPool) -> None:
    """Create or upgrade the schema to head; refuse a database written by a newer syncd.

    The version is read through ``reads`` (no write lock), so opening a journal that another
    process is writing does not wait for it unless there is something to upgrade. Only then
    are SQLAlchemy and Alembic imported, on engines of their own, closed when done.
    """
    if _at_head_without_alembic(reads):
        return
    engine = make_engine(path, writer=True)
    reader = make_engine(path, writer=False)
    try:
        _upgrade(engine, reader, path)
    finally:
        engine.dispose()
        reader.dispose()


def _upgrade(engine: Engine, reader: Engine, path: Path) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError
    from sqlalchemy.exc import OperationalError

    cfg = alembic_config()
    script = ScriptDirectory.from_config(cfg)
    try:
        current = current_revision(reader)
    except OperationalError as exc:
        raise _translated(exc, path) from exc
    except Exception as exc:  # not a database at all, or unreadable
        raise JournalError(
            f"cannot read the state database {path}: {exc} — check [state] path"
        ) from None
    if current is not None:
        try:
            script.get_revision(current)
        except CommandError:
            raise JournalError(
                f"the state database {path} was written by a newer syncd (schema {current}) — "
                "upgrade syncd, or point [state] path at another file"
            ) from None
    if current == script.get_current_head():
        return
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except OperationalError as exc:  # a full disk or a lock while creating/upgrading the schema
        translated = from_operational_error(exc, path, BUSY_TIMEOUT_MS)
        if translated is None:
            raise
        raise translated from exc


def _at_head_without_alembic(reads: ReadPool) -> bool:
    """True when the database's version is the head: nothing to do, no Alembic import."""
    head = head_from_scripts()
    if head is None:
        return False
    try:
        with reads.connection() as conn:
            version = schema_version(read_on(conn))
    except Exception:
        return False  # a new or unreadable database: the full path explains it
    return version == [head]


def _translated(exc: Any, path: Path) -> JournalError:
    """A typed error for a full disk/lock/read-only file, else the generic unreadable one."""
    return from_operational_error(exc, path, BUSY_TIMEOUT_MS) or JournalError(
        f"cannot read the state database {path}: {exc.orig} — check [state] path"
    )
