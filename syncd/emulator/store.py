"""The emulator's state: one SQLite database plus a folder of immutable blobs.

All access happens on the server's event-loop thread, so one connection without locking is
enough. Blobs are never rewritten: a content change (drift) writes a new blob and repoints the
row, and `file/copy` shares the blob of the original.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ACTIVE = "active"
TRASH = "trash"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS folders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL,
    parent_id INTEGER,
    name TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    is_public INTEGER NOT NULL DEFAULT 0,
    access_password TEXT,
    date_added TEXT NOT NULL,
    date_updated TEXT,
    total_downloads INTEGER NOT NULL DEFAULT 0
);
DROP INDEX IF EXISTS folders_by_parent;
-- Folder ids are global, so (parent, status, name) serves listings and the per-folder counts.
CREATE INDEX IF NOT EXISTS folders_by_parent_status ON folders (parent_id, status, name);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL,
    folder_id INTEGER,
    name TEXT NOT NULL,
    short_url TEXT NOT NULL DEFAULT '',
    file_type TEXT NOT NULL,
    extension TEXT NOT NULL,
    size INTEGER NOT NULL,
    md5 TEXT NOT NULL,
    blob TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    downloads INTEGER NOT NULL DEFAULT 0,
    uploaded_ip TEXT NOT NULL,
    uploaded_date TEXT NOT NULL,
    last_accessed TEXT,
    keywords TEXT NOT NULL,
    unique_hash TEXT NOT NULL,
    delete_hash TEXT NOT NULL
);
DROP INDEX IF EXISTS files_by_folder;
CREATE INDEX IF NOT EXISTS files_by_folder_status ON files (folder_id, status, name);
CREATE TABLE IF NOT EXISTS inline_blobs (
    name TEXT PRIMARY KEY,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS access_tokens (
    token TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL
);
"""

# Blobs up to this size live in SQLite: creating a file costs ~1 ms on this kind of disk, an
# insert ~0.05 ms, and small uploads are what a sync run mostly does.
INLINE_MAX = 64 * 1024
_INLINE_PREFIX = "db:"

# Folder and file ids come from different ranges so that a client mixing them up fails loudly.
_FIRST_FOLDER_ID = 100
_FIRST_FILE_ID = 1000

_SHORT_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def short_url_for(file_id: int) -> str:
    """YetiShare-like short code: the id in base 62 (unique, URL-safe)."""
    digits = []
    n = file_id
    while True:
        n, r = divmod(n, 62)
        digits.append(_SHORT_ALPHABET[r])
        if n == 0:
            return "".join(reversed(digits))


def sql_now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


def extension_of(name: str) -> str:
    # PHP: strtolower(end(explode('.', $name))) — a name without a dot is its own extension.
    return name.rsplit(".", 1)[-1].lower()


def keywords_of(name: str) -> str:
    words = "".join(ch.lower() if ch.isalnum() else " " for ch in name).split()
    return ",".join(dict.fromkeys(words))


@dataclass(frozen=True, slots=True)
class BlobInfo:
    blob: str
    size: int
    md5: str


# Under the data dir: one file per stored upload above INLINE_MAX, fanned out by the first two
# hex digits of its name (smaller uploads live in the database).
BLOB_DIR = "blobs"


