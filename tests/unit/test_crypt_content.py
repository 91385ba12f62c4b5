"""File contents: rclone's published ciphertexts (cipher_test.go), sizes, nonces, streaming."""

from __future__ import annotations

import hashlib
import io
import os

import pytest

from syncd.crypt import (
    BLOCK_DATA_SIZE,
    BLOCK_SIZE,
    HEADER_SIZE,
    BlockSealer,
    Cipher,
    ContentAuthError,
    CryptOptions,
    DecryptingReader,
    EncryptingReader,
    NotEncryptedContentError,
    SourceChangedError,
    StreamDecryptor,
    TruncatedContentError,
    decrypted_size,
    derive_keys,
    encrypted_size,
    sealed_size,
)
from syncd.crypt.content import add_to_nonce

ZERO_KEY = bytes(32)
# rclone's tests read the nonce from a counter source: bytes 1, 2, ..., 24.
COUNTER_NONCE = bytes(range(1, 25))
HEADER = "52434c4f4e450000" + COUNTER_NONCE.hex()

# cipher_test.go file0, file1, file16 (TestEncryptData).
FILE_VECTORS = [
    (b"", HEADER),
    (b"\x01", HEADER + "095b446cd6237bbcb08d09fb524ce565" + "aa"),
    (bytes(range(1, 17)),
     HEADER + "b9c4552a2710062918960a3e608c29b9" + "aa8a5e1e165b6d075de4e9bb367fd6d4"),
]  # fmt: skip
FILE16 = bytes.fromhex(FILE_VECTORS[2][1])


def rclone_pattern(size: int) -> bytes:
    """rclone's test ``randomSource``: byte i (from 1) is i % 257, truncated to a byte."""
    return bytes((i % 257) & 0xFF for i in range(1, size + 1))


@pytest.mark.parametrize(("plain", "expected"), FILE_VECTORS)
def test_ciphertext_matches_rclone(plain: bytes, expected: str) -> None:
    reader = EncryptingReader(io.BytesIO(plain), ZERO_KEY, nonce=COUNTER_NONCE)
    out = reader.read()
    assert out.hex() == expected
    assert reader.hexdigest() == hashlib.md5(out).hexdigest()
    assert reader.finished
    dec = StreamDecryptor(ZERO_KEY)
    assert dec.update(out) + dec.finalize() == plain
    assert dec.nonce == COUNTER_NONCE


# cipher_test.go TestEncryptedSize: plaintext size -> ciphertext size, and back.
SIZES = [
    (0, 32),
    (1, 32 + 16 + 1),
    (65536, 32 + 16 + 65536),
    (65537, 32 + 16 + 65536 + 16 + 1),
    (1 << 20, 32 + 16 * (16 + 65536)),
    ((1 << 20) + 65535, 32 + 16 * (16 + 65536) + 16 + 65535),
    (1 << 30, 32 + 16384 * (16 + 65536)),
    ((1 << 40) + 1, 32 + 16777216 * (16 + 65536) + 16 + 1),
]


@pytest.mark.parametrize(("plain", "cipher_size"), SIZES)
def test_sizes_match_rclone(plain: int, cipher_size: int) -> None:
    assert encrypted_size(plain) == cipher_size
    assert decrypted_size(cipher_size) == plain


