"""One writer process per state database: an fcntl lock on a file next to the database.

Held by `syncd run` for its lifetime and by `reconcile`/`restore` while they write; it lives with
the journal so the engine can take it without importing the daemon (imports point one way).

The lock is held for the life of the process and released by the kernel if the process dies,
so a crash never leaves a stale lock behind (unlike a pid file checked by hand).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from syncd.errors import ExitCode, UserError
from syncd.journal.errors import from_os_error


class AlreadyRunning(UserError):
    """Another process holds the lock; ``holder_pid`` is what it wrote into the file, if known.

    A UserError with exit code 2: the CLI prints it as one line, and systemd does not restart.
    """

    exit_code = ExitCode.USAGE

    def __init__(self, lock_path: Path, holder_pid: int | None) -> None:
        who = f" (pid {holder_pid})" if holder_pid else ""
        super().__init__(
            f"another syncd process{who} is already running on this state database "
            f"(lock {lock_path}); stop it first or point [state] path elsewhere"
        )
        self.lock_path = lock_path
        self.holder_pid = holder_pid


def lock_path_for(state_db: Path) -> Path:
    return state_db.with_name(state_db.name + ".lock")


class StateLock:
    """Exclusive, non-blocking lock on ``<state db>.lock``; holds the owner's pid for messages."""

    def __init__(self, state_db: Path) -> None:
        self.state_db = Path(state_db)
        self.path = lock_path_for(self.state_db)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise AlreadyRunning; a read-only or full disk is a JournalError
        naming the state database (one line for the CLI, not a traceback)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise from_os_error(exc, self.state_db) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise AlreadyRunning(self.path, holder) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as exc:  # e.g. a full disk: no pid for messages is no reason to go on
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
            raise from_os_error(exc, self.state_db) from exc
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        # Leave the file in place: unlinking a lock file races with a starting daemon.
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
