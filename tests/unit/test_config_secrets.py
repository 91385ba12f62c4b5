"""Credentials from where services keep them: environment variables, ``*_FILE`` variables
(Docker secrets) and systemd's ``$CREDENTIALS_DIRECTORY`` (``LoadCredential=``); their
precedence, and one-line errors when a named file cannot be used."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.config import load_config, secrets_from_environment
from syncd.errors import ConfigError
from syncd.logging import REDACTED, forget_secrets, redact_text
from syncd.remote.credentials import Credentials

KEY1 = "1" * 64
KEY2 = "2" * 64
OTHER1 = "a" * 64
OTHER2 = "b" * 64


@pytest.fixture(autouse=True)
def _forget() -> None:
    forget_secrets()


def secret_file(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def creds_dir(tmp_path: Path, **names: str) -> str:
    directory = tmp_path / "creds"
    directory.mkdir(exist_ok=True)
    for name, value in names.items():
        (directory / name.replace("_", "-")).write_text(value, encoding="utf-8")
    return str(directory)


def values(env: dict[str, str]) -> dict[str, tuple[str, str]]:
    return {k: (s.value, s.origin) for k, s in secrets_from_environment(env).items()}


def test_variable_beats_file_variable_beats_systemd_credential(tmp_path: Path) -> None:
    directory = creds_dir(tmp_path, syncd_key1=OTHER1, syncd_key2=OTHER2)
    env = {
        "SYNCD_KEY1": KEY1,
        "SYNCD_KEY1_FILE": secret_file(tmp_path / "k1", OTHER1),
        "SYNCD_KEY2_FILE": secret_file(tmp_path / "k2", KEY2 + "\n"),
        "CREDENTIALS_DIRECTORY": directory,
    }
    assert values(env) == {"key1": (KEY1, "SYNCD_KEY1"), "key2": (KEY2, "SYNCD_KEY2_FILE")}
    del env["SYNCD_KEY1"]
    del env["SYNCD_KEY2_FILE"]
    assert values(env) == {
        "key1": (OTHER1, "SYNCD_KEY1_FILE"),
        "key2": (OTHER2, "systemd credential syncd-key2"),
    }


def test_nothing_set_gives_nothing_and_empty_variables_do_not_count(tmp_path: Path) -> None:
    assert values({}) == {}
    directory = creds_dir(tmp_path)  # LoadCredential= for other names only
    assert (
        values({"SYNCD_KEY1": " ", "SYNCD_KEY1_FILE": "", "CREDENTIALS_DIRECTORY": directory}) == {}
    )


def test_files_lose_one_trailing_newline_only(tmp_path: Path) -> None:
    env = {
        "SYNCD_USERNAME_FILE": secret_file(tmp_path / "u", " me \r\n"),
        "SYNCD_PASSWORD_FILE": secret_file(tmp_path / "p", " pass word\n\n"),
    }
    assert values(env) == {
        "username": ("me", "SYNCD_USERNAME_FILE"),
        "password": (" pass word\n", "SYNCD_PASSWORD_FILE"),  # passwords are taken verbatim
    }


@pytest.mark.parametrize("what", ["missing", "directory", "empty"])
def test_unusable_secret_file_is_one_line_naming_the_variable(tmp_path: Path, what: str) -> None:
    path = tmp_path / "key1"
    if what == "directory":
        path.mkdir()
    elif what == "empty":
        path.write_text("\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        secrets_from_environment({"SYNCD_KEY1_FILE": str(path)}, tmp_path / "c.toml")
    message = caught.value.message
    assert message.startswith(f"config error: {tmp_path / 'c.toml'}: remote.key1 (from ")
    assert "SYNCD_KEY1_FILE" in message and "\n" not in message
    if what == "empty":
        assert message.endswith(f"{path} is empty — put the secret in the file")
    else:
        assert f"cannot read {path} (" in message
        assert "fix the path in SYNCD_KEY1_FILE or let user id" in message


def test_unreadable_systemd_credential_points_at_the_unit(tmp_path: Path) -> None:
    directory = Path(creds_dir(tmp_path))
    (directory / "syncd-password").mkdir()
    with pytest.raises(ConfigError) as caught:
        secrets_from_environment({"CREDENTIALS_DIRECTORY": str(directory)})
    assert "remote.password (from systemd credential syncd-password)" in caught.value.message
    assert caught.value.fix == "check LoadCredential= in the unit"


def test_load_config_takes_systemd_credentials_over_the_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[remote]\napi_url = "https://h/api/v2/"\nkey1 = "{OTHER1}"\nkey2 = "{OTHER2}"\n',
        encoding="utf-8",
    )
    config.chmod(0o600)
    env = {"CREDENTIALS_DIRECTORY": creds_dir(tmp_path, syncd_key1=KEY1 + "\n")}
    loaded = load_config(config, env=env, warn=False)
    # key1 from the credential, key2 still from the file.
    assert loaded.remote.credentials() == Credentials(key1=KEY1, key2=OTHER2)
    assert redact_text(f"x {KEY1} y") == f"x {REDACTED} y"


def test_bad_secret_from_a_file_variable_is_named_by_its_source(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[remote]\napi_url = "https://h/api/v2/"\n', encoding="utf-8")
    env = {
        "SYNCD_KEY1_FILE": secret_file(tmp_path / "k1", "short\n"),
        "SYNCD_KEY2": KEY2,
    }
    with pytest.raises(ConfigError) as caught:
        load_config(config, env=env, warn=False)
    assert caught.value.key == "remote.key1 (from SYNCD_KEY1_FILE)"
    assert "short" not in caught.value.message


def test_password_from_credentials_directory_completes_username_from_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[remote]\napi_url = "https://h/api/v2/"\nusername = "me"\n')
    env = {"CREDENTIALS_DIRECTORY": creds_dir(tmp_path, syncd_password="s3cret-pw\n")}
    loaded = load_config(config, env=env, warn=False)
    assert loaded.remote.credentials() == Credentials(username="me", password="s3cret-pw")
    assert loaded.warnings == ()  # the file holds no secret: no permission warning
