"""Options and fixtures of the reliability suites (their helpers live in tests/support/).

``--trials N`` sets how many SIGKILLs the crash trials deal (12 by default, 300 for the long
variant); ``--model-examples N`` how many hypothesis examples the model-based test draws.
"""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.hosts import ScriptedHost, scripted_host


def pytest_addoption(parser: pytest.Parser) -> None:
    # Crash trials: the quick CI set kills a dozen times; `--trials 300` runs the long variant.
    parser.addoption(
        "--trials", type=int, default=12, help="SIGKILLs in the crash trials (default 12)"
    )
    parser.addoption(
        "--model-examples", type=int, default=20, help="hypothesis examples of the model test"
    )
    # The `-m slow` soaks: seconds of changes (the fault soak's default is five minutes, the
    # two-daemon soak's ten); `--soak-seconds 1800` runs the thirty-minute fault soak.
    parser.addoption(
        "--soak-seconds", type=float, default=None, help="seconds of changes in the slow soaks"
    )


@pytest.fixture
def bad_host() -> Iterator[ScriptedHost]:
    """A :class:`ScriptedHost` on loopback for one test."""
    with scripted_host() as scripted:
        yield scripted


@pytest.fixture
def self_signed(tmp_path: Path) -> Iterator[ssl.SSLContext]:
    """A server-side TLS context with a throwaway self-signed certificate for 127.0.0.1."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    command += ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
    command += ["-addext", "subjectAltName=IP:127.0.0.1"]
    made = subprocess.run(
        command,
        capture_output=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip("openssl cannot make a certificate here")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    yield context
