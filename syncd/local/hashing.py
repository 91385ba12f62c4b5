"""MD5 of local files, as fast as `md5sum`.

The host reports the MD5 of what it stored (`hash` in the `file/upload` answer), so MD5 is the one
content hash the sync needs. Speed comes from large reads into one reusable buffer (no per-chunk
`bytes` objects) and from hashlib releasing the GIL for large updates, so several files can be
hashed in parallel threads.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from typing import BinaryIO

# 1 MiB: large enough that syscall and Python overhead vanish next to hashing, small enough to stay
# in L2/L3 cache. Measured: 256 KiB–4 MiB are all within noise of each other.
CHUNK_SIZE = 1 << 20


def md5_file(path: str | os.PathLike[str], *, chunk_size: int = CHUNK_SIZE) -> str:
    """Return the lowercase hex MD5 of the file at `path`.

    Raises OSError (FileNotFoundError, PermissionError, ...) like `open`; the caller decides what a
    vanished or unreadable file means. Symlinks are followed, as `open` does: the scanner has
    already decided which paths are safe to read.
    """
    digest = hashlib.md5(usedforsecurity=False)
    buffer = bytearray(chunk_size)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as f:
        _advise_sequential(f.fileno())
        readinto = f.readinto
        update = digest.update
        while True:
            n = readinto(view)
            if not n:
                break
            update(view[:n] if n < chunk_size else view)
    return digest.hexdigest()


def _advise_sequential(fd: int) -> None:
    # Lets the kernel read ahead more aggressively; harmless where unsupported.
    fadvise = getattr(os, "posix_fadvise", None)
    if fadvise is not None:
        with contextlib.suppress(OSError):
            fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)


class Md5Accumulator:
    """Incremental MD5 for bytes that pass through anyway (e.g. an upload body being sent).

    `update()` every chunk, then `hexdigest()`; `size` counts the bytes seen so the caller can
    check that what was sent matches what was stat'ed.
    """

    __slots__ = ("_digest", "size")

    def __init__(self) -> None:
        self._digest = hashlib.md5(usedforsecurity=False)
        self.size = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._digest.update(data)
        self.size += len(data)

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


class HashingReader:
    """A read-only binary file wrapper that computes the MD5 of everything read through it.

    Give it to an HTTP client as the upload body: the MD5 is known the moment the last byte has
    gone out, without reading the file twice. Only forward reads are supported; `seek(0)` (an
    HTTP library rewinding before a retry) restarts the digest.
    """

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._acc = Md5Accumulator()

    @property
    def size(self) -> int:
        """Bytes read so far."""
        return self._acc.size

    def hexdigest(self) -> str:
        return self._acc.hexdigest()

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        if data:
            self._acc.update(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        if n:
            self._acc.update(memoryview(buffer)[:n])
        return n

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if offset != 0 or whence != os.SEEK_SET:
            raise OSError("HashingReader can only rewind to the start")
        self._acc = Md5Accumulator()
        return self._raw.seek(0)

    def tell(self) -> int:
        return self._raw.tell()

    def fileno(self) -> int:
        # Lets HTTP clients fstat the size and send Content-Length instead of chunked bodies.
        return self._raw.fileno()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._raw.seekable()

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> HashingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
