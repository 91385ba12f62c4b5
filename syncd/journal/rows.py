"""Plain rows of the journal, shared with the planner (no I/O, no SQLAlchemy here)."""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from typing import NamedTuple

# status of a file or directory row
SYNCED = 0
SKIPPED = 1  # refused for a stated reason; retried only when the local file changes
FAILED = 2  # an operation failed after the client's retries; retried on the next pass

STATUS_NAMES = {SYNCED: "synced", SKIPPED: "skipped", FAILED: "failed"}

ACCOUNT_ROOT = 0  # folder_id stored for the account's root folder


def api_folder_id(folder_id: int | None) -> int | None:
    """The journal's folder id as the client takes it: None for the account root."""
    return None if folder_id in (None, ACCOUNT_ROOT) else folder_id


class FileRow(NamedTuple):
    """The last state both sides agreed on for one file (or why they could not agree).

    A NamedTuple, not a frozen dataclass: a pass builds one per tracked file, and a tuple is
    built about five times faster (it was a tenth of a no-op pass's CPU)."""

    dir_id: int
    name: str
    size: int
    mtime_ns: int
    inode: int
    md5: bytes | None = None
    file_id: int | None = None  # None: nothing uploaded (skipped, failed)
    remote_name: str | None = None  # None: the host stored ``name`` unchanged
    remote_size: int | None = None
    status: int = SYNCED
    reason: str | None = None
    # An encrypted upload's nonce; ``md5`` is then its ciphertext's (migration 0007).
    nonce: bytes | None = None

    @property
    def stored_name(self) -> str:
        """The name the host holds for this file."""
        return self.remote_name if self.remote_name is not None else self.name

    @property
    def md5_hex(self) -> str | None:
        return self.md5.hex() if self.md5 is not None else None


class DirRow(NamedTuple):
    id: int
    pair_id: int
    parent_id: int | None
    name: str
    inode: int | None
    folder_id: int | None  # ACCOUNT_ROOT (0) for the account root; None: no folder (skipped)
    remote_name: str | None = None
    status: int = SYNCED
    reason: str | None = None

    @property
    def stored_name(self) -> str:
        return self.remote_name if self.remote_name is not None else self.name


@dataclass(frozen=True, slots=True)
class PairRow:
    id: int
    name: str
    local_root: str
    remote_path: str
    device: int | None
    root_dir_id: int
    root_folder_id: int | None  # None: not resolved yet


def now_to_the_us() -> int:
    """Now, in ns, cut to the microsecond: what an intent's ``created_at`` (a float of
    seconds) carries back exactly as ``Intent.created_ns``."""
    return time.time_ns() // 1000 * 1000


@dataclass(frozen=True, slots=True)
class Intent:
    """A remote mutation that was about to be made; cleared with its outcome."""

    id: int
    pair_id: int
    kind: str  # "upload", "create_folder", "edit", "trash"; versioning's: "version",
    # "version_folder", "retire" (syncd.engine.versioning)
    folder_id: int | None
    name: str | None
    size: int | None
    target_id: int | None
    created_at: float
    inode: int | None = None  # an upload's: the local file it sends (migration 0006)

    @property
    def created_ns(self) -> int:
        """``created_at`` in ns, to the microsecond: exact for an intent written with
        ``created_at=seconds(ns)`` of a microsecond-aligned ``ns`` (a float holds the seconds
        since the epoch to about a quarter microsecond)."""
        return round(self.created_at * 1e6) * 1000


@dataclass(frozen=True, slots=True)
class RunRow:
    id: int
    pair_name: str
    kind: str
    started_at: float
    ended_at: float | None
    result: str | None
    dry_run: bool
    counts: dict[str, int]
    error: str | None


@dataclass(frozen=True, slots=True)
class Problem:
    """A skipped or failed path, for ``syncd status``."""

    path: str
    kind: str  # "file" | "dir"
    status: str  # "skipped" | "failed"
    reason: str


