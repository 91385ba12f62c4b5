"""Streaming parse of a `file/upload` multipart body.

Starlette's `request.form()` would spool the file to a temporary file and we would copy it again;
instead the body is fed chunk by chunk to python-multipart's push parser and the `upload_file`
part goes straight into a blob while its MD5 is computed: constant memory for any size. Small
files (up to `INLINE_MAX`) are buffered and stored inside SQLite instead of as a file.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import IO

from python_multipart.multipart import MultipartParser, parse_options_header

from syncd.emulator.store import INLINE_MAX, BlobInfo, Store

UPLOAD_FIELD = "upload_file"
# Plain form fields are tiny (ids, tokens); bound them so a hostile body cannot fill memory.
_MAX_FIELD_BYTES = 64 * 1024


class MalformedUpload(ValueError):
    """The body is not a multipart/form-data body we can parse."""


def php_upload_basename(name: str) -> str:
    """What PHP keeps of an uploaded file's name: the part after the last `/` or `\\`
    (main/rfc1867.c `php_ap_basename`, which strips the client-side paths old browsers sent)."""
    return name[max(name.rfind("/"), name.rfind("\\")) + 1 :]


@dataclass
class ReceivedFile:
    filename: str
    content_type: str
    size: int = 0
    blob: str = ""
    md5: str = ""
    too_large: bool = False

    def blob_info(self) -> BlobInfo:
        return BlobInfo(self.blob, self.size, self.md5)


@dataclass
class ParsedUpload:
    fields: dict[str, str] = field(default_factory=dict)
    file: ReceivedFile | None = None


class _PartSink:
    """Collects one multipart body's parts; used as python-multipart callbacks."""

    def __init__(self, store: Store, max_file_size: int) -> None:
        self.store = store
        self.max_file_size = max_file_size
        self.result = ParsedUpload()
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._value: bytearray | None = None
        self._file: ReceivedFile | None = None
        self._out: IO[bytes] | None = None
        self._buffer: bytearray | None = None
        self._md5 = hashlib.md5()

    # header callbacks
    def on_part_begin(self) -> None:
        self._headers = {}
        self._name = ""
        self._value = None
        self._file = None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if filename is None:
            self._value = bytearray()
            return
        if self._name != UPLOAD_FIELD or self.result.file is not None:
            return  # another file field: drained and ignored, like PHP's unused $_FILES
        content_type = self._headers.get(b"content-type", b"application/octet-stream")
        self._file = ReceivedFile(
            filename=php_upload_basename(filename.decode("utf-8", "replace")),
            content_type=content_type.decode("latin-1").strip(),
        )
        self._buffer = bytearray()
        self._md5 = hashlib.md5()
        self.result.file = self._file

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._value is not None:
            if len(self._value) + (end - start) > _MAX_FIELD_BYTES:
                raise MalformedUpload(f"form field {self._name!r} is too large")
            self._value += data[start:end]
            return
        received = self._file
        if received is None:
            return
        received.size += end - start
        if received.too_large:
            return
        if received.size > self.max_file_size:
            # Keep reading (the client is still sending) but stop storing.
            received.too_large = True
            self._buffer = None
            if self._out is not None:
                self._close_output()
                self.store.discard_blob(received.blob)
            return
        chunk = data[start:end]
        self._md5.update(chunk)
        if self._buffer is not None:
            if len(self._buffer) + len(chunk) <= INLINE_MAX:
                self._buffer += chunk
                return
            # Too big to keep inline: spill to a blob file and stream from now on.
            received.blob, path = self.store.new_blob_path()
            self._out = open(path, "wb")  # noqa: SIM115 - closed in on_part_end / abort
            self._out.write(self._buffer)
            self._buffer = None
        assert self._out is not None
        self._out.write(chunk)

    def on_part_end(self) -> None:
        if self._value is not None:
            self.result.fields.setdefault(self._name, self._value.decode("utf-8", "replace"))
            self._value = None
        elif self._file is not None:
            self._close_output()
            if self._buffer:
                self._file.blob = self.store.put_inline(bytes(self._buffer))
            self._buffer = None
            self._file.md5 = self._md5.hexdigest()
            self._file = None

    def _close_output(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def abort(self) -> None:
        self._close_output()
        if self.result.file is not None and self.result.file.blob:
            self.store.discard_blob(self.result.file.blob)


async def receive_upload(
    content_type: str | None, body: AsyncIterator[bytes], store: Store, max_file_size: int
) -> ParsedUpload:
    """Parse the whole body; the uploaded file (if any) is already stored as a blob.

    The caller owns the blob from then on (discard it if the upload is refused).
    """
    ctype, options = parse_options_header(content_type or "")
    boundary = options.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        async for _ in body:  # drain: PHP would simply see no $_FILES
            pass
        return ParsedUpload()
    sink = _PartSink(store, max_file_size)
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": sink.on_part_begin,
            "on_part_data": sink.on_part_data,
            "on_part_end": sink.on_part_end,
            "on_header_field": sink.on_header_field,
            "on_header_value": sink.on_header_value,
            "on_header_end": sink.on_header_end,
            "on_headers_finished": sink.on_headers_finished,
        },
    )
    try:
        async for chunk in body:
            if chunk:
                parser.write(chunk)
        parser.finalize()
    except Exception as exc:
        sink.abort()
        if isinstance(exc, MalformedUpload):
            raise
        raise MalformedUpload(str(exc)) from exc
    received = sink.result.file
    if received is not None and (sink._out is not None or sink._buffer is not None):
        # Body ended inside the file part: the upload is incomplete.
        sink.abort()
        raise MalformedUpload("multipart body ended before the file part did")
    if received is not None and received.too_large:
        received.blob = ""
    return sink.result
