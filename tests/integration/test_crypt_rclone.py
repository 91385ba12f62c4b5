"""Interop with the real rclone binary: what syncd.crypt writes, rclone reads, and back.

rclone is configured purely through environment variables (a ``crypt`` remote over a local
directory, passwords obscured by ``rclone obscure``), with an empty config file and no
network. Skipped when ``rclone`` is not on PATH.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from syncd.crypt import Cipher, CryptOptions, decrypted_size, encrypted_size, reveal

RCLONE = shutil.which("rclone")
pytestmark = pytest.mark.skipif(
    RCLONE is None, reason="rclone is not on PATH (apt-get install rclone) — interop not tested"
)

KIB = 1024
TREE: dict[str, bytes] = {
    "empty.txt": b"",  # the host refuses 0-byte uploads; its ciphertext is 32 bytes
    "one byte": b"x",
    "exactly one block.bin": bytes(range(256)) * (64 * KIB // 256),
    "one block plus one.bin": os.urandom(64 * KIB + 1),
    "Ünïcödé dir/日本語 ファイル.txt": os.urandom(200 * KIB),
    "nested dir/with spaces/deeper/file name with  two spaces.txt": b"nested\n" * 1000,
    "nested dir/émoji 🎉.md": "héllo wörld 🎉\n".encode(),
    "report-v2001-02-03-040506-123.txt": b"rclone keeps version suffixes outside the crypt\n",
}

CONFIGS: dict[str, dict[str, object]] = {
    "password2-set": {"password": "correct horse", "password2": "battery staple"},
    "password2-unset": {"password": "correct horse"},
    "plain-dir-names": {"password": "pw", "password2": "salt", "directory_name_encryption": False},
    "names-off": {"password": "pw", "filename_encryption": "off"},
    "base64": {"password": "pw", "password2": "salt", "filename_encoding": "base64"},
    "base32768": {"password": "pw", "filename_encoding": "base32768"},
    "obfuscate": {"password": "pw", "filename_encryption": "obfuscate"},
}


def rclone(args: list[str], env: dict[str, str]) -> str:
    assert RCLONE is not None
    done = subprocess.run(
        [RCLONE, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"rclone {args[0]} failed: {done.stderr}"
    return done.stdout


def rclone_env(tmp_path: Path, options: dict[str, object], encrypted_dir: Path) -> dict[str, str]:
    """Environment defining remote ``sc:`` as a crypt over ``encrypted_dir``."""
    config = tmp_path / "empty-rclone.conf"
    config.write_text("")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "RCLONE_CONFIG": str(config),
        "RCLONE_CACHE_DIR": str(tmp_path / "rclone-cache"),
        "RCLONE_CONFIG_SC_TYPE": "crypt",
        "RCLONE_CONFIG_SC_REMOTE": str(encrypted_dir),
    }
    for key, value in options.items():
        if key in ("password", "password2"):
            obscured = rclone(["obscure", str(value)], env).strip()
            assert reveal(obscured) == value  # rclone's obscuring is what syncd reveals
            value = obscured
        elif isinstance(value, bool):
            value = "true" if value else "false"
        env[f"RCLONE_CONFIG_SC_{key.upper()}"] = str(value)
    return env


def write_tree(root: Path, tree: dict[str, bytes]) -> None:
    for rel, data in tree.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def read_tree(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file()
    }


@pytest.fixture(params=sorted(CONFIGS))
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Cipher, dict[str, str], Path]:
    options = CONFIGS[request.param]
    encrypted = tmp_path / "encrypted"
    encrypted.mkdir()
    return Cipher.from_options(options), rclone_env(tmp_path, options, encrypted), encrypted


def test_rclone_decrypts_what_syncd_encrypts(
    setup: tuple[Cipher, dict[str, str], Path], tmp_path: Path
) -> None:
    cipher, env, encrypted = setup
    for rel, data in TREE.items():
        target = encrypted / cipher.encrypt_path(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src").write_bytes(data)
        with (tmp_path / "src").open("rb") as src, target.open("wb") as out:
            reader = cipher.encrypt_stream(src, plain_size=len(data))
            md5 = hashlib.md5()
            while chunk := reader.read(100_000):
                out.write(chunk)
                md5.update(chunk)
        assert reader.hexdigest() == md5.hexdigest()
        assert target.stat().st_size == reader.size == encrypted_size(len(data))

    listed = rclone(["lsf", "-R", "--files-only", "sc:"], env).splitlines()
    assert sorted(listed) == sorted(TREE)
    plain = tmp_path / "plain"
    rclone(["copy", "sc:", str(plain)], env)
    assert read_tree(plain) == TREE


def test_syncd_decrypts_what_rclone_encrypts(
    setup: tuple[Cipher, dict[str, str], Path], tmp_path: Path
) -> None:
    cipher, env, encrypted = setup
    source = tmp_path / "source"
    write_tree(source, TREE)
    rclone(["copy", str(source), "sc:"], env)

    stored = read_tree(encrypted)
    # Names are deterministic: syncd computes exactly the names rclone stored.
    assert sorted(stored) == sorted(cipher.encrypt_path(rel) for rel in TREE)
    decrypted: dict[str, bytes] = {}
    for stored_path, ciphertext in stored.items():
        rel = cipher.decrypt_path(stored_path)
        assert decrypted_size(len(ciphertext)) == len(TREE[rel])
        with (encrypted / stored_path).open("rb") as fh:
            decrypted[rel] = cipher.decrypt_stream(fh).read()
        # Contents too, byte for byte: with rclone's nonce, syncd's ciphertext is rclone's.
        with (source / rel).open("rb") as fh:
            nonce = ciphertext[8:32]
            assert cipher.ciphertext_md5(fh, nonce) == hashlib.md5(ciphertext).hexdigest()
    assert decrypted == TREE
    # Directory names as rclone stored them decrypt too.
    for directory in {str(Path(rel).parent) for rel in TREE} - {"."}:
        stored_dir = cipher.encrypt_path(directory, is_dir=True)
        assert (encrypted / stored_dir).is_dir()
        assert cipher.decrypt_path(stored_dir, is_dir=True) == directory


def test_wrong_password_is_detected_on_rclone_output(tmp_path: Path) -> None:
    options = CONFIGS["password2-set"]
    encrypted = tmp_path / "encrypted"
    env = rclone_env(tmp_path, options, encrypted)
    source = tmp_path / "source"
    write_tree(source, {"a.txt": b"secret", "b.txt": b"more"})
    rclone(["copy", str(source), "sc:"], env)
    wrong = Cipher(CryptOptions(password="correct horse", password2="battery stapler"))
    assert wrong.check_password(os.listdir(encrypted)) is False
    right = Cipher.from_options(options)
    assert right.check_password(os.listdir(encrypted)) is True
