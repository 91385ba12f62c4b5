"""Restore: bring a remote folder tree back into a local directory, safely and resumably.

The walk is per folder (one `folder/listing` at a time, a stack of pending folder ids), so memory
grows with the largest folder, not the tree. Each remote name is mapped to a safe, unique local
name (:mod:`syncd.restore.paths`); every write goes through no-follow directory descriptors into a
`.syncd-restore-*.part` temp file beside its target, is checked (size, and MD5 when the journal
knows it), fsynced and renamed into place (:mod:`syncd.restore.fs`). Downloads run on a bounded
worker pool; the client's rate limiter is shared by all of them.

Resume needs no state of its own: a file whose final name exists with the expected size (and
MD5, when known) is "already present"; partial downloads only ever exist as temp files, which a
later run deletes when it reaches their folder.
"""

from __future__ import annotations

import dataclasses
import os
import random
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from syncd.local.hashing import stored_md5_at
from syncd.remote.client import RemoteClient
from syncd.remote.downloads import BoundedPool, download_to
from syncd.remote.encrypted import sealed_md5_of
from syncd.remote.errors import (
    NotFound,
    RateLimited,
    RemoteError,
    TokenInvalid,
    TransientError,
)
from syncd.remote.models import FolderListing, RemoteFile
from syncd.restore.fs import (
    FsTraits,
    TempFile,
    UnsafeLocalPath,
    describe_kind,
    lstat_at,
    open_root,
    opened_dir,
    probe_fs_traits,
    probe_fs_traits_readonly,
    remove_stale_temp_files,
)
from syncd.restore.paths import RemoteEntry, is_inside, make_fold, place_entries

DOWNLOAD_ATTEMPTS = 4


# --------------------------------------------------------------------------- journal seams


class SyncedContent(NamedTuple):
    """The content last synced for a path, as the journal knows it."""

    md5: str  # hex: the host's MD5 of the upload
    nonce: bytes | None = None  # an encrypted upload's: ``md5`` is then its ciphertext's


class KnownHashes(Protocol):
    """What restore asks the journal: the content last synced for a path, if known."""

    def md5_for(self, rel_path: str, file_id: int, size: int) -> SyncedContent | None: ...


@dataclass(frozen=True, slots=True)
class RestoredFile:
    """Both identities of one file that is now on disk: what the journal records."""

    rel_path: str  # '/'-separated, relative to DEST
    size: int
    mtime_ns: int
    inode: int
    md5: str
    file_id: int
    remote_name: str
    remote_size: int
    folder_id: int | None
    nonce: bytes | None = None  # with it, ``md5`` is the local file's ciphertext's under it


@dataclass(frozen=True, slots=True)
class RestoredFolder:
    rel_path: str  # '' for DEST itself
    folder_id: int | None  # None: the account root
    remote_name: str
    inode: int


class RestoreRecorder(Protocol):
    """Receives every file and folder that ends up restored (or already present), so that a
    restore into a pair's root can rebuild the journal. Called from worker threads."""

    def folder(self, folder: RestoredFolder) -> None: ...

    def file(self, file: RestoredFile) -> None: ...


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Item:
    remote_path: str
    local_path: str | None
    reason: str


