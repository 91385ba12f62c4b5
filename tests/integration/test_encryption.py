"""Encrypted pairs end to end through the command line, against the emulator.

A pair with ``[pairs.encryption]`` stores rclone-crypt names and contents: the host never sees a
plain name or a plain byte, restore and ``verify --deep`` give back the plain tree, a rename is
one ``file/edit``, and a wrong password, a switch between plain and encrypted, or a name too
long once encrypted each stop with one line and nothing uploaded.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from syncd.crypt import Cipher, encrypted_size, obscure
from syncd.emulator.testing import MUTATING_ACTIONS
from syncd.journal.store import Journal
from tests.integration.test_versions_journey import _moment
from tests.support.cli import error_line, run_syncd
from tests.support.restore import restore_config
from tests.support.trees import md5_tree, write_tree

PASSWORD = "correct horse battery staple"
PASSWORD2 = "pepper and salt"
TREE = {
    "notes.txt": b"plain words the host must never read\n",
    "photos/2024/beach.jpg": os.urandom(200_000),  # a few 64 KiB blocks, sent whole
    "photos/2024/big.raw": os.urandom(700_000),  # streamed (above the small-upload size)
    "docs/report final.pdf": b"%PDF-1.4 report\n" * 50,
}
PLAIN_NAMES = {"notes.txt", "photos", "2024", "beach.jpg", "big.raw", "docs", "report final.pdf"}


def encrypted_config(
    tmp_path: Path,
    api_url: str,
    local: Path,
    *,
    state: Path | None = None,
    encryption: dict[str, str] | None = None,
    mode: str | None = None,
) -> Path:
    """One pair "vault" on remote folder Vault; ``encryption`` None writes no table."""
    config = restore_config(
        tmp_path / "config.toml",
        api_url,
        state or tmp_path / "state.db",
        pairs={"vault": (local, "Vault")},
    )
    with config.open("a") as fh:
        if mode is not None:
            fh.write(f'mode = "{mode}"\n')
        if encryption is not None:
            fh.write("\n[pairs.encryption]\n")
            for key, value in encryption.items():
                fh.write(f'{key} = "{value}"\n')
    return config


def keys(password: str = PASSWORD) -> dict[str, str]:
    return {"password": password, "password2": PASSWORD2}


def reconcile(config: Path) -> Any:
    return run_syncd("reconcile", "--pair", "vault", config=config)


def vault_rows(admin: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Active folders and files below the remote folder Vault (raw, as the host holds them)."""
    tree = admin.tree()
    active = [f for f in tree["folders"] if f["status"] == "active"]
    (root,) = [f["id"] for f in active if f["name"] == "Vault" and f["parent_id"] is None]
    inside, grew = {root}, True
    while grew:
        more = {f["id"] for f in active if f["parent_id"] in inside} - inside
        grew, inside = bool(more), inside | more
    folders = [f for f in active if f["id"] in inside and f["id"] != root]
    files = [f for f in tree["files"] if f["status"] == "active" and f["folder_id"] in inside]
    return folders, files


def mutations(admin: Any) -> dict[str, int]:
    return {k: v for k, v in admin.counts().items() if k in MUTATING_ACTIONS and v}


