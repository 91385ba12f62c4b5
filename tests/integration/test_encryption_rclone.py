"""An encrypted pair's remote folder and a crypt remote of the real rclone hold the same thing.

- syncd syncs a tree with encryption; its remote folder, downloaded raw (names as stored, bytes
  through download URLs) into a local directory, is decrypted by ``rclone copy`` from a crypt
  remote over that directory: the same names, the same bytes.
- rclone encrypts a tree into a local directory; that directory, uploaded raw to the emulator by
  the plain client, is restored by ``syncd restore`` byte for byte.

Skipped when ``rclone`` is not on PATH (the Debian package ``rclone`` provides it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from syncd.remote.downloads import download_to
from tests.integration.test_crypt_rclone import RCLONE, rclone, rclone_env
from tests.integration.test_encryption import (
    PASSWORD,
    PASSWORD2,
    encrypted_config,
    keys,
    reconcile,
    vault_rows,
)
from tests.support.cli import run_syncd
from tests.support.restore import upload_tree
from tests.support.trees import md5_tree, write_tree

pytestmark = pytest.mark.skipif(
    RCLONE is None, reason="rclone is not on PATH (apt-get install rclone) — interop not tested"
)

TREE = {
    "readme.txt": b"read me with rclone\n",
    "photos/2024/summer/beach.jpg": os.urandom(150_000),
    "photos/2024/big.raw": os.urandom(3 * 65536 + 17),  # whole and partial blocks
    # Above SMALL_UPLOAD_MAX: sealed piece by piece in reused buffers, 1 MiB pieces and a rest.
    "photos/2024/huge.raw": os.urandom(2 * 1024 * 1024 + 65536 + 17),
    "docs/Ünïcödé name.md": "# ünïcödé\n".encode(),
    "docs/with space & (parens).txt": b"odd names survive\n",
}
OPTIONS = {"password": PASSWORD, "password2": PASSWORD2}


def download_raw(client: Any, admin: Any, dest: Path) -> None:
    """The remote folder Vault as stored: raw names, raw bytes (via download URLs)."""
    folders, files = vault_rows(admin)
    names = {f["id"]: (f["parent_id"], f["name"]) for f in folders}

    def path_of(folder_id: int) -> Path:
        parts: list[str] = []
        while folder_id in names:
            folder_id, name = names[folder_id]
            parts.append(name)
        return dest.joinpath(*reversed(parts))

    for folder in folders:
        path_of(folder["id"]).mkdir(parents=True, exist_ok=True)
    for f in files:
        target = path_of(f["folder_id"]) / f["name"]
        with target.open("wb") as sink:
            download_to(client, f["id"], sink)


def test_rclone_reads_what_an_encrypted_pair_synced(
    emulator: Any, client: Any, tmp_path: Path
) -> None:
    local = write_tree(tmp_path / "local", TREE)
    config = encrypted_config(tmp_path, emulator.api_url, local, encryption=keys())
    result = reconcile(config)
    assert result.returncode == 0, result.stdout + result.stderr

    raw = tmp_path / "raw"
    raw.mkdir()
    download_raw(client, emulator.admin, raw)
    assert not {p.name for p in raw.rglob("*")} & {"readme.txt", "photos", "docs"}

    plain = tmp_path / "plain"
    rclone(["copy", "sc:", str(plain)], rclone_env(tmp_path, OPTIONS, raw))
    assert md5_tree(plain) == md5_tree(local)  # identical names, identical bytes


def test_syncd_restores_what_rclone_encrypted(emulator: Any, client: Any, tmp_path: Path) -> None:
    source = write_tree(tmp_path / "source", TREE)
    encrypted = tmp_path / "encrypted"
    encrypted.mkdir()
    rclone(["copy", str(source), "sc:"], rclone_env(tmp_path, OPTIONS, encrypted))
    vault = client.folder_create("Vault", None)
    upload_tree(client, encrypted, vault.id)  # raw: rclone's names and bytes, as they are

    elsewhere = tmp_path / "pair-local"
    elsewhere.mkdir()
    config = encrypted_config(tmp_path, emulator.api_url, elsewhere, encryption=keys())
    dest = tmp_path / "restored"
    done = run_syncd("restore", "--pair", "vault", str(dest), config=config)
    assert done.returncode == 0, done.stdout + done.stderr
    assert md5_tree(dest) == md5_tree(source)
