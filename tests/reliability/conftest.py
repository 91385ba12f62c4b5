"""Helpers of the hostile-input and security tests: the `syncd` CLI as a subprocess with a clean
environment, config files, a scripted host on loopback, a tiny tmpfs, and secret scanners.

Every CLI run through :func:`run_syncd` is also scanned for secrets (the demo keys, the demo
password, anything shaped like an access token or a download token): a leak fails the test that
caused it, whichever test that is.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from syncd.emulator import DEMO_KEY1, DEMO_KEY2, DEMO_PASSWORD

REPO = Path(__file__).resolve().parents[2]
DEADLINE = 60.0


def pytest_addoption(parser: pytest.Parser) -> None:
    # Crash trials: the quick CI set kills a dozen times; `--trials 300` runs the long variant.
    parser.addoption(
        "--trials", type=int, default=12, help="SIGKILLs in the crash trials (default 12)"
    )
    parser.addoption(
        "--model-examples", type=int, default=20, help="hypothesis examples of the model test"
    )


# Access tokens are 128 alphanumerics, download tokens and API keys 64 hex: nothing syncd prints
# legitimately looks like that (MD5s are 32 hex).
_TOKEN_SHAPES = re.compile(r"(?<![A-Za-z0-9])(?:[A-Za-z0-9]{128}|[0-9a-fA-F]{64})(?![A-Za-z0-9])")
KNOWN_SECRETS = (DEMO_KEY1, DEMO_KEY2, DEMO_PASSWORD)


def find_secrets(text: str, extra: tuple[str, ...] = ()) -> list[str]:
    """Secrets (known values, token-shaped strings) found in ``text``; [] when clean."""
    found = [s for s in (*KNOWN_SECRETS, *extra) if s and s in text]
    found += _TOKEN_SHAPES.findall(text)
    return found


def assert_no_secrets(text: str, what: str, extra: tuple[str, ...] = ()) -> None:
    leaks = find_secrets(text, extra)
    assert not leaks, f"secret-like values in {what}: {[leak[:8] + '...' for leak in leaks]}"


# ---- the CLI ----------------------------------------------------------------------------------


def run_syncd(
    *args: str,
    home: Path,
    env: dict[str, str] | None = None,
    timeout: float = DEADLINE,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """`python -m syncd ARGS` with no SYNCD_* from the caller and config/state dirs in ``home``;
    its stdout and stderr are checked for secrets before they are returned."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
    clean.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        PYTHONPATH=str(REPO),
        NO_COLOR="1",
    )
    clean.update(env or {})
    result = subprocess.run(
        [sys.executable, "-m", "syncd", *args],
        capture_output=True,
        text=True,
        env=clean,
        cwd=home,
        timeout=timeout,
        input=stdin,
        check=False,
    )
    assert_no_secrets(result.stdout, f"stdout of syncd {' '.join(args)}")
    assert_no_secrets(result.stderr, f"stderr of syncd {' '.join(args)}")
    return result


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """Besides JSON log records, stderr holds exactly one line: ``syncd: error: ...``."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line and not line.startswith("{")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("syncd: error: "), lines[0]
    return lines[0]


def log_records(stderr: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def write_config(
    path: Path,
    body: str | None = None,
    *,
    api_url: str = "http://127.0.0.1:9/api/v2/",
    remote_extra: str = "",
    pairs: dict[str, tuple[Path, str]] | None = None,
    mode: int = 0o600,
) -> Path:
    """A config file: ``body`` verbatim, or [remote] with the demo keys, [state] and pairs."""
    if body is None:
        lines = [
            "[remote]",
            f'api_url = "{api_url}"',
            f'key1 = "{DEMO_KEY1}"',
            f'key2 = "{DEMO_KEY2}"',
            "" if "max_retry_time" in remote_extra else "max_retry_time = 2.0",
            remote_extra,
            "[state]",
            f'path = "{path.parent / "state.db"}"',
            "",
        ]
        for name, (local, remote) in (pairs or {}).items():
            lines += [
                "[[pairs]]",
                f'name = "{name}"',
                f'local = "{local}"',
                f'remote = "{remote}"',
                "",
            ]
        body = "\n".join(lines)
    path.write_text(body, encoding="utf-8")
    path.chmod(mode)
    return path


# ---- a scripted host --------------------------------------------------------------------------


Answer = tuple[int, dict[str, str], bytes]


@dataclass
class ScriptedHost:
    """A tiny HTTP server on loopback. ``answers[action]`` is a body (bytes), a (status, headers,
    body) tuple, or a callable of the form fields; actions without one answer a plain success."""

    url: str = ""
    answers: dict[str, object] = field(default_factory=dict)
    requests: list[tuple[str, str, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, method: str, path: str, body: bytes) -> Answer:
        with self.lock:
            self.requests.append((method, path, body))
        action = path.split("/api/v2/", 1)[1] if "/api/v2/" in path else path
        script = self.answers.get(action)
        if callable(script):
            script = script(body)
        if script is None:
            data: object = {"access_token": "T" * 128, "account_id": "1"}
            if action != "authorize":
                data = {"id": "1", "filename": "x", "fileSize": "1"}
            script = json.dumps({"data": data, "_status": "success"}).encode()
        if isinstance(script, bytes):
            return 200, {"Content-Type": "application/json"}, script
        assert isinstance(script, tuple)
        return script

    def calls(self, action: str) -> int:
        with self.lock:
            return sum(1 for _, path, _ in self.requests if path.endswith("/" + action))


@contextlib.contextmanager
def scripted_host(wrap_socket: Callable[[object], object] | None = None) -> Iterator[ScriptedHost]:
    """Serve a :class:`ScriptedHost` on 127.0.0.1 (port 0) until the block ends."""
    host = ScriptedHost()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            status, headers, payload = host.answer(method, self.path, body)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if not any(name.lower() == "content-length" for name in headers):
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            if any(name.lower() == "content-length" for name in headers):
                self.close_connection = True  # a body shorter than announced: cut it off

        def do_POST(self) -> None:
            self._serve("POST")

        def do_GET(self) -> None:
            self._serve("GET")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if wrap_socket is not None:
        server.socket = wrap_socket(server.socket)  # type: ignore[assignment]
    scheme = "https" if wrap_socket is not None else "http"
    host.url = f"{scheme}://127.0.0.1:{server.server_address[1]}/api/v2/"
    thread = threading.Thread(target=server.serve_forever, name="scripted-host", daemon=True)
    thread.start()
    try:
        yield host
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def bad_host() -> Iterator[ScriptedHost]:
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


# ---- filesystem helpers -----------------------------------------------------------------------


@contextlib.contextmanager
def tiny_tmpfs(size: str = "256k") -> Iterator[Path]:
    """A fresh tmpfs of ``size`` (root only: skips otherwise); unmounted afterwards."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    mountpoint = Path("/tmp") / f"syncd-tmpfs-{uuid.uuid4().hex[:12]}"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mountpoint)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        mountpoint.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)
        with contextlib.suppress(OSError):
            mountpoint.rmdir()


def remount_read_only(mountpoint: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(mountpoint)], check=True)