@pytest.mark.parametrize(
    ("cipher_size", "error"),
    [(0, NotEncryptedContentError), (1, NotEncryptedContentError),
     (7, NotEncryptedContentError), (32 + 1, TruncatedContentError),
     (32 + 16, TruncatedContentError), (32 + 16 + 65536 + 1, TruncatedContentError),
     (32 + 16 + 65536 + 16, TruncatedContentError)],
)  # fmt: skip
def test_impossible_sizes_match_rclone(cipher_size: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        decrypted_size(cipher_size)


def test_nonce_arithmetic_matches_rclone() -> None:
    """TestNonceIncrement / TestNonceAdd: a 192-bit little-endian counter that wraps."""
    for n in range(24):
        assert add_to_nonce(b"\xff" * n + bytes(24 - n), 1) == bytes(n) + b"\x01" + bytes(23 - n)
    assert add_to_nonce(b"\xff" * 24, 1) == bytes(24)
    assert add_to_nonce(b"\xff" + bytes(23), 0xFF) == b"\xfe\x01" + bytes(22)
    expected = b"\xfe" + b"\xff" * 7 + bytes(8) + b"\x01" + bytes(7)
    assert add_to_nonce(b"\xff" * 16 + bytes(8), 0xFFFFFFFFFFFFFFFF) == expected
    assert add_to_nonce(b"\xff" * 24, 0xFFFFFFFFFFFFFFFF) == b"\xfe" + b"\xff" * 7 + bytes(16)


@pytest.mark.parametrize("read_size", [1, 32, 4096, 65536, 65537, 1 << 20])
def test_stream_round_trip_and_nonce_advance(read_size: int) -> None:
    """TestEncryptDecrypt*: any read size gives the same stream; the nonce advances once per
    block (the 3rd byte of the nonce counts blocks of 64 KiB here)."""
    plain = rclone_pattern(3 * BLOCK_DATA_SIZE + 12345)
    reader = EncryptingReader(io.BytesIO(plain), ZERO_KEY, plain_size=len(plain), nonce=bytes(24))
    chunks = []
    while chunk := reader.read(read_size):
        assert len(chunk) <= read_size
        chunks.append(chunk)
    ciphertext = b"".join(chunks)
    assert len(ciphertext) == reader.size == encrypted_size(len(plain))
    assert reader.hexdigest() == hashlib.md5(ciphertext).hexdigest()
    assert ciphertext == EncryptingReader(io.BytesIO(plain), ZERO_KEY, nonce=bytes(24)).read()
    decrypting = DecryptingReader(io.BytesIO(ciphertext), ZERO_KEY)
    out = []
    while chunk := decrypting.read(read_size):
        out.append(chunk)
    assert b"".join(out) == plain
    # Block 3 (the last) was sealed with nonce 0 + 3.
    last = ciphertext[HEADER_SIZE + 3 * BLOCK_SIZE :]
    dec = StreamDecryptor(ZERO_KEY)
    dec.update(b"RCLONE\x00\x00" + add_to_nonce(bytes(24), 3))
    assert dec.update(last) + dec.finalize() == plain[3 * BLOCK_DATA_SIZE :]


def test_block_boundaries() -> None:
    for size in [
        0,
        1,
        BLOCK_DATA_SIZE - 1,
        BLOCK_DATA_SIZE,
        BLOCK_DATA_SIZE + 1,
        2 * BLOCK_DATA_SIZE,
    ]:
        plain = os.urandom(size)
        cipher = EncryptingReader(io.BytesIO(plain), ZERO_KEY, plain_size=size).read()
        assert len(cipher) == encrypted_size(size)
        dec = StreamDecryptor(ZERO_KEY)
        # Feed in awkward pieces: the decryptor must not care where chunks end.
        got = b"".join(dec.update(cipher[i : i + 7777]) for i in range(0, len(cipher), 7777))
        assert got + dec.finalize() == plain


def test_truncation_at_every_point_matches_rclone() -> None:
    """TestDecrypterRead: cut file16 at each length."""
    for cut in range(len(FILE16)):
        dec = StreamDecryptor(ZERO_KEY)
        if cut < HEADER_SIZE:
            expected: type[Exception] | None = NotEncryptedContentError
        elif cut == HEADER_SIZE:
            expected = None  # an empty file: a cut at a block boundary is not detectable
        elif cut <= HEADER_SIZE + 16:
            expected = TruncatedContentError
        else:
            expected = ContentAuthError
        if expected is None:
            assert dec.update(FILE16[:cut]) + dec.finalize() == b""
        else:
            with pytest.raises(expected):
                dec.update(FILE16[:cut])
                dec.finalize()


def test_every_changed_byte_is_detected() -> None:
    for i in range(len(FILE16)):
        changed = bytearray(FILE16)
        changed[i] ^= 0xFF
        dec = StreamDecryptor(ZERO_KEY)
        expected = NotEncryptedContentError if i < 8 else ContentAuthError
        with pytest.raises(expected):
            dec.update(bytes(changed))
            dec.finalize()


def test_wrong_password_fails_on_the_first_block() -> None:
    right = Cipher(CryptOptions(password="potato"))
    wrong = Cipher(CryptOptions(password="potato", password2="other"))
    stored = right.encrypt_bytes(rclone_pattern(100_000))
    with pytest.raises(ContentAuthError) as caught:
        wrong.decrypt_bytes(stored)
    assert caught.value.block_index == 0
    assert "wrong password" in str(caught.value)
    # Swapping two blocks is detected too (each block's nonce is bound to its position).
    plain = rclone_pattern(3 * BLOCK_DATA_SIZE)
    c = right.encrypt_bytes(plain)
    b0 = c[HEADER_SIZE : HEADER_SIZE + BLOCK_SIZE]
    b1 = c[HEADER_SIZE + BLOCK_SIZE : HEADER_SIZE + 2 * BLOCK_SIZE]
    swapped = c[:HEADER_SIZE] + b1 + b0 + c[HEADER_SIZE + 2 * BLOCK_SIZE :]
    with pytest.raises(ContentAuthError):
        right.decrypt_bytes(swapped)


def test_decryptor_stays_failed_after_an_error() -> None:
    dec = StreamDecryptor(ZERO_KEY)
    with pytest.raises(NotEncryptedContentError):
        dec.update(b"NOTCRYPT" + bytes(100))
    with pytest.raises(NotEncryptedContentError):
        dec.update(b"more")


def test_shrinking_source_is_refused_and_growth_is_cut() -> None:
    data = os.urandom(200_000)
    short = EncryptingReader(io.BytesIO(data[:150_000]), ZERO_KEY, plain_size=len(data))
    with pytest.raises(SourceChangedError):
        while short.read(1 << 20):
            pass
    grown = EncryptingReader(io.BytesIO(data + b"more"), ZERO_KEY, plain_size=len(data))
    out = grown.read()
    assert len(out) == grown.size == encrypted_size(len(data))


class TrickleFile(io.RawIOBase):
    """A source that returns at most 1000 bytes per read (pipes, sockets)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._data.read(min(size, 1000) if size >= 0 else 1000)


def test_short_reads_still_make_full_blocks() -> None:
    plain = os.urandom(150_000)
    a = EncryptingReader(TrickleFile(plain), ZERO_KEY, nonce=bytes(24)).read()  # type: ignore[arg-type]
    b = EncryptingReader(io.BytesIO(plain), ZERO_KEY, nonce=bytes(24)).read()
    assert a == b


def test_rewind_redraws_the_nonce_unless_fixed() -> None:
    plain = os.urandom(100_000)
    source = io.BytesIO(plain)
    reader = EncryptingReader(source, ZERO_KEY, plain_size=len(plain))
    assert reader.seek(0, os.SEEK_END) == reader.size  # an HTTP client peeking at the length
    assert reader.seek(0) == 0
    first_nonce = reader.nonce
    first = reader.read(70_000)
    reader.seek(0)
    assert reader.bytes_sent == 0 and reader.nonce != first_nonce  # never reuse a nonce
    second = reader.read()
    assert second[:8] == first[:8] and second[8:32] == reader.nonce
    assert reader.hexdigest() == hashlib.md5(second).hexdigest()
    dec = StreamDecryptor(ZERO_KEY)
    assert dec.update(second) + dec.finalize() == plain
    fixed = EncryptingReader(io.BytesIO(plain), ZERO_KEY, plain_size=len(plain), nonce=bytes(24))
    once = fixed.read()
    fixed.seek(0)
    assert fixed.read() == once
    with pytest.raises(io.UnsupportedOperation):
        fixed.seek(5)


def test_decrypting_writer_and_ciphertext_md5() -> None:
    c = Cipher(CryptOptions(password="x"), keys=derive_keys("x"))
    plain = os.urandom(300_000)
    reader = c.encrypt_stream(io.BytesIO(plain), plain_size=len(plain))
    ciphertext = reader.read()
    # The MD5 of the stored file can be recomputed from the plaintext and the stored nonce.
    assert c.ciphertext_md5(io.BytesIO(plain), ciphertext[8:32]) == reader.hexdigest()
    sink = io.BytesIO()
    with c.decrypting_writer(sink) as writer:
        for i in range(0, len(ciphertext), 10_000):
            writer.write(ciphertext[i : i + 10_000])
    assert sink.getvalue() == plain
    assert writer.plain_bytes == len(plain) and writer.cipher_bytes == len(ciphertext)
    # Leaving the block on an exception does not check (nor write) the end.
    sink2 = io.BytesIO()
    with pytest.raises(RuntimeError), c.decrypting_writer(sink2) as writer2:
        writer2.write(ciphertext[:100])
        raise RuntimeError("download failed")
    assert sink2.getvalue() == b""  # 100 bytes: no block completed, and no TruncatedContentError
    # A cut download is caught at close().
    with pytest.raises(TruncatedContentError), c.decrypting_writer(io.BytesIO()) as writer3:
        writer3.write(ciphertext[: HEADER_SIZE + BLOCK_SIZE + 5])


def test_nonces_come_from_the_injected_source() -> None:
    calls: list[int] = []

    def source(n: int) -> bytes:
        calls.append(n)
        return bytes(range(1, n + 1))

    c = Cipher(CryptOptions(password=""), keys=derive_keys(""), nonce_source=source)
    assert c.encrypt_bytes(b"\x01").hex() == FILE_VECTORS[1][1]
    assert c.encrypt_stream(io.BytesIO(b"\x01")).read().hex() == FILE_VECTORS[1][1]
    assert calls == [24, 24]
    # The default is os.urandom: two encryptions of the same bytes differ.
    real = Cipher(CryptOptions(password="x"), keys=derive_keys("x"))
    assert real.encrypt_bytes(b"same") != real.encrypt_bytes(b"same")


def secretbox_reference(plain: bytes, key: bytes, nonce: bytes) -> bytes:
    """crypt's layout built block by block with PyNaCl's public ``crypto_secretbox`` (what
    the contents were sealed with before :class:`BlockSealer`)."""
    from nacl.bindings import crypto_secretbox

    blocks = [
        crypto_secretbox(plain[at : at + BLOCK_DATA_SIZE], add_to_nonce(nonce, i), key)
        for i, at in enumerate(range(0, len(plain), BLOCK_DATA_SIZE))
    ]
    return b"RCLONE\x00\x00" + nonce + b"".join(blocks)


@pytest.mark.parametrize(
    "size",
    [0, 1, 16, BLOCK_DATA_SIZE - 1, BLOCK_DATA_SIZE, BLOCK_DATA_SIZE + 1, 3 * BLOCK_DATA_SIZE + 5],
)
@pytest.mark.parametrize("piece_blocks", [1, 2, 16])
def test_block_sealer_gives_the_secretbox_layout(size: int, piece_blocks: int) -> None:
    key, nonce = os.urandom(32), os.urandom(24)
    plain = os.urandom(size)
    sealer = BlockSealer(key, nonce)
    out = bytearray(sealed_size(piece_blocks * BLOCK_DATA_SIZE) + 3)  # reused, a bit too big
    pieces = [sealer.header]
    step = piece_blocks * BLOCK_DATA_SIZE
    for at in range(0, size, step):
        pieces.append(bytes(out[: sealer.seal_into(plain[at : at + step], out)]))
    ciphertext = b"".join(pieces)
    assert ciphertext == secretbox_reference(plain, key, nonce)
    assert len(ciphertext) == encrypted_size(size)


def test_block_sealer_without_pynacls_cffi_module_gives_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from syncd.crypt import content

    key, nonce = os.urandom(32), os.urandom(24)
    plain = os.urandom(2 * BLOCK_DATA_SIZE + 7)
    without_cffi = content._sodium()._replace(ffi=None, lib=None)
    monkeypatch.setattr(content, "_sodium", lambda: without_cffi)  # public call, copy per block
    sealer = BlockSealer(key, nonce)
    out = bytearray(sealed_size(len(plain)))
    assert sealer.header + out[: sealer.seal_into(plain, out)] == secretbox_reference(
        plain, key, nonce
    )


def test_block_sealer_matches_rclone_and_refuses_misuse() -> None:
    for plain, expected in FILE_VECTORS:
        sealer = BlockSealer(ZERO_KEY, COUNTER_NONCE)
        out = bytearray(BLOCK_SIZE)
        assert (sealer.header + out[: sealer.seal_into(plain, out)]).hex() == expected
    sealer = BlockSealer(ZERO_KEY, COUNTER_NONCE)
    with pytest.raises(ValueError, match="holds 10 bytes, 17 needed"):
        sealer.seal_into(b"\x01", bytearray(10))
    sealer.seal_into(b"\x01", bytearray(17))
    with pytest.raises(ValueError, match="must be the file's last"):
        sealer.seal_into(b"\x02", bytearray(17))  # a short block can only end the file


class _Trickle(io.RawIOBase):
    """A source that gives at most 1,000 bytes per read, as a pipe or a slow disk may."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        return self._data.readinto(memoryview(buffer)[:1000])


@pytest.mark.parametrize(
    "size", [1, 65535, 65536, 65537, 1 << 20, (1 << 20) + 1, (2 << 20) + 70_000]
)
def test_ciphertext_md5_is_the_md5_of_the_file_crypt_stores(size: int) -> None:
    # Around the 64 KiB block and the 1 MiB piece it is sealed in, and from a source whose
    # reads come back short: the MD5 of exactly the bytes an upload under that nonce stores.
    c = Cipher(CryptOptions(password="x"), keys=derive_keys("x"))
    plain = os.urandom(size)
    reader = c.encrypt_stream(io.BytesIO(plain), plain_size=size)
    ciphertext = reader.read()
    nonce = ciphertext[8:32]
    expected = hashlib.md5(ciphertext).hexdigest()
    assert c.ciphertext_md5(io.BytesIO(plain), nonce) == expected
    assert c.ciphertext_md5(_Trickle(plain), nonce) == expected  # type: ignore[arg-type]