@dataclass
class RestoreReport:
    dest: str
    dry_run: bool
    restored: int = 0
    restored_bytes: int = 0
    already_present: int = 0
    folders: int = 0
    stale_temp_files_removed: int = 0
    renamed: list[Item] = field(default_factory=list)
    skipped: list[Item] = field(default_factory=list)
    failed: list[Item] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_json(self) -> dict[str, Any]:
        def items(rows: list[Item]) -> list[dict[str, Any]]:
            return [
                {"remote": r.remote_path, "local": r.local_path, "reason": r.reason} for r in rows
            ]

        return {
            "dest": self.dest,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "restored": self.restored,
            "restored_bytes": self.restored_bytes,
            "already_present": self.already_present,
            "folders": self.folders,
            "stale_temp_files_removed": self.stale_temp_files_removed,
            "renamed": items(self.renamed),
            "skipped": items(self.skipped),
            "failed": items(self.failed),
            "elapsed_s": round(self.elapsed_s, 3),
        }

    def summary_lines(self) -> list[str]:
        verb = "would restore" if self.dry_run else "restored"
        mb = self.restored_bytes / 1e6
        lines = [
            f"{verb} {self.restored} files ({mb:.1f} MB), already present {self.already_present}, "
            f"renamed {len(self.renamed)}, skipped {len(self.skipped)}, "
            f"failed {len(self.failed)} in {self.elapsed_s:.1f}s"
        ]
        lines += [
            f"  renamed: {r.remote_path} -> {r.local_path} ({r.reason})" for r in self.renamed
        ]
        lines += [f"  skipped: {r.remote_path} ({r.reason})" for r in self.skipped]
        lines += [f"  failed: {r.remote_path} ({r.reason})" for r in self.failed]
        return lines


# --------------------------------------------------------------------------- the restorer


@dataclass(frozen=True, slots=True)
class _Folder:
    """A remote folder waiting to be listed, and where it goes locally."""

    id: int | None
    parts: tuple[str, ...]  # local directory, relative to DEST
    remote_path: str
    name: str  # remote name


@dataclass(frozen=True, slots=True)
class _Job:
    file: RemoteFile
    parts: tuple[str, ...]  # local directory, relative to DEST
    local_name: str
    remote_path: str
    expected: SyncedContent | None
    replace: bool

    @property
    def rel_path(self) -> str:
        return "/".join((*self.parts, self.local_name))


