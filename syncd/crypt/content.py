"""File contents in rclone's crypt format: header, then 64 KiB secretbox blocks.

Layout::

    "RCLONE\\x00\\x00"  8 bytes of magic
    nonce              24 bytes, random per file (os.urandom)
    block 0            16-byte Poly1305 tag + up to 65536 bytes of XSalsa20 ciphertext
    block 1            ... sealed with nonce + 1
    ...                the last block holds the rest (1..65536 bytes); none for an empty file

Each block is NaCl ``secretbox`` (XSalsa20-Poly1305) under the data key, with the file nonce
plus the block index, the nonce read as a 192-bit little-endian counter (rclone's
``nonce.increment``). An empty file is the 32-byte header alone. Every block is authenticated:
a wrong key, a changed byte, a reordered or a dropped block fails (:class:`ContentAuthError`);
a file cut inside a block fails too (:class:`TruncatedContentError`). A file cut exactly at a
block boundary is not detected (nor is it by rclone): compare the size with the listing's.

The readers and writers here keep one block in memory whatever the file size;
:class:`BlockSealer` seals whole pieces into buffers the caller owns and reuses (uploads).
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
from collections.abc import Callable
from typing import Any, BinaryIO, NamedTuple

from syncd.crypt.errors import (
    ContentAuthError,
    NotEncryptedContentError,
    SourceChangedError,
    TruncatedContentError,
)

FILE_MAGIC = b"RCLONE\x00\x00"
NONCE_SIZE = 24
HEADER_SIZE = len(FILE_MAGIC) + NONCE_SIZE  # 32
BLOCK_HEADER_SIZE = 16  # Poly1305 tag (secretbox overhead)
BLOCK_DATA_SIZE = 64 * 1024
BLOCK_SIZE = BLOCK_HEADER_SIZE + BLOCK_DATA_SIZE  # 65552

NonceSource = Callable[[int], bytes]
_NONCE_MOD = 1 << (8 * NONCE_SIZE)


class _Sodium(NamedTuple):
    seal: Callable[[bytes, bytes, bytes], bytes]  # crypto_secretbox_easy
    open: Callable[[bytes, bytes, bytes], bytes]  # crypto_secretbox_open
    error: type[Exception]  # what both raise
    ffi: Any  # PyNaCl's own cffi module (private, in every 1.x): see BlockSealer
    lib: Any  # None for a PyNaCl without it: the public call, and a copy


@functools.cache
def _sodium() -> _Sodium:
    """PyNaCl, loaded by the first file sealed or opened, not with this module: with
    cryptography (the name cipher's AES) it cost every command ~20 ms of CPU and ~8 MB at
    start, and a pair without encryption never needs either (docs/architecture.md, "A fast
    start")."""
    from nacl.bindings import crypto_secretbox_easy, crypto_secretbox_open
    from nacl.exceptions import CryptoError

    try:
        from nacl._sodium import ffi, lib  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - a PyNaCl without it
        ffi = lib = None
    return _Sodium(crypto_secretbox_easy, crypto_secretbox_open, CryptoError, ffi, lib)


def encrypted_size(plain_size: int) -> int:
    """Bytes of ciphertext for ``plain_size`` bytes of plaintext (rclone's EncryptedSize)."""
    if plain_size < 0:
        raise ValueError("size must not be negative")
    blocks, residue = divmod(plain_size, BLOCK_DATA_SIZE)
    size = HEADER_SIZE + blocks * BLOCK_SIZE
    if residue:
        size += BLOCK_HEADER_SIZE + residue
    return size


def decrypted_size(cipher_size: int) -> int:
    """Bytes of plaintext in ``cipher_size`` bytes of ciphertext (rclone's DecryptedSize).

    Raises :class:`NotEncryptedContentError` below the 32-byte header and
    :class:`TruncatedContentError` for a size crypt never produces (a last block of 1..16
    bytes): a listing's size is enough to spot those without downloading.
    """
    size = cipher_size - HEADER_SIZE
    if size < 0:
        raise NotEncryptedContentError("file is too short to be encrypted")
    blocks, residue = divmod(size, BLOCK_SIZE)
    if residue:
        residue -= BLOCK_HEADER_SIZE
        if residue <= 0:
            raise TruncatedContentError("file has truncated block header")
    return blocks * BLOCK_DATA_SIZE + residue


def add_to_nonce(nonce: bytes, count: int) -> bytes:
    """``nonce`` plus ``count``, as a 192-bit little-endian counter that wraps (rclone's
    ``nonce.add`` / ``increment``)."""
    value = (int.from_bytes(nonce, "little") + count) % _NONCE_MOD
    return value.to_bytes(NONCE_SIZE, "little")


class BlockSealer:
    """Seals one file's plaintext, a piece at a time, into crypt blocks in the caller's buffer.

    The header is :attr:`header`; each piece given to :meth:`seal_into` is whole 64 KiB blocks,
    except the file's last piece, which may end in a short block. A block's ciphertext is
    ``crypto_secretbox_easy`` (tag, then XSalsa20 ciphertext: exactly what
    ``crypto_secretbox`` gives once its 16 zero bytes are cut, and Go's ``secretbox.Seal``),
    called through PyNaCl's own cffi module so that it writes straight into ``out``: the public
    wrappers pad, allocate and slice a fresh copy per block, and fresh 64 KiB-1 MiB buffers
    cost page faults that showed as a tenth of an encrypted upload's CPU. The C call runs
    without the GIL.
    """

    def __init__(self, data_key: bytes, nonce: bytes) -> None:
        if len(data_key) != 32:
            raise ValueError("data key must be 32 bytes")
        if len(nonce) != NONCE_SIZE:
            raise ValueError("nonce must be 24 bytes")
        self._sodium = _sodium()
        self._key = data_key
        self.nonce = nonce  # the file's, in its header
        self.header = FILE_MAGIC + nonce
        self._nonce = nonce  # the next block's
        self._ended = False  # a short block was sealed: it must be the last

    def seal_into(self, plain: bytes | bytearray | memoryview, out: bytearray | memoryview) -> int:
        """Seal ``plain`` into the start of ``out`` (at least ``sealed_size(len(plain))``
        bytes); the number of ciphertext bytes written."""
        size = len(plain)
        if not size:
            return 0
        if self._ended:
            raise ValueError("a short block was sealed already: it must be the file's last")
        written = sealed_size(size)
        if len(out) < written:
            raise ValueError(f"output buffer holds {len(out)} bytes, {written} needed")
        at = 0
        sodium = self._sodium
        if sodium.lib is None:
            view = memoryview(plain)
            for start in range(0, size, BLOCK_DATA_SIZE):
                block = view[start : start + BLOCK_DATA_SIZE]
                out[at : at + BLOCK_HEADER_SIZE + len(block)] = sodium.seal(
                    bytes(block), self._nonce, self._key
                )
                at += BLOCK_HEADER_SIZE + len(block)
                self._nonce = add_to_nonce(self._nonce, 1)
        else:
            ffi, lib = sodium.ffi, sodium.lib
            src = ffi.from_buffer(plain)
            dst = ffi.from_buffer(out, require_writable=True)
            for start in range(0, size, BLOCK_DATA_SIZE):
                take = min(BLOCK_DATA_SIZE, size - start)
                if lib.crypto_secretbox_easy(dst + at, src + start, take, self._nonce, self._key):
                    raise sodium.error("encryption failed")
                at += BLOCK_HEADER_SIZE + take
                self._nonce = add_to_nonce(self._nonce, 1)
        self._ended = size % BLOCK_DATA_SIZE != 0
        return written


def sealed_size(plain_size: int) -> int:
    """Ciphertext bytes of ``plain_size`` bytes of blocks (:func:`encrypted_size` without the
    header)."""
    return encrypted_size(plain_size) - HEADER_SIZE


def _read_full(source: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes; fewer only at the end of the stream (a short read is not one)."""
    data = source.read(size)
    if data is None:
        raise BlockingIOError("non-blocking source has no data")
    if len(data) >= size or not data:
        return data
    parts = [data]
    have = len(data)
    while have < size:
        more = source.read(size - have)
        if not more:
            break
        parts.append(more)
        have += len(more)
    return b"".join(parts)


def readinto_full(source: BinaryIO, view: memoryview) -> int:
    """:func:`_read_full` into a reused buffer: fills ``view`` unless the stream ends first;
    the bytes read. Pieces sealed from a file must be whole blocks until its last, so a short
    read mid-file must not end a piece."""
    got = 0
    while got < len(view):
        n = source.readinto(view[got:])  # type: ignore[attr-defined]
        if n is None:
            raise BlockingIOError("non-blocking source has no data")
        if not n:
            break
        got += n
    return got


class EncryptingReader(io.RawIOBase):
    """A file-like over plaintext ``source`` whose ``read(n)`` returns the ciphertext.

    Constant memory (one 64 KiB block). ``plain_size`` is the size stat'ed before the send:
    when given, exactly that many plaintext bytes are read (a file that grew is cut there, one
    that shrank raises :class:`SourceChangedError`), so :attr:`size` is the exact ciphertext
    length to announce. Without it the source is read to its end.

    :meth:`hexdigest` is the MD5 of the ciphertext handed out so far: once the reader is
    exhausted it is what the host's ``hash`` must equal.

    Seeking: to the end (an HTTP client peeking at the length) and back to 0 (a retry). A
    rewind after some ciphertext went out draws a *fresh* nonce, since the file may have
    changed and a nonce must never seal two different plaintexts; a fixed ``nonce`` (tests,
    re-hashing a stored file) is kept.
    """

    def __init__(
        self,
        source: BinaryIO,
        data_key: bytes,
        *,
        plain_size: int | None = None,
        nonce: bytes | None = None,
        nonce_source: NonceSource = os.urandom,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__()
        if len(data_key) != 32:
            raise ValueError("data key must be 32 bytes")
        if nonce is not None and len(nonce) != NONCE_SIZE:
            raise ValueError("nonce must be 24 bytes")
        self._source = source
        self._key = data_key
        self._plain_size = plain_size
        self._fixed_nonce = nonce
        self._nonce_source = nonce_source
        self._progress = progress
        self._block = bytearray(BLOCK_SIZE)
        self._start(nonce if nonce is not None else self._draw_nonce())

    def _draw_nonce(self) -> bytes:
        nonce = self._nonce_source(NONCE_SIZE)
        if len(nonce) != NONCE_SIZE:
            raise ValueError("short read of nonce")
        return nonce

    def _start(self, nonce: bytes) -> None:
        self.nonce = nonce  # the file's nonce (as written in the header)
        self._sealer = BlockSealer(self._key, nonce)
        self._buf = memoryview(self._sealer.header)
        self._plain_read = 0
        self._sent = 0
        self._eof = False
        self._md5 = hashlib.md5(usedforsecurity=False)

    @property
    def size(self) -> int | None:
        """The ciphertext length, when ``plain_size`` was given."""
        return None if self._plain_size is None else encrypted_size(self._plain_size)

    @property
    def bytes_sent(self) -> int:
        """Ciphertext bytes handed out so far."""
        return self._sent

    @property
    def finished(self) -> bool:
        """True once the last ciphertext byte has been handed out."""
        return self._eof and not self._buf

    def hexdigest(self) -> str:
        """MD5 (hex) of the ciphertext handed out so far."""
        return self._md5.hexdigest()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._sent

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_END and offset == 0 and self.size is not None:
            # An HTTP client peeking at the length: nothing moves, nothing is read.
            return self.size
        if whence == os.SEEK_CUR and offset == 0:
            return self._sent
        target = offset if whence == os.SEEK_SET else None
        if target != 0:
            raise io.UnsupportedOperation("EncryptingReader only rewinds to the start")
        if self._sent == 0 and self._plain_read == 0:
            return 0
        self._source.seek(0)
        self._start(self._fixed_nonce if self._fixed_nonce is not None else self._draw_nonce())
        return 0

    def _next_block(self) -> bool:
        """Encrypt the next plaintext block into the buffer; False at the end."""
        want = BLOCK_DATA_SIZE
        if self._plain_size is not None:
            want = min(want, self._plain_size - self._plain_read)
            if want <= 0:
                self._eof = True
                return False
        plain = _read_full(self._source, want)
        if not plain:
            if self._plain_size is not None:
                raise SourceChangedError(
                    f"file shrank while encrypting: {self._plain_read} of "
                    f"{self._plain_size} bytes read"
                )
            self._eof = True
            return False
        if self._plain_size is not None and len(plain) < want:
            raise SourceChangedError(
                f"file shrank while encrypting: {self._plain_read + len(plain)} of "
                f"{self._plain_size} bytes read"
            )
        self._plain_read += len(plain)
        # read() copies what it hands out, so the one block buffer is reused.
        self._buf = memoryview(self._block)[: self._sealer.seal_into(plain, self._block)]
        if self._plain_size is None and len(plain) < BLOCK_DATA_SIZE:
            self._eof = True  # a short block is the last one
        return True

    def read(self, size: int | None = -1) -> bytes:
        parts: list[bytes] = []
        need = -1 if size is None or size < 0 else size
        while need != 0:
            if not self._buf and (self._eof or not self._next_block()):
                break
            take = len(self._buf) if need < 0 else min(need, len(self._buf))
            parts.append(bytes(self._buf[:take]))
            self._buf = self._buf[take:]
            if need > 0:
                need -= take
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        if data:
            self._md5.update(data)
            self._sent += len(data)
            if self._progress is not None:
                self._progress(self._sent)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        return self.read(-1)


class StreamDecryptor:
    """Push-style decryption: feed ciphertext as it arrives, get plaintext back.

    ``update(chunk)`` returns the plaintext of every block completed so far; ``finalize()``
    decrypts the last (short) block and raises if the data ended inside a header or a block.
    Holds at most one block. After an error every further call raises it again.
    """

    def __init__(self, data_key: bytes) -> None:
        if len(data_key) != 32:
            raise ValueError("data key must be 32 bytes")
        self._sodium = _sodium()
        self._key = data_key
        self._buf = bytearray()
        self._nonce: bytes | None = None
        self._block_index = 0
        self._error: Exception | None = None
        self._finished = False
        self.plain_bytes = 0

    @property
    def nonce(self) -> bytes | None:
        """The file's nonce, once the header has arrived."""
        return self._nonce

    def update(self, data: bytes | bytearray | memoryview) -> bytes:
        self._check()
        self._buf += data
        try:
            if self._nonce is None and not self._parse_header():
                return b""
            out: list[bytes] = []
            while len(self._buf) >= BLOCK_SIZE:
                out.append(self._open(bytes(self._buf[:BLOCK_SIZE])))
                del self._buf[:BLOCK_SIZE]
            return b"".join(out)
        except Exception as exc:
            self._error = exc
            raise

    def finalize(self) -> bytes:
        self._check()
        try:
            if self._nonce is None and not self._parse_header():
                raise NotEncryptedContentError("file is too short to be encrypted")
            rest = bytes(self._buf)
            self._buf.clear()
            self._finished = True
            if not rest:
                return b""
            if len(rest) <= BLOCK_HEADER_SIZE:
                raise TruncatedContentError("file has truncated block header")
            return self._open(rest)
        except Exception as exc:
            self._error = exc
            raise

    def _check(self) -> None:
        if self._error is not None:
            raise self._error
        if self._finished:
            raise ValueError("StreamDecryptor already finalized")

    def _parse_header(self) -> bool:
        if len(self._buf) >= len(FILE_MAGIC) and self._buf[: len(FILE_MAGIC)] != FILE_MAGIC:
            raise NotEncryptedContentError("not an encrypted file - bad magic string")
        if len(self._buf) < HEADER_SIZE:
            return False
        self._nonce = bytes(self._buf[len(FILE_MAGIC) : HEADER_SIZE])
        del self._buf[:HEADER_SIZE]
        return True

    def _open(self, block: bytes) -> bytes:
        assert self._nonce is not None
        nonce = add_to_nonce(self._nonce, self._block_index)
        try:
            plain = self._sodium.open(block, nonce, self._key)
        except self._sodium.error:
            raise ContentAuthError(self._block_index) from None
        self._block_index += 1
        self.plain_bytes += len(plain)
        return plain


class DecryptingReader(io.RawIOBase):
    """A file-like over ciphertext ``source`` whose ``read(n)`` returns the plaintext."""

    def __init__(self, source: BinaryIO, data_key: bytes) -> None:
        super().__init__()
        self._source = source
        self._dec = StreamDecryptor(data_key)
        self._buf = memoryview(b"")
        self._eof = False

    def readable(self) -> bool:
        return True

    def _fill(self) -> bool:
        while not self._eof:
            chunk = _read_full(self._source, BLOCK_SIZE)
            if not chunk:
                self._eof = True
                self._buf = memoryview(self._dec.finalize())
            else:
                self._buf = memoryview(self._dec.update(chunk))
            if self._buf:
                return True
        return False

    def read(self, size: int | None = -1) -> bytes:
        parts: list[bytes] = []
        need = -1 if size is None or size < 0 else size
        while need != 0:
            if not self._buf and not self._fill():
                break
            take = len(self._buf) if need < 0 else min(need, len(self._buf))
            parts.append(bytes(self._buf[:take]))
            self._buf = self._buf[take:]
            if need > 0:
                need -= take
        return b"".join(parts)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        return self.read(-1)


class DecryptingWriter:
    """Write ciphertext in, plaintext goes to ``sink``; :meth:`close` checks the end.

    For downloads: ``for chunk in response.iter_bytes(): writer.write(chunk)`` then
    ``writer.close()``. Used as a context manager it closes (and so checks) only when the
    block exits without an exception. ``sink`` is not closed.
    """

    def __init__(self, sink: BinaryIO, data_key: bytes) -> None:
        self._sink = sink
        self._dec = StreamDecryptor(data_key)
        self.cipher_bytes = 0

    @property
    def plain_bytes(self) -> int:
        return self._dec.plain_bytes

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.cipher_bytes += len(data)
        plain = self._dec.update(data)
        if plain:
            self._sink.write(plain)
        return len(data)

    def close(self) -> None:
        plain = self._dec.finalize()
        if plain:
            self._sink.write(plain)

    def __enter__(self) -> DecryptingWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()


def encrypt_bytes(data: bytes, data_key: bytes, nonce: bytes) -> bytes:
    """The whole ciphertext of ``data`` (for small files already in memory)."""
    return EncryptingReader(io.BytesIO(data), data_key, plain_size=len(data), nonce=nonce).read()


def decrypt_bytes(data: bytes, data_key: bytes) -> bytes:
    """The whole plaintext of ``data``."""
    dec = StreamDecryptor(data_key)
    return dec.update(data) + dec.finalize()
