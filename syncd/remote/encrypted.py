"""A pair's view of the host through rclone's crypt format (docs/architecture.md, "Encryption").

:class:`EncryptedClient` wraps the shared :class:`RemoteClient` for one encrypted pair, the way
rclone's crypt backend wraps another remote: the engine, restore and verify call the same
methods with plain names and sizes, and see plain names and sizes in what comes back.

- Names going out (upload, folder/create, file/edit, folder/edit) are encrypted, one path
  segment at a time; a name whose encrypted form is longer than the host holds is refused
  (:class:`~syncd.remote.errors.Refused`) before anything is sent.
- Names coming back (listings, results) are decrypted; listing sizes are mapped from ciphertext
  to plaintext (exact in this format), so size comparisons against the journal hold.
- A listing with names, none of which decrypts, stops the caller with a one-line
  :class:`CryptMismatch` (exit 2) before it decides anything: every encrypted name failing
  authentication is a wrong password (or password2); names that are not crypt output at all
  are a folder synced without encryption. A few foreign names beside decryptable ones are left
  out of the listing (never synced, never trashed) and logged.
- Upload bodies are encrypted as they are sent (constant memory); the host's MD5 is checked
  against the ciphertext sent, and the result carries that MD5 and the file's nonce, which the
  journal keeps: a local file is compared with the upload by sealing it again under that nonce
  (:func:`sealed_md5_of`), as rclone's crypt compares a local file with a stored one. Hashing
  the plaintext too would cost a second MD5 of every byte sent, a third of an encrypted
  upload's CPU. Downloads are decrypted as they come.

Everything is encrypted below the pair's root folder, versions area included; the path *to*
the root stays plain (as a crypt remote's own path does in rclone): :func:`plain_client` is what
:mod:`syncd.remote.paths` walks it with.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO

from syncd.crypt import (
    FILE_MAGIC,
    HEADER_SIZE,
    BlockSealer,
    Cipher,
    ContentAuthError,
    ContentError,
    CryptError,
    NameAuthError,
    NameEncryptError,
    NameTooLongError,
    decrypted_size,
    encrypted_size,
    readinto_full,
    sealed_size,
)
from syncd.errors import ExitCode, UserError
from syncd.remote.client import UPLOAD_CONTENT_TYPE, RemoteClient
from syncd.remote.errors import Refused, RemoteError
from syncd.remote.models import (
    CopyResult,
    DownloadLink,
    FolderListing,
    RemoteFile,
    RemoteFolder,
    UploadResult,
)
from syncd.remote.uploads import (
    SMALL_UPLOAD_MAX,
    STREAM_CHUNK,
    FileChangedError,
    HashingReader,
    UploadBody,
)

log = logging.getLogger(__name__)

EXAMPLES = 3  # names quoted in a mismatch message


class CryptMismatch(UserError):
    """The remote folder's names do not decrypt with the pair's encryption settings: a wrong
    password, or a folder synced without encryption (or with other settings)."""

    exit_code = ExitCode.USAGE


class ContentMismatch(RemoteError):
    """A downloaded file does not decrypt (wrong password, foreign or damaged file)."""


def plain_client(client: Any) -> RemoteClient:
    """The client that sends names as they are (the path to a pair's root is never
    encrypted)."""
    return client.plain if isinstance(client, EncryptedClient) else client


class EncryptedClient:
    """The :class:`RemoteClient` methods the engine, restore and verify use, through crypt.

    Thread-safe: each thread gets its own copy of the cipher (its AES contexts), made without
    running scrypt again.
    """

    def __init__(self, client: RemoteClient, cipher: Cipher, *, pair: str = "") -> None:
        self.plain = client
        self.pair = pair
        self._cipher = cipher
        self._local = threading.local()
        self._lock = threading.Lock()
        self._reported: set[tuple[int | None, str]] = set()
        self.undecryptable: list[tuple[int | None, str]] = []  # (folder id, stored name)
        self._key_checked = False  # obfuscate/off names: one file's content checked the key

    def __getattr__(self, name: str) -> Any:
        # Everything that carries no name or content (limits, stats, auth, deletes, moves).
        return getattr(self.plain, name)

    def __repr__(self) -> str:
        return f"EncryptedClient({self.plain!r}, pair={self.pair!r})"

    @property
    def cipher(self) -> Cipher:
        cipher: Cipher | None = getattr(self._local, "cipher", None)
        if cipher is None:
            cipher = self._local.cipher = self._cipher.copy()
        return cipher

    # ------------------------------------------------------------------ names

    def encrypt_name(self, name: str, *, is_dir: bool = False) -> str:
        """The stored form of one plain name, or :class:`Refused` when the host cannot hold it."""
        try:
            return self.cipher.check_name_fits(name, is_dir=is_dir)
        except (NameTooLongError, NameEncryptError) as exc:
            raise Refused(str(exc), action="encrypt") from None

    def name_issue(self, name: str, is_dir: bool) -> str | None:
        """Why ``name`` cannot be stored encrypted (for the planner), or None."""
        try:
            self.cipher.check_name_fits(name, is_dir=is_dir)
        except NameTooLongError as exc:
            return (
                f"encrypted name is {exc.encrypted_length} characters, over the host's limit of "
                f"{exc.limit}: shorten it to at most {exc.max_plain_bytes} UTF-8 bytes"
            )
        except NameEncryptError as exc:
            return f"cannot be encrypted: {exc.reason}"
        return None

    def _plain_name(self, name: str, *, is_dir: bool) -> str | None:
        try:
            return self.cipher.check_name(name, is_dir=is_dir)
        except NameAuthError:
            return None

    def _file(self, f: RemoteFile) -> RemoteFile:
        """A result's file with its plain name and size (kept as stored if they do not
        decrypt: a result names a file the caller already chose by id)."""
        plain = self._plain_name(f.name, is_dir=False)
        try:
            size = decrypted_size(f.size)
        except CryptError:
            size = f.size
        return f.with_name_and_size(plain if plain is not None else f.name, size)

    def _folder(self, folder: RemoteFolder) -> RemoteFolder:
        plain = self._plain_name(folder.name, is_dir=True)
        return replace(folder, name=plain) if plain is not None else folder

    # ------------------------------------------------------------------ listings

    def folder_listing(self, parent_folder_id: int | None) -> FolderListing:
        raw = self.plain.folder_listing(parent_folder_id)
        folders: list[RemoteFolder] = []
        files: list[RemoteFile] = []
        wrong: list[str] = []
        foreign: list[str] = []
        cipher = self.cipher
        folder_names = cipher.check_names([folder.name for folder in raw.folders], is_dir=True)
        for folder, plain in zip(raw.folders, folder_names, strict=True):
            if isinstance(plain, NameAuthError):
                wrong.append(folder.name)
            elif plain is None:
                foreign.append(folder.name)
            else:
                folders.append(replace(folder, name=plain))
        file_names = cipher.check_names([f.name for f in raw.files])
        for f, plain in zip(raw.files, file_names, strict=True):
            if isinstance(plain, NameAuthError):
                wrong.append(f.name)
                continue
            try:
                size = decrypted_size(f.size) if plain is not None else 0
            except ContentError:  # a size crypt never produces: not an encrypted file
                plain = None
            if plain is None:
                foreign.append(f.name)
            else:
                files.append(f.with_name_and_size(plain, size))
        if (wrong or foreign) and not folders and not files:
            raise self._mismatch(parent_folder_id, wrong, foreign)
        for name in wrong + foreign:
            self._report(parent_folder_id, name)
        if files and not self._key_checked and cipher.options.filename_encryption != "standard":
            self._check_key_by_content(min(files, key=lambda f: f.size))
        return FolderListing(folders, files)

    def _check_key_by_content(self, sample: RemoteFile) -> None:
        """Names made with ``obfuscate`` or ``off`` carry no authentication: the first block
        of one file (the smallest of the first listing that has files) tells a wrong password
        instead, before the caller decides anything. Once per client (per pass)."""
        decryptor = self.cipher.decryptor()
        try:
            link = self.plain.file_download(sample.id)
            with closing(self.plain.iter_download(link)) as chunks:
                for chunk in chunks:
                    if decryptor.update(chunk):
                        break  # one whole block authenticated: enough
                else:
                    decryptor.finalize()
        except ContentAuthError:
            raise CryptMismatch(
                f"{'pair ' + repr(self.pair) + ': ' if self.pair else ''}remote file "
                f"#{sample.id} does not decrypt with the configured encryption password: wrong "
                "password or password2, or another key's data — set the password this folder "
                "was encrypted with, or use another remote folder"
            ) from None
        except ContentError:
            raise CryptMismatch(
                f"{'pair ' + repr(self.pair) + ': ' if self.pair else ''}remote file "
                f"#{sample.id} is not rclone-crypt data: the folder was synced without "
                "encryption — give the encrypted pair an empty remote folder"
            ) from None
        self._key_checked = True

    def _mismatch(
        self, folder_id: int | None, wrong: list[str], foreign: list[str]
    ) -> CryptMismatch:
        where = f"remote folder #{folder_id}" if folder_id else "the account root"
        pair = f"pair {self.pair!r}: " if self.pair else ""
        if wrong:
            return CryptMismatch(
                f"{pair}{where} holds encrypted names that do not decrypt with the configured "
                f"encryption password ({len(wrong)} of {len(wrong) + len(foreign)}): wrong "
                "password or password2, or another key's data — set the password this folder "
                "was encrypted with, or use another remote folder"
            )
        examples = ", ".join(repr(n) for n in foreign[:EXAMPLES])
        return CryptMismatch(
            f"{pair}{where} holds names that are not encrypted ({examples}"
            f"{', ...' if len(foreign) > EXAMPLES else ''}): it was synced without encryption or "
            "with other filename settings — give the encrypted pair an empty remote folder, or "
            "remove [pairs.encryption]"
        )

    def _report(self, folder_id: int | None, name: str) -> None:
        with self._lock:
            if (folder_id, name) in self._reported:
                return
            self._reported.add((folder_id, name))
            self.undecryptable.append((folder_id, name))
        log.warning(
            "remote name %r in folder #%s does not decrypt: left alone (not synced, not trashed)",
            name,
            folder_id,
        )

    # ------------------------------------------------------------------ folders

    def folder_create(
        self,
        folder_name: str,
        parent_id: int | None = None,
        *,
        is_public: int = 0,
        access_password: str | None = None,
    ) -> RemoteFolder:
        stored = self.encrypt_name(folder_name, is_dir=True)
        return self._folder(
            self.plain.folder_create(
                stored, parent_id, is_public=is_public, access_password=access_password
            )
        )

    def folder_info(self, folder_id: int) -> RemoteFolder:
        return self._folder(self.plain.folder_info(folder_id))

    def folder_edit(
        self,
        folder_id: int,
        *,
        folder_name: str | None = None,
        parent_id: int | None = None,
        is_public: int | None = None,
        access_password: str | None = None,
    ) -> RemoteFolder:
        stored = None if folder_name is None else self.encrypt_name(folder_name, is_dir=True)
        return self._folder(
            self.plain.folder_edit(
                folder_id,
                folder_name=stored,
                parent_id=parent_id,
                is_public=is_public,
                access_password=access_password,
            )
        )

    def folder_move(self, folder_id: int, new_parent_folder_id: int | None) -> RemoteFolder:
        return self._folder(self.plain.folder_move(folder_id, new_parent_folder_id))

    def folder_relocate(
        self, folder_id: int, parent_id: int | None, *, folder_name: str | None = None
    ) -> RemoteFolder:
        stored = None if folder_name is None else self.encrypt_name(folder_name, is_dir=True)
        return self._folder(self.plain.folder_relocate(folder_id, parent_id, folder_name=stored))

    # ------------------------------------------------------------------ files

    def file_info(self, file_id: int) -> RemoteFile:
        return self._file(self.plain.file_info(file_id))

    def file_edit(
        self,
        file_id: int,
        *,
        filename: str | None = None,
        file_type: str | None = None,
        folder_id: int | None = None,
    ) -> RemoteFile:
        stored = None if filename is None else self.encrypt_name(filename)
        return self._file(
            self.plain.file_edit(file_id, filename=stored, file_type=file_type, folder_id=folder_id)
        )

    def file_relocate(
        self, file_id: int, folder_id: int | None, *, filename: str | None = None
    ) -> RemoteFile:
        stored = None if filename is None else self.encrypt_name(filename)
        return self._file(self.plain.file_relocate(file_id, folder_id, filename=stored))

    def file_move(self, file_id: int, new_parent_folder_id: int | None) -> RemoteFile:
        return self._file(self.plain.file_move(file_id, new_parent_folder_id))

    def file_delete(self, file_id: int) -> RemoteFile:
        return self._file(self.plain.file_delete(file_id))

    def file_copy(self, file_id: int, copy_to_folder_id: int | None) -> CopyResult:
        copy = self.plain.file_copy(file_id, copy_to_folder_id)
        return CopyResult(self._file(copy.original), self._file(copy.new))

    def upload_file(
        self,
        path: Path,
        folder_id: int | None,
        *,
        filename: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> UploadResult:
        """Encrypts ``path`` as it is sent (constant memory). The host's MD5 is checked against
        the ciphertext; the result holds the plain name and size, the ciphertext's MD5 and the
        nonce it was sealed with."""
        path = Path(path)
        name = filename if filename is not None else path.name
        stored = self.encrypt_name(name)
        nonces: list[bytes] = []  # one per attempt: each draws a fresh nonce

        def body() -> UploadBody:
            opened, nonce = _encrypted_body(path, stored, self.cipher, progress)
            nonces.append(nonce)
            return opened

        result = self.plain.upload_body(body, folder_id)
        size = decrypted_size(result.size) if result.size else result.size
        stored_plain = self._plain_name(result.name, is_dir=False)
        return replace(result, name=stored_plain or name, size=size, nonce=nonces[-1])

    # ------------------------------------------------------------------ downloads

    def file_download(self, file_id: int) -> DownloadLink:
        link = self.plain.file_download(file_id)
        plain = self._plain_name(link.filename, is_dir=False) if link.filename else None
        return replace(link, filename=plain) if plain is not None else link

    def iter_download(self, link: DownloadLink, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The plaintext of the file behind ``link``; :class:`ContentMismatch` if it does not
        decrypt (the caller reports the file as failed)."""
        decryptor = self.cipher.decryptor()
        try:
            for chunk in self.plain.iter_download(link, chunk_size):
                plain = decryptor.update(chunk)
                if plain:
                    yield plain
            tail = decryptor.finalize()
        except ContentError as exc:
            raise ContentMismatch(
                f"file #{link.file_id} does not decrypt: {exc}", action="download"
            ) from None
        if tail:
            yield tail


