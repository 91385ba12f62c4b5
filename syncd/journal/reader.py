"""Reading the journal without writing it: the queries `status` and `health` need, written once.

:class:`syncd.journal.store.Journal` answers the same reads through these functions (each takes
a ``read(sql, params)`` callable), and :class:`JournalReader` answers them over a plain
read-only ``sqlite3`` connection. The reader needs neither SQLAlchemy nor Alembic, so
`syncd status` and `syncd health` (a container's healthcheck, every minute) start in a fraction
of the time, and never upgrade, lock or create a database they only look at.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from syncd.journal.errors import JournalError
from syncd.journal.rows import (
    FAILED,
    SKIPPED,
    STATUS_NAMES,
    DaemonStatus,
    HeldDeletion,
    PairRow,
    Problem,
    RunRow,
)

Read = Callable[..., list[Sequence[Any]]]  # read(sql, **params) -> rows

VERSIONS_DIR = Path(__file__).resolve().parent / "migrations" / "versions"
_REVISION = re.compile(r"""^revision\s*=\s*["']([^"']+)["']""", re.M)
_DOWN = re.compile(r"""^down_revision\s*=\s*(?:["']([^"']+)["']|None)\s*$""", re.M)

_PAIR_SQL = (
    "SELECT pairs.id, pairs.name, local_root, remote_path, device, dirs.id, "
    "dirs.folder_id FROM pairs JOIN dirs ON dirs.pair_id = pairs.id "
    "AND dirs.parent_id IS NULL"
)


def head_from_scripts() -> str | None:
    """The head revision read from the version scripts' ``revision``/``down_revision`` lines;
    None when that is not clear-cut (then Alembic itself decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    try:
        for script in VERSIONS_DIR.glob("[!_]*.py"):
            text = script.read_text(encoding="utf-8")
            rev, down = _REVISION.search(text), _DOWN.search(text)
            if rev is None or down is None:
                return None
            revisions.add(rev[1])
            if down[1]:
                parents.add(down[1])
    except OSError:
        return None
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


# -- the queries (shared by Journal and JournalReader) ---------------------------------------


def read_on(conn: sqlite3.Connection) -> Read:
    """``read`` over one sqlite3 connection, errors as they come."""

    def read(sql: str, **params: object) -> list[Sequence[Any]]:
        return conn.execute(sql, params).fetchall()

    return read


def schema_version(read: Read) -> list[str]:
    """The revisions Alembic recorded (one, normally; none in a database it never set up)."""
    return [str(r[0]) for r in read("SELECT version_num FROM alembic_version")]


def pair(read: Read, name: str) -> PairRow | None:
    rows = read(f"{_PAIR_SQL} WHERE pairs.name = :n", n=name)
    return PairRow(*rows[0]) if rows else None


def pairs(read: Read) -> list[PairRow]:
    return [PairRow(*r) for r in read(f"{_PAIR_SQL} ORDER BY pairs.name")]


def runs(read: Read, pair_id: int, limit: int = 10) -> list[RunRow]:
    rows = read(
        "SELECT runs.id, pairs.name, kind, started_at, ended_at, result, dry_run, counts, "
        "error FROM runs JOIN pairs ON pairs.id = runs.pair_id WHERE pair_id = :p "
        "ORDER BY runs.id DESC LIMIT :l",
        p=pair_id,
        l=limit,
    )
    return [
        RunRow(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), json.loads(r[7] or "{}"), r[8])
        for r in rows
    ]


def status_counts(read: Read, pair_id: int) -> dict[str, int]:
    rows = read(
        "SELECT f.status, count(*), coalesce(sum(f.size), 0) FROM files f "
        "JOIN dirs d ON d.id = f.dir_id WHERE d.pair_id = :p GROUP BY f.status",
        p=pair_id,
    )
    out = {"synced": 0, "skipped": 0, "failed": 0, "synced_bytes": 0}
    for status, count, size in rows:
        out[STATUS_NAMES.get(status, str(status))] = int(count)
        if status == 0:
            out["synced_bytes"] = int(size)
    dirs = read("SELECT count(*) FROM dirs WHERE pair_id = :p", p=pair_id)
    out["dirs"] = int(dirs[0][0]) - 1
    return out


def history_counts(read: Read, pair_id: int) -> tuple[int, int, float | None, bool] | None:
    """What a pair's versions area holds, as the versioner counted it: (versions, bytes, when
    last counted in full, upgraded), or None when the pair never kept a version. Kept in the
    journal so that `status` needs no remote call."""
    rows = read(
        "SELECT versions, bytes, counted_at, upgraded FROM history WHERE pair_id = :p",
        p=pair_id,
    )
    if not rows:
        return None
    v, b, c, u = rows[0]
    return int(v), int(b), c, bool(u)


def dir_path(read: Read, dir_id: int) -> str | None:
    """The directory's path below its pair's root ('' for the root); None if unknown."""
    rows = read(
        "WITH RECURSIVE up(id, parent_id, name, depth) AS ("
        "SELECT id, parent_id, name, 0 FROM dirs WHERE id = :d UNION ALL "
        "SELECT dirs.id, dirs.parent_id, dirs.name, up.depth + 1 FROM dirs "
        "JOIN up ON dirs.id = up.parent_id) SELECT name, parent_id FROM up ORDER BY depth DESC",
        d=dir_id,
    )
    if not rows:
        return None
    return "/".join(r[0] for r in rows if r[1] is not None)


