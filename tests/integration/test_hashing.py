"""syncd's MD5 of a file agrees with the coreutils ``md5sum`` run as a real process."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from syncd.local.hashing import CHUNK_SIZE, md5_file


@pytest.mark.skipif(shutil.which("md5sum") is None, reason="md5sum not installed")
def test_md5_file_matches_md5sum(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(2 * CHUNK_SIZE + 123))
    out = subprocess.run(["md5sum", str(path)], check=True, capture_output=True, text=True)
    assert md5_file(path) == out.stdout.split()[0]