def test_encrypted_pair_syncs_restores_and_verifies(emulator: Any, tmp_path: Path) -> None:
    local = write_tree(tmp_path / "local", TREE)
    config = encrypted_config(tmp_path, emulator.api_url, local, encryption=keys())
    result = reconcile(config)
    assert result.returncode == 0, result.stderr
    assert PASSWORD not in result.stdout + result.stderr

    # The host holds no plain name and no plain byte: every name decrypts, sizes are rclone's.
    cipher = Cipher.from_options(keys())
    folders, files = vault_rows(emulator.admin)
    assert len(files) == len(TREE) and len(folders) == 3
    raw_names = {f["name"] for f in folders + files}
    assert not raw_names & PLAIN_NAMES
    plain = {cipher.decrypt_name(f["name"]) for f in files}
    assert plain == {rel.rsplit("/", 1)[-1] for rel in TREE}
    assert {cipher.decrypt_name(f["name"], is_dir=True) for f in folders} == {
        "photos",
        "2024",
        "docs",
    }
    sizes = {cipher.decrypt_name(f["name"]): f["size"] for f in files}
    assert sizes == {rel.rsplit("/", 1)[-1]: encrypted_size(len(d)) for rel, d in TREE.items()}

    # A second pass changes nothing (sizes compare in plaintext).
    emulator.admin.reset_counts()
    again = reconcile(config)
    assert again.returncode == 0, again.stderr
    assert mutations(emulator.admin) == {}

    part = tmp_path / "part"
    done = run_syncd(
        "restore", "--pair", "vault", "--path", "photos/2024", str(part), config=config
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert set(md5_tree(part)) == {"photos/2024/beach.jpg", "photos/2024/big.raw"}

    deep = run_syncd("verify", "--pair", "vault", "--deep", config=config)
    assert deep.returncode == 0, deep.stdout + deep.stderr

    restored = tmp_path / "restored"
    done = run_syncd("restore", "--pair", "vault", str(restored), config=config)
    assert done.returncode == 0, done.stdout + done.stderr
    assert md5_tree(restored) == md5_tree(local)

    # From the host alone: a fresh machine with only the config (no state database).
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    alone = encrypted_config(
        fresh, emulator.api_url, local, state=fresh / "state.db", encryption=keys()
    )
    again_restored = tmp_path / "restored-alone"
    done = run_syncd("restore", "--pair", "vault", str(again_restored), config=alone)
    assert done.returncode == 0, done.stdout + done.stderr
    assert md5_tree(again_restored) == md5_tree(local)


def test_rename_and_move_are_one_edit_each(emulator: Any, tmp_path: Path) -> None:
    local = write_tree(tmp_path / "local", TREE)
    config = encrypted_config(tmp_path, emulator.api_url, local, encryption=keys())
    assert reconcile(config).returncode == 0
    emulator.admin.reset_counts()
    (local / "notes.txt").rename(local / "docs" / "notes renamed.txt")
    result = reconcile(config)
    assert result.returncode == 0, result.stderr
    assert mutations(emulator.admin) == {"file/edit": 1}
    cipher = Cipher.from_options(keys())
    _, files = vault_rows(emulator.admin)
    assert "notes renamed.txt" in {cipher.decrypt_name(f["name"]) for f in files}


def test_versions_area_is_encrypted_and_restores_at_a_moment(emulator: Any, tmp_path: Path) -> None:
    local = write_tree(tmp_path / "local", {"a.txt": b"first version\n"})
    config = encrypted_config(tmp_path, emulator.api_url, local, encryption=keys(), mode="backup")
    assert reconcile(config).returncode == 0
    between = _moment()
    (local / "a.txt").write_bytes(b"second version, longer\n")
    assert reconcile(config).returncode == 0
    folders, files = vault_rows(emulator.admin)
    cipher = Cipher.from_options(keys())
    assert ".syncd-versions" not in {f["name"] for f in folders}
    assert ".syncd-versions" in {cipher.decrypt_name(f["name"], is_dir=True) for f in folders}
    assert len(files) == 2  # the live a.txt and its old version, both encrypted
    restored = tmp_path / "now"
    done = run_syncd("restore", "--pair", "vault", str(restored), config=config)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (restored / "a.txt").read_bytes() == b"second version, longer\n"
    assert not (restored / ".syncd-versions").exists()
    past = tmp_path / "past"
    at = between.isoformat()
    done = run_syncd("restore", "--pair", "vault", "--at", at, str(past), config=config)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (past / "a.txt").read_bytes() == b"first version\n"  # times read from decrypted names
    status = run_syncd("status", config=config)
    assert status.returncode == 0, status.stdout + status.stderr
    listed = run_syncd("versions", "--pair", "vault", "a.txt", "--json", config=config)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert '"a.txt' in listed.stdout  # the version's plain name


@pytest.mark.parametrize("switched", ["password", "password2"])
def test_wrong_password_is_refused_before_anything_is_written(
    emulator: Any, tmp_path: Path, switched: str
) -> None:
    local = write_tree(tmp_path / "local", TREE)
    config = encrypted_config(tmp_path, emulator.api_url, local, encryption=keys())
    assert reconcile(config).returncode == 0
    (local / "new.txt").write_bytes(b"would be uploaded\n")
    other_key = {**keys(), switched: "not it"}
    wrong = encrypted_config(tmp_path, emulator.api_url, local, encryption=other_key)
    emulator.admin.reset_counts()
    result = reconcile(wrong)
    assert result.returncode == 2, result.stdout + result.stderr
    line = error_line(result)
    assert "do not decrypt with the configured encryption password" in line
    assert "not it" not in result.stdout + result.stderr
    assert mutations(emulator.admin) == {}

    restored = tmp_path / "restored"
    done = run_syncd("restore", "--pair", "vault", str(restored), config=wrong)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "wrong password" in error_line(done)


def test_plain_and_encrypted_never_share_a_remote_folder(emulator: Any, tmp_path: Path) -> None:
    local = write_tree(tmp_path / "local", TREE)
    # Encrypted first, then the same folder without encryption.
    config = encrypted_config(tmp_path, emulator.api_url, local, encryption=keys())
    assert reconcile(config).returncode == 0
    (local / "new.txt").write_bytes(b"would be uploaded\n")
    plain = encrypted_config(tmp_path, emulator.api_url, local)
    emulator.admin.reset_counts()
    result = reconcile(plain)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "synced with encryption" in error_line(result)
    assert mutations(emulator.admin) == {}

    # Plain first (another folder), then encryption switched on for it.
    other = write_tree(tmp_path / "other", {"x.txt": b"plain upload\n"})
    second = tmp_path / "second"
    second.mkdir()
    config2 = encrypted_config(second, emulator.api_url, other, state=second / "s.db")
    config2.write_text(config2.read_text().replace('"Vault"', '"Plain"'))
    assert reconcile(config2).returncode == 0
    (other / "y.txt").write_bytes(b"would be uploaded encrypted\n")
    switched = config2.read_text() + f'\n[pairs.encryption]\npassword = "{PASSWORD}"\n'
    config2.write_text(switched)
    emulator.admin.reset_counts()
    result = reconcile(config2)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "not encrypted ('x.txt')" in error_line(result)
    assert mutations(emulator.admin) == {}


def test_a_name_too_long_once_encrypted_is_skipped_with_its_reason(
    emulator: Any, tmp_path: Path
) -> None:
    long_name = "l" * 200 + ".txt"  # 204 bytes: 208 once padded, 333 characters in base32
    local = write_tree(tmp_path / "local", {"ok.txt": b"fits\n", long_name: b"does not fit\n"})
    config = encrypted_config(tmp_path, emulator.api_url, local, encryption=keys())
    result = reconcile(config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "over the host's limit of 255" in result.stdout + result.stderr
    _, files = vault_rows(emulator.admin)
    cipher = Cipher.from_options(keys())
    assert [cipher.decrypt_name(f["name"]) for f in files] == ["ok.txt"]
    emulator.admin.reset_counts()
    assert reconcile(config).returncode == 0
    assert mutations(emulator.admin) == {}  # skipped again, never sent


def test_password_from_rclone_conf_obscured_and_from_a_file(emulator: Any, tmp_path: Path) -> None:
    local = write_tree(tmp_path / "local", {"a.txt": b"obscured works\n"})
    config = encrypted_config(
        tmp_path,
        emulator.api_url,
        local,
        encryption={"password_obscured": obscure(PASSWORD), "password2": PASSWORD2},
    )
    assert reconcile(config).returncode == 0
    (local / "b.txt").write_bytes(b"and from a file\n")
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    by_file = encrypted_config(
        tmp_path, emulator.api_url, local, encryption={"password2": PASSWORD2}
    )
    result = run_syncd(
        "reconcile",
        "--pair",
        "vault",
        config=by_file,
        env={"SYNCD_ENCRYPTION_PASSWORD_FILE": str(secret)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    cipher = Cipher.from_options(keys())
    _, files = vault_rows(emulator.admin)
    assert sorted(cipher.decrypt_name(f["name"]) for f in files) == ["a.txt", "b.txt"]

    missing = run_syncd("config", "check", config=by_file)
    assert missing.returncode == 2
    assert "pairs[0].encryption: no encryption password" in error_line(missing)


def test_the_daemon_syncs_an_encrypted_pair_as_changes_happen(
    emulator: Any, tmp_path: Path
) -> None:
    from tests.support.daemon import daemon_config, running_daemon
    from tests.support.waiting import wait_for

    local = write_tree(tmp_path / "local", {"first.txt": b"before the daemon\n"})
    config = daemon_config(
        tmp_path / "config.toml",
        api_url=emulator.api_url,
        state=tmp_path / "state.db",
        pairs={"vault": (local, "Vault")},
    )
    with config.open("a") as fh:
        fh.write(f'\n[pairs.encryption]\npassword = "{PASSWORD}"\npassword2 = "{PASSWORD2}"\n')
    cipher = Cipher.from_options(keys())

    def plain_names() -> set[str]:
        try:
            files = vault_rows(emulator.admin)[1]
        except ValueError:  # the remote folder is not there yet
            return set()
        return {cipher.decrypt_name(f["name"]) for f in files}

    workdir = tmp_path / "daemon"
    workdir.mkdir()
    with running_daemon(config, workdir) as daemon:
        wait_for(lambda: plain_names() == {"first.txt"}, timeout=30, what="the start-up pass")
        (local / "second.txt").write_bytes(b"written while it runs\n")
        (local / "first.txt").rename(local / "renamed.txt")
        wait_for(
            lambda: plain_names() == {"renamed.txt", "second.txt"},
            timeout=30,
            what="the watcher's changes, encrypted",
        )
        assert PASSWORD not in daemon.log_text()


def test_a_wrong_password_with_unencrypted_names_is_told_by_the_content(
    emulator: Any, tmp_path: Path
) -> None:
    local = write_tree(tmp_path / "local", TREE)
    off = {**keys(), "filename_encryption": "off"}
    config = encrypted_config(tmp_path, emulator.api_url, local, encryption=off)
    assert reconcile(config).returncode == 0
    _, files = vault_rows(emulator.admin)
    assert "notes.txt.bin" in {f["name"] for f in files}  # names readable, contents not
    (local / "new.txt").write_bytes(b"would be uploaded\n")
    wrong = encrypted_config(
        tmp_path, emulator.api_url, local, encryption={**off, "password": "not it"}
    )
    emulator.admin.reset_counts()
    result = reconcile(wrong)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "does not decrypt with the configured encryption password" in error_line(result)
    assert mutations(emulator.admin) == {}
    right = encrypted_config(tmp_path, emulator.api_url, local, encryption=off)  # rewritten
    emulator.admin.reset_counts()
    assert reconcile(right).returncode == 0  # the right one still works: one upload
    assert mutations(emulator.admin) == {"file/upload": 1}


def test_the_journal_keeps_the_ciphertext_md5_and_compares_by_sealing_again(
    emulator: Any, tmp_path: Path
) -> None:
    """An encrypted upload hashes what it sends once: the journal keeps the ciphertext's MD5
    (the host's `hash`) and the nonce, not the plaintext's MD5. A local file is compared with
    the upload by sealing it again under that nonce: a touched file is not sent again, a
    changed one of the same size is; restore leaves an identical local file and refuses to
    overwrite a different one of the same size. Rows from before (plaintext MD5, no nonce)
    keep comparing by the plaintext."""
    local = write_tree(tmp_path / "local", TREE)
    state = tmp_path / "state.db"
    config = encrypted_config(tmp_path, emulator.api_url, local, encryption=keys())
    assert reconcile(config).returncode == 0
    cipher = Cipher.from_options(keys())
    _, files = vault_rows(emulator.admin)
    by_name = {rel.rsplit("/", 1)[-1]: rel for rel in TREE}
    with Journal(state) as journal:
        pair = journal.pair("vault")
        assert pair is not None
        for f in files:
            rel = by_name[cipher.decrypt_name(f["name"])]
            row = journal.file_by_file_id(pair.id, f["id"])
            assert row is not None and row.nonce is not None, rel
            assert row.md5_hex == f["md5"], rel
            with (local / rel).open("rb") as fh:
                assert cipher.ciphertext_md5(fh, row.nonce) == row.md5_hex, rel

    # Touched, not changed: nothing sent. Changed, same size: sent.
    for rel in ("notes.txt", "photos/2024/big.raw"):
        os.utime(local / rel, ns=(1_700_000_000_000_000_000,) * 2)
    emulator.admin.reset_counts()
    assert reconcile(config).returncode == 0
    assert mutations(emulator.admin) == {}
    big = local / "photos/2024/big.raw"
    big.write_bytes(os.urandom(big.stat().st_size))
    assert reconcile(config).returncode == 0
    assert mutations(emulator.admin).get("file/upload") == 1

    # A row from before the journal kept nonces: the plaintext's MD5, compared as it is.
    with sqlite3.connect(state) as db:
        db.execute(
            "UPDATE files SET md5 = ?, nonce = NULL WHERE name = 'notes.txt'",
            (hashlib.md5(TREE["notes.txt"]).digest(),),
        )
    os.utime(local / "notes.txt", ns=(1_600_000_000_000_000_000,) * 2)
    emulator.admin.reset_counts()
    assert reconcile(config).returncode == 0
    assert mutations(emulator.admin) == {}

    dest = write_tree(
        tmp_path / "dest",
        {
            "photos/2024/beach.jpg": TREE["photos/2024/beach.jpg"],  # the same
            "docs/report final.pdf": b"%PDF-1.4 other!\n" * 50,  # same size, other bytes
        },
    )
    done = run_syncd("restore", "--pair", "vault", str(dest), config=config)
    assert "report final.pdf" in done.stdout + done.stderr
    assert "content differs" in done.stdout + done.stderr
    assert "beach.jpg" not in done.stdout + done.stderr
    assert (dest / "docs/report final.pdf").read_bytes() == b"%PDF-1.4 other!\n" * 50
    assert (dest / "photos/2024/big.raw").read_bytes() == big.read_bytes()
    assert (dest / "notes.txt").read_bytes() == TREE["notes.txt"]
