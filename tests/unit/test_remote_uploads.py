"""HashingReader: what httpx streams is hashed, counted and capped; rewinds restart the hash.
The prebuilt body of small files is byte for byte what httpx streams."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import httpx
import pytest

from syncd.remote.uploads import (
    SMALL_UPLOAD_MAX,
    STREAM_CHUNK,
    UPLOAD_FIELD,
    FileChangedError,
    HashingReader,
    UploadBody,
    multipart_body,
    multipart_frame,
)


def test_hashes_what_is_read_and_reports_progress(tmp_path: Path) -> None:
    data = bytes(range(256)) * 1000
    path = tmp_path / "f"
    path.write_bytes(data)
    seen: list[int] = []
    with path.open("rb") as handle:
        reader = HashingReader(handle, len(data), seen.append)
        assert b"".join(iter(lambda: reader.read(65536), b"")) == data
    assert reader.hexdigest() == hashlib.md5(data).hexdigest()
    assert reader.bytes_sent == len(data) and seen[-1] == len(data)


def test_rewind_restarts_the_hash_and_length_peek_keeps_it() -> None:
    raw = io.BytesIO(b"abcdef")
    reader = HashingReader(raw, 6)
    reader.read(3)
    assert reader.seek(0, io.SEEK_END) == 6  # httpx peeking at the length
    assert reader.seek(0) == 0
    assert reader.read() == b"abcdef"
    assert reader.hexdigest() == hashlib.md5(b"abcdef").hexdigest()
    with pytest.raises(io.UnsupportedOperation):
        reader.seek(2)


def test_reads_no_more_than_the_stated_size() -> None:
    reader = HashingReader(io.BytesIO(b"0123456789"), 4)
    assert reader.read() == b"0123" and reader.read() == b""


def test_a_file_that_shrinks_is_an_error() -> None:
    reader = HashingReader(io.BytesIO(b"01"), 4)
    reader.read(2)
    with pytest.raises(FileChangedError):
        reader.read(2)


def test_httpx_multipart_streams_it_with_a_content_length() -> None:
    data = b"x" * 200_000
    reader = HashingReader(io.BytesIO(data), len(data))
    request = httpx.Request(
        "POST", "http://127.0.0.1/", data={"a": "1"}, files={"upload_file": ("n", reader)}
    )
    assert int(request.headers["content-length"]) > len(data)
    body = b"".join(request.stream)  # type: ignore[union-attr]
    assert data in body
    assert reader.hexdigest() == hashlib.md5(data).hexdigest()


@pytest.mark.parametrize(
    "filename",
    ["plain.txt", 'quote".txt', "back\\slash.txt", "new\nline\r.txt", "tab\t\x1b.txt", "été.txt"],
)
def test_prebuilt_multipart_body_is_what_httpx_streams(filename: str) -> None:
    fields = {"access_token": "t" * 64, "account_id": "7", "folder_id": "12", "ünï": 'v"\\'}
    content = bytes(range(256)) * 3
    body, content_type = multipart_body(
        fields, filename, content, "application/octet-stream", boundary=b"fixedboundary"
    )
    request = httpx.Request(
        "POST",
        "http://127.0.0.1/api/v2/file/upload",
        data=fields,
        files={UPLOAD_FIELD: (filename, content, "application/octet-stream")},
        extensions={},
        headers={"Content-Type": "multipart/form-data; boundary=fixedboundary"},
    )
    assert body == request.read()
    assert content_type == "multipart/form-data; boundary=fixedboundary"


def test_small_files_are_read_whole_and_large_ones_streamed(tmp_path: Path) -> None:
    small, large = tmp_path / "small", tmp_path / "large"
    small.write_bytes(b"x" * 1000)
    large.write_bytes(b"y" * (SMALL_UPLOAD_MAX + 1))
    seen: list[int] = []
    body = UploadBody.open(small, "s", "application/octet-stream", seen.append)
    assert body.content == b"x" * 1000 and body.reader is None and seen == [1000]
    assert body.hexdigest() == hashlib.md5(b"x" * 1000).hexdigest() and body.bytes_sent == 1000
    body.close()
    body = UploadBody.open(large, "l", "application/octet-stream")
    assert body.content is None and body.reader is not None and body.to_close
    body.close()
    assert all(handle.closed for handle in body.to_close)


def test_a_streamed_body_is_the_prebuilt_body_in_pieces(tmp_path: Path) -> None:
    data = bytes(range(256)) * (2 * STREAM_CHUNK // 256) + b"tail"
    path = tmp_path / "large"
    path.write_bytes(data)
    fields = {"access_token": "t", "folder_id": "3"}
    prefix, suffix, _ = multipart_frame(fields, "l.bin", "application/octet-stream", boundary=b"b")
    seen: list[int] = []
    body = UploadBody.open(path, "l.bin", "application/octet-stream", seen.append)
    pieces = list(body.stream(prefix, suffix))
    body.close()
    whole, _ = multipart_body(fields, "l.bin", data, "application/octet-stream", boundary=b"b")
    assert b"".join(pieces) == whole and len(pieces) == 5  # prefix, 3 pieces, suffix
    assert body.size == len(data) and seen[-1] == len(data)
    assert body.hexdigest() == hashlib.md5(data).hexdigest()
