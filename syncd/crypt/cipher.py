"""One crypt configuration: options in rclone's names, and the :class:`Cipher` that uses them.

Everything the sync engine needs goes through :class:`Cipher`: names and paths (both ways),
content streams (both ways), exact sizes, a password check and the host's name-length limit.
It is plain data plus two small stateful helpers (the AES contexts of the name cipher): build
one per configuration and share it within a thread; :meth:`Cipher.copy` gives another thread
its own without running scrypt again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import BinaryIO, get_args

from syncd.crypt.content import (
    BLOCK_DATA_SIZE,
    BlockSealer,
    DecryptingReader,
    DecryptingWriter,
    EncryptingReader,
    NonceSource,
    StreamDecryptor,
    decrypt_bytes,
    decrypted_size,
    encrypt_bytes,
    encrypted_size,
    readinto_full,
    sealed_size,
)
from syncd.crypt.encodings import ENCODINGS
from syncd.crypt.errors import (
    BadNameError,
    CryptConfigError,
    NameAuthError,
    NameTooLongError,
)
from syncd.crypt.keys import Keys, derive_keys
from syncd.crypt.names import NameCipher, NameCipherSettings, NameMode, pkcs7_pad
from syncd.crypt.obscure import reveal

# The longest file or folder name the host stores, in characters. The API reference does not
# state it; the server's schema declares its name columns (file.originalFilename,
# file_folder.folderName) VARCHAR(255), and MySQL counts characters there, not bytes. Every
# helper below takes `limit=` for a host known to differ.
HOST_NAME_MAX_CHARS = 255

# rclone's `crypt` options this module understands, and the ones that do not change the
# format and are accepted and ignored (so a section copied from rclone.conf just works).
KNOWN_OPTIONS = frozenset(
    {"password", "password2", "filename_encryption", "directory_name_encryption",
     "filename_encoding", "suffix"}
)  # fmt: skip
IGNORED_OPTIONS = frozenset(
    {"type", "remote", "description", "server_side_across_configs", "show_mapping",
     "strict_names", "pass_bad_blocks"}
)  # fmt: skip

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}  # Go strconv.ParseBool
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


@dataclass(frozen=True, slots=True)
class CryptOptions:
    """A crypt configuration, in rclone's option names. Passwords are plain (revealed).

    ``repr`` hides the passwords.
    """

    password: str
    password2: str = ""
    filename_encryption: NameMode = "standard"
    directory_name_encryption: bool = True
    filename_encoding: str = "base32"
    suffix: str = ".bin"

    def __repr__(self) -> str:
        return (
            f"CryptOptions(password=<hidden>, password2={'<hidden>' if self.password2 else ''!r}, "
            f"filename_encryption={self.filename_encryption!r}, "
            f"directory_name_encryption={self.directory_name_encryption!r}, "
            f"filename_encoding={self.filename_encoding!r}, suffix={self.suffix!r})"
        )

    @classmethod
    def from_mapping(cls, options: Mapping[str, object], *, obscured: bool = False) -> CryptOptions:
        """Options from a config section, keys as in ``rclone.conf``.

        ``obscured=True`` means ``password`` and ``password2`` are as rclone stores them
        (``rclone obscure``) and are revealed here. Values may be strings (as in rclone.conf)
        or already typed. Every problem is a :class:`CryptConfigError` naming the option and
        the fix; the message never contains a password.
        """
        unknown = sorted(set(options) - KNOWN_OPTIONS - IGNORED_OPTIONS)
        if unknown:
            raise CryptConfigError(
                f"unknown crypt option(s) {', '.join(unknown)}: use rclone's names "
                f"({', '.join(sorted(KNOWN_OPTIONS))})"
            )
        if "no_data_encryption" in options:
            raise CryptConfigError("crypt option no_data_encryption is not supported: remove it")
        password = _text(options, "password", "")
        password2 = _text(options, "password2", "")
        if obscured:
            password = _reveal(password, "password")
            password2 = _reveal(password2, "password2") if password2 else ""
        if password == "":
            raise CryptConfigError(
                "crypt password is empty: set password (and preferably password2) "
                "to the passphrases of the encrypted remote"
            )
        mode = _text(options, "filename_encryption", "standard").lower()
        if mode not in get_args(NameMode):
            raise CryptConfigError(
                f"crypt filename_encryption {mode!r} is not one of standard, obfuscate, off"
            )
        encoding = _text(options, "filename_encoding", "base32").lower()
        if encoding not in ENCODINGS:
            raise CryptConfigError(
                f"crypt filename_encoding {encoding!r} is not one of base32, base64, base32768"
            )
        dirs = options.get("directory_name_encryption", True)
        if isinstance(dirs, str):
            if dirs in _TRUE:
                dirs = True
            elif dirs in _FALSE:
                dirs = False
        if not isinstance(dirs, bool):
            raise CryptConfigError(f"crypt directory_name_encryption {dirs!r} is not true or false")
        suffix = _text(options, "suffix", ".bin")
        if suffix.lower() == "none":
            suffix = ""
        return cls(
            password=password,
            password2=password2,
            filename_encryption=mode,  # type: ignore[arg-type]
            directory_name_encryption=dirs,
            filename_encoding=encoding,
            suffix=suffix,
        )


def _text(options: Mapping[str, object], key: str, default: str) -> str:
    value = options.get(key, default)
    if not isinstance(value, str):
        raise CryptConfigError(f"crypt option {key} must be a string")
    return value


def _reveal(value: str, key: str) -> str:
    try:
        return reveal(value)
    except CryptConfigError as exc:
        raise type(exc)(f"crypt option {key}: {exc}") from None


class Cipher:
    """Names, paths and contents of one crypt configuration (rclone-compatible).

    Paths use ``/`` and are relative to the encrypted root. "File" and "dir" matter: a
    file's last segment gets the ``off``-mode suffix and is encrypted even when directory
    names are not.
    """

    def __init__(
        self,
        options: CryptOptions,
        *,
        keys: Keys | None = None,
        nonce_source: NonceSource | None = None,
    ) -> None:
        """``keys`` skips scrypt (tests, :meth:`copy`); ``nonce_source(24)`` replaces
        ``os.urandom`` for file nonces (tests only: a repeated nonce breaks the encryption)."""
        self.options = options
        self._keys = keys if keys is not None else derive_keys(options.password, options.password2)
        self._nonce_source = nonce_source
        self._names = NameCipher(
            self._keys,
            NameCipherSettings(
                filename_encryption=options.filename_encryption,
                directory_name_encryption=options.directory_name_encryption,
                suffix=options.suffix,
            ),
            ENCODINGS[options.filename_encoding],
        )

    @classmethod
    def from_options(cls, options: Mapping[str, object], *, obscured: bool = False) -> Cipher:
        """A cipher from a config section in rclone's option names (see
        :meth:`CryptOptions.from_mapping`)."""
        return cls(CryptOptions.from_mapping(options, obscured=obscured))

    def copy(self) -> Cipher:
        """An independent cipher with the same keys (for another thread)."""
        return Cipher(self.options, keys=self._keys, nonce_source=self._nonce_source)

    def __repr__(self) -> str:
        return f"Cipher({self.options!r})"

    # --- names -------------------------------------------------------------------------------

    def encrypt_name(self, name: str, *, is_dir: bool = False) -> str:
        """One file or folder name (no ``/``) as it is stored on the host."""
        _one_segment(name)
        return self.encrypt_path(name, is_dir=is_dir)

    def decrypt_name(self, name: str, *, is_dir: bool = False) -> str:
        """The plain name of one stored name; :class:`BadNameError` if it does not decrypt."""
        _one_segment(name)
        return self.decrypt_path(name, is_dir=is_dir)

    def encrypt_path(self, path: str, *, is_dir: bool = False) -> str:
        """A relative path as stored (rclone's ``EncryptFileName`` / ``EncryptDirName``)."""
        if is_dir:
            return self._names.encrypt_dir_path(path)
        return self._names.encrypt_file_path(path)

    def decrypt_path(self, path: str, *, is_dir: bool = False) -> str:
        """The plain relative path of a stored path; :class:`BadNameError` if it does not
        decrypt (the subclass tells a foreign name from a wrong password)."""
        if is_dir:
            return self._names.decrypt_dir_path(path)
        return self._names.decrypt_file_path(path)

    def check_name(self, name: str, *, is_dir: bool = False) -> str | None:
        """Whether a stored name decrypts: the plain name, or None for a name crypt did not
        make (:class:`~syncd.crypt.errors.NotEncryptedNameError`, a foreign file to skip).

        Raises :class:`~syncd.crypt.errors.NameAuthError` for a name that is well-formed
        ciphertext but does not decrypt with these keys: the sign of a wrong password.
        """
        try:
            return self.decrypt_name(name, is_dir=is_dir)
        except NameAuthError:
            raise
        except BadNameError:
            return None

    def check_names(
        self, names: Sequence[str], *, is_dir: bool = False
    ) -> list[str | NameAuthError | None]:
        """:meth:`check_name` of many names at once (a folder's listing): for each, the plain
        name, None for a foreign name, or the :class:`NameAuthError` ``check_name`` would
        raise. Faster than one by one (:meth:`NameCipher.decrypt_names`)."""
        for name in names:
            _one_segment(name)
        return [
            None if isinstance(r, BadNameError) and not isinstance(r, NameAuthError) else r
            for r in self._names.decrypt_names(names, is_dir=is_dir)
        ]

    def check_password(self, stored_names: Iterable[str], *, is_dir: bool = False) -> bool | None:
        """Judge the password from names found on the host: True if one decrypts, False if
        some look like crypt ciphertext and none decrypts, None if there is nothing to judge
        (no names, or only foreign ones). Only meaningful for ``standard`` names."""
        judged = False
        for name in stored_names:
            try:
                if self.check_name(name, is_dir=is_dir) is not None:
                    return True
            except NameAuthError:
                judged = True
        return False if judged else None

    # --- the host's name limit -----------------------------------------------------------------

    def encrypted_name_length(self, name: str, *, is_dir: bool = False) -> int:
        """Characters of the stored form of one name."""
        return len(self.encrypt_name(name, is_dir=is_dir))

    def name_fits(
        self, name: str, *, is_dir: bool = False, limit: int = HOST_NAME_MAX_CHARS
    ) -> bool:
        """Whether the stored form of one plain name is at most ``limit`` characters."""
        return self.encrypted_name_length(name, is_dir=is_dir) <= limit

    def check_name_fits(
        self, name: str, *, is_dir: bool = False, limit: int = HOST_NAME_MAX_CHARS
    ) -> str:
        """The stored form of one name, or :class:`NameTooLongError` saying how long the
        plain name may be (for the engine to skip the file with that reason)."""
        encrypted = self.encrypt_name(name, is_dir=is_dir)
        if len(encrypted) > limit:
            raise NameTooLongError(name, len(encrypted), limit, self.max_plain_name_bytes(limit))
        return encrypted

    def max_plain_name_bytes(self, limit: int = HOST_NAME_MAX_CHARS) -> int:
        """The longest plain name (UTF-8 bytes) whose ``standard``-mode form fits ``limit``;
        for ``off`` it is the limit less the suffix, for ``obfuscate`` a safe lower bound."""
        mode = self.options.filename_encryption
        if mode == "off":
            return max(0, limit - len(self.options.suffix))
        if mode == "obfuscate":
            return max(0, (limit - 4) // 2)  # "NNN." then each character possibly quoted
        encoding = ENCODINGS[self.options.filename_encoding]
        best = 0
        for plain in range(1, 2048):
            if encoding.encoded_length(len(pkcs7_pad(bytes(plain)))) > limit:
                break
            best = plain
        return best

    # --- contents ------------------------------------------------------------------------------

    def encrypt_stream(
        self,
        source: BinaryIO,
        *,
        plain_size: int | None = None,
        nonce: bytes | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> EncryptingReader:
        """A reader of ``source``'s ciphertext (see :class:`EncryptingReader`)."""
        kwargs = {} if self._nonce_source is None else {"nonce_source": self._nonce_source}
        return EncryptingReader(
            source,
            self._keys.data_key,
            plain_size=plain_size,
            nonce=nonce,
            progress=progress,
            **kwargs,
        )

    def sealer(self) -> BlockSealer:
        """A :class:`BlockSealer` for one new file, with a fresh nonce (uploads that manage
        their own buffers and threads)."""
        nonce = (self._nonce_source or _urandom)(24)
        if len(nonce) != 24:
            raise ValueError("short read of nonce")
        return BlockSealer(self._keys.data_key, nonce)

    def decrypt_stream(self, source: BinaryIO) -> DecryptingReader:
        """A reader of the plaintext of ciphertext ``source``."""
        return DecryptingReader(source, self._keys.data_key)

    def decrypting_writer(self, sink: BinaryIO) -> DecryptingWriter:
        """A writer taking ciphertext and writing plaintext to ``sink`` (downloads)."""
        return DecryptingWriter(sink, self._keys.data_key)

    def decryptor(self) -> StreamDecryptor:
        """Push-style decryption (``update`` / ``finalize``)."""
        return StreamDecryptor(self._keys.data_key)

    def encrypt_bytes(self, data: bytes, *, nonce: bytes | None = None) -> bytes:
        """The ciphertext of a small in-memory file."""
        if nonce is None:
            nonce = (self._nonce_source or _urandom)(24)
        return encrypt_bytes(data, self._keys.data_key, nonce)

    def decrypt_bytes(self, data: bytes) -> bytes:
        """The plaintext of a small in-memory ciphertext."""
        return decrypt_bytes(data, self._keys.data_key)

    def ciphertext_md5(self, source: BinaryIO, nonce: bytes) -> str:
        """The MD5 the host would report for ``source`` encrypted with ``nonce`` (the nonce of
        a stored file, from its first 32 bytes): checks a local file against a stored one
        without downloading it all, as rclone's crypt ``ComputeHash`` does."""
        # The upload's sealer, into two buffers reused for the whole file: 2.6 CPU-s per GiB,
        # where EncryptingReader (a block and fresh bytes per call) took 4.7.
        sealer = BlockSealer(self._keys.data_key, nonce)
        md5 = hashlib.md5(sealer.header, usedforsecurity=False)
        piece = bytearray(_MD5_PIECE)
        sealed = bytearray(sealed_size(_MD5_PIECE))
        view, out = memoryview(piece), memoryview(sealed)
        while size := readinto_full(source, view):
            md5.update(out[: sealer.seal_into(view[:size], out)])
            if size < _MD5_PIECE:
                break
        return md5.hexdigest()

    @staticmethod
    def encrypted_size(plain_size: int) -> int:
        return encrypted_size(plain_size)

    @staticmethod
    def decrypted_size(cipher_size: int) -> int:
        return decrypted_size(cipher_size)

    def with_options(self, **changes: object) -> Cipher:
        """The same keys with other name options (e.g. another encoding); passwords can not
        be changed this way."""
        if "password" in changes or "password2" in changes:
            raise ValueError("with_options keeps the keys: build a new Cipher for new passwords")
        options = replace(self.options, **changes)  # type: ignore[arg-type]
        return Cipher(options, keys=self._keys, nonce_source=self._nonce_source)


_MD5_PIECE = 16 * BLOCK_DATA_SIZE  # 1 MiB of plaintext: whole blocks until the file's end


def _urandom(n: int) -> bytes:
    return os.urandom(n)


def _one_segment(name: str) -> None:
    if "/" in name:
        raise ValueError(f"a name has no '/': {name!r} (use encrypt_path for paths)")
