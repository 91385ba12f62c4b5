"""The YetiShare API v2 client. INTERFACE DRAFT: the remote-client helper implements these.

One instance per process, shared by all threads. Knows HTTP, tokens, retries and the host's quirks;
knows nothing of syncing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from syncd.remote.models import (
    AccountInfo,
    AccountPackage,
    CopyResult,
    DownloadLink,
    FolderListing,
    RemoteFile,
    RemoteFolder,
    UploadResult,
)


@dataclass(frozen=True)
class Credentials:
    """key1/key2 API keys, or username/password for hosts configured that way. Never printed."""

    key1: str | None = field(default=None, repr=False)
    key2: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)


class RemoteClient:
    def __init__(
        self,
        api_url: str,
        credentials: Credentials,
        *,
        allow_insecure_http: bool = False,
        verify_tls: bool = True,
        timeout: float = 30.0,
        max_retry_time: float = 120.0,
        max_connections: int = 32,
    ) -> None: ...

    # lifecycle
    def close(self) -> None: ...  # disables the token (best effort), closes the pool
    def __enter__(self) -> RemoteClient: ...
    def __exit__(self, *exc: object) -> None: ...

    # auth
    def authorize(self) -> None: ...
    def disable_access_token(self) -> None: ...

    # account
    def account_info(self) -> AccountInfo: ...
    def account_package(self) -> AccountPackage: ...

    # files
    def upload_file(
        self,
        path: Path,
        folder_id: int | None,
        *,
        filename: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> UploadResult: ...
    def file_download(self, file_id: int) -> DownloadLink: ...
    def iter_download(self, link: DownloadLink, chunk_size: int = 1 << 20) -> Iterator[bytes]: ...
    def download_to(self, file_id: int, dest: BinaryIO) -> str: ...  # returns MD5 hex
    def file_info(self, file_id: int) -> RemoteFile: ...
    def file_edit(
        self,
        file_id: int,
        *,
        filename: str | None = None,
        file_type: str | None = None,
        folder_id: int | None = None,
    ) -> RemoteFile: ...
    def file_delete(self, file_id: int) -> RemoteFile: ...
    def file_move(self, file_id: int, new_parent_folder_id: int | None) -> RemoteFile: ...
    def file_copy(self, file_id: int, copy_to_folder_id: int | None) -> CopyResult: ...

    # folders
    def folder_create(
        self,
        folder_name: str,
        parent_id: int | None = None,
        *,
        is_public: int = 0,
        access_password: str | None = None,
    ) -> RemoteFolder: ...
    def folder_listing(self, parent_folder_id: int | None) -> FolderListing: ...
    def folder_info(self, folder_id: int) -> RemoteFolder: ...
    def folder_edit(
        self,
        folder_id: int,
        *,
        folder_name: str | None = None,
        parent_id: int | None = None,
        is_public: int | None = None,
        access_password: str | None = None,
    ) -> RemoteFolder: ...
    def folder_delete(self, folder_id: int) -> None: ...
    def folder_move(self, folder_id: int, new_parent_folder_id: int | None) -> RemoteFolder: ...
