"""The journal: the synced tree of every pair, intents, run history and daemon status.

All writes go through one connection under one lock (:meth:`Journal.transaction`), each in a
``BEGIN IMMEDIATE`` transaction; reads use their own pooled connections and see the last commit
(WAL), so ``syncd status`` works while a daemon writes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from syncd.journal import db, reader
from syncd.journal.db import ReadPool, connect, upgrade
from syncd.journal.errors import from_operational_error, from_os_error
from syncd.journal.rows import (
    DaemonStatus,
    DirRow,
    FileRow,
    HeldDeletion,
    Intent,
    PairRow,
    Problem,
    RunRow,
)

_FILE_COLS = (
    "dir_id, name, size, mtime_ns, inode, md5, file_id, remote_name, remote_size, status, reason, "
    "nonce"
)
_DIR_COLS = "id, pair_id, parent_id, name, inode, folder_id, remote_name, status, reason"
_CHILD_FILES_SQL = f"SELECT {_FILE_COLS} FROM files WHERE dir_id = ? ORDER BY name"
_CHILD_DIRS_SQL = f"SELECT {_DIR_COLS} FROM dirs WHERE parent_id = ? ORDER BY name"


def _file(row: Sequence[Any]) -> FileRow:
    return FileRow(*row)


def _dir(row: Sequence[Any]) -> DirRow:
    return DirRow(*row)


class Tx:
    """Writes inside one journal transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def _x(self, sql: str, **params: Any) -> Any:
        # Straight to sqlite3 (it binds :name parameters and caches the prepared statements):
        # SQLAlchemy's per-statement bookkeeping cost more than the statement on small writes.
        return self.conn.execute(sql, params)

    # files
    def put_file(self, row: FileRow) -> None:
        remote_name = None if row.remote_name == row.name else row.remote_name
        self._x(
            f"INSERT OR REPLACE INTO files ({_FILE_COLS}) VALUES (:dir_id, :name, :size, "
            ":mtime_ns, :inode, :md5, :file_id, :remote_name, :remote_size, :status, :reason, "
            ":nonce)",
            dir_id=row.dir_id,
            name=row.name,
            size=row.size,
            mtime_ns=row.mtime_ns,
            inode=row.inode,
            md5=row.md5,
            file_id=row.file_id,
            remote_name=remote_name,
            remote_size=row.remote_size,
            status=row.status,
            reason=row.reason,
            nonce=row.nonce,
        )

    def delete_file(self, dir_id: int, name: str, file_id: int | None = -1) -> None:
        """Delete a file row; with ``file_id``, only if it still holds that remote file (a swap
        may already have put another file's row under this name)."""
        if file_id == -1:
            self._x("DELETE FROM files WHERE dir_id = :d AND name = :n", d=dir_id, n=name)
        else:
            self._x(
                "DELETE FROM files WHERE dir_id = :d AND name = :n AND file_id IS :f",
                d=dir_id,
                n=name,
                f=file_id,
            )

    # dirs
    def insert_dir(
        self,
        pair_id: int,
        parent_id: int,
        name: str,
        *,
        inode: int | None,
        folder_id: int | None,
        remote_name: str | None = None,
        status: int = 0,
        reason: str | None = None,
    ) -> int:
        self.displace_dir(parent_id, name)
        params = dict(
            pair=pair_id,
            p=parent_id,
            n=name,
            i=inode,
            f=folder_id,
            r=None if remote_name == name else remote_name,
            s=status,
            why=reason,
        )
        result = self._x(
            "INSERT INTO dirs (pair_id, parent_id, name, inode, folder_id, remote_name, status, "
            "reason) VALUES (:pair, :p, :n, :i, :f, :r, :s, :why)",
            **params,
        )
        return int(result.lastrowid)

    def update_dir(self, dir_id: int, **fields: Any) -> None:
        """Set any of parent_id, name, inode, folder_id, remote_name, status, reason."""
        if "remote_name" in fields and "name" in fields and fields["remote_name"] == fields["name"]:
            fields["remote_name"] = None
        sets = ", ".join(f"{key} = :{key}" for key in fields)
        self._x(f"UPDATE dirs SET {sets} WHERE id = :id", id=dir_id, **fields)

    def displace_dir(self, parent_id: int, name: str, keep_id: int | None = None) -> None:
        """Move a row out of the way of another directory taking its name (a swap, a dir
        replaced by another). Its temporary name holds a NUL, which no local name can, so a
        row left there is simply a vanished directory to the next pass; the op planned for it
        (move, trash or forget) still finds it by id."""
        self._x(
            "UPDATE dirs SET name = name || char(0) || id WHERE parent_id = :p AND name = :n "
            "AND id != :k",
            p=parent_id,
            n=name,
            k=-1 if keep_id is None else keep_id,
        )

    def move_dir(
        self, dir_id: int, parent_id: int, name: str, remote_name: str, inode: int | None
    ) -> None:
        self.displace_dir(parent_id, name, keep_id=dir_id)
        self.update_dir(
            dir_id, parent_id=parent_id, name=name, remote_name=remote_name, inode=inode
        )

    def delete_dir_tree(self, dir_id: int) -> None:
        """Forget a directory, its files and every directory below it."""
        ids = [
            r[0]
            for r in self._x(
                "WITH RECURSIVE t(id) AS (SELECT :d UNION ALL "
                "SELECT dirs.id FROM dirs JOIN t ON dirs.parent_id = t.id) SELECT id FROM t",
                d=dir_id,
            )
        ]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join(str(int(i)) for i in chunk)
            self._x(f"DELETE FROM files WHERE dir_id IN ({marks})")
            self._x(f"DELETE FROM dirs WHERE id IN ({marks})")

    def set_root_folder(self, root_dir_id: int, folder_id: int | None) -> None:
        self._x("UPDATE dirs SET folder_id = :f WHERE id = :id", f=folder_id, id=root_dir_id)

    # intents
    def add_intent(
        self,
        pair_id: int,
        kind: str,
        *,
        folder_id: int | None = None,
        name: str | None = None,
        size: int | None = None,
        target_id: int | None = None,
        created_at: float | None = None,
        inode: int | None = None,
    ) -> int:
        result = self._x(
            "INSERT INTO intents (pair_id, kind, folder_id, name, size, target_id, created_at, "
            "inode) VALUES (:p, :k, :f, :n, :s, :t, :c, :i)",
            p=pair_id,
            k=kind,
            f=folder_id,
            n=name,
            s=size,
            t=target_id,
            c=time.time() if created_at is None else created_at,
            i=inode,
        )
        return int(result.lastrowid)

    def record_upload(self, pair_id: int, file_id: int, live_from_ns: int) -> None:
        """When an upload of syncd's became live (a version's FROM time, later)."""
        self._x(
            "INSERT OR REPLACE INTO uploads (pair_id, file_id, live_from_ns) VALUES (:p, :f, :t)",
            p=pair_id,
            f=file_id,
            t=live_from_ns,
        )

    def forget_upload(self, pair_id: int, file_id: int) -> None:
        self._x("DELETE FROM uploads WHERE pair_id = :p AND file_id = :f", p=pair_id, f=file_id)

    def set_version_folder(self, pair_id: int, rel: str, folder_id: int | None) -> None:
        if folder_id is None:
            self._x("DELETE FROM version_folders WHERE pair_id = :p AND rel = :r", p=pair_id, r=rel)
        else:
            self._x(
                "INSERT OR REPLACE INTO version_folders (pair_id, rel, folder_id) "
                "VALUES (:p, :r, :f)",
                p=pair_id,
                r=rel,
                f=folder_id,
            )

    def forget_version_folders(self, pair_id: int) -> None:
        """The pair's remote folder changed: the versions area's folder ids belong to the old."""
        self._x("DELETE FROM version_folders WHERE pair_id = :p", p=pair_id)

    def add_history(self, pair_id: int, versions: int, nbytes: int) -> None:
        """Count versions made (or pruned: negative) since the last full count."""
        self._x(
            "INSERT INTO history (pair_id, versions, bytes, counted_at, upgraded) "
            "VALUES (:p, max(:v, 0), max(:b, 0), NULL, 0) ON CONFLICT(pair_id) DO UPDATE SET "
            "versions = max(versions + :v, 0), bytes = max(bytes + :b, 0)",
            p=pair_id,
            v=versions,
            b=nbytes,
        )

    def clear_intent(self, intent_id: int) -> None:
        self._x("DELETE FROM intents WHERE id = :i", i=intent_id)


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise from_os_error(exc, self.path) from exc
        self._reads = ReadPool(self.path)
        upgrade(self.path, self._reads)
        self._wlock = threading.RLock()
        self._wconn: sqlite3.Connection | None = None  # the one writer, opened when first used

    def close(self) -> None:
        with self._wlock:
            if self._wconn is not None:
                self._wconn.close()
                self._wconn = None
        self._reads.dispose()

    def release_memory(self) -> None:
        """Close the pooled read connections (each keeps up to 2 MiB of page cache); the next
        read opens a fresh one. For long-running processes going idle (the daemon)."""
        self._reads.dispose()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ----------------------------------------------------------------------------

    @contextmanager
    def _edge(self) -> Iterator[None]:
        """Turn a full disk, a lock held past busy_timeout or a read-only file into a typed
        JournalError (one line for the CLI); other SQL errors are bugs and pass unchanged."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            translated = from_operational_error(exc, self.path, db.BUSY_TIMEOUT_MS)
            if translated is None:
                raise
            raise translated from exc

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One write transaction on the single writer connection (serialised by a lock).

        It commits whole or rolls back whole: on any error, including a full disk at COMMIT,
        nothing of it is recorded (the error then arrives as JournalFull/JournalLocked)."""
        with self._wlock, self._edge():
            if self._wconn is None:
                self._wconn = connect(self.path)
            raw = self._wconn
            # BEGIN IMMEDIATE takes the write lock up front (db's docstring): a transaction
            # waits for it (busy_timeout) instead of failing half-way with SQLITE_BUSY.
            raw.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(raw)
                raw.execute("COMMIT")
            except BaseException:
                if raw.in_transaction:
                    raw.execute("ROLLBACK")
                raise

    def _read(self, sql: str, **params: Any) -> list[Sequence[Any]]:
        # One statement: SQLite runs it in a read transaction of its own.
        with self._edge(), self._reads.connection() as conn:
            return conn.execute(sql, params).fetchall()

    # -- pairs -------------------------------------------------------------------------------

    def ensure_pair(self, name: str, local_root: str, remote_path: str) -> PairRow:
        row = self.pair(name)
        if row is not None:
            if row.local_root != local_root or row.remote_path != remote_path:
                with self.transaction() as tx:
                    tx._x(
                        "UPDATE pairs SET local_root = :l, remote_path = :r WHERE id = :id",
                        l=local_root,
                        r=remote_path,
                        id=row.id,
                    )
                    if row.remote_path != remote_path:
                        # Another remote folder: what the journal knows of the old one is moot.
                        tx.set_root_folder(row.root_dir_id, None)
                row = self.pair(name)
                assert row is not None
            return row
        with self.transaction() as tx:
            result = tx._x(
                "INSERT INTO pairs (name, local_root, remote_path, device, created_at) "
                "VALUES (:n, :l, :r, NULL, :c)",
                n=name,
                l=local_root,
                r=remote_path,
                c=time.time(),
            )
            pair_id = int(result.lastrowid)
            tx._x(
                "INSERT INTO dirs (pair_id, parent_id, name, inode, folder_id) "
                "VALUES (:p, NULL, '', NULL, NULL)",
                p=pair_id,
            )
        row = self.pair(name)
        assert row is not None
        return row

    def pair(self, name: str) -> PairRow | None:
        return reader.pair(self._read, name)

    def pairs(self) -> list[PairRow]:
        return reader.pairs(self._read)

    def set_device(self, pair_id: int, device: int) -> None:
        with self.transaction() as tx:
            tx._x("UPDATE pairs SET device = :d WHERE id = :id", d=device, id=pair_id)

    # -- the synced tree ---------------------------------------------------------------------

    def children(self, dir_id: int) -> tuple[list[FileRow], list[DirRow]]:
        """The files and subdirectories recorded under one directory, each sorted by name."""
        # The hottest read of a pass (once per directory). Both statements run in one read
        # transaction so they see one state of the journal.
        with self._edge(), self._reads.connection() as raw:
            raw.execute("BEGIN")
            try:
                files = raw.execute(_CHILD_FILES_SQL, (dir_id,)).fetchall()
                dirs = raw.execute(_CHILD_DIRS_SQL, (dir_id,)).fetchall()
            finally:
                raw.execute("COMMIT")
        return [FileRow(*r) for r in files], [DirRow(*r) for r in dirs]

    def child_dir(self, parent_id: int, name: str) -> DirRow | None:
        rows = self._read(
            f"SELECT {_DIR_COLS} FROM dirs WHERE parent_id = :p AND name = :n", p=parent_id, n=name
        )
        return _dir(rows[0]) if rows else None

    def get_dir(self, dir_id: int) -> DirRow | None:
        rows = self._read(f"SELECT {_DIR_COLS} FROM dirs WHERE id = :d", d=dir_id)
        return _dir(rows[0]) if rows else None

    def get_file(self, dir_id: int, name: str) -> FileRow | None:
        rows = self._read(
            f"SELECT {_FILE_COLS} FROM files WHERE dir_id = :d AND name = :n", d=dir_id, n=name
        )
        return _file(rows[0]) if rows else None

    def files_by_inode(self, pair_id: int, inode: int) -> list[FileRow]:
        rows = self._read(
            f"SELECT {', '.join('f.' + c.strip() for c in _FILE_COLS.split(','))} FROM files f "
            "JOIN dirs d ON d.id = f.dir_id WHERE f.inode = :i AND d.pair_id = :p",
            i=inode,
            p=pair_id,
        )
        return [_file(r) for r in rows]

    def dirs_by_inode(self, pair_id: int, inode: int) -> list[DirRow]:
        rows = self._read(
            f"SELECT {_DIR_COLS} FROM dirs WHERE pair_id = :p AND inode = :i", p=pair_id, i=inode
        )
        return [_dir(r) for r in rows]

    def file_by_file_id(self, pair_id: int, file_id: int) -> FileRow | None:
        rows = self._read(
            f"SELECT {', '.join('f.' + c.strip() for c in _FILE_COLS.split(','))} FROM files f "
            "JOIN dirs d ON d.id = f.dir_id WHERE f.file_id = :i AND d.pair_id = :p",
            i=file_id,
            p=pair_id,
        )
        return _file(rows[0]) if rows else None

    def dir_by_folder_id(self, pair_id: int, folder_id: int) -> DirRow | None:
        rows = self._read(
            f"SELECT {_DIR_COLS} FROM dirs WHERE pair_id = :p AND folder_id = :f",
            p=pair_id,
            f=folder_id,
        )
        return _dir(rows[0]) if rows else None

    def dir_path(self, dir_id: int) -> str | None:
        """'a/b' for a directory, '' for the root; None when the id is unknown."""
        return reader.dir_path(self._read, dir_id)

    def subtree_counts(self, dir_id: int) -> tuple[int, int]:
        """(files, dirs) recorded below a directory (the directory itself not counted)."""
        rows = self._read(
            "WITH RECURSIVE t(id) AS (SELECT :d UNION ALL "
            "SELECT dirs.id FROM dirs JOIN t ON dirs.parent_id = t.id) "
            "SELECT (SELECT count(*) FROM files WHERE dir_id IN (SELECT id FROM t) "
            "AND file_id IS NOT NULL), (SELECT count(*) - 1 FROM t)",
            d=dir_id,
        )
        return int(rows[0][0]), int(rows[0][1])

    def tracked_files(self, pair_id: int) -> int:
        """Files of the pair that exist remotely (what deletion limits are measured against)."""
        rows = self._read(
            "SELECT count(*) FROM files f JOIN dirs d ON d.id = f.dir_id "
            "WHERE d.pair_id = :p AND f.file_id IS NOT NULL",
            p=pair_id,
        )
        return int(rows[0][0])

    def status_counts(self, pair_id: int) -> dict[str, int]:
        return reader.status_counts(self._read, pair_id)

    def problems(self, pair_id: int, limit: int | None = None) -> list[Problem]:
        """Every skipped or failed path of a pair, with its reason."""
        return reader.problems(self._read, pair_id, limit)

    # -- intents -----------------------------------------------------------------------------

    def intents(self, pair_id: int) -> list[Intent]:
        rows = self._read(
            "SELECT id, pair_id, kind, folder_id, name, size, target_id, created_at, inode "
            "FROM intents WHERE pair_id = :p ORDER BY id",
            p=pair_id,
        )
        return [Intent(*r) for r in rows]

    def clear_intents(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        with self.transaction() as tx:
            for intent_id in ids:
                tx.clear_intent(intent_id)

    # -- runs --------------------------------------------------------------------------------

    def start_run(self, pair_id: int, kind: str, *, dry_run: bool = False) -> int:
        with self.transaction() as tx:
            result = tx._x(
                "INSERT INTO runs (pair_id, kind, started_at, dry_run) VALUES (:p, :k, :s, :d)",
                p=pair_id,
                k=kind,
                s=time.time(),
                d=int(dry_run),
            )
            return int(result.lastrowid)

    def finish_run(
        self, run_id: int, result: str, counts: dict[str, int], error: str | None = None
    ) -> None:
        with self.transaction() as tx:
            tx._x(
                "UPDATE runs SET ended_at = :e, result = :r, counts = :c, error = :err "
                "WHERE id = :id",
                e=time.time(),
                r=result,
                c=json.dumps(counts, sort_keys=True),
                err=error,
                id=run_id,
            )
            # Keep the history short: the last 100 runs per pair are plenty for `status`.
            tx._x(
                "DELETE FROM runs WHERE pair_id = (SELECT pair_id FROM runs WHERE id = :id) "
                "AND id <= (SELECT id FROM runs WHERE pair_id = (SELECT pair_id FROM runs "
                "WHERE id = :id) ORDER BY id DESC LIMIT 1 OFFSET 100)",
                id=run_id,
            )

    def runs(self, pair_id: int, limit: int = 10) -> list[RunRow]:
        return reader.runs(self._read, pair_id, limit)

    # -- host cache ------------------------------------------------------------------------

    def cached_host_answer(self, api_url: str, key: str, max_age: float) -> dict[str, Any] | None:
        """A host answer stored by ``store_host_answer`` less than ``max_age`` seconds ago."""
        found = self.host_answer(api_url, key)
        if found is None:
            return None
        fetched_at, answer = found
        age = time.time() - fetched_at
        if not 0 <= age < max_age:  # a clock set back counts as stale too
            return None
        return answer

    def host_answer(self, api_url: str, key: str) -> tuple[float, dict[str, Any]] | None:
        return reader.host_answer(self._read, api_url, key)

    def store_host_answer(self, api_url: str, key: str, value: dict[str, Any]) -> None:
        with self.transaction() as tx:
            tx._x(
                "INSERT OR REPLACE INTO host_cache (api_url, key, fetched_at, value) "
                "VALUES (:u, :k, :f, :v)",
                u=api_url,
                k=key,
                f=time.time(),
                v=json.dumps(value, sort_keys=True),
            )

    # -- daemon status -----------------------------------------------------------------------

    def write_daemon_status(self, pair_name: str, status: DaemonStatus) -> None:
        with self.transaction() as tx:
            tx._x(
                "INSERT OR REPLACE INTO daemon_status (pair_name, updated_at, state) "
                "VALUES (:n, :u, :s)",
                n=pair_name,
                u=time.time(),
                s=json.dumps(status.to_json(), default=str, sort_keys=True),
            )

    def daemon_status(self) -> dict[str, DaemonStatus]:
        return reader.daemon_status(self._read)

    # -- deletions held by a guard (migration 0005) -------------------------------------------

    def held(self, pair_id: int) -> list[HeldDeletion]:
        return reader.held(self._read, pair_id)

    def left_out(self, pair_id: int) -> list[tuple[str, str, str]]:
        return reader.left_out(self._read, pair_id)

    def record_left_out(
        self, pair_id: int, rows: Sequence[tuple[str, str, str]], *, whole_tree: bool
    ) -> None:
        """What a pass left out, (path, kind, reason): after a whole-tree pass exactly ``rows``;
        a partial pass adds its own (the next whole-tree pass drops what is gone)."""
        with self.transaction() as tx:
            if whole_tree:
                tx._x("DELETE FROM left_out WHERE pair_id = :p", p=pair_id)
            for path, kind, reason in rows:
                tx._x(
                    "INSERT OR REPLACE INTO left_out (pair_id, path, kind, reason) "
                    "VALUES (:p, :path, :k, :r)",
                    p=pair_id,
                    path=path,
                    k=kind,
                    r=reason,
                )

    def approvals(self) -> dict[str, float]:
        """Per pair name, the latest approval of deletions still held (not yet carried out)."""
        rows = self._read(
            "SELECT pairs.name, MAX(held_deletions.approved_at) FROM held_deletions JOIN pairs "
            "ON pairs.id = held_deletions.pair_id WHERE approved_at IS NOT NULL GROUP BY pairs.name"
        )
        return {str(r[0]): float(r[1]) for r in rows}

    def record_held(
        self,
        pair_id: int,
        held: Sequence[HeldDeletion],
        done: Sequence[tuple[str, str, int]],
        *,
        whole_tree: bool,
    ) -> None:
        """After a pass: ``held`` is what it held back, ``done`` the deletions it carried out.
        A whole-tree pass saw every deletion, so the held set becomes exactly ``held``; a
        partial pass only adds its own. A deletion held again keeps its first ``held_at`` (how
        long the pair has been held is what the daemon's health reads)."""
        keys = {h.key for h in held}
        with self.transaction() as tx:
            if whole_tree:
                for old in self.held(pair_id):
                    if old.key not in keys:
                        done = [*done, old.key]
            for kind, rel, target in done:
                if (kind, rel, target) in keys:
                    continue
                tx._x(
                    "DELETE FROM held_deletions WHERE pair_id = :p AND kind = :k AND rel = :r "
                    "AND target_id = :t",
                    p=pair_id,
                    k=kind,
                    r=rel,
                    t=target,
                )
            for h in held:
                tx._x(
                    "INSERT INTO held_deletions (pair_id, kind, rel, target_id, files, held_at, "
                    "reason) VALUES (:p, :k, :r, :t, :f, :at, :why) ON CONFLICT DO UPDATE SET "
                    "files = excluded.files, reason = excluded.reason",
                    p=pair_id,
                    k=h.kind,
                    r=h.rel,
                    t=h.target_id,
                    f=h.files,
                    at=h.held_at,
                    why=h.reason,
                )

    # -- history (versioned pairs; migration 0004) -------------------------------------------

    def upload_time(self, pair_id: int, file_id: int) -> int | None:
        """When syncd's upload ``file_id`` became live (UTC ns), if recorded."""
        rows = self._read(
            "SELECT live_from_ns FROM uploads WHERE pair_id = :p AND file_id = :f",
            p=pair_id,
            f=file_id,
        )
        return int(rows[0][0]) if rows else None

    def version_folder(self, pair_id: int, rel: str) -> int | None:
        rows = self._read(
            "SELECT folder_id FROM version_folders WHERE pair_id = :p AND rel = :r",
            p=pair_id,
            r=rel,
        )
        return int(rows[0][0]) if rows else None

    def set_version_folder(self, pair_id: int, rel: str, folder_id: int | None) -> None:
        with self.transaction() as tx:
            tx.set_version_folder(pair_id, rel, folder_id)

    def history_counts(self, pair_id: int) -> tuple[int, int, float | None, bool] | None:
        """(versions, bytes, when last counted in full, upgraded) or None."""
        return reader.history_counts(self._read, pair_id)

    def set_history_counts(self, pair_id: int, versions: int, nbytes: int) -> None:
        with self.transaction() as tx:
            tx._x(
                "INSERT INTO history (pair_id, versions, bytes, counted_at, upgraded) "
                "VALUES (:p, :v, :b, :c, 0) ON CONFLICT(pair_id) DO UPDATE SET "
                "versions = :v, bytes = :b, counted_at = :c",
                p=pair_id,
                v=versions,
                b=nbytes,
                c=time.time(),
            )

    def set_upgraded(self, pair_id: int) -> None:
        with self.transaction() as tx:
            tx._x(
                "INSERT INTO history (pair_id, versions, bytes, counted_at, upgraded) "
                "VALUES (:p, 0, 0, NULL, 1) ON CONFLICT(pair_id) DO UPDATE SET upgraded = 1",
                p=pair_id,
            )