class _VerifyFailed(Exception):
    """The downloaded bytes are not what the listing (or the journal) promised. A short
    transfer is retried; an MD5 that differs from the journal's is what the host holds, so
    downloading again would not change it."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Progress(Protocol):
    def discovered(self, files: int, nbytes: int) -> None: ...

    def advanced(self, files: int, nbytes: int) -> None: ...


class Restorer:
    """Restores one remote folder tree into ``dest``. One instance per run."""

    def __init__(
        self,
        client: RemoteClient,
        dest: str,
        *,
        workers: int = 4,
        dry_run: bool = False,
        overwrite: bool = False,
        windows_rules: bool | None = None,
        known: KnownHashes | None = None,
        recorder: RestoreRecorder | None = None,
        progress: Progress | None = None,
        on_line: Callable[[str], None] | None = None,
        hide_at_root: frozenset[str] = frozenset(),
    ) -> None:
        self.client = client
        self.dest = os.path.abspath(dest)
        self.workers = max(1, workers)
        self.dry_run = dry_run
        self.overwrite = overwrite
        self._windows_rules = windows_rules  # None: decided by probing DEST's filesystem
        self.windows_rules = bool(windows_rules)
        self.known = known
        self.recorder = recorder
        self.progress = progress
        self.on_line = on_line or (lambda _line: None)
        self.hide_at_root = hide_at_root
        self.report = RestoreReport(dest=self.dest, dry_run=dry_run)
        self._lock = threading.Lock()
        self._root_fd: int | None = None
        self._real_dest = ""
        self._seen_folders: set[int | None] = set()
        self._cycles_reported: set[int] = set()

    # -- entry point

    def run(self, root_folder_id: int | None, root_label: str = "") -> RestoreReport:
        started = time.monotonic()
        if self.dry_run and not os.path.isdir(self.dest):
            traits = probe_fs_traits_readonly(os.path.dirname(self.dest) or ".")
        elif self.dry_run:
            traits = probe_fs_traits_readonly(self.dest)
        else:
            self._root_fd = open_root(self.dest)
            traits = probe_fs_traits(self.dest)
        self._real_dest = os.path.realpath(self.dest)
        if self._windows_rules is None:
            self.windows_rules = os.name == "nt" or traits.windows_names
        try:
            self._walk(root_folder_id, root_label, traits)
        finally:
            if self._root_fd is not None:
                os.close(self._root_fd)
                self._root_fd = None
            self.report.elapsed_s = time.monotonic() - started
        return self.report

    # -- walking

    def _walk(self, root_folder_id: int | None, root_label: str, traits: FsTraits) -> None:
        fold = make_fold(
            case_insensitive=traits.case_insensitive,
            normalization_insensitive=traits.normalization_insensitive,
        )
        root_name = root_label.rsplit("/", 1)[-1]
        stack = [_Folder(root_folder_id, (), root_label, root_name)]
        # Every folder id queued so far: a host that lists a folder inside itself (or any cycle)
        # would otherwise make the walk run forever.
        self._seen_folders: set[int | None] = {root_folder_id}
        first = True
        # Bounded in-flight downloads: the walk never runs far ahead of the workers.
        with BoundedPool(self.workers, "restore") as pool:
            while stack:
                folder = stack.pop()
                try:
                    listing = self.client.folder_listing(folder.id)
                except RemoteError as exc:
                    if first:
                        raise  # the root itself: a command-level error, not an item
                    rel = "/".join(folder.parts)
                    self._fail(folder.remote_path + "/", rel, f"listing failed: {exc}")
                    continue
                if first and self.hide_at_root:
                    # The versions area is history, not the live tree (restore --at reads it).
                    listing = FolderListing(
                        [f for f in listing.folders if f.name not in self.hide_at_root],
                        listing.files,
                    )
                first = False
                self.report.folders += 1
                jobs, subfolders = self._plan_folder(listing, folder, fold)
                # Reversed onto the stack so that the walk proceeds in name order.
                stack.extend(reversed(subfolders))
                for job in jobs:
                    if self.dry_run:
                        self._restored(job.file.size)
                        self.on_line(f"would write {job.rel_path} ({job.file.size} bytes)")
                    else:
                        pool.submit(self._download, job)

    def _plan_folder(
        self,
        listing: FolderListing,
        folder: _Folder,
        fold: Callable[[str], str],
    ) -> tuple[list[_Job], list[_Folder]]:
        """Place one folder's entries and create its local directory; returns its downloads
        and its subfolders to walk, in name order."""
        parts, remote_path = folder.parts, folder.remote_path
        entries = [RemoteEntry(f.id, f.name, True) for f in listing.folders]
        entries += [RemoteEntry(f.id, f.name, False) for f in listing.files]
        files_by_id = {f.id: f for f in listing.files}
        placements = place_entries(entries, fold=fold, windows_rules=self.windows_rules)
        if self.progress is not None:
            self.progress.discovered(len(listing.files), sum(f.size for f in listing.files))
        jobs: list[_Job] = []
        subfolders: list[_Folder] = []
        try:
            with self._dir(parts) as dir_fd:
                if dir_fd is not None and not self.dry_run:
                    removed = remove_stale_temp_files(dir_fd)
                    self.report.stale_temp_files_removed += removed
                    if self.recorder is not None:
                        inode = os.fstat(dir_fd).st_ino
                        self.recorder.folder(
                            RestoredFolder("/".join(parts), folder.id, folder.name, inode)
                        )
                for placement in placements:
                    entry = placement.entry
                    rpath = f"{remote_path}/{entry.name}" + ("/" if entry.is_folder else "")
                    name = placement.local_name
                    if name is None:
                        self._skip(rpath, None, placement.note or "skipped")
                        continue
                    local_rel = "/".join((*parts, name))
                    if not self._resolves_inside(local_rel):
                        self._skip(rpath, local_rel, "would resolve outside the destination")
                        continue
                    if placement.renamed:
                        self._renamed(rpath, local_rel, placement.note or "renamed")
                    existing = lstat_at(dir_fd, name) if dir_fd is not None else None
                    if not entry.is_folder:
                        job = self._decide_file(
                            files_by_id[entry.id], parts, name, rpath, dir_fd, existing
                        )
                        if job is not None:
                            jobs.append(job)
                    elif existing is not None and not stat.S_ISDIR(existing.st_mode):
                        self._skip(
                            rpath,
                            local_rel,
                            f"exists locally as {describe_kind(existing)}; "
                            "the folder and everything in it was not restored",
                        )
                    elif entry.id in self._seen_folders:
                        self._skip_cycle(entry.id, rpath, local_rel)
                    else:
                        self._seen_folders.add(entry.id)
                        subfolders.append(
                            _Folder(entry.id, (*parts, name), rpath.rstrip("/"), entry.name)
                        )
        except UnsafeLocalPath as exc:
            self._skip(remote_path + "/", "/".join(parts), f"{exc}; the folder was not restored")
            return [], []
        return jobs, subfolders

    def _decide_file(
        self,
        remote: RemoteFile,
        parts: tuple[str, ...],
        name: str,
        rpath: str,
        dir_fd: int | None,
        existing: os.stat_result | None,
    ) -> _Job | None:
        """A download job for one file, or None when it is already present or must be skipped
        (a different local file in the way is never overwritten unless --overwrite)."""
        rel = "/".join((*parts, name))
        expected = self.known.md5_for(rel, remote.id, remote.size) if self.known else None
        job = _Job(remote, parts, name, rpath, expected, replace=False)
        if existing is None:
            return job
        if not stat.S_ISREG(existing.st_mode):
            self._skip(rpath, rel, f"exists locally as {describe_kind(existing)}")
            return None
        same_size = existing.st_size == remote.size
        local_md5: str | None = None
        wants_md5 = expected is not None or (self.recorder is not None and not self.dry_run)
        # An encrypted upload is compared by sealing the local file again under its nonce.
        nonce = expected.nonce if expected is not None else None
        if same_size and wants_md5 and dir_fd is not None:
            local_md5 = stored_md5_at(dir_fd, name, nonce, sealed_md5_of(self.client))
        if same_size and (expected is None or local_md5 == expected.md5):
            with self._lock:
                self.report.already_present += 1
            if self.progress is not None:
                self.progress.advanced(1, remote.size)
            if self.recorder is not None and not self.dry_run and local_md5 is not None:
                self._record_file(job, existing, local_md5, nonce)
            return None
        why = "size differs" if not same_size else "content differs (MD5)"
        if self.overwrite:
            self.on_line(f"replacing {rel} ({why})")
            return dataclasses.replace(job, replace=True)
        self._skip(
            rpath, rel, f"a different local file is in the way ({why}); --overwrite replaces it"
        )
        return None

    # -- downloading (worker threads)

    def _download(self, job: _Job) -> None:
        delay = 0.5
        for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
            try:
                st, md5 = self._download_once(job)
            except (TransientError, RateLimited, TokenInvalid, _VerifyFailed) as exc:
                if attempt == DOWNLOAD_ATTEMPTS or not getattr(exc, "retryable", True):
                    self._fail(job.remote_path, job.rel_path, f"{exc} (attempts: {attempt})")
                    return
                wait = getattr(exc, "retry_after", None) or delay * (1 + random.random())
                time.sleep(wait)  # backoff between retries, not a hope-based wait
                delay *= 2
                continue
            except NotFound:
                self._fail(job.remote_path, job.rel_path, "gone remotely during restore")
                return
            except RemoteError as exc:
                self._fail(job.remote_path, job.rel_path, str(exc))
                return
            except UnsafeLocalPath as exc:
                self._skip(job.remote_path, job.rel_path, str(exc))
                return
            except FileExistsError as exc:
                self._skip(job.remote_path, job.rel_path, f"{exc.strerror}; not overwritten")
                return
            except OSError as exc:
                self._fail(
                    job.remote_path, job.rel_path, f"local write failed: {exc.strerror or exc}"
                )
                return
            self._restored(job.file.size)
            if self.progress is not None:
                self.progress.advanced(1, 0)
            if self.recorder is not None:
                self._record_file(job, st, md5)
            return

    def _download_once(self, job: _Job) -> tuple[os.stat_result, str]:
        assert self._root_fd is not None
        progress = self.progress
        on_chunk = None if progress is None else lambda n: progress.advanced(0, n)
        with opened_dir(self._root_fd, job.parts, create=True) as dir_fd:
            temp = TempFile(dir_fd)
            try:
                md5, size = download_to(self.client, job.file.id, temp, on_chunk=on_chunk)
                if size != job.file.size:
                    raise _VerifyFailed(
                        f"downloaded {size} bytes, the listing says {job.file.size}",
                        retryable=True,
                    )
                # An encrypted upload's MD5 is its ciphertext's: what came is the plaintext,
                # every block of it authenticated under the pair's key by the decryption.
                expected = job.expected
                if expected is not None and expected.nonce is None and md5 != expected.md5:
                    raise _VerifyFailed(
                        f"remote content changed since it was synced: MD5 {md5}, "
                        f"the journal says {expected.md5}",
                        retryable=False,
                    )
                st = temp.commit(job.local_name, replace=job.replace)
                mtime_for = getattr(self.known, "mtime_for", None)
                mtime = mtime_for(job.file.id) if mtime_for is not None else None
                if mtime is not None:
                    # The file's own time, not the restore's: the journal knows it.
                    os.utime(
                        job.local_name, ns=(mtime, mtime), dir_fd=dir_fd, follow_symlinks=False
                    )
                    st = os.stat(job.local_name, dir_fd=dir_fd, follow_symlinks=False)
            finally:
                temp.discard()
        return st, md5

    # -- helpers

    def _dir(self, parts: tuple[str, ...]) -> Any:
        if self._root_fd is not None:
            return opened_dir(self._root_fd, parts, create=True)
        return _dry_dir(self.dest, parts)

    def _resolves_inside(self, local_rel: str) -> bool:
        """Second line of defence after sanitising: the final path, and its directory with any
        symlinks resolved, must lie inside DEST. (Writes also refuse symlinks on their own.)"""
        final = os.path.join(self.dest, *local_rel.split("/"))
        return is_inside(self.dest, final) and is_inside(
            self._real_dest, os.path.realpath(os.path.dirname(final))
        )

    def _record_file(
        self, job: _Job, st: os.stat_result, md5: str, nonce: bytes | None = None
    ) -> None:
        assert self.recorder is not None
        self.recorder.file(
            RestoredFile(
                rel_path=job.rel_path,
                size=st.st_size,
                mtime_ns=st.st_mtime_ns,
                inode=st.st_ino,
                md5=md5,
                file_id=job.file.id,
                remote_name=job.file.name,
                remote_size=job.file.size,
                folder_id=job.file.folder_id,
                nonce=nonce,
            )
        )

    def _restored(self, nbytes: int) -> None:
        with self._lock:
            self.report.restored += 1
            self.report.restored_bytes += nbytes

    def _renamed(self, remote: str, local: str, reason: str) -> None:
        with self._lock:
            self.report.renamed.append(Item(remote, local, reason))

    def _skip(self, remote: str, local: str | None, reason: str) -> None:
        with self._lock:
            self.report.skipped.append(Item(remote, local, reason))

    def _skip_cycle(self, folder_id: int, remote: str, local: str) -> None:
        """A folder id met again is never entered; each such id is reported once."""
        if folder_id in self._cycles_reported:
            return
        self._cycles_reported.add(folder_id)
        reason = f"folder id {folder_id} appears twice in the remote tree: skipped (cycle)"
        self._skip(remote, local, reason)

    def _fail(self, remote: str, local: str | None, reason: str) -> None:
        with self._lock:
            self.report.failed.append(Item(remote, local, reason))


class _dry_dir:
    """Dry-run stand-in for an opened directory: an fd if it exists (read-only), else None."""

    def __init__(self, dest: str, parts: tuple[str, ...]) -> None:
        self.path = os.path.join(dest, *parts)
        self.fd: int | None = None

    def __enter__(self) -> int | None:
        try:
            self.fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            self.fd = None
        return self.fd

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)
