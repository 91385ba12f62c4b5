"""Key derivation, exactly as rclone's crypt backend does it.

``scrypt(password, salt, N=16384, r=8, p=1)`` gives 80 bytes, split in this order:

* bytes 0..31: the data key (XSalsa20-Poly1305 secretbox, file contents),
* bytes 32..63: the name key (AES-256, EME for names; its byte sum also seeds "obfuscate"),
* bytes 64..79: the name tweak (EME's 16-byte tweak).

The salt is ``password2`` as UTF-8 when it is set, else rclone's fixed 16-byte default salt.
An empty password gives all-zero keys without running scrypt (rclone does the same; its test
vectors rely on it). A configuration must refuse an empty password (rclone's config does):
see :meth:`syncd.crypt.CryptOptions.from_mapping`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

# rclone backend/crypt/cipher.go `defaultSalt`.
DEFAULT_SALT = bytes(
    [0xA8, 0x0D, 0xF4, 0x3A, 0x8F, 0xBD, 0x03, 0x08, 0xA7, 0xCA, 0xB8, 0x3E, 0x58, 0x1F, 0x86, 0xB1]
)
SCRYPT_N = 16384
SCRYPT_R = 8
SCRYPT_P = 1
DATA_KEY_SIZE = 32
NAME_KEY_SIZE = 32
NAME_TWEAK_SIZE = 16
KEY_MATERIAL_SIZE = DATA_KEY_SIZE + NAME_KEY_SIZE + NAME_TWEAK_SIZE
# scrypt needs 128 * r * N = 16 MiB; OpenSSL's default cap (32 MiB) is close, so say it.
_SCRYPT_MAXMEM = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Keys:
    """The three secrets one crypt configuration works with. ``repr`` hides them."""

    data_key: bytes
    name_key: bytes
    name_tweak: bytes

    def __repr__(self) -> str:
        return "Keys(<hidden>)"


def derive_keys(password: str, password2: str = "") -> Keys:
    """The keys for ``password`` (and ``password2``, rclone's salt), both already revealed.

    About 50 ms of CPU and 16 MiB of memory: build one :class:`~syncd.crypt.Cipher` per
    configuration and keep it, do not derive per file.
    """
    if password == "":
        material = bytes(KEY_MATERIAL_SIZE)
    else:
        salt = password2.encode("utf-8") if password2 else DEFAULT_SALT
        material = hashlib.scrypt(
            password.encode("utf-8"),
            salt=salt,
            n=SCRYPT_N,
            r=SCRYPT_R,
            p=SCRYPT_P,
            maxmem=_SCRYPT_MAXMEM,
            dklen=KEY_MATERIAL_SIZE,
        )
    return Keys(
        data_key=material[:DATA_KEY_SIZE],
        name_key=material[DATA_KEY_SIZE : DATA_KEY_SIZE + NAME_KEY_SIZE],
        name_tweak=material[DATA_KEY_SIZE + NAME_KEY_SIZE :],
    )
