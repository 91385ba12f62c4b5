"""Plain rows of the journal, shared with the planner (no I/O, no SQLAlchemy here)."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Intent:
    """A remote mutation that was about to be made; cleared with its outcome."""

    id: int
    pair_id: int
    kind: str  # "upload", "create_folder", "edit", "trash"
    folder_id: int | None
    name: str | None
    size: int | None
    target_id: int | None
    created_at: float


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
