"""Restore and the journal: MD5s for resume checks, and the
journal rebuild of a disaster recovery (a restore into a pair's own local root), so that the
next reconcile uploads nothing.

While a disaster recovery runs, a marker file `<root>/.syncd-restore-incomplete` exists: a pair
root restored only half-way must not be reconciled in mirror mode (the files not yet restored
would look like local deletions or untracked remote extras). The marker is removed when the
restore finishes with nothing failed.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from syncd.journal.rows import ACCOUNT_ROOT, FileRow, PairRow
from syncd.journal.store import Journal
from syncd.local.markers import INCOMPLETE_MARKER
from syncd.restore.restorer import RestoredFile, RestoredFolder, SyncedContent

FLUSH_EVERY = 256  # file rows per journal transaction


@contextlib.contextmanager
def known_hashes(state: Path, pair_name: str) -> Iterator[JournalHashes | None]:
    """What the journal knows of a pair, for commands that only read it (None: no state
    database, or the pair never synced). Needs no lock: the daemon may run meanwhile."""
    if not state.exists():
        yield None
        return
    with Journal(state) as journal:
        row = journal.pair(pair_name)
        yield JournalHashes(journal, row) if row is not None else None


class JournalHashes:
    """MD5s the journal recorded for remote file ids of one pair (KnownHashes)."""

    def __init__(self, journal: Journal, pair: PairRow) -> None:
        self.journal = journal
        self.pair = pair

    def md5_for(self, rel_path: str, file_id: int, size: int) -> SyncedContent | None:
        row = self.journal.file_by_file_id(self.pair.id, file_id)
        if row is None or row.md5 is None:
            return None
        remote_size = row.remote_size if row.remote_size is not None else row.size
        return SyncedContent(row.md5.hex(), row.nonce) if remote_size == size else None

    def mtime_for(self, file_id: int) -> int | None:
        row = self.journal.file_by_file_id(self.pair.id, file_id)
        return row.mtime_ns if row is not None else None

    def upload_time(self, file_id: int) -> int | None:
        return self.journal.upload_time(self.pair.id, file_id)

    def tracks(self, file_id: int) -> bool:
        """Whether the journal holds ``file_id`` as one of the pair's synced files."""
        return self.journal.file_by_file_id(self.pair.id, file_id) is not None

    def file_id_at(self, rel_path: str) -> int | None:
        """The remote id the journal holds for the pair's path ``rel_path`` (its current
        upload), if any."""
        *dirs, name = rel_path.split("/")
        dir_id = self.pair.root_dir_id
        for part in dirs:
            child = self.journal.child_dir(dir_id, part)
            if child is None:
                return None
            dir_id = child.id
        row = self.journal.get_file(dir_id, name)
        return row.file_id if row is not None else None


@dataclass
class JournalRebuilder:
    """Writes every restored (or already present) file and folder of a disaster recovery into
    the journal (RestoreRecorder). Folders arrive parent first; files from worker threads."""

    journal: Journal
    pair: PairRow
    root: str
    _dir_ids: dict[str, int] = field(default_factory=dict)
    _files: list[RestoredFile] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        """Mark the root as incomplete before the first byte is written."""
        os.makedirs(self.root, exist_ok=True)
        path = os.path.join(self.root, INCOMPLETE_MARKER)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "w") as fh:
            fh.write(
                "syncd restore is rebuilding this pair; the daemon and reconcile refuse to run "
                "until it finishes. Run the same `syncd restore --pair ...` again to resume.\n"
            )

    def folder(self, folder: RestoredFolder) -> None:
        with self._lock, self.journal.transaction() as tx:
            if folder.rel_path == "":
                folder_id = folder.folder_id if folder.folder_id is not None else ACCOUNT_ROOT
                tx.set_root_folder(self.pair.root_dir_id, folder_id)
                tx.update_dir(self.pair.root_dir_id, inode=folder.inode)
                self._dir_ids[""] = self.pair.root_dir_id
                return
            parent, _, name = folder.rel_path.rpartition("/")
            self._dir_ids[folder.rel_path] = tx.insert_dir(
                self.pair.id,
                self._dir_ids[parent],
                name,
                inode=folder.inode,
                folder_id=folder.folder_id,
                remote_name=folder.remote_name,
            )

    def file(self, file: RestoredFile) -> None:
        with self._lock:
            self._files.append(file)
            if len(self._files) >= FLUSH_EVERY:
                self._flush_locked()

    def finish(self, ok: bool) -> None:
        """Write what is buffered; on success forget stale rows and remove the marker."""
        with self._lock:
            self._flush_locked()
        if not ok:
            return
        self._prune(self.pair.root_dir_id, self.root)
        self.journal.set_device(self.pair.id, os.stat(self.root).st_dev)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.root, INCOMPLETE_MARKER))

    def _flush_locked(self) -> None:
        if not self._files:
            return
        with self.journal.transaction() as tx:
            for f in self._files:
                parent, _, name = f.rel_path.rpartition("/")
                tx.put_file(
                    FileRow(
                        dir_id=self._dir_ids[parent],
                        name=name,
                        size=f.size,
                        mtime_ns=f.mtime_ns,
                        inode=f.inode,
                        md5=bytes.fromhex(f.md5),
                        nonce=f.nonce,
                        file_id=f.file_id,
                        remote_name=f.remote_name,
                        remote_size=f.remote_size,
                    )
                )
        self._files.clear()

    def _prune(self, dir_id: int, path: str) -> None:
        """Drop journal rows (left from before the disaster) whose local entry does not exist:
        the journal then describes exactly what is on disk. One directory at a time."""
        files, dirs = self.journal.children(dir_id)
        gone_files = [f.name for f in files if not os.path.isfile(os.path.join(path, f.name))]
        gone_dirs = [d.id for d in dirs if not os.path.isdir(os.path.join(path, d.name))]
        if gone_files or gone_dirs:
            with self.journal.transaction() as tx:
                for name in gone_files:
                    tx.delete_file(dir_id, name)
                for child in gone_dirs:
                    tx.delete_dir_tree(child)
        for d in dirs:
            if d.id not in gone_dirs:
                self._prune(d.id, os.path.join(path, d.name))
