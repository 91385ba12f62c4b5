"""Encryption at rest in rclone's ``crypt`` format, byte for byte.

A file encrypted here decrypts with ``rclone`` (a crypt remote with the same password,
password2 and name options) and the other way round. Self-contained: nothing else in syncd is
imported, so the sync pipeline can wire it in where it needs to.

Start with :class:`Cipher`::

    cipher = Cipher.from_options({"password": "...", "password2": "..."})
    stored = cipher.check_name_fits("report.pdf")        # NameTooLongError: skip it
    reader = cipher.encrypt_stream(fh, plain_size=size)  # .read(n), .size, .hexdigest()
    with cipher.decrypting_writer(out) as sink:          # downloads
        for chunk in chunks:
            sink.write(chunk)

Format facts (see :mod:`~syncd.crypt.keys`, :mod:`~syncd.crypt.names`,
:mod:`~syncd.crypt.content`, :mod:`~syncd.crypt.obscure`):

* keys: scrypt(password, password2 or rclone's fixed salt, N=16384, r=8, p=1) -> 80 bytes:
  data key 32, name key 32, name tweak 16;
* names: per path segment, PKCS#7 + EME-AES-256 + base32/base64/base32768 (or "obfuscate", or
  "off" = ``.bin`` suffix);
* contents: ``RCLONE\\x00\\x00`` + 24-byte random nonce, then 64 KiB blocks sealed with
  XSalsa20-Poly1305 (16-byte tag each), nonce incremented per block; size = 32 + 16 per
  started block + plaintext size.
"""

from __future__ import annotations

from syncd.crypt.cipher import HOST_NAME_MAX_CHARS, Cipher, CryptOptions
from syncd.crypt.content import (
    BLOCK_DATA_SIZE,
    BLOCK_HEADER_SIZE,
    BLOCK_SIZE,
    FILE_MAGIC,
    HEADER_SIZE,
    NONCE_SIZE,
    BlockSealer,
    DecryptingReader,
    DecryptingWriter,
    EncryptingReader,
    StreamDecryptor,
    decrypted_size,
    encrypted_size,
    readinto_full,
    sealed_size,
)
from syncd.crypt.errors import (
    BadNameError,
    ContentAuthError,
    ContentError,
    CryptConfigError,
    CryptError,
    NameAuthError,
    NameEncryptError,
    NameTooLongError,
    NotEncryptedContentError,
    NotEncryptedNameError,
    RevealError,
    SourceChangedError,
    TruncatedContentError,
)
from syncd.crypt.keys import DEFAULT_SALT, Keys, derive_keys
from syncd.crypt.obscure import obscure, reveal

__all__ = [
    "BLOCK_DATA_SIZE",
    "BLOCK_HEADER_SIZE",
    "BLOCK_SIZE",
    "DEFAULT_SALT",
    "FILE_MAGIC",
    "HEADER_SIZE",
    "HOST_NAME_MAX_CHARS",
    "NONCE_SIZE",
    "BadNameError",
    "BlockSealer",
    "Cipher",
    "ContentAuthError",
    "ContentError",
    "CryptConfigError",
    "CryptError",
    "CryptOptions",
    "DecryptingReader",
    "DecryptingWriter",
    "EncryptingReader",
    "Keys",
    "NameAuthError",
    "NameEncryptError",
    "NameTooLongError",
    "NotEncryptedContentError",
    "NotEncryptedNameError",
    "RevealError",
    "SourceChangedError",
    "StreamDecryptor",
    "TruncatedContentError",
    "decrypted_size",
    "derive_keys",
    "encrypted_size",
    "obscure",
    "readinto_full",
    "reveal",
    "sealed_size",
]
