"""Broken configuration and unusable hosts, as a user meets them: `syncd` as a subprocess.

Each case must end with exit code 2 (the user's to fix) or 1 (the host or network), one line
``syncd: error: ...`` naming the cause and the fix, no traceback, and nothing written.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest

from syncd.config import load_config
from syncd.emulator import DEMO_KEY1, DEMO_KEY2
from syncd.errors import ConfigError
from tests.support.cli import error_line, run_syncd
from tests.support.config import FAIL_FAST, write_config, write_config_text
from tests.support.hosts import scripted_host

GOOD_REMOTE = f'[remote]\napi_url = "http://127.0.0.1:9/api/v2/"\nkey1 = "{DEMO_KEY1}"\n'
GOOD_REMOTE += f'key2 = "{DEMO_KEY2}"\n'


def check(home: Path, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_syncd("--config", str(config), *(args or ("config", "check")), home=home)


BROKEN_CONFIGS = [
    pytest.param('[remote\napi_url = "x"\n', ["TOML syntax error", "line 1"], id="malformed-toml"),
    pytest.param(b"\xff\xfe[remote]\n", ["not UTF-8"], id="not-utf8"),
    pytest.param(
        GOOD_REMOTE + "timout = 3\n",
        ["remote.timout: unknown key", "valid keys here", "timeout"],
        id="unknown-key",
    ),
    pytest.param(
        GOOD_REMOTE + "[sink]\nworkers = 1\n", ["sink: unknown key"], id="unknown-section"
    ),
    pytest.param(
        GOOD_REMOTE + '[sync]\nworkers = "8"\n',
        ["sync.workers: expected a whole number", "without quotes"],
        id="string-for-int",
    ),
    pytest.param(
        GOOD_REMOTE + "[[pairs]]\nname = 3\nlocal = 4\nremote = []\n",
        ["pairs[0]"],
        id="pair-wrong-types",
    ),
    pytest.param("pairs = 7\n" + GOOD_REMOTE, ["expected a list of tables"], id="pairs-int"),
    pytest.param("[state]\npath = 1\n", ["remote: required key is missing"], id="no-remote"),
    pytest.param(
        GOOD_REMOTE.replace(DEMO_KEY1, "short"),
        ["remote.key1: must be 64 characters, got 5"],
        id="key-wrong-length",
    ),
    pytest.param(
        GOOD_REMOTE + '[[pairs]]\nname = "a"\nlocal = "/x"\nremote = "../up"\n',
        ["pairs[0].remote", "'..' is not allowed"],
        id="remote-path-escape",
    ),
]


def write_broken(tmp_path: Path, body: str | bytes) -> Path:
    config = tmp_path / "config.toml"
    if isinstance(body, bytes):
        config.write_bytes(body)
        config.chmod(0o600)
        return config
    return write_config_text(config, body)


def check_line(line: str, config: Path, fragments: list[str]) -> None:
    assert line.startswith(f"config error: {config}"), line
    for fragment in fragments:
        assert fragment in line, line
    assert " — " in line and "\n" not in line  # one line: cause — fix
    assert "short" not in line  # a bad key's value is never echoed


@pytest.mark.parametrize("body, fragments", BROKEN_CONFIGS)
def test_broken_config_is_one_line_naming_key_and_fix(
    tmp_path: Path, body: str | bytes, fragments: list[str]
) -> None:
    config = write_broken(tmp_path, body)
    with pytest.raises(ConfigError) as caught:
        load_config(config, env={})
    assert caught.value.exit_code == 2
    check_line(caught.value.message, config, fragments)


@pytest.mark.parametrize(
    "body, fragments",
    [case for case in BROKEN_CONFIGS if case.id in ("malformed-toml", "unknown-key", "not-utf8")],
)
def test_broken_config_through_the_cli_is_exit_2_and_one_line(
    tmp_path: Path, body: str | bytes, fragments: list[str]
) -> None:
    config = write_broken(tmp_path, body)
    result = check(tmp_path, config)
    assert result.returncode == 2, result.stderr
    check_line(error_line(result).removeprefix("syncd: error: "), config, fragments)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]  # nothing written


def test_missing_pair_directory_is_reported_and_nothing_is_created(tmp_path: Path) -> None:
    missing = tmp_path / "not-mounted" / "Documents"
    config = write_config(
        tmp_path / "config.toml", pairs={"docs": (missing, "Backup/Docs")}, remote=FAIL_FAST
    )
    result = check(tmp_path, config)
    assert result.returncode == 0, result.stderr
    assert "docs:" in result.stdout and "[local directory does not exist]" in result.stdout
    assert not missing.parent.exists()  # never created: an unmounted disk must stay visible


def test_missing_pair_directory_in_verify_is_one_line(tmp_path: Path, emulator: Any) -> None:
    missing = tmp_path / "not-mounted" / "Documents"
    config = write_config(
        tmp_path / "config.toml",
        api_url=emulator.api_url,
        pairs={"docs": (missing, "Backup/Docs")},
        remote=FAIL_FAST,
    )
    result = check(tmp_path, config, "verify")
    assert result.returncode == 3, result.stderr  # reconcile's missing-root guard code
    assert "Traceback" not in result.stderr
    assert not missing.parent.exists()
    assert "is the disk mounted?" in result.stdout and str(missing) in result.stdout


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        # `.invalid` never resolves (RFC 6761): nothing goes to the network.
        pytest.param("https://syncd-test.invalid/api/v2/", "ConnectError", id="dns-failure"),
    ],
)
def test_unreachable_host_is_exit_1_and_one_line(tmp_path: Path, url: str, fragment: str) -> None:
    url = url.format(port=closed_port())
    config = write_config(tmp_path / "config.toml", api_url=url, remote={"max_retry_time": 0.5})
    result = check(tmp_path, config, "login")
    assert result.returncode == 1, result.stderr
    line = error_line(result)
    assert f"no usable answer from the host at {url}" in line and fragment in line
    assert "check remote.api_url and your network" in line


def test_tls_failures_are_exit_1_naming_the_tls_problem(
    tmp_path: Path, self_signed: ssl.SSLContext
) -> None:
    wrap = lambda sock: self_signed.wrap_socket(sock, server_side=True)  # noqa: E731
    with scripted_host(wrap) as tls_host, scripted_host() as plain_host:
        plain_as_https = plain_host.url.replace("http://", "https://")
        for url, fragment in (
            (tls_host.url, "CERTIFICATE_VERIFY_FAILED"),
            (plain_as_https, "SSL"),
        ):
            config = write_config(
                tmp_path / "config.toml", api_url=url, remote={"max_retry_time": 0.5}
            )
            result = check(tmp_path, config, "login")
            assert result.returncode == 1, result.stderr
            line = error_line(result)
            assert fragment in line and url in line, line
        # The client never got past the handshake, so no credentials reached either host.
        assert tls_host.requests == []
        assert all(b"key1" not in body for _, _, body in plain_host.requests)


def test_plain_http_to_a_remote_host_is_refused_before_any_request(tmp_path: Path) -> None:
    url = "http://syncd-test.invalid/api/v2/"  # would fail to resolve if anything were sent
    config = write_config(tmp_path / "config.toml", api_url=url, remote=FAIL_FAST)
    result = check(tmp_path, config, "login")
    assert result.returncode == 2, result.stderr
    line = error_line(result)
    assert "plain http to a non-loopback host" in line and "allow_insecure_http" in line
    assert "ConnectError" not in result.stderr  # refused, not attempted


def test_plain_http_allowed_explicitly_is_attempted(tmp_path: Path) -> None:
    url = "http://syncd-test.invalid/api/v2/"
    config = write_config(
        tmp_path / "config.toml",
        api_url=url,
        remote={"allow_insecure_http": True, "max_retry_time": 0.5},
    )
    result = check(tmp_path, config, "login")
    assert result.returncode == 1, result.stderr  # attempted: DNS fails for .invalid
    assert "ConnectError" in error_line(result)


def test_host_answering_html_or_garbage_is_exit_1_and_one_line(tmp_path: Path) -> None:
    html = b"<html><body><h1>Welcome to nginx!</h1></body></html>"
    with scripted_host() as host:
        config = write_config(
            tmp_path / "config.toml", api_url=host.url, remote={"max_retry_time": 0.3}
        )
        for body in (html, b'{"data": {"access_tok', bytes(range(256))):
            host.answers["authorize"] = body
            result = check(tmp_path, config, "login")
            assert result.returncode == 1, result.stderr
            line = error_line(result)
            assert "no usable answer from the host" in line and "non-JSON" in line, line
