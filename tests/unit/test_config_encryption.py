"""``[pairs.encryption]``: rclone's option names, passwords from the file, rclone.conf (obscured),
the environment or files, one-line errors that never show a password, and log redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.config import load_config
from syncd.crypt import obscure
from syncd.errors import ConfigError
from syncd.logging import REDACTED, forget_secrets, redact_text

KEY1 = "1" * 64
KEY2 = "2" * 64
PASSWORD = "a long and secret passphrase"


@pytest.fixture(autouse=True)
def _forget() -> None:
    forget_secrets()


def config_with(tmp_path: Path, encryption: str, name: str = "vault") -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[remote]\napi_url = "https://h/api/v2/"\nkey1 = "{KEY1}"\nkey2 = "{KEY2}"\n\n'
        f'[[pairs]]\nname = "{name}"\nlocal = "{tmp_path}"\nremote = "Vault"\n\n'
        f"[pairs.encryption]\n{encryption}",
        encoding="utf-8",
    )
    config.chmod(0o600)
    return config


def test_defaults_are_rclones(tmp_path: Path) -> None:
    pair = load_config(config_with(tmp_path, f'password = "{PASSWORD}"\n'), env={}).pairs[0]
    assert pair.encryption is not None
    options = pair.encryption.options()
    assert (options.password, options.password2) == (PASSWORD, "")
    assert options.filename_encryption == "standard"
    assert options.directory_name_encryption is True
    assert options.filename_encoding == "base32"
    assert PASSWORD not in repr(pair) + repr(options)
    assert redact_text(f"x {PASSWORD} y") == f"x {REDACTED} y"


def test_obscured_passwords_from_rclone_conf_are_revealed_and_redacted(tmp_path: Path) -> None:
    text = (
        f'password_obscured = "{obscure(PASSWORD)}"\n'
        f'password2_obscured = "{obscure("salty salt")}"\n'
        'filename_encoding = "base64"\ndirectory_name_encryption = false\n'
    )
    options = load_config(config_with(tmp_path, text), env={}).pairs[0].encryption.options()  # type: ignore[union-attr]
    assert (options.password, options.password2) == (PASSWORD, "salty salt")
    assert options.filename_encoding == "base64" and not options.directory_name_encryption
    assert redact_text(f"x {PASSWORD} y") == f"x {REDACTED} y"


def test_password_from_the_environment_per_pair_first(tmp_path: Path) -> None:
    config = config_with(tmp_path, 'filename_encryption = "off"\n', name="my-vault")
    secret = tmp_path / "pw"
    secret.write_text("from a file\n", encoding="utf-8")
    env = {
        "SYNCD_ENCRYPTION_PASSWORD": "for every pair",
        "SYNCD_ENCRYPTION_PASSWORD_MY_VAULT_FILE": str(secret),
    }
    options = load_config(config, env=env).pairs[0].encryption.options()  # type: ignore[union-attr]
    assert options.password == "from a file"
    assert options.filename_encryption == "off"
    only_global = load_config(config, env={"SYNCD_ENCRYPTION_PASSWORD": "for every pair"})
    assert only_global.pairs[0].encryption.options().password == "for every pair"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('filename_encryption = "standard"\n', "pairs[0].encryption: no encryption password"),
        (
            f'password = "{PASSWORD}"\npassword_obscured = "{obscure(PASSWORD)}"\n',
            "both password and password_obscured are set",
        ),
        (
            'password_obscured = "not obscured at all"\n',
            "password_obscured is not an rclone-obscured password",
        ),
        (f'password = "{PASSWORD}"\nfilename_encryption = "secret"\n', "filename_encryption"),
        (f'password = "{PASSWORD}"\nfilename_encoding = "hex"\n', "filename_encoding"),
        (f'password = "{PASSWORD}"\npasword2 = "x"\n', "unknown key"),
    ],
)
def test_bad_settings_are_one_line_without_the_password(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(config_with(tmp_path, text), env={})
    message = str(caught.value)
    assert expected in message and "\n" not in message
    assert PASSWORD not in message and "not obscured at all" not in message
