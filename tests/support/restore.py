"""Shared helpers of the restore and verify tests (no tests here).

Remote trees are built through the real client (folder/create, file/upload) or through the
emulator's admin drift API for names no client could create.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

from syncd.emulator import DEMO_KEY1, DEMO_KEY2
from tests.support.daemon import wait_for  # noqa: F401  (re-exported)

REPO = Path(__file__).resolve().parents[2]


def md5_tree(root: Path) -> dict[str, str]:
    """{'a/b.txt': md5} for every regular file under ``root`` (symlinks not followed)."""
    result: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            path = Path(dirpath, name)
            if stat.S_ISREG(path.lstat().st_mode):
                rel = path.relative_to(root).as_posix()
                result[rel] = hashlib.md5(path.read_bytes()).hexdigest()
    return result


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


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


def write_config(
    path: Path,
    api_url: str,
    state: Path,
    pairs: dict[str, tuple[Path, str]] | None = None,
    workers: int = 4,
) -> Path:
    lines = [
        "[remote]",
        f'api_url = "{api_url}"',
        f'key1 = "{DEMO_KEY1}"',
        f'key2 = "{DEMO_KEY2}"',
        "max_retry_time = 10",
        "",
        "[state]",
        f'path = "{state}"',
        "",
        "[sync]",
        f"workers = {workers}",
        "",
    ]
    for name, (local, remote) in (pairs or {}).items():
        lines += ["[[pairs]]", f'name = "{name}"', f'local = "{local}"', f'remote = "{remote}"', ""]
    path.write_text("\n".join(lines))
    path.chmod(0o600)
    return path


def syncd_command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "syncd", "--config", str(config), *args]


def run_syncd(config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
    return subprocess.run(
        syncd_command(config, *args),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
