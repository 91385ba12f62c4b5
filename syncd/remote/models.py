"""Typed results of the host's answers.

The host sends every number as a string and absent values as null; these types hold ints,
datetimes and None. Parsing lives in :func:`from_api` constructors so the client and tests share it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def parse_int(value: Any) -> int | None:
    """'125' -> 125; None/''/non-numeric -> None."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse_datetime(value: Any) -> datetime | None:
    """'Y-m-d H:i:s' in UTC -> aware datetime; null, '' and '0000-00-00 00:00:00' -> None."""
    if not value or not isinstance(value, str) or value.startswith("0000-00-00"):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class AccountInfo:
    id: int
    username: str
    level_id: int | None
    email: str | None
    status: str | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class AccountPackage:
    id: int | None
    label: str
    max_upload_size: int  # bytes; 0 = no limit
    concurrent_uploads: int  # 0 = no limit stated
    can_upload: bool
    max_storage_bytes: int  # 0 = unlimited
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class RemoteFile:
    """A file row from folder/listing, file/info, file/edit, file/move, file/delete."""

    id: int
    name: str
    size: int
    folder_id: int | None  # None = account root
    status: str  # "active", "trash", ...
    short_url: str | None = None
    file_type: str | None = None
    url: str | None = None
    uploaded_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class UploadResult:
    file_id: int
    name: str  # the name the host stored
    size: int
    md5: str  # the host's `hash`, already compared with what was sent
    short_url: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class RemoteFolder:
    id: int
    parent_id: int | None  # None = account root
    name: str
    is_public: int = 0
    total_size: int | None = None
    file_count: int | None = None
    child_folder_count: int | None = None
    date_added: datetime | None = None
    date_updated: datetime | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class FolderListing:
    folders: list[RemoteFolder]
    files: list[RemoteFile]


@dataclass(frozen=True, slots=True)
class DownloadLink:
    file_id: int
    filename: str
    # The URL carries a download token: keep it out of reprs and logs.
    url: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class CopyResult:
    original: RemoteFile
    new: RemoteFile
