"""MD5 helpers agree with hashlib (and, in tests/integration/test_hashing.py, with md5sum)."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from syncd.local.hashing import CHUNK_SIZE, md5_at, md5_file, md5_stream


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 7]
)
def test_md5_file_matches_hashlib(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert md5_file(path) == hashlib.md5(data).hexdigest()


def test_md5_file_small_chunks(tmp_path: Path) -> None:
    data = os.urandom(100_000)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert md5_file(path, chunk_size=4096) == hashlib.md5(data).hexdigest()


def test_md5_file_missing_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        md5_file(tmp_path / "nope")


def test_md5_file_no_follow_refuses_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "target.bin"
    target.write_bytes(b"content")
    link = tmp_path / "link.bin"
    link.symlink_to(target)
    assert md5_file(link) == hashlib.md5(b"content").hexdigest()
    with pytest.raises(OSError):
        md5_file(link, follow_symlinks=False)


def test_md5_at_hashes_inside_a_directory_fd_and_refuses_symlinks(tmp_path: Path) -> None:
    data = os.urandom(CHUNK_SIZE + 5)
    (tmp_path / "f.bin").write_bytes(data)
    (tmp_path / "link").symlink_to(tmp_path / "f.bin")
    dir_fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert md5_at(dir_fd, "f.bin") == hashlib.md5(data).hexdigest()
        with pytest.raises(OSError):
            md5_at(dir_fd, "link")
        with pytest.raises(FileNotFoundError):
            md5_at(dir_fd, "nope")
    finally:
        os.close(dir_fd)


class _ReadOnly:
    """A reader with ``read`` but no ``readinto`` (e.g. a decompressing stream)."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def read(self, n: int = -1) -> bytes:
        return self._inner.read(n)


def test_md5_stream_from_the_current_position(tmp_path: Path) -> None:
    data = os.urandom(3 * 4096 + 1)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    with open(path, "rb") as f:
        f.seek(10)
        assert md5_stream(f, chunk_size=4096) == hashlib.md5(data[10:]).hexdigest()
    assert md5_stream(io.BytesIO(data)) == hashlib.md5(data).hexdigest()
    assert md5_stream(_ReadOnly(data), chunk_size=4096) == hashlib.md5(data).hexdigest()  # type: ignore[arg-type]
