"""The errors of :mod:`syncd.crypt`, as a tree callers branch on (never on message text).

::

    CryptError
    ├── CryptConfigError        options are missing or invalid (one line: the cause and the fix)
    │   └── RevealError         an "obscured" password is not rclone-obscured text
    ├── NameEncryptError        a plain name cannot be encrypted (not UTF-8, too long for EME)
    ├── NameTooLongError        the encrypted name is longer than the host accepts
    ├── BadNameError            an encrypted name does not decrypt
    │   ├── NotEncryptedNameError   it cannot be crypt output at all (a foreign name)
    │   └── NameAuthError           well-formed ciphertext that fails to decrypt: wrong
    │                               password / password2, or a foreign name by chance
    ├── ContentError            encrypted content does not decrypt
    │   ├── NotEncryptedContentError   no "RCLONE\\0\\0" header, or shorter than one
    │   ├── TruncatedContentError      a block is cut short (or the size is impossible)
    │   └── ContentAuthError           a block fails Poly1305 authentication: wrong password
    │                                  / password2, or the bytes were changed
    └── SourceChangedError      the plaintext file shrank while it was being encrypted
                                (also an ``OSError``, like the uploader's own error)

None of the messages ever contains a password, a key or a nonce.
"""

from __future__ import annotations


class CryptError(Exception):
    """Base of every error raised by :mod:`syncd.crypt`."""


class CryptConfigError(CryptError, ValueError):
    """The crypt options are missing or invalid; the message names the option and the fix."""


class RevealError(CryptConfigError):
    """A value given as rclone-obscured (as in ``rclone.conf``) is not obscured text."""


class NameEncryptError(CryptError):
    """A plain name cannot be encrypted: it is not valid UTF-8 (a lone surrogate from an
    undecodable file name) or its padded form is longer than EME's 2048 bytes."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"cannot encrypt name {name!r}: {reason}")
        self.name = name
        self.reason = reason


class NameTooLongError(CryptError):
    """The encrypted form of a name is longer than the host's name limit."""

    def __init__(self, name: str, encrypted_length: int, limit: int, max_plain_bytes: int) -> None:
        super().__init__(
            f"encrypted name of {name!r} is {encrypted_length} characters, over the host's "
            f"limit of {limit}: shorten it to at most {max_plain_bytes} UTF-8 bytes "
            "(or choose a denser filename_encoding such as base64 or base32768)"
        )
        self.name = name
        self.encrypted_length = encrypted_length
        self.limit = limit
        self.max_plain_bytes = max_plain_bytes


class BadNameError(CryptError):
    """An encrypted name (one path segment, or a whole path) does not decrypt."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"cannot decrypt name {name!r}: {reason}")
        self.name = name
        self.reason = reason


class NotEncryptedNameError(BadNameError):
    """The name cannot have been made by crypt with these options: it does not decode under
    the filename encoding, its length is not a whole number of AES blocks, it is longer than
    EME allows, or (``filename_encryption = off``) it lacks the suffix."""


class NameAuthError(BadNameError):
    """The name decodes to whole AES blocks but does not decrypt to PKCS#7-padded UTF-8.

    Names made by crypt with another password (or password2) land here; so, about once in
    256 tries, does a foreign name that merely looks like ciphertext. One such name is a hint,
    every name failing is a wrong password."""


class ContentError(CryptError):
    """Encrypted content does not decrypt."""


class NotEncryptedContentError(ContentError):
    """The data does not start with rclone's ``RCLONE\\x00\\x00`` magic, or is shorter than the
    32-byte header: it was not encrypted by crypt."""


class TruncatedContentError(ContentError):
    """A block is cut short: the data ends 1..16 bytes into a block (or the size of the
    ciphertext is one crypt can never produce)."""


class ContentAuthError(ContentError):
    """A block failed XSalsa20-Poly1305 authentication.

    On the first block of a file whose header is intact this almost always means a wrong
    password or password2; later blocks failing mean the stored bytes were changed."""

    def __init__(self, block_index: int) -> None:
        super().__init__(
            f"block {block_index} failed to authenticate: wrong password or password2, "
            "or the stored file is corrupted"
        )
        self.block_index = block_index


class SourceChangedError(CryptError, OSError):
    """The plaintext file returned fewer bytes than its announced size: it changed while it was
    being encrypted, so the ciphertext would be shorter than announced."""
