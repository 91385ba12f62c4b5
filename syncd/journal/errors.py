"""Errors of the state database, translated at the journal's edge into one actionable line.

SQLite reports a full disk, a lock held past ``busy_timeout`` or a read-only file as an
``OperationalError`` whose text means nothing to a user; these classes name the state database
and the fix. Other SQL errors are left alone: they are bugs and keep their traceback.
"""

from __future__ import annotations

import errno
from pathlib import Path

from syncd.errors import ExitCode, UserError

# Primary SQLite result codes (the low byte of an extended code).
_SQLITE_PERM = 3
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14

_FIX_WRITABLE = "[state] path in the config must be on a writable local disk"


class JournalError(UserError):
    """The state database cannot be used (newer schema, not a syncd database, unreadable)."""


class JournalFull(JournalError):
    """The disk holding the state database is full; the failed transaction rolled back whole."""

    exit_code = ExitCode.FAILED  # a runtime condition: free space and run again

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"the disk is full that holds the state database {path} — free space on it (or move "
            "[state] path to a disk with room) and run again; nothing already recorded was lost"
        )
        self.path = path


class JournalLocked(JournalError):
    """Another process held the state database's write lock for longer than busy_timeout."""

    exit_code = ExitCode.FAILED  # a runtime condition: the other process will let go

    def __init__(self, path: Path, waited_ms: int | None) -> None:
        waited = f" (waited {waited_ms / 1000:g} s)" if waited_ms else ""
        super().__init__(
            f"the state database {path} is locked by another process{waited} — stop the other "
            "syncd or tool using it (`syncd status` shows a running daemon), then retry"
        )
        self.path = path


class JournalNotWritable(JournalError):
    """The state database (or its directory) is on a read-only disk or not ours to write."""

    exit_code = ExitCode.USAGE  # a configuration problem

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"the state database {path} cannot be written ({why}) — {_FIX_WRITABLE}")
        self.path = path


def from_os_error(exc: OSError, path: Path) -> JournalError:
    """An OSError met while preparing the state database's files (its directory, the lock)."""
    why = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
        return JournalFull(path)
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return JournalNotWritable(path, why)
    return JournalError(f"cannot use the state database {path} ({why}) — {_FIX_WRITABLE}")


def from_operational_error(
    exc: Exception, path: Path, busy_timeout_ms: int | None
) -> JournalError | None:
    """The typed error for a full disk, a lock or a read-only file; None for anything else."""
    # SQLAlchemy's OperationalError wraps the driver's in ``orig`` (not imported here: the
    # read-only reader works without SQLAlchemy).
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(orig).lower()
    if primary == _SQLITE_FULL or "disk is full" in text:
        return JournalFull(path)
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED) or "database is locked" in text:
        return JournalLocked(path, busy_timeout_ms)
    if primary in (_SQLITE_READONLY, _SQLITE_PERM, _SQLITE_CANTOPEN) or "readonly" in text:
        return JournalNotWritable(path, str(orig))
    return None
