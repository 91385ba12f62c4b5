"""The `syncd` command as users run it: real subprocesses (`python3 -m syncd ...`), a real
emulator over loopback, real config files. Exit codes and one-line errors are the contract."""

from __future__ import annotations

import selectors
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from syncd.emulator import DEMO_KEY1, DEMO_KEY2, DEMO_PASSWORD, DEMO_USERNAME
from syncd.remote.errors import (
    AuthError,
    InsecureURL,
    NoApiAccess,
    RateLimited,
    Refused,
    TransientError,
    UnknownAction,
)
from syncd.remote.user_errors import user_error_from_remote
from tests.support.cli import DEADLINE, error_line, run_syncd, start_syncd
from tests.support.config import TomlValue, write_config

WRONG_KEY1 = "1" * 64
WRONG_KEY2 = "2" * 64


def cli_config(
    home: Path,
    api_url: str,
    *,
    key1: str = DEMO_KEY1,
    key2: str = DEMO_KEY2,
    remote: dict[str, TomlValue | None] | None = None,
    file_mode: int = 0o600,
) -> Path:
    """``home/config.toml`` with one pair, docs: ``home/Documents`` -> Backup/Docs."""
    local = home / "Documents"
    local.mkdir(exist_ok=True)
    return write_config(
        home / "config.toml",
        api_url=api_url,
        key1=key1,
        key2=key2,
        remote=remote,
        pairs={"docs": (local, "Backup/Docs")},
        file_mode=file_mode,
    )


def assert_no_secrets(result: subprocess.CompletedProcess[str], *secrets: str) -> None:
    """None of ``secrets`` in the output (run_syncd already scans for the demo credentials and
    anything token-shaped; these are a test's own values)."""
    for secret in secrets:
        assert secret not in result.stdout and secret not in result.stderr


