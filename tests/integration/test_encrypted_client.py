"""EncryptedClient against the emulator: what goes out is crypt, what comes back is plain."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from syncd.crypt import Cipher, encrypted_size
from syncd.remote.downloads import download_to
from syncd.remote.encrypted import CryptMismatch, EncryptedClient
from syncd.remote.errors import Refused


class Sink:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data


@pytest.fixture
def crypt(client: Any) -> EncryptedClient:
    return EncryptedClient(client, Cipher.from_options({"password": "pw", "password2": "salt"}))


# Sealed whole (up to SMALL_UPLOAD_MAX), and streamed in pieces by the sealing thread.
@pytest.mark.parametrize("size", [1000, 3 * 65536 + 5, 2 * 1024 * 1024 + 65536 + 5])
def test_upload_is_encrypted_and_answers_in_plain(
    crypt: EncryptedClient, client: Any, tmp_path: Path, size: int
) -> None:
    data = os.urandom(size)
    path = tmp_path / "plain name.bin"
    path.write_bytes(data)
    folder = client.folder_create("Vault", None).id
    result = crypt.upload_file(path, folder)
    assert (result.name, result.size) == ("plain name.bin", size)

    (raw,) = client.folder_listing(folder).files
    assert raw.name == crypt.cipher.encrypt_name("plain name.bin")
    assert raw.size == encrypted_size(size)
    stored = Sink()
    download_to(client, raw.id, stored)  # the host holds ciphertext
    assert crypt.cipher.decrypt_bytes(bytes(stored.data)) == data
    # The result carries what the journal keeps: the ciphertext's MD5 and its nonce, with
    # which the local file sealed again gives that MD5.
    assert result.md5 == hashlib.md5(bytes(stored.data)).hexdigest()
    assert result.nonce == bytes(stored.data)[8:32]
    with path.open("rb") as fh:
        assert crypt.cipher.ciphertext_md5(fh, result.nonce) == result.md5

    (listed,) = crypt.folder_listing(folder).files
    assert (listed.name, listed.size) == ("plain name.bin", size)
    plain = Sink()
    assert download_to(crypt, raw.id, plain).md5 == hashlib.md5(data).hexdigest()
    assert bytes(plain.data) == data
    helpers = {"syncd-encrypt"}
    assert not [t for t in threading.enumerate() if t.name in helpers]


def test_a_name_too_long_is_refused_before_any_request(
    crypt: EncryptedClient, client: Any, tmp_path: Path
) -> None:
    path = tmp_path / ("n" * 180)
    path.write_bytes(b"x")
    before = client.stats().requests
    with pytest.raises(Refused, match="over the host's limit of 255"):
        crypt.upload_file(path, None)
    with pytest.raises(Refused, match="over the host's limit of 255"):
        crypt.folder_create("d" * 180, None)
    assert client.stats().requests == before


def test_foreign_names_beside_encrypted_ones_are_left_out(
    crypt: EncryptedClient, client: Any, tmp_path: Path
) -> None:
    folder = client.folder_create("Vault", None).id
    (tmp_path / "mine.txt").write_bytes(b"encrypted")
    crypt.upload_file(tmp_path / "mine.txt", folder)
    (tmp_path / "foreign.txt").write_bytes(b"put there in plain")
    client.upload_file(tmp_path / "foreign.txt", folder)
    listing = crypt.folder_listing(folder)
    assert [f.name for f in listing.files] == ["mine.txt"]
    assert [name for _, name in crypt.undecryptable] == ["foreign.txt"]

    only_foreign = client.folder_create("Plain", None).id
    client.upload_file(tmp_path / "foreign.txt", only_foreign)
    with pytest.raises(CryptMismatch, match="not encrypted"):
        crypt.folder_listing(only_foreign)