@dataclass(frozen=True, slots=True)
class HeldDeletion:
    """A deletion a guard held back (``held_deletions`` table): carried out only once the user
    approves it (`syncd approve`), and only as held: the same op, path and remote id."""

    kind: str  # the op's kind: "trash_file", "trash_folder", "forget_file", "forget_dir"
    rel: str
    target_id: int  # the remote file or folder id (the journal's dir id for forget_dir); -1
    files: int  # files it removes (a folder counts its files)
    held_at: float
    reason: str  # the guard's message
    approved_at: float | None = None

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.kind, self.rel, self.target_id)

    def describe(self) -> str:
        what = {
            "trash_file": f"trash {self.rel} (id {self.target_id})",
            "trash_folder": f"trash {self.rel}/ (folder id {self.target_id}, {self.files} files)",
            "forget_file": f"forget {self.rel} (the remote copy stays)",
            "forget_dir": f"forget {self.rel}/ (the remote copy stays)",
        }
        return what.get(self.kind, f"{self.kind} {self.rel}")


@dataclass(frozen=True, slots=True)
class DaemonStatus:
    """What a running daemon publishes per pair (``daemon_status`` table, JSON in ``state``),
    rewritten at least every ``HEARTBEAT`` seconds; read by `syncd status` and `syncd health`.

    The record is the daemon's own word: a daemon that was SIGKILLed or lost power still says
    ``running``. :meth:`alive` judges it from outside (pid, age)."""

    HEARTBEAT = 60.0  # the daemon rewrites its record at least this often
    STALE_AFTER = 180.0  # older than this (three missed heartbeats), the daemon is not running

    pid: int
    running: bool
    up_to_date: bool = False
    queue_length: int = 0
    full_pending: bool = False
    busy: str | None = None  # "full" | "incremental" while a pass runs
    in_flight: int = 0
    last_full_reconcile: float | None = None  # unix times
    last_pass: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    consecutive_failures: int = 0
    next_retry_in: float | None = None
    passes: dict[str, int] | None = None
    # Set while passes cannot succeed until something outside changes (refused credentials), or
    # the pair made no progress for [daemon] stall_after: unix time since when, why, what to do.
    stalled_since: float | None = None
    stall_reason: str | None = None
    advice: str | None = None
    failing_since: float | None = None  # the first of the failed passes in a row
    held: int = 0  # deletions a guard holds (listed from the journal by `syncd status`)
    held_since: float | None = None
    updated_at: float = 0.0  # when the record was written (the table's column)

    def to_json(self) -> dict[str, object]:
        """The stored form (``updated_at`` lives in its own column)."""
        out = {
            _STORED_AS.get(f.name, f.name): getattr(self, f.name)
            for f in fields(self)
            if f.name != "updated_at"
        }
        out["passes"] = dict(self.passes or {})
        return out

    @classmethod
    def from_json(cls, data: dict[str, object], updated_at: float) -> DaemonStatus:
        """The stored form read back; a value of the wrong type (a record written by another
        version of syncd) reads as the field's empty value, never as an error."""
        values = {
            f.name: _coerce(str(f.type), data.get(_STORED_AS.get(f.name, f.name)))
            for f in fields(cls)
            if f.name != "updated_at"
        }
        return cls(**values, updated_at=updated_at)  # type: ignore[arg-type]

    def alive(self, now: float, pid_alive: bool) -> bool:
        """Running by its own word, its process exists, and its heartbeat is recent."""
        return self.running and pid_alive and now - self.updated_at < self.STALE_AFTER


# Stored keys that differ from the field names (the format `syncd status` has always read).
_STORED_AS = {"pid": "daemon_pid", "running": "daemon_running"}


def _coerce(annotation: str, value: object) -> object:
    """``value`` as the field annotated ``annotation`` holds it (see DaemonStatus.from_json)."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if annotation == "bool":
        return bool(value)
    if annotation == "int":
        return int(value) if number else 0  # type: ignore[arg-type]
    if annotation.startswith("float"):
        return float(value) if number else None  # type: ignore[arg-type]
    if annotation.startswith("str"):
        return value if isinstance(value, str) else None
    if annotation.startswith("dict"):
        return dict(value) if isinstance(value, dict) else {}
    raise TypeError(f"DaemonStatus has a field of a type _coerce does not know: {annotation}")
