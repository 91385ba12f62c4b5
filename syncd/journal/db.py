"""Opening the state database: SQLite in WAL mode, one writer, schema upgraded by Alembic.

Python's sqlite3 driver starts transactions lazily and never before reads; we turn that off and
emit BEGIN ourselves (SQLAlchemy's documented pysqlite recipe), ``BEGIN IMMEDIATE`` on the writer
so a write transaction takes the lock up front instead of failing half-way with SQLITE_BUSY.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import StaticPool

from syncd.journal.errors import JournalError, from_operational_error
from syncd.journal.reader import head_from_scripts

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

# Alembic (and Mako under it) is imported only when the schema must be created or upgraded:
# ~11 MiB resident that a long-running daemon opening an up-to-date journal never needs.

__all__ = ["JournalError", "make_engine", "upgrade"]

BUSY_TIMEOUT_MS = 30_000

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


def make_engine(path: Path, *, writer: bool) -> Engine:
    """The writer engine holds exactly one connection; readers get a small pool."""
    url = f"sqlite+pysqlite:///{path}"
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
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


def upgrade(engine: Engine, path: Path, reader: Engine | None = None) -> None:
    """Create or upgrade the schema to head; refuse a database written by a newer syncd.

    The version is read through ``reader`` (no write lock), so opening a journal that another
    process is writing does not wait for it unless there is something to upgrade.
    """
    if _at_head_without_alembic(reader or engine):
        return
    from alembic import command
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    cfg = alembic_config()
    script = ScriptDirectory.from_config(cfg)
    try:
        current = current_revision(reader or engine)
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


def _at_head_without_alembic(engine: Engine) -> bool:
    """True when the database's version is the head: nothing to do, no Alembic import."""
    head = head_from_scripts()
    if head is None:
        return False
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    except Exception:
        return False  # a new or unreadable database: the full path explains it
    return [r[0] for r in rows] == [head]


def _translated(exc: OperationalError, path: Path) -> JournalError:
    """A typed error for a full disk/lock/read-only file, else the generic unreadable one."""
    return from_operational_error(exc, path, BUSY_TIMEOUT_MS) or JournalError(
        f"cannot read the state database {path}: {exc.orig} — check [state] path"
    )
