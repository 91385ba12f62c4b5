"""What one ``file/upload`` attempt sends: a prebuilt body for small files, a stream otherwise.

Small files (up to :data:`SMALL_UPLOAD_MAX`) are read whole, hashed with one call and sent as
one prebuilt multipart body (:func:`multipart_body`): httpx's streaming multipart would cost a
dozen socket writes and most of a millisecond of CPU per file, which is what a bulk upload of
small files spends its time on.

Larger files stream in 1 MiB pieces between the same multipart framing (:func:`multipart_frame`)
with a Content-Length, read through :class:`HashingReader` so the MD5 covers exactly the bytes
sent: constant memory for any size, and a sixteenth of the per-piece Python work of httpx's own
multipart streaming (64 KiB pieces). :class:`HashingReader` also works as an httpx file-like
(httpx seeks to 0 before rendering and to the end to learn the length; a seek to 0 restarts the
hash).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

# Files up to this size are sent as one prebuilt body (16 workers hold at most 4 MiB of them).
SMALL_UPLOAD_MAX = 256 * 1024
# Larger files are read and sent in pieces of this size.
STREAM_CHUNK = 1 << 20
UPLOAD_FIELD = "upload_file"

# Multipart parameter escaping exactly as httpx (and browsers, per HTML5) do it: the host sees
# the same bytes whichever way a file is sent. tests/unit/test_remote_uploads.py compares.
_FORM_ESCAPES = {'"': "%22", "\\": "\\\\"}
_FORM_ESCAPES.update({chr(c): f"%{c:02X}" for c in range(0x20) if c != 0x1B})
_FORM_ESCAPE_RE = re.compile("|".join(re.escape(c) for c in _FORM_ESCAPES))


def _form_param(name: str, value: str) -> str:
    return f'{name}="{_FORM_ESCAPE_RE.sub(lambda m: _FORM_ESCAPES[m.group(0)], value)}"'


def multipart_body(
    fields: dict[str, str],
    filename: str,
    content: bytes,
    content_type: str,
    *,
    boundary: bytes | None = None,
) -> tuple[bytes, str]:
    """The whole multipart/form-data body (the fields, then ``upload_file``) and its
    Content-Type header, byte for byte what httpx would stream for ``data=`` and ``files=``."""
    prefix, suffix, header = multipart_frame(fields, filename, content_type, boundary=boundary)
    return b"".join((prefix, content, suffix)), header


def multipart_frame(
    fields: dict[str, str],
    filename: str,
    content_type: str,
    *,
    boundary: bytes | None = None,
) -> tuple[bytes, bytes, str]:
    """What goes before and after the file's bytes in :func:`multipart_body`, and the
    Content-Type header."""
    boundary = boundary or os.urandom(16).hex().encode("ascii")
    dash = b"--" + boundary + b"\r\n"
    parts: list[bytes] = []
    for name, value in fields.items():
        parts += (
            dash,
            f"Content-Disposition: form-data; {_form_param('name', name)}\r\n\r\n".encode(),
            value.encode(),
            b"\r\n",
        )
    parts += (
        dash,
        (
            f"Content-Disposition: form-data; {_form_param('name', UPLOAD_FIELD)}; "
            f"{_form_param('filename', filename)}\r\nContent-Type: {content_type}\r\n\r\n"
        ).encode(),
    )
    suffix = b"\r\n--" + boundary + b"--\r\n"
    return b"".join(parts), suffix, f"multipart/form-data; boundary={boundary.decode('ascii')}"


@dataclass
class UploadBody:
    """One attempt's file: ``content`` (small, read and hashed already) or ``reader`` (streamed
    by :meth:`stream`, hashed as it goes). Close it after the attempt."""

    filename: str
    content_type: str
    content: bytes | None = None
    reader: HashingReader | None = None
    to_close: list[BinaryIO] = field(default_factory=list)
    _md5: str = ""

    @classmethod
    def open(
        cls,
        path: Path,
        filename: str,
        content_type: str,
        progress: Callable[[int], None] | None = None,
    ) -> UploadBody:
        handle = path.open("rb", buffering=0)
        try:
            size = os.fstat(handle.fileno()).st_size
            if size > SMALL_UPLOAD_MAX:
                reader = HashingReader(handle, size, progress)
                return cls(filename, content_type, reader=reader, to_close=[handle])
            content = handle.read(size)
            while len(content) < size:  # a short read is not yet the end of a regular file
                more = handle.read(size - len(content))
                if not more:
                    raise FileChangedError("file shrank while uploading")
                content += more
        except BaseException:
            handle.close()
            raise
        handle.close()
        if progress is not None:
            progress(size)
        md5 = hashlib.md5(content, usedforsecurity=False).hexdigest()
        return cls(filename, content_type, content=content, _md5=md5)

    @property
    def size(self) -> int:
        """The bytes of the file that will be sent (as stat'ed when opened)."""
        if self.reader is not None:
            return self.reader.size
        return len(self.content or b"")

    def stream(self, prefix: bytes, suffix: bytes) -> Iterator[bytes]:
        """``prefix``, the file in STREAM_CHUNK pieces, ``suffix``: a streamed body."""
        assert self.reader is not None
        yield prefix
        read = self.reader.read
        while chunk := read(STREAM_CHUNK):
            yield chunk
        yield suffix

    @property
    def bytes_sent(self) -> int:
        return self.reader.bytes_sent if self.reader is not None else len(self.content or b"")

    def hexdigest(self) -> str:
        return self.reader.hexdigest() if self.reader is not None else self._md5

    def close(self) -> None:
        for handle in self.to_close:
            handle.close()


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

    @property
    def size(self) -> int:
        return self._size

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
