"""A file-like body for httpx multipart that hashes and counts the bytes as they go out.

httpx streams a file-like ``upload_file`` in 64 KiB reads, so memory stays constant for any file
size. httpx seeks to 0 before rendering the body (and to the end to learn its length): a seek to
0 restarts the hash, so the digest always covers exactly the bytes of the last send.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from typing import BinaryIO


class HashingReader(io.RawIOBase):
    """Reads at most ``size`` bytes of ``raw`` (the size stat'ed before the send), hashing them."""

    def __init__(
        self, raw: BinaryIO, size: int, progress: Callable[[int], None] | None = None
    ) -> None:
        super().__init__()
        self._raw = raw
        self._size = size
        self._progress = progress
        self._pos = 0
        self._md5 = hashlib.md5()

    @property
    def bytes_sent(self) -> int:
        return self._pos

    def hexdigest(self) -> str:
        return self._md5.hexdigest()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_END:
            target = self._size + offset
        elif whence == os.SEEK_CUR:
            target = self._pos + offset
        else:
            target = offset
        if target == self._size and whence == os.SEEK_END:
            # httpx peeking at the length: nothing is read, keep the hash state.
            self._pos = target
            return target
        if target != 0:
            raise io.UnsupportedOperation("HashingReader only rewinds to the start")
        self._raw.seek(0)
        self._pos = 0
        self._md5 = hashlib.md5()
        return 0

    def read(self, size: int = -1) -> bytes:
        remaining = self._size - self._pos
        if remaining <= 0:
            return b""
        want = remaining if size is None or size < 0 else min(size, remaining)
        chunk = self._raw.read(want)
        if not chunk:
            # The file shrank after we stat'ed it: the body would be shorter than announced.
            raise FileChangedError("file shrank while uploading")
        self._pos += len(chunk)
        self._md5.update(chunk)
        if self._progress is not None:
            self._progress(self._pos)
        return chunk

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


class FileChangedError(OSError):
    """The local file changed size while it was being sent."""
