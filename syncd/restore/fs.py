"""Filesystem side of restore: probe the destination, and write inside it without ever following
a symlink.

Every write goes through directory file descriptors opened component by component with
``O_NOFOLLOW``: a symlink planted inside DEST (even swapped in while restore runs) makes the
open fail instead of sending bytes elsewhere. Files are written to a temporary name in their
final directory, fsynced, then renamed into place (atomic on POSIX), and the directory is fsynced.
POSIX only (``dir_fd`` support); syncd targets Linux NAS boxes and workstations.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from syncd.local.markers import TEMP_PREFIX, TEMP_SUFFIX

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class UnsafeLocalPath(Exception):
    """A path component in DEST is a symlink or not a directory: restore will not write there."""


@dataclass(frozen=True, slots=True)
class FsTraits:
    case_insensitive: bool
    normalization_insensitive: bool
    windows_names: bool = False  # refuses ':' '?' ... (vfat, exFAT, NTFS, SMB shares)


def temp_name() -> str:
    return f"{TEMP_PREFIX}{secrets.token_hex(8)}{TEMP_SUFFIX}"


def probe_fs_traits(dest: str) -> FsTraits:
    """Find out how DEST's filesystem compares names, by creating one probe file and asking for
    it under another case and another Unicode form. DEST must exist."""
    stem = secrets.token_hex(4)
    name = f"{TEMP_PREFIX}probe-{stem}-aB\u00e9{TEMP_SUFFIX}"  # é precomposed (NFC)
    path = os.path.join(dest, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    os.close(fd)
    try:
        return FsTraits(
            case_insensitive=_same_file(path, os.path.join(dest, name.swapcase())),
            normalization_insensitive=_same_file(
                path, os.path.join(dest, unicodedata.normalize("NFD", name))
            ),
            windows_names=not _can_create(os.path.join(dest, f"{TEMP_PREFIX}probe-{stem}-a:b?")),
        )
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _can_create(path: str) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        if exc.errno in (errno.EINVAL, errno.ENOENT, errno.EILSEQ, errno.EACCES, errno.EPERM):
            return False
        raise
    os.close(fd)
    os.unlink(path)
    return True


def probe_fs_traits_readonly(dest: str) -> FsTraits:
    """Best guess without writing (for --dry-run): look up an existing entry, or DEST itself, under
    swapped case. Defaults to case-sensitive when nothing tells."""
    candidates: list[str] = []
    if os.path.isdir(dest):
        with os.scandir(dest) as it:
            for entry in it:
                if entry.name != entry.name.swapcase():
                    candidates.append(os.path.join(dest, entry.name))
                    break
    candidates.append(os.path.abspath(dest))
    for path in candidates:
        head, tail = os.path.split(path)
        if tail != tail.swapcase() and os.path.lexists(path):
            return FsTraits(_same_file(path, os.path.join(head, tail.swapcase())), False)
    return FsTraits(False, False)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samestat(os.lstat(a), os.lstat(b))
    except OSError:
        return False


def open_root(dest: str) -> int:
    """Open DEST itself (it may be a symlink the user chose on purpose); create it if missing."""
    os.makedirs(dest, exist_ok=True)
    return os.open(dest, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))


def open_dir(root_fd: int, parts: Sequence[str], *, create: bool) -> int:
    """Open DEST/parts... refusing symlinks and non-directories at every step. Caller closes."""
    fd = os.dup(root_fd)
    try:
        for part in parts:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                    raise UnsafeLocalPath(
                        f"{part!r} is a symlink or not a directory; restore never writes through it"
                    ) from exc
                raise
            os.close(fd)
            fd = child
        return fd
    except BaseException:
        os.close(fd)
        raise


@contextlib.contextmanager
def opened_dir(root_fd: int, parts: Sequence[str], *, create: bool) -> Iterator[int]:
    fd = open_dir(root_fd, parts, create=create)
    try:
        yield fd
    finally:
        os.close(fd)


def lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def describe_kind(st: os.stat_result) -> str:
    if stat.S_ISLNK(st.st_mode):
        return "a symlink"
    if stat.S_ISDIR(st.st_mode):
        return "a directory"
    if stat.S_ISREG(st.st_mode):
        return "a file"
    return "a special file"


def remove_stale_temp_files(dir_fd: int) -> int:
    """Delete temp files a killed restore left in this directory; returns how many."""
    removed = 0
    for name in os.listdir(dir_fd):
        if name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX):
            with contextlib.suppress(FileNotFoundError):
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                if stat.S_ISREG(st.st_mode):
                    os.unlink(name, dir_fd=dir_fd)
                    removed += 1
    return removed


class TempFile:
    """A temporary file inside one directory fd, written then committed by rename."""

    def __init__(self, dir_fd: int) -> None:
        self.dir_fd = dir_fd
        self.name = temp_name()
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(self.name, flags, 0o666, dir_fd=dir_fd)  # umask applies, like any new file
        self.file = os.fdopen(fd, "wb", buffering=0)
        self.committed = False

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = self.file.write(view)
            view = view[n or 0 :]

    def commit(self, final_name: str, *, replace: bool) -> os.stat_result:
        """fsync, rename onto ``final_name`` (refusing to replace unless asked), fsync the dir."""
        self.file.flush()
        os.fsync(self.file.fileno())
        st = os.fstat(self.file.fileno())
        self.file.close()
        existing = lstat_at(self.dir_fd, final_name)
        if existing is not None and (not replace or not stat.S_ISREG(existing.st_mode)):
            raise FileExistsError(errno.EEXIST, f"{final_name!r} already exists")
        if existing is None and self._link_no_replace(final_name):
            os.unlink(self.name, dir_fd=self.dir_fd)
        else:
            # rename never follows a symlink at the target; it replaces a file atomically.
            os.rename(self.name, final_name, src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
        self.committed = True
        os.fsync(self.dir_fd)
        return st

    def _link_no_replace(self, final_name: str) -> bool:
        """Hard-link the temp file to its final name: fails atomically if the name appeared
        meanwhile. False when the filesystem has no hard links (then rename is used)."""
        try:
            os.link(self.name, final_name, src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
        except FileExistsError:
            raise FileExistsError(errno.EEXIST, f"{final_name!r} appeared during restore") from None
        except OSError as exc:
            if exc.errno in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                return False
            raise
        return True

    def discard(self) -> None:
        if not self.file.closed:
            self.file.close()
        if not self.committed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.name, dir_fd=self.dir_fd)
