"""Local trees for tests: write ``{relative path: content}`` into a directory, read a directory
back as ``{relative path: md5}``, and the MD5 helpers both sides compare with.

Relative paths use ``/`` whatever the platform; ``str`` content is written as UTF-8.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path

CHUNK = 1 << 20


def md5_bytes(data: bytes | str) -> str:
    """Hex MD5 of ``data`` (``str`` as UTF-8): what the host reports for an upload of it."""
    return hashlib.md5(data.encode() if isinstance(data, str) else data).hexdigest()


def md5_file(path: Path) -> str:
    """Hex MD5 of the file at ``path``, read in 1 MiB chunks (trees may hold large files)."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_tree(root: Path, files: Mapping[str, bytes | str]) -> Path:
    """Write every ``files[rel]`` to ``root/rel``, making parent directories; returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
    return root


def md5_tree(root: Path, skip: Callable[[str], bool] | None = None) -> dict[str, str]:
    """``{'a/b.txt': md5}`` for every regular file under ``root``.

    Symlinks are neither followed nor listed, nor are other special files: a restore or a sync
    writes regular files only. ``skip(rel)`` leaves files out (directories end in ``/``).
    """
    result: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(d for d in dirnames if skip is None or not skip(f"{prefix}{d}/"))
        for name in sorted(filenames):
            rel = prefix + name
            path = Path(dirpath, name)
            try:
                regular = stat.S_ISREG(path.lstat().st_mode)
            except FileNotFoundError:  # removed while we walked: a live tree
                continue
            if regular and (skip is None or not skip(rel)):
                try:
                    result[rel] = md5_file(path)
                except FileNotFoundError:
                    continue
    return result
