"""Tiny tmpfs mounts for full-disk and read-only-disk tests (root only: skip otherwise)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def tiny_tmpfs(size: str = "256k") -> Iterator[Path]:
    """A fresh tmpfs of ``size``; unmounted (lazily, in case a file is still open) afterwards."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    mountpoint = Path("/tmp") / f"syncd-tmpfs-{uuid.uuid4().hex[:12]}"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mountpoint)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        mountpoint.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)
        with contextlib.suppress(OSError):
            mountpoint.rmdir()


def remount_read_only(mountpoint: Path) -> None:
    """Make a :func:`tiny_tmpfs` read-only in place (what a failing disk does)."""
    subprocess.run(["mount", "-o", "remount,ro", str(mountpoint)], check=True)
