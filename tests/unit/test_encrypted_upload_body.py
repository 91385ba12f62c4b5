"""An encrypted upload's body: the ciphertext sent, its MD5 and the nonce the journal keeps,
whichever path (small files sealed whole, larger ones by the sealing thread in reused
buffers); and the local file sealed again under that nonce gives the same MD5."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from syncd.crypt import Cipher, CryptOptions, Keys, encrypted_size
from syncd.local.hashing import stored_md5_file
from syncd.remote.encrypted import _encrypted_body
from syncd.remote.uploads import SMALL_UPLOAD_MAX, STREAM_CHUNK, FileChangedError
from tests.unit.test_crypt_content import secretbox_reference

KEYS = Keys(data_key=bytes(range(32)), name_key=bytes(32), name_tweak=bytes(16))
NONCE = bytes(range(1, 25))
HELPERS = {"syncd-encrypt"}


def cipher() -> Cipher:
    return Cipher(CryptOptions(password="pw"), keys=KEYS, nonce_source=lambda n: NONCE)


def helpers_alive() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name in HELPERS]


def drain(body: object) -> bytes:
    if body.content is not None:  # type: ignore[attr-defined]
        return body.content  # type: ignore[attr-defined, no-any-return]
    read = body.reader.read  # type: ignore[attr-defined]
    return b"".join(iter(lambda: read(STREAM_CHUNK), b""))


@pytest.mark.parametrize(
    "size",
    [
        0,
        1,
        SMALL_UPLOAD_MAX,  # the last size sealed whole
        SMALL_UPLOAD_MAX + 1,
        STREAM_CHUNK - 1,
        STREAM_CHUNK,
        STREAM_CHUNK + 1,
        2 * STREAM_CHUNK + 65536 + 1,
        6 * STREAM_CHUNK,  # more pieces than the buffer pools hold: they are reused
    ],
)
def test_ciphertext_its_md5_and_nonce(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "f"
    path.write_bytes(data)
    seen: list[int] = []
    body, nonce = _encrypted_body(path, "stored", cipher(), seen.append)
    try:
        sent = drain(body)
        assert sent == secretbox_reference(data, KEYS.data_key, NONCE)
        assert body.size == len(sent) == encrypted_size(size)
        assert body.bytes_sent == len(sent)
        assert body.hexdigest() == hashlib.md5(sent).hexdigest()
        assert nonce == NONCE
        assert (seen or [0])[-1] == size  # an empty file reads nothing
    finally:
        body.close()
    assert not helpers_alive()
    sealed_again = stored_md5_file(path, nonce, cipher().ciphertext_md5)
    assert sealed_again == hashlib.md5(sent).hexdigest()
    assert stored_md5_file(path, None, None) == hashlib.md5(data).hexdigest()
    assert stored_md5_file(path, nonce, None) is None  # no key: nothing to compare with


def test_a_file_that_shrank_fails_the_send(tmp_path: Path) -> None:
    path = tmp_path / "f"
    # Larger than the buffer pools: the sealer cannot have read it all before the cut.
    path.write_bytes(os.urandom(12 * STREAM_CHUNK))
    body, _ = _encrypted_body(path, "stored", cipher(), None)
    try:
        os.truncate(path, STREAM_CHUNK + 5)
        with pytest.raises(FileChangedError, match="shrank"):
            drain(body)
    finally:
        body.close()
    assert not helpers_alive()


def test_closing_midway_stops_the_threads(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(os.urandom(12 * STREAM_CHUNK))  # more than the pools: the sealer waits
    body, _ = _encrypted_body(path, "stored", cipher(), None)
    assert body.reader is not None
    assert body.reader.read(STREAM_CHUNK)  # the header
    assert body.reader.read(STREAM_CHUNK)  # the first piece
    body.close()  # what a failed send does
    assert not helpers_alive()
    assert body.hexdigest() == ""  # never a digest of part of the body