class Store:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.blob_dir = data_dir / BLOB_DIR
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(
            data_dir / "emulator.sqlite3", isolation_level=None, check_same_thread=False
        )
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        for table, first in (("folders", _FIRST_FOLDER_ID), ("files", _FIRST_FILE_ID)):
            seeded = self.db.execute("SELECT 1 FROM sqlite_sequence WHERE name = ?", (table,))
            if seeded.fetchone() is None:
                self.db.execute(
                    "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, first - 1)
                )

    def close(self) -> None:
        self.db.close()

    # ----------------------------------------------------------------- blobs
    def new_blob_path(self) -> tuple[str, Path]:
        """A fresh blob name and its path (fanned out by the first two hex digits)."""
        blob = secrets.token_hex(16)
        path = self.blob_dir / blob[:2] / blob
        path.parent.mkdir(exist_ok=True)
        return blob, path

    def blob_path(self, blob: str) -> Path:
        return self.blob_dir / blob[:2] / blob

    @staticmethod
    def is_inline(blob: str) -> bool:
        return blob.startswith(_INLINE_PREFIX)

    def put_inline(self, content: bytes) -> str:
        blob = _INLINE_PREFIX + secrets.token_hex(16)
        self.db.execute("INSERT INTO inline_blobs (name, data) VALUES (?, ?)", (blob, content))
        return blob

    def read_inline(self, blob: str) -> bytes:
        row = self.db.execute("SELECT data FROM inline_blobs WHERE name = ?", (blob,)).fetchone()
        return b"" if row is None else bytes(row[0])

    def write_blob(self, content: bytes) -> BlobInfo:
        if len(content) <= INLINE_MAX:
            blob = self.put_inline(content)
        else:
            blob, path = self.new_blob_path()
            path.write_bytes(content)
        return BlobInfo(blob, len(content), hashlib.md5(content).hexdigest())

    def discard_blob(self, blob: str) -> None:
        if self.is_inline(blob):
            self.db.execute("DELETE FROM inline_blobs WHERE name = ?", (blob,))
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.blob_path(blob))

    # ---------------------------------------------------------------- tokens
    def load_tokens(self) -> list[tuple[str, int]]:
        return [
            (r[0], r[1]) for r in self.db.execute("SELECT token, account_id FROM access_tokens")
        ]

    def replace_tokens(self, account_id: int, token: str | None) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("DELETE FROM access_tokens WHERE account_id = ?", (account_id,))
            if token is not None:
                self.db.execute(
                    "INSERT INTO access_tokens (token, account_id) VALUES (?, ?)",
                    (token, account_id),
                )

    def delete_token(self, token: str) -> None:
        self.db.execute("DELETE FROM access_tokens WHERE token = ?", (token,))

    # --------------------------------------------------------------- folders
    def folder(
        self, account_id: int, folder_id: int, *, active_only: bool = True
    ) -> sqlite3.Row | None:
        row = self.db.execute(
            "SELECT * FROM folders WHERE id = ? AND account_id = ?", (folder_id, account_id)
        ).fetchone()
        if row is None or (active_only and row["status"] != ACTIVE):
            return None
        return row

    def folder_stats(self, folder_id: int) -> tuple[int, int, int]:
        """(total size of active files, active file count, active child folder count)."""
        size, count = self.db.execute(
            "SELECT COALESCE(SUM(size), 0), COUNT(*) FROM files"
            " WHERE folder_id = ? AND status = 'active'",
            (folder_id,),
        ).fetchone()
        (children,) = self.db.execute(
            "SELECT COUNT(*) FROM folders WHERE parent_id = ? AND status = 'active'", (folder_id,)
        ).fetchone()
        return size, count, children

    def list_folders(self, account_id: int, parent_id: int | None) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT f.*,"
            " (SELECT COALESCE(SUM(size), 0) FROM files WHERE folder_id = f.id"
            "   AND status = 'active') AS total_size,"
            " (SELECT COUNT(*) FROM files WHERE folder_id = f.id AND status = 'active')"
            "   AS file_count,"
            " (SELECT COUNT(*) FROM folders c WHERE c.parent_id = f.id AND c.status = 'active')"
            "   AS child_count"
            " FROM folders f WHERE f.account_id = ? AND f.parent_id IS ? AND f.status = 'active'"
            " ORDER BY f.name COLLATE NOCASE, f.name, f.id",
            (account_id, parent_id),
        ).fetchall()

    def list_files(self, account_id: int, folder_id: int | None) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT id, name, short_url, file_type, extension, size, status, downloads,"
            " folder_id, keywords FROM files"
            " WHERE account_id = ? AND folder_id IS ? AND status = 'active'"
            " ORDER BY name COLLATE NOCASE, name, id",
            (account_id, folder_id),
        ).fetchall()

    def create_folder(
        self,
        account_id: int,
        parent_id: int | None,
        name: str,
        is_public: int = 0,
        access_password: str | None = None,
    ) -> int:
        cur = self.db.execute(
            "INSERT INTO folders (account_id, parent_id, name, is_public, access_password,"
            " date_added) VALUES (?, ?, ?, ?, ?, ?)",
            (account_id, parent_id, name, is_public, access_password, sql_now()),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def update_folder(self, folder_id: int, **columns: object) -> None:
        if not columns:
            return
        columns["date_updated"] = sql_now()
        assignments = ", ".join(f"{name} = ?" for name in columns)
        self.db.execute(
            f"UPDATE folders SET {assignments} WHERE id = ?", (*columns.values(), folder_id)
        )

    def is_descendant_or_self(self, folder_id: int, candidate: int | None) -> bool:
        """True if `candidate` is `folder_id` or lies below it."""
        seen = 0
        while candidate is not None and seen < 100_000:
            if candidate == folder_id:
                return True
            row = self.db.execute(
                "SELECT parent_id FROM folders WHERE id = ?", (candidate,)
            ).fetchone()
            candidate = None if row is None else row[0]
            seen += 1
        return False

    def trash_folder_tree(self, folder_id: int) -> None:
        """Trash a folder, every folder below it and every file in them."""
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("CREATE TEMP TABLE IF NOT EXISTS doomed (id INTEGER PRIMARY KEY)")
            self.db.execute("DELETE FROM doomed")
            self.db.execute(
                "INSERT INTO doomed (id) WITH RECURSIVE sub(id) AS ("
                " SELECT ? UNION SELECT f.id FROM folders f JOIN sub ON f.parent_id = sub.id)"
                " SELECT id FROM sub",
                (folder_id,),
            )
            now = sql_now()
            self.db.execute(
                "UPDATE folders SET status = 'trash', date_updated = ?"
                " WHERE id IN (SELECT id FROM doomed)",
                (now,),
            )
            self.db.execute(
                "UPDATE files SET status = 'trash' WHERE folder_id IN (SELECT id FROM doomed)"
            )

    # ----------------------------------------------------------------- files
    def file(self, account_id: int, file_id: int) -> sqlite3.Row | None:
        return self.db.execute(
            "SELECT * FROM files WHERE id = ? AND account_id = ?", (file_id, account_id)
        ).fetchone()

    def file_by_short_url(self, short_url: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM files WHERE short_url = ?", (short_url,)).fetchone()

    def add_file(
        self,
        account_id: int,
        folder_id: int | None,
        name: str,
        blob: BlobInfo,
        file_type: str,
        uploaded_ip: str,
    ) -> int:
        with self.db:
            self.db.execute("BEGIN")
            cur = self.db.execute(
                "INSERT INTO files (account_id, folder_id, name, file_type, extension, size, md5,"
                " blob, uploaded_ip, uploaded_date, keywords, unique_hash, delete_hash)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    account_id,
                    folder_id,
                    name,
                    file_type,
                    extension_of(name),
                    blob.size,
                    blob.md5,
                    blob.blob,
                    uploaded_ip,
                    sql_now(),
                    keywords_of(name),
                    secrets.token_hex(32),
                    secrets.token_hex(16),
                ),
            )
            file_id = cur.lastrowid
            assert file_id is not None
            self.db.execute(
                "UPDATE files SET short_url = ? WHERE id = ?", (short_url_for(file_id), file_id)
            )
        return file_id

    def copy_file(self, source: sqlite3.Row, folder_id: int | None) -> int:
        return self.add_file(
            source["account_id"],
            folder_id,
            source["name"],
            BlobInfo(source["blob"], source["size"], source["md5"]),
            source["file_type"],
            source["uploaded_ip"],
        )

    def update_file(self, file_id: int, **columns: object) -> None:
        if not columns:
            return
        assignments = ", ".join(f"{name} = ?" for name in columns)
        self.db.execute(
            f"UPDATE files SET {assignments} WHERE id = ?", (*columns.values(), file_id)
        )

    def rename_file(self, file_id: int, name: str) -> None:
        self.update_file(file_id, name=name, extension=extension_of(name))

    def count_download(self, file_id: int) -> None:
        self.db.execute(
            "UPDATE files SET downloads = downloads + 1, last_accessed = ? WHERE id = ?",
            (sql_now(), file_id),
        )

    # ------------------------------------------------------------------ admin
    def all_folders(self) -> Iterable[sqlite3.Row]:
        return self.db.execute(
            "SELECT id, parent_id, name, status FROM folders ORDER BY id"
        ).fetchall()

    def all_files(self) -> Iterable[sqlite3.Row]:
        return self.db.execute(
            "SELECT id, folder_id, name, size, md5, status FROM files ORDER BY id"
        ).fetchall()