def _encrypted_body(
    path: Path, stored_name: str, cipher: Cipher, progress: Callable[[int], None] | None
) -> tuple[UploadBody, bytes]:
    """One attempt's body: the ciphertext of ``path``, and the nonce it is sealed with."""
    handle = path.open("rb", buffering=0)
    try:
        size = os.fstat(handle.fileno()).st_size
        if size > SMALL_UPLOAD_MAX:
            sealer = cipher.sealer()
            reader = _SealedUpload(handle, size, sealer, progress)
            body = UploadBody(
                stored_name,
                UPLOAD_CONTENT_TYPE,
                reader=reader,  # type: ignore[arg-type]
                to_close=[reader, handle],  # type: ignore[list-item]  # the thread stops first
            )
            return body, sealer.nonce
        reader_all = HashingReader(handle, size, progress)
        data = b"".join(iter(lambda: reader_all.read(size), b""))  # short reads: read on
    except BaseException:
        handle.close()
        raise
    handle.close()
    content = cipher.encrypt_bytes(data)
    md5 = hashlib.md5(content, usedforsecurity=False).hexdigest()
    assert len(content) == encrypted_size(size)
    body = UploadBody(stored_name, UPLOAD_CONTENT_TYPE, content=content, _md5=md5)
    return body, content[len(FILE_MAGIC) : HEADER_SIZE]


