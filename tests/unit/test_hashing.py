"""MD5 helpers agree with hashlib (and, in tests/integration/test_hashing.py, with md5sum)."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from syncd.local.hashing import CHUNK_SIZE, HashingReader, Md5Accumulator, md5_file


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


def test_accumulator_counts_and_hashes() -> None:
    acc = Md5Accumulator()
    for chunk in (b"abc", bytearray(b"def"), memoryview(b"ghi")):
        acc.update(chunk)
    assert acc.size == 9
    assert acc.hexdigest() == hashlib.md5(b"abcdefghi").hexdigest()


def test_hashing_reader_read_readinto_and_rewind(tmp_path: Path) -> None:
    data = os.urandom(300_000)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    with HashingReader(open(path, "rb")) as reader:
        first = reader.read(1000)
        buf = bytearray(50_000)
        n = reader.readinto(buf)
        rest = reader.read()
        assert first + bytes(buf[:n]) + rest == data
        assert reader.size == len(data)
        assert reader.hexdigest() == hashlib.md5(data).hexdigest()
        reader.seek(0)  # an HTTP retry rewinds the body
        assert reader.size == 0
        assert reader.read() == data
        assert reader.hexdigest() == hashlib.md5(data).hexdigest()
        with pytest.raises(OSError):
            reader.seek(10)


def test_hashing_reader_over_bytesio() -> None:
    reader = HashingReader(io.BytesIO(b"hello"))
    assert reader.read(2) + reader.read(10) + reader.read(10) == b"hello"
    assert reader.hexdigest() == hashlib.md5(b"hello").hexdigest()


def test_hashing_reader_as_httpx_multipart_body(tmp_path: Path) -> None:
    httpx = pytest.importorskip("httpx")
    data = os.urandom(200_000)
    path = tmp_path / "upload.bin"
    path.write_bytes(data)
    with HashingReader(open(path, "rb")) as reader:
        request = httpx.Request(
            "POST",
            "http://127.0.0.1:9/api/v2/file/upload",
            files={"upload_file": ("u.bin", reader)},
        )
        body = request.read()
        assert data in body
        assert int(request.headers["Content-Length"]) == len(body)  # not chunked
        assert reader.size == len(data)
        assert reader.hexdigest() == hashlib.md5(data).hexdigest()
