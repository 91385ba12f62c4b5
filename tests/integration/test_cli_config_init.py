"""`syncd config init` and `syncd config example` as users run them: a real subprocess, a real
emulator over loopback, answers typed on stdin. The written file must pass `config check`."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from syncd.emulator import DEMO_KEY1, DEMO_KEY2, DEMO_PASSWORD, DEMO_USERNAME
from syncd.emulator.testing import EmulatorProcess
from tests.integration.test_cli import assert_no_secrets
from tests.support.cli import DEADLINE, REPO
from tests.support.cli import error_line as one_error_line


def syncd(
    *args: str, home: Path, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m syncd ARGS` with answers on stdin, no SYNCD_* from the caller, config and
    state dirs inside ``home``. A new session has no controlling terminal, so hidden prompts
    read stdin as they do under a script (getpass falls back to it)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
    clean.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        PYTHONPATH=str(REPO),
    )
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "syncd", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=clean,
        cwd=home,
        timeout=DEADLINE,
        start_new_session=True,
    )


def assert_private_and_valid(path: Path, home: Path) -> subprocess.CompletedProcess[str]:
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    check = syncd("--config", str(path), "config", "check", home=home)
    assert check.returncode == 0, check.stderr
    assert check.stderr == ""  # mode 600: no permission warning
    return check


def test_flags_and_environment_write_a_config_that_passes_check(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    local = tmp_path / "Documents"
    local.mkdir()
    config = tmp_path / "etc" / "syncd.toml"
    result = syncd(
        "config",
        "init",
        "--config",
        str(config),
        "--api-url",
        emulator.api_url,
        "--local",
        "Documents",  # relative to the working directory, written absolute
        "--remote",
        "Backup/Docs",
        "--mode",
        "backup",
        home=tmp_path,
        env={"SYNCD_KEY1": DEMO_KEY1, "SYNCD_KEY2": DEMO_KEY2},
    )
    assert result.returncode == 0, result.stderr
    assert "account:" in result.stdout and "demo (id 1" in result.stdout  # the real login
    assert f"wrote {config} (mode 600)" in result.stdout
    assert_no_secrets(result, DEMO_KEY1, DEMO_KEY2)

    check = assert_private_and_valid(config, tmp_path)
    assert f"Documents: {local} -> /Backup/Docs (backup)" in check.stdout
    assert f"{emulator.api_url} (auth: key1/key2)" in check.stdout
    data = tomllib.loads(config.read_text(encoding="utf-8"))
    assert data["remote"]["key1"] == DEMO_KEY1 and data["pairs"][0]["local"] == str(local)
    text = config.read_text(encoding="utf-8")
    assert "# Seconds between full reconciles" in text  # complete and commented
    assert "public demo keys" not in text


@pytest.mark.emulator(auth_method="password")
def test_username_option_and_password_file(emulator: EmulatorProcess, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    secret = tmp_path / "password.secret"
    secret.write_text(DEMO_PASSWORD + "\n", encoding="utf-8")
    result = syncd(
        "config",
        "init",
        "--config",
        str(config),
        "--api-url",
        emulator.api_url,
        "--username",
        DEMO_USERNAME,
        "--local",
        str(tmp_path / "later"),
        "--remote",
        "",
        "--mode",
        "mirror",
        "--name",
        "all",
        home=tmp_path,
        env={"SYNCD_PASSWORD_FILE": str(secret)},  # a Docker secret
    )
    assert result.returncode == 0, result.stderr
    assert "does not exist yet" in result.stdout
    assert_no_secrets(result, DEMO_PASSWORD)
    check = assert_private_and_valid(config, tmp_path)
    assert "(auth: username/password)" in check.stdout
    assert f"all: {tmp_path / 'later'} -> / (mirror)" in check.stdout


def test_interactive_answers_on_stdin(emulator: EmulatorProcess, tmp_path: Path) -> None:
    (tmp_path / "Photos").mkdir()
    answers = [
        emulator.api_url.removesuffix("/"),  # the missing final slash is added
        "",  # sign-in method: the default (keys)
        "too-short",  # refused by the schema, asked again
        DEMO_KEY1,
        DEMO_KEY2,
        str(tmp_path / "Photos"),
        "",  # remote folder: the default (the pair's name)
        "backup",
    ]
    result = syncd("config", "init", home=tmp_path, stdin="\n".join(answers) + "\n")
    assert result.returncode == 0, result.stderr
    assert "must be 64 characters, got 9" in result.stdout
    assert result.stderr == ""  # no echo warning: answers from a pipe are never echoed
    assert_no_secrets(result, DEMO_KEY1, DEMO_KEY2)
    written = tmp_path / ".config" / "syncd" / "config.toml"  # what `config path` names
    path_line = syncd("config", "path", home=tmp_path).stdout
    assert path_line.startswith(f"{written}  [from default]")
    check = assert_private_and_valid(written, tmp_path)
    assert f"Photos: {tmp_path / 'Photos'} -> /Photos (backup)" in check.stdout


def test_refuses_to_overwrite_without_force(emulator: EmulatorProcess, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("# mine\n", encoding="utf-8")
    args = ("config", "init", "--config", str(config), "--api-url", emulator.api_url)
    more = ("--local", str(tmp_path), "--remote", "x", "--mode", "mirror")
    env = {"SYNCD_KEY1": DEMO_KEY1, "SYNCD_KEY2": DEMO_KEY2}
    refused = syncd(*args, *more, home=tmp_path, env=env)
    assert refused.returncode == 2
    assert one_error_line(refused) == (
        f"syncd: error: {config} already exists — pass --force to overwrite it, or "
        "--config FILE to write another file"
    )
    assert config.read_text(encoding="utf-8") == "# mine\n"

    forced = syncd(*args, *more, "--force", home=tmp_path, env=env)
    assert forced.returncode == 0, forced.stderr
    assert_private_and_valid(config, tmp_path)


def test_refused_credentials_write_nothing(emulator: EmulatorProcess, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    wrong = "1" * 64
    result = syncd(
        *("config", "init", "--config", str(config), "--api-url", emulator.api_url),
        *("--key1", wrong, "--key2", wrong, "--local", str(tmp_path), "--mode", "mirror"),
        *("--remote", "x"),
        home=tmp_path,
    )
    assert result.returncode == 2
    assert "refused the credentials" in one_error_line(result)
    assert_no_secrets(result, wrong)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # not even a temporary file


def test_bad_option_is_one_line_naming_the_option(tmp_path: Path) -> None:
    result = syncd(
        *("config", "init", "--config", str(tmp_path / "c.toml"), "--api-url", "ftp://x"),
        *("--key1", DEMO_KEY1, "--key2", DEMO_KEY2, "--local", "/srv", "--remote", "x"),
        *("--mode", "mirror"),
        home=tmp_path,
    )
    assert result.returncode == 2
    assert "--api-url (remote.api_url): 'ftp://x' is not an http(s) URL" in one_error_line(result)
    assert not (tmp_path / "c.toml").exists()


def test_no_answer_on_stdin_is_one_line(tmp_path: Path) -> None:
    result = syncd("config", "init", home=tmp_path, stdin="")
    assert result.returncode == 2
    assert "pass --api-url" in one_error_line(result)


def test_config_example_prints_the_packaged_reference(tmp_path: Path) -> None:
    result = syncd("config", "example", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (REPO / "syncd" / "config.example.toml").read_text(encoding="utf-8")
    example = tmp_path / "example.toml"
    example.write_text(result.stdout, encoding="utf-8")
    example.chmod(0o600)
    assert syncd("--config", str(example), "config", "check", home=tmp_path).returncode == 0