class _SealedUpload:
    """One attempt's ciphertext of a large file, made ahead of the sender by a thread.

    ``syncd-encrypt`` reads the file into one of a few reused buffers and seals it into
    another; the sending thread hashes the ciphertext as it hands it out (what the host's MD5
    must equal, and what the journal keeps). Reads, hashlib and the sealer release the GIL, so
    the two overlap on two cores. The buffers are allocated once: fresh MiB-sized ones per
    piece cost page faults worth a tenth of the CPU, and the pools bound memory to ``PIECES``
    pieces each way.
    """

    PIECES = 4

    def __init__(
        self,
        raw: BinaryIO,
        plain_size: int,
        sealer: BlockSealer,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self._raw = raw
        self._plain_size = plain_size
        self._sealer = sealer
        self._progress = progress
        self.size = encrypted_size(plain_size)
        self._plain_free: queue.Queue[bytearray | None] = queue.Queue()
        self._sealed_free: queue.Queue[bytearray | None] = queue.Queue()
        # A file of a few pieces gets buffers for those only (a 300 KiB file one of 300 KiB).
        piece = max(1, min(STREAM_CHUNK, plain_size))
        for _ in range(min(self.PIECES, -(-plain_size // piece)) or 1):
            self._plain_free.put(bytearray(piece))
            self._sealed_free.put(bytearray(sealed_size(piece)))
        # Unbounded: what is in it is bounded by the pools above.
        self._ready: queue.Queue[tuple[bytearray, int] | bytes | BaseException | None] = (
            queue.Queue()
        )
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sent = 0
        self._done = False
        self._stop = threading.Event()
        self._sealing = threading.Thread(target=self._seal, name="syncd-encrypt", daemon=True)
        self._sealing.start()

    # -- syncd-encrypt
    def _seal(self) -> None:
        try:
            self._ready.put(self._sealer.header)
            pos = 0
            while pos < self._plain_size:
                plain = self._plain_free.get()
                sealed = self._sealed_free.get()
                if plain is None or sealed is None or self._stop.is_set():
                    return  # closed: the sender is gone
                want = min(len(plain), self._plain_size - pos)
                view = memoryview(plain)[:want]
                if readinto_full(self._raw, view) < want:
                    raise FileChangedError("file shrank while uploading")
                pos += want
                self._ready.put((sealed, self._sealer.seal_into(view, sealed)))
                self._plain_free.put(plain)
                if self._progress is not None:
                    self._progress(pos)
            self._ready.put(None)
        except BaseException as exc:  # handed to the sender, which raises it in its thread
            self._ready.put(exc)

    # -- the sender
    @property
    def bytes_sent(self) -> int:
        return self._sent

    def read(self, size: int = -1) -> bytes:
        """The next piece (the header, then up to ``STREAM_CHUNK`` of plaintext sealed);
        b"" at the end."""
        if self._done:
            return b""
        item = self._ready.get()
        if item is None or isinstance(item, BaseException):
            self._done = True
            if item is not None:
                raise item
            return b""
        if isinstance(item, bytes):
            piece = item
        else:
            sealed, n = item
            # A copy the sender may keep (h11 would make it anyway): the buffer goes back.
            piece = bytes(memoryview(sealed)[:n])
            self._sealed_free.put(sealed)
        self._md5.update(piece)
        self._sent += len(piece)
        return piece

    def hexdigest(self) -> str:
        """The ciphertext's MD5, once every piece has been read."""
        return self._md5.hexdigest() if self._done else ""

    def close(self) -> None:
        """Stops the sealing thread (before the file is closed); idempotent."""
        self._stop.set()
        self._plain_free.put(None)  # wakes the sealer if it waits for a buffer
        self._sealed_free.put(None)
        self._sealing.join()


def sealed_md5_of(client: Any) -> Callable[[BinaryIO, bytes], str] | None:
    """How ``client``'s pair computes the MD5 the host holds for a local file it sealed under
    a nonce (the journal's ``nonce``): its cipher's; None for a pair without encryption."""
    return client.cipher.ciphertext_md5 if isinstance(client, EncryptedClient) else None


def looks_encrypted(name: str) -> bool:
    """Whether ``name`` has the shape of a crypt ``standard`` name (base32 or base64 of whole
    AES blocks): what a pair without encryption finds where an encrypted pair synced."""
    from syncd.crypt.encodings import ENCODINGS

    for encoding in ("base32", "base64"):
        try:
            data = ENCODINGS[encoding].decode(name)
        except (ValueError, CryptError):
            continue
        if data and len(data) % 16 == 0:
            return True
    return False


def refuse_encrypted_listing(listing: FolderListing, pair: str) -> None:
    """A pair without encryption must not sync into a folder an encrypted pair filled (its
    names would be taken for untracked files, or renamed back by id): every name in the
    pair's root listing looking like crypt output stops the pass before anything is written."""
    names = [f.name for f in listing.folders] + [f.name for f in listing.files]
    if names and all(looks_encrypted(name) for name in names):
        shown = ", ".join(repr(n) for n in names[:EXAMPLES]) + (
            ", ..." if len(names) > EXAMPLES else ""
        )
        raise CryptMismatch(
            f"pair {pair!r}: its remote folder holds only encrypted-looking names ({shown}"
            "): it was synced with encryption — add the pair's [pairs.encryption] settings, "
            "or give it another remote folder"
        )