def problems(read: Read, pair_id: int, limit: int | None = None) -> list[Problem]:
    """Every skipped or failed path of a pair, with its reason."""
    lim = f" LIMIT {int(limit)}" if limit is not None else ""
    out: list[Problem] = []
    path_cache: dict[int, str] = {}

    def path_of(dir_id: int, name: str) -> str:
        if dir_id not in path_cache:
            path_cache[dir_id] = dir_path(read, dir_id) or ""
        base = path_cache[dir_id]
        return f"{base}/{name}" if base else name

    for dir_id, name, status, reason in read(
        "SELECT f.dir_id, f.name, f.status, f.reason FROM files f JOIN dirs d "
        "ON d.id = f.dir_id WHERE f.status != 0 AND d.pair_id = :p "
        f"AND f.status IN ({SKIPPED}, {FAILED})"
        f" ORDER BY f.dir_id, f.name{lim}",
        p=pair_id,
    ):
        out.append(Problem(path_of(dir_id, name), "file", STATUS_NAMES[status], reason or ""))
    for parent_id, name, status, reason in read(
        "SELECT parent_id, name, status, reason FROM dirs WHERE status != 0 AND pair_id = :p "
        f"AND status IN ({SKIPPED}, {FAILED}) ORDER BY parent_id, name{lim}",
        p=pair_id,
    ):
        out.append(Problem(path_of(parent_id, name), "dir", STATUS_NAMES[status], reason or ""))
    out.sort(key=lambda p: p.path)
    return out


def held(read: Read, pair_id: int) -> list[HeldDeletion]:
    """The deletions a guard holds back for the pair, by path."""
    rows = read(
        "SELECT kind, rel, target_id, files, held_at, reason, approved_at FROM held_deletions "
        "WHERE pair_id = :p ORDER BY rel, kind",
        p=pair_id,
    )
    return [HeldDeletion(r[0], r[1], int(r[2]), int(r[3]), float(r[4]), r[5], r[6]) for r in rows]


def left_out(read: Read, pair_id: int) -> list[tuple[str, str, str]]:
    """What the last passes left out of the pair's sync: (path, kind, reason), by path; kind
    "ignored" (ignore rules) or "not synced" (unreadable, symlinks, special files...)."""
    rows = read(
        "SELECT path, kind, reason FROM left_out WHERE pair_id = :p ORDER BY path", p=pair_id
    )
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def host_answer(read: Read, api_url: str, key: str) -> tuple[float, dict[str, Any]] | None:
    """A host answer the journal keeps (``host_cache``), with when it was fetched."""
    rows = read(
        "SELECT fetched_at, value FROM host_cache WHERE api_url = :u AND key = :k",
        u=api_url,
        k=key,
    )
    return (float(rows[0][0]), json.loads(rows[0][1])) if rows else None


def daemon_status(read: Read) -> dict[str, DaemonStatus]:
    rows = read("SELECT pair_name, updated_at, state FROM daemon_status")
    return {r[0]: DaemonStatus.from_json(json.loads(r[2]), float(r[1])) for r in rows}


# -- the read-only connection ---------------------------------------------------------------


class JournalReader:
    """The journal opened read-only with the standard library's sqlite3.

    Refuses (JournalError) a database whose schema is not the one this syncd writes: a plain
    read must not upgrade it, and an older schema may lack what the queries read. Callers that
    may upgrade open a :class:`syncd.journal.store.Journal` instead.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self._conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
        except sqlite3.Error as exc:
            raise JournalError(f"cannot read the state database {path}: {exc}") from None
        try:
            version = schema_version(self._read)
        except JournalError:
            version = []
        if version != [head_from_scripts()]:
            self.close()
            raise SchemaNotCurrent(f"the state database {path} has schema {version or 'none'}")

    def _read(self, sql: str, **params: Any) -> list[Sequence[Any]]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise JournalError(f"cannot read the state database {self.path}: {exc}") from None

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> JournalReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def pair(self, name: str) -> PairRow | None:
        return pair(self._read, name)

    def runs(self, pair_id: int, limit: int = 10) -> list[RunRow]:
        return runs(self._read, pair_id, limit)

    def status_counts(self, pair_id: int) -> dict[str, int]:
        return status_counts(self._read, pair_id)

    def problems(self, pair_id: int, limit: int | None = None) -> list[Problem]:
        return problems(self._read, pair_id, limit)

    def daemon_status(self) -> dict[str, DaemonStatus]:
        return daemon_status(self._read)

    def held(self, pair_id: int) -> list[HeldDeletion]:
        return held(self._read, pair_id)

    def host_answer(self, api_url: str, key: str) -> tuple[float, dict[str, Any]] | None:
        return host_answer(self._read, api_url, key)

    def left_out(self, pair_id: int) -> list[tuple[str, str, str]]:
        return left_out(self._read, pair_id)

    def history_counts(self, pair_id: int) -> tuple[int, int, float | None, bool] | None:
        return history_counts(self._read, pair_id)


class SchemaNotCurrent(JournalError):
    """The database's schema is not this syncd's: open a Journal (which upgrades) instead."""
