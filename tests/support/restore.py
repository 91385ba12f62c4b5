"""Shared helpers of the restore and verify tests (no tests here).

Remote trees are built through the real client (folder/create, file/upload) or through the
emulator's admin drift API for names no client could create.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from tests.support.config import write_config


def upload_tree(client: Any, local: Path, parent_id: int | None) -> dict[str, int]:
    """Mirror ``local`` under remote folder ``parent_id`` through the client; {rel: file_id}."""
    ids: dict[str, int] = {}

    def walk(directory: Path, folder_id: int | None, prefix: str) -> None:
        for entry in sorted(directory.iterdir()):
            rel = f"{prefix}{entry.name}"
            if entry.is_dir():
                folder = client.folder_create(entry.name, folder_id)
                walk(entry, folder.id, rel + "/")
            else:
                ids[rel] = client.upload_file(entry, folder_id).file_id

    walk(local, parent_id, "")
    return ids


def add_folder(admin: Any, parent_id: int | None, name: str) -> int:
    return int(admin.drift("add_folder", parent_id=parent_id, name=name)["id"])


def add_file(admin: Any, folder_id: int | None, name: str, data: bytes) -> int:
    content = base64.b64encode(data).decode()
    return int(admin.drift("add_file", folder_id=folder_id, name=name, content_b64=content)["id"])


def restore_config(
    path: Path,
    api_url: str,
    state: Path,
    pairs: dict[str, tuple[Path, str]] | None = None,
    workers: int = 4,
) -> Path:
    """A config for the restore and verify tests; retries give up after 10 s, so a test against
    a faulty host fails rather than waits for syncd's default two minutes."""
    return write_config(
        path,
        api_url=api_url,
        state=state,
        pairs=pairs or {},
        remote={"max_retry_time": 10.0},
        sync={"workers": workers},
    )
