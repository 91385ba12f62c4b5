"""rclone's ``obscure`` / ``reveal`` for passwords kept in config files.

rclone stores every password option in ``rclone.conf`` "obscured": AES-256-CTR under a key
compiled into rclone, with a random 16-byte IV prepended, in unpadded URL-safe base64. This is
not encryption (the key is public); it only keeps a password from being read over a shoulder.
Accepting obscured values lets a user paste ``password = ...`` lines from rclone.conf as they
are.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Callable

from syncd.crypt.errors import RevealError

# rclone fs/config/obscure/obscure.go `cryptKey`.
_OBSCURE_KEY = bytes(
    [
        0x9C, 0x93, 0x5B, 0x48, 0x73, 0x0A, 0x55, 0x4D,
        0x6B, 0xFD, 0x7C, 0x63, 0xC8, 0x86, 0xA9, 0x2B,
        0xD3, 0x90, 0x19, 0x8E, 0xB8, 0x12, 0x8A, 0xFB,
        0xF4, 0xDE, 0x16, 0x2B, 0x8B, 0x95, 0xF6, 0x38,
    ]
)  # fmt: skip
_IV_SIZE = 16
_URLSAFE = re.compile(r"[A-Za-z0-9_-]*")


def _ctr(iv: bytes, data: bytes) -> bytes:
    # Imported here, not with the module: see syncd.crypt.content's _sodium.
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    ctx = Cipher(algorithms.AES(_OBSCURE_KEY), modes.CTR(iv)).encryptor()
    return ctx.update(data) + ctx.finalize()


def obscure(value: str, *, iv_source: Callable[[int], bytes] = os.urandom) -> str:
    """``value`` obscured as ``rclone obscure`` does it (a fresh random IV each time)."""
    iv = iv_source(_IV_SIZE)
    if len(iv) != _IV_SIZE:
        raise ValueError("short read of IV")
    sealed = iv + _ctr(iv, value.encode("utf-8"))
    return base64.urlsafe_b64encode(sealed).decode("ascii").rstrip("=")


def reveal(value: str) -> str:
    """The plain text of an obscured ``value``; :class:`RevealError` if it is not obscured.

    The message never repeats the value (it may be a real password pasted in the wrong place).
    """
    if not _URLSAFE.fullmatch(value) or len(value) % 4 == 1:
        raise RevealError(
            "base64 decode failed when revealing password - is it obscured? "
            "Paste the value from rclone.conf, or give the plain password instead"
        )
    try:
        sealed = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except binascii.Error:
        raise RevealError(
            "base64 decode failed when revealing password - is it obscured?"
        ) from None
    if len(sealed) < _IV_SIZE:
        raise RevealError(
            "input too short when revealing password - is it obscured? "
            "Paste the value from rclone.conf, or give the plain password instead"
        )
    plain = _ctr(sealed[:_IV_SIZE], sealed[_IV_SIZE:])
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError:
        raise RevealError(
            "revealed password is not UTF-8 - is it obscured? "
            "Paste the value from rclone.conf, or give the plain password instead"
        ) from None