def free_port() -> int:
    """A port nothing listens on (bound then released): connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- no host needed ---------------------------------------------------------------------------


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = run_syncd("--help", home=tmp_path)
    assert result.returncode == 0, result.stderr
    for command in ("login", "config", "demo", "emulator"):
        assert f"  {command} " in result.stdout
    for option in ("--config", "--verbose", "--log-format", "--version"):
        assert option in result.stdout


def test_version(tmp_path: Path) -> None:
    result = run_syncd("--version", home=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("syncd 0.")


def test_missing_default_config_is_exit_2_and_one_line(tmp_path: Path) -> None:
    result = run_syncd("config", "check", home=tmp_path)
    assert result.returncode == 2
    line = error_line(result)
    default = tmp_path / ".config" / "syncd" / "config.toml"
    assert line == (
        f"syncd: error: config error: {default}: config file not found — create it with "
        "`syncd config init` (`syncd config example` shows every key), or pass --config FILE, "
        "or set SYNCD_CONFIG"
    )


def test_missing_config_named_by_option_and_env(tmp_path: Path) -> None:
    result = run_syncd("--config", "nope.toml", "login", home=tmp_path)
    assert result.returncode == 2 and "check the path given to --config" in error_line(result)
    result = run_syncd("login", home=tmp_path, env={"SYNCD_CONFIG": str(tmp_path / "x.toml")})
    assert result.returncode == 2 and "$SYNCD_CONFIG" in error_line(result)


def test_invalid_config_is_exit_2_one_line_naming_the_key(tmp_path: Path) -> None:
    config = cli_config(tmp_path, "http://127.0.0.1:9/api/v2/", key1="short")
    result = run_syncd("--config", str(config), "config", "check", home=tmp_path)
    assert result.returncode == 2
    line = error_line(result)
    assert f"config error: {config}: remote.key1: must be 64 characters, got 5 — " in line


def test_config_check_prints_pairs_but_no_secrets(tmp_path: Path) -> None:
    config = cli_config(tmp_path, "http://127.0.0.1:9/api/v2")
    result = run_syncd("--config", str(config), "config", "check", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"config ok: {config}" in result.stdout
    assert "http://127.0.0.1:9/api/v2/ (auth: key1/key2)" in result.stdout
    assert f"docs: {tmp_path / 'Documents'} -> /Backup/Docs (mirror)" in result.stdout
    assert result.stderr == ""
    assert_no_secrets(result, DEMO_KEY1, DEMO_KEY2)


def test_global_options_also_after_the_command(tmp_path: Path) -> None:
    config = cli_config(tmp_path, "http://127.0.0.1:9/api/v2/", file_mode=0o644)
    args = ("config", "check", "--config", str(config), "-v", "--log-format", "console")
    result = run_syncd(*args, home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"config ok: {config}" in result.stdout
    assert "[warning" in result.stderr and f"chmod 600 {config}" in result.stderr  # console


def test_config_check_warns_about_permissions_on_stderr(tmp_path: Path) -> None:
    config = cli_config(tmp_path, "http://127.0.0.1:9/api/v2/", file_mode=0o644)
    result = run_syncd("--config", str(config), "config", "check", home=tmp_path)
    assert result.returncode == 0
    assert f"chmod 600 {config}" in result.stderr
    assert '"level": "warning"' in result.stderr  # JSON lines: stderr is not a terminal


def test_log_file_that_cannot_be_opened_is_a_config_error(tmp_path: Path) -> None:
    config = cli_config(tmp_path, "http://127.0.0.1:9/api/v2/")
    with config.open("a") as f:
        f.write('\n[log]\nfile = "config.toml/syncd.log"\n')  # "inside" a regular file
    result = run_syncd("--config", str(config), "config", "check", home=tmp_path)
    assert result.returncode == 2
    line = error_line(result)
    assert f"config error: {config}: log.file: cannot open {tmp_path}/config.toml/syncd.log" in line


def test_log_file_gets_json_lines(tmp_path: Path) -> None:
    config = cli_config(tmp_path, "http://127.0.0.1:9/api/v2/", remote={"verify_tls": False})
    with config.open("a") as f:
        f.write('\n[log]\nfile = "logs/syncd.log"\n')
    result = run_syncd("--config", str(config), "config", "check", home=tmp_path)
    assert result.returncode == 0, result.stderr
    logged = (tmp_path / "logs" / "syncd.log").read_text()
    assert '"TLS certificate verification is DISABLED' in logged.replace('"event": ', "")


def test_keys_from_environment(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[remote]\napi_url = "http://localhost:9/api/v2/"\n')
    env = {"SYNCD_CONFIG": str(config), "SYNCD_KEY1": DEMO_KEY1, "SYNCD_KEY2": DEMO_KEY2}
    result = run_syncd("config", "check", home=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "pairs: none" in result.stdout
    assert result.stderr == ""  # the file holds no secret: no permission warning


def test_config_path(tmp_path: Path) -> None:
    result = run_syncd("config", "path", home=tmp_path)
    assert result.returncode == 0
    assert str(tmp_path / ".config" / "syncd" / "config.toml") in result.stdout
    assert "(does not exist)" in result.stdout and "[from default]" in result.stdout


def test_usage_error_is_exit_2(tmp_path: Path) -> None:
    result = run_syncd("no-such-command", home=tmp_path)
    assert result.returncode == 2 and "No such command" in result.stderr


def test_emulator_passes_arguments_through(tmp_path: Path) -> None:
    result = run_syncd("emulator", "--help", home=tmp_path)
    assert result.returncode == 0 and "--port" in result.stdout and "--fault-rate" in result.stdout

    process = start_syncd(
        "emulator", "--port", "0", "--latency-ms", "0", capture=True, cwd=tmp_path
    )
    try:
        assert process.stdout is not None
        line = read_line_with_deadline(process, DEADLINE)
        assert line.startswith("READY http://127.0.0.1:") and line.endswith("/api/v2/\n"), line
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=DEADLINE)
    assert process.returncode == 0


def read_line_with_deadline(process: subprocess.Popen[str], deadline: float) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if selector.select(timeout=0.5):
                return process.stdout.readline()
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
    raise AssertionError("no READY line before the deadline")


def test_unreachable_host_is_exit_1_and_one_line(tmp_path: Path) -> None:
    port = free_port()
    config = cli_config(
        tmp_path, f"http://127.0.0.1:{port}/api/v2/", remote={"max_retry_time": 1.0}
    )
    result = run_syncd("--config", str(config), "login", home=tmp_path)
    assert result.returncode == 1, result.stderr
    line = error_line(result)
    assert f"no usable answer from the host at http://127.0.0.1:{port}/api/v2/" in line
    assert "check remote.api_url and your network" in line


# ---- against the emulator ---------------------------------------------------------------------


def test_login_shows_account_and_package(tmp_path: Path, emulator: Any) -> None:
    config = cli_config(tmp_path, emulator.api_url)
    result = run_syncd("--config", str(config), "login", home=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"host:               {emulator.api_url}" in out
    assert "account:            demo (id 1" in out
    assert "package:" in out and "max upload size:" in out and "concurrent uploads:" in out
    assert "iB" in out.split("max upload size:")[1].splitlines()[0]  # human-readable size
    assert_no_secrets(result, DEMO_KEY1, DEMO_KEY2)


def test_login_verbose_logs_redact_keys(tmp_path: Path, emulator: Any) -> None:
    config = cli_config(tmp_path, emulator.api_url, remote={"verify_tls": False})
    result = run_syncd(
        "--config", str(config), "-v", "--log-format", "json", "login", home=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "TLS certificate verification is DISABLED" in result.stderr
    assert "HTTP Request: POST" in result.stderr  # httpx is audible at debug level
    assert_no_secrets(result, DEMO_KEY1, DEMO_KEY2)
    assert "access_token=" not in result.stderr.replace("access_token=[REDACTED]", "")


@pytest.mark.emulator(max_upload_size=5 * 1024 * 1024, concurrent_uploads=3)
def test_login_shows_package_limits_human_readable(tmp_path: Path, emulator: Any) -> None:
    config = cli_config(tmp_path, emulator.api_url)
    result = run_syncd("--config", str(config), "login", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "max upload size:    5.0 MiB" in result.stdout
    assert "concurrent uploads: 3" in result.stdout


@pytest.mark.emulator(auth_method="password")
def test_login_with_username_and_password(tmp_path: Path, emulator: Any) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[remote]\napi_url = "{emulator.api_url}"\n')
    env = {"SYNCD_USERNAME": DEMO_USERNAME, "SYNCD_PASSWORD": DEMO_PASSWORD}
    result = run_syncd("--config", str(config), "login", home=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "account:            demo (id 1" in result.stdout
    assert_no_secrets(result, DEMO_PASSWORD)

    env["SYNCD_PASSWORD"] = "wrong-password"
    result = run_syncd("--config", str(config), "login", home=tmp_path, env=env)
    assert result.returncode == 2
    assert "refused the credentials" in error_line(result)
    assert_no_secrets(result, "wrong-password")


def test_login_with_wrong_keys_is_exit_2_and_one_line(tmp_path: Path, emulator: Any) -> None:
    config = cli_config(tmp_path, emulator.api_url, key1=WRONG_KEY1, key2=WRONG_KEY2)
    result = run_syncd("--config", str(config), "login", home=tmp_path)
    assert result.returncode == 2
    line = error_line(result)
    assert "refused the credentials" in line and "can lock the account" in line
    assert_no_secrets(result, WRONG_KEY1, WRONG_KEY2)
    assert emulator.admin.counts().get("authorize") == 1  # a refusal is never retried


def test_login_without_api_access_is_exit_2(tmp_path: Path, emulator: Any) -> None:
    emulator.admin.set_knobs(api_access=False)
    config = cli_config(tmp_path, emulator.api_url)
    result = run_syncd("--config", str(config), "login", home=tmp_path)
    assert result.returncode == 2
    assert "no access to the file upload API" in error_line(result)


def test_demo_runs_against_its_own_emulator(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    result = run_syncd("demo", "--workdir", str(workdir), home=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "emulator: http://127.0.0.1:" in result.stdout
    assert "account:            demo (id 1" in result.stdout
    assert (workdir / "sample" / "README.txt").is_file()
    assert (workdir / "config.toml").stat().st_mode & 0o077 == 0
    assert_no_secrets(result, DEMO_KEY1, DEMO_KEY2)


# ---- how client errors reach the user ---------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "code", "fragment"),
    [
        (AuthError("Could not authenticate user."), 2, "refused the credentials"),
        (NoApiAccess("Your account level does not have access"), 2, "no access to the file"),
        (InsecureURL("plain http"), 2, "remote.api_url: plain http"),
        (UnknownAction("No method found"), 2, "does not answer like a File Upload Script"),
        (TransientError("503", action="authorize"), 1, "no usable answer from the host"),
        (RateLimited("429", retry_after=3.0), 1, "kept rate-limiting"),
        (Refused("Filesize received was zero.", action="file/upload"), 1, "refused: file/upload"),
    ],
)
def test_client_errors_become_one_actionable_line(
    error: Exception, code: int, fragment: str
) -> None:
    user_error = user_error_from_remote(error, "https://h.example/api/v2/")  # type: ignore[arg-type]
    assert user_error.exit_code == code
    assert fragment in user_error.message and " — " in user_error.message
    assert "\n" not in user_error.message
