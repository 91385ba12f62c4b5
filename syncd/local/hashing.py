"""MD5 of local files, as fast as `md5sum`: the one implementation the sync, restore and verify
share.

The host reports the MD5 of what it stored (`hash` in the `file/upload` answer), so MD5 is the one
content hash the sync needs. Speed comes from large reads into one reusable buffer (no per-chunk
`bytes` objects) and from hashlib releasing the GIL for large updates, so several files can be
hashed in parallel threads.

- `md5_file(path)`: by path; follows symlinks like `open` unless ``follow_symlinks=False``.
- `md5_at(dir_fd, name)`: a name inside an open directory, never through a symlink (restore
  reads only through no-follow directory descriptors).
- `md5_stream(fileobj)`: an already open binary file, from its current position.
- `stored_md5_file(path, nonce, sealed_md5)`, `stored_md5_at(dir_fd, name, nonce, sealed_md5)`:
  the MD5 the host holds for the file as syncd stored it, to compare with the journal's: its
  own, or for an encrypted pair's upload (the journal keeps its ``nonce``) the MD5 of its
  ciphertext under that nonce, which ``sealed_md5`` computes (the pair's cipher).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable
from typing import BinaryIO

# 1 MiB: large enough that syscall and Python overhead vanish next to hashing, small enough to stay
# in L2/L3 cache. Measured: 256 KiB–4 MiB are all within noise of each other.
CHUNK_SIZE = 1 << 20

# The MD5 of a stream's ciphertext sealed under a nonce (Cipher.ciphertext_md5).
SealedMd5 = Callable[[BinaryIO, bytes], str]


def md5_file(
    path: str | os.PathLike[str],
    *,
    follow_symlinks: bool = True,
    chunk_size: int = CHUNK_SIZE,
) -> str:
    """Return the lowercase hex MD5 of the file at `path`.

    Raises OSError (FileNotFoundError, PermissionError, ...) like `open`; the caller decides what a
    vanished or unreadable file means. Symlinks are followed, as `open` does (the scanner has
    already decided which paths are safe to read); with ``follow_symlinks=False`` a symlink at
    `path` raises OSError (ELOOP) instead.
    """
    flags = os.O_RDONLY if follow_symlinks else os.O_RDONLY | os.O_NOFOLLOW
    return _md5_fd(os.open(path, flags), chunk_size)


def md5_at(dir_fd: int, name: str, *, chunk_size: int = CHUNK_SIZE) -> str:
    """The hex MD5 of `name` inside the open directory `dir_fd`, refusing a symlink (OSError)."""
    return _md5_fd(os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd), chunk_size)


def md5_stream(fileobj: BinaryIO, *, chunk_size: int = CHUNK_SIZE) -> str:
    """The hex MD5 of what is left to read in `fileobj` (read to its end, not closed)."""
    digest = hashlib.md5(usedforsecurity=False)
    update = digest.update
    readinto = getattr(fileobj, "readinto", None)
    if readinto is None:  # a plain reader: one bytes object per chunk
        while chunk := fileobj.read(chunk_size):
            update(chunk)
        return digest.hexdigest()
    view = memoryview(bytearray(chunk_size))
    while n := readinto(view):
        update(view[:n] if n < chunk_size else view)
    return digest.hexdigest()


def stored_md5_file(
    path: str | os.PathLike[str],
    nonce: bytes | None,
    sealed_md5: SealedMd5 | None,
    *,
    follow_symlinks: bool = True,
) -> str | None:
    """The hex MD5 the host holds for the file at `path` as syncd stored it: its own without a
    ``nonce``, else its ciphertext's under ``nonce``; None when there is a nonce but no
    ``sealed_md5`` (the pair has no key now): nothing to compare with. OSError as `md5_file`."""
    if nonce is not None and sealed_md5 is None:
        return None
    flags = os.O_RDONLY if follow_symlinks else os.O_RDONLY | os.O_NOFOLLOW
    return _md5_fd(os.open(path, flags), CHUNK_SIZE, nonce, sealed_md5)


def stored_md5_at(
    dir_fd: int, name: str, nonce: bytes | None, sealed_md5: SealedMd5 | None
) -> str | None:
    """`stored_md5_file` of `name` inside the open directory `dir_fd`, refusing a symlink."""
    if nonce is not None and sealed_md5 is None:
        return None
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
    return _md5_fd(fd, CHUNK_SIZE, nonce, sealed_md5)


def _md5_fd(
    fd: int,
    chunk_size: int,
    nonce: bytes | None = None,
    sealed_md5: SealedMd5 | None = None,
) -> str:
    """Hash and close `fd` (closed even if wrapping it fails); with a ``nonce``, the MD5 of
    its ciphertext under it (``sealed_md5``)."""
    try:
        f = open(fd, "rb", buffering=0)  # noqa: SIM115 - closed by the with below
    except BaseException:
        os.close(fd)
        raise
    with f:
        _advise_sequential(fd)
        if nonce is not None and sealed_md5 is not None:
            return sealed_md5(f, nonce)
        return md5_stream(f, chunk_size=chunk_size)


def _advise_sequential(fd: int) -> None:
    # Lets the kernel read ahead more aggressively; harmless where unsupported.
    fadvise = getattr(os, "posix_fadvise", None)
    if fadvise is not None:
        with contextlib.suppress(OSError):
            fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
