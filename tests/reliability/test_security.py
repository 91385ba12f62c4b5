"""Security: secrets never leave the process in text, config files with keys are guarded, plain
http and disabled TLS verification never happen silently, restore stays inside DEST whatever
the host says, and the emulator's admin API serves loopback clients only.

Every `syncd` run here (and in the other hostile-input files) goes through `run_syncd`, which
fails the test on any secret-looking value in stdout or stderr; the debug log files written with
``--config``'s ``[log] file`` are scanned too.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import selectors
import signal
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from syncd.emulator import DEMO_KEY1, DEMO_KEY2, DEMO_PASSWORD, DEMO_USERNAME
from syncd.emulator.testing import EmulatorProcess
from syncd.logging import configure_logging
from syncd.remote.client import RemoteClient
from syncd.remote.credentials import Credentials
from syncd.remote.errors import InsecureURL, RemoteError
from tests.support.cli import run_syncd, start_syncd
from tests.support.config import FAIL_FAST, write_config, write_config_text
from tests.support.hosts import ScriptedHost, scripted_host
from tests.support.leaks import assert_no_secrets, find_secrets

TOKEN = "Z" * 100 + "ecretAccessToken" + "9" * 12  # 128 alphanumerics, like the host's
DOWNLOAD_TOKEN = "d0" * 32


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def success(data: object) -> bytes:
    return json.dumps({"data": data, "_status": "success"}).encode()


def test_the_secret_scan_is_not_vacuous() -> None:
    assert find_secrets(f"token={TOKEN}") == [TOKEN]
    assert find_secrets(f"url?download_token={DOWNLOAD_TOKEN}") == [DOWNLOAD_TOKEN]
    assert find_secrets(f"key {DEMO_KEY1}") and find_secrets(f"pw {DEMO_PASSWORD}")
    assert find_secrets("md5 0123456789abcdef0123456789abcdef, id 1000") == []


# ---- every command's output and debug log, against the emulator --------------------------------


def debug_logging_config(tmp_path: Path, api_url: str) -> tuple[Path, Path]:
    """A config with pair "docs" (local ``tmp_path/docs`` -> /Mine) logging debug JSON lines
    to a file; (config, log file)."""
    local = tmp_path / "docs"
    local.mkdir()
    (local / "mine.txt").write_bytes(b"local file")
    log_file = tmp_path / "debug.jsonl"
    pairs = {"docs": (local, "Mine")}
    config = write_config(
        tmp_path / "config.toml",
        api_url=api_url,
        pairs=pairs,
        remote=FAIL_FAST,
        log={"file": log_file, "level": "debug"},
    )
    return config, log_file


def test_no_secret_in_any_output_or_debug_log_of_the_cli(tmp_path: Path, emulator: Any) -> None:
    admin = emulator.admin
    folder = admin.drift("add_folder", parent_id=None, name="Docs")["id"]
    for i in range(3):
        admin.drift("add_file", folder_id=folder, name=f"f{i}.txt", content_b64=b64(b"x" * i))
    config, log_file = debug_logging_config(tmp_path, emulator.api_url)
    outputs: list[str] = []
    runs = [
        ("-v", "--log-format", "console", "login"),
        ("-v", "config", "check"),
        ("-v", "restore", "--remote", "Docs", str(tmp_path / "restored")),
        ("-v", "reconcile"),
        ("-v", "status", "--json"),
        ("-v", "verify", "--deep"),
    ]
    for args in runs:
        result = run_syncd("--config", str(config), *args, home=tmp_path)
        assert result.returncode in (0, 1), (args, result.stderr)
        outputs += [result.stdout, result.stderr]
    assert (tmp_path / "restored" / "f2.txt").read_bytes() == b"xx"  # downloads did happen

    wrong = config.read_text().replace(DEMO_KEY1, "e" * 64)
    wrong_config = tmp_path / "wrong.toml"
    wrong_config.write_text(wrong)
    wrong_config.chmod(0o600)
    result = run_syncd("--config", str(wrong_config), "-v", "login", home=tmp_path)
    assert result.returncode == 2
    assert "e" * 64 not in result.stderr + result.stdout

    log_text = log_file.read_text(encoding="utf-8")
    assert "remote.request" in log_text and "file/download" in log_text  # debug really on
    assert "file/upload" in log_text
    assert_no_secrets(log_text, "the debug log file", extra=("e" * 64,))
    counts = admin.counts()
    assert counts.get("authorize", 0) >= 5 and counts.get("download", 0) >= 3


def test_no_secret_in_the_daemon_output_or_debug_log(tmp_path: Path, emulator: Any) -> None:
    config, log_file = debug_logging_config(tmp_path, emulator.api_url)
    run_daemon_briefly(config, tmp_path, log_file)
    log_text = log_file.read_text(encoding="utf-8")
    assert "file/upload" in log_text and "daemon" in log_text
    assert_no_secrets(log_text, "the daemon's debug log file")
    assert set(emulator.admin.active_paths()) == {"/Mine/mine.txt", "/Mine/new.txt"}


def run_daemon_briefly(config: Path, home: Path, log_file: Path) -> list[str]:
    """`syncd run -v` until its first pass is logged, then SIGTERM; its stdout and stderr."""
    (Path(config).parent / "docs" / "new.txt").write_bytes(b"seen by the daemon")
    proc = start_syncd("-v", "run", config=config, capture=True, home=home)
    try:
        deadline = time.monotonic() + 30
        while not log_file.exists() or "pass:" not in log_file.read_text(encoding="utf-8"):
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "the daemon logged no pass"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err[-2000:]
    assert_no_secrets(out + err, "the daemon's output")
    return [out, err]


def test_no_secret_with_password_auth(tmp_path: Path) -> None:
    with EmulatorProcess(auth_method="password") as emu:
        config = write_config_text(
            tmp_path / "config.toml",
            f'[remote]\napi_url = "{emu.api_url}"\nusername = "{DEMO_USERNAME}"\n'
            f'password = "{DEMO_PASSWORD}"\n[state]\npath = "{tmp_path / "s.db"}"\n',
        )
        result = run_syncd("--config", str(config), "-v", "login", home=tmp_path)
        assert result.returncode == 0, result.stderr
        bad = config.read_text().replace(DEMO_PASSWORD, "wrong-password-123")
        config.write_text(bad)
        result = run_syncd("--config", str(config), "-v", "login", home=tmp_path)
        assert result.returncode == 2
        assert "wrong-password-123" not in result.stderr + result.stdout


def test_emulator_ready_line_and_stderr_hold_no_secret(tmp_path: Path) -> None:
    proc = start_syncd("emulator", "--port", "0", "--data", str(tmp_path), capture=True)
    try:
        assert proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        assert selector.select(timeout=30), "no READY line"
        ready = proc.stdout.readline()
        assert ready.startswith("READY http://127.0.0.1:")
        api_url = ready.split()[1]
        with RemoteClient(api_url, Credentials(key1=DEMO_KEY1, key2=DEMO_KEY2)) as client:
            client.authorize()
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert_no_secrets(ready + out + err, "the emulator's output")


# ---- exception text and logs when the host echoes secrets back ---------------------------------


def test_secrets_echoed_by_a_hostile_host_never_reach_errors_or_logs(
    bad_host: ScriptedHost, caplog: pytest.LogCaptureFixture
) -> None:
    base = bad_host.url.removesuffix("/api/v2/")
    echo = f"bad key1={DEMO_KEY1} key2 {DEMO_KEY2} token {TOKEN}"
    bad_host.answers["authorize"] = success({"access_token": TOKEN, "account_id": "1"})
    bad_host.answers["folder/info"] = json.dumps({"status": "error", "response": echo}).encode()
    bad_host.answers["file/info"] = (502, {"Content-Type": "text/html"}, echo.encode())
    bad_host.answers["file/download"] = success(
        {"file_id": "1", "download_url": f"{base}/gone?download_token={DOWNLOAD_TOKEN}"}
    )
    bad_host.answers[f"/gone?download_token={DOWNLOAD_TOKEN}"] = (
        404,
        {},
        f"no such token {DOWNLOAD_TOKEN}".encode(),
    )
    configure_logging("debug", "json")
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    client = RemoteClient(
        bad_host.url,
        Credentials(key1=DEMO_KEY1, key2=DEMO_KEY2),
        max_retry_time=0.2,
        backoff_base=0.01,
    )
    with client:
        for call in (
            lambda: client.folder_info(5),
            lambda: client.file_info(5),
            lambda: list(client.iter_download(client.file_download(1))),
        ):
            with pytest.raises(RemoteError) as caught:
                call()
            texts += [str(caught.value), repr(caught.value), caught.value.message]
        texts.append(repr(client))
        link = client.file_download(1)
        texts.append(repr(link))
    texts += [record.getMessage() for record in caplog.records]
    texts += [str(record.__dict__.get("msg")) for record in caplog.records]
    assert_no_secrets("\n".join(texts), "errors and log records", extra=(TOKEN, DOWNLOAD_TOKEN))


def test_download_links_elsewhere_are_refused_without_a_request(bad_host: ScriptedHost) -> None:
    keys = Credentials(key1="k" * 64, key2="q" * 64)
    client = RemoteClient(bad_host.url, keys, max_retry_time=0.2)
    with client:
        for url in (
            f"http://syncd-test.invalid/f?download_token={DOWNLOAD_TOKEN}",  # bare http off-box
            "file:///etc/passwd",
            "ftp://127.0.0.1/x",
        ):
            bad_host.answers["file/download"] = success({"file_id": "1", "download_url": url})
            with pytest.raises(InsecureURL) as caught:
                list(client.iter_download(client.file_download(1)))
            assert DOWNLOAD_TOKEN not in str(caught.value)
    assert all(method == "POST" for method, _, _ in bad_host.requests)  # no GET went anywhere


def test_plain_http_client_is_refused_before_resolving() -> None:
    with pytest.raises(InsecureURL):
        RemoteClient("http://syncd-test.invalid/api/v2/", Credentials(key1="k" * 64, key2="q" * 64))


# ---- config files and TLS -----------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "warned"), [(0o644, True), (0o600, False)])
def test_config_with_keys_readable_by_others_is_warned_about(
    tmp_path: Path, mode: int, warned: bool
) -> None:
    config = write_config(tmp_path / "config.toml", file_mode=mode, remote=FAIL_FAST)
    result = run_syncd("--config", str(config), "config", "check", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert ("chmod 600" in result.stderr) is warned
    assert ("readable by group/others" in result.stderr) is warned


def test_keys_from_the_environment_need_no_private_config(tmp_path: Path) -> None:
    config = write_config_text(
        tmp_path / "config.toml",
        '[remote]\napi_url = "http://127.0.0.1:9/api/v2/"\n',
        file_mode=0o644,
    )
    env = {"SYNCD_KEY1": DEMO_KEY1, "SYNCD_KEY2": DEMO_KEY2}
    result = run_syncd("--config", str(config), "config", "check", home=tmp_path, env=env)
    assert result.returncode == 0 and "chmod" not in result.stderr


def test_tls_verification_off_is_never_silent(tmp_path: Path, self_signed: ssl.SSLContext) -> None:
    wrap = lambda sock: self_signed.wrap_socket(sock, server_side=True)  # noqa: E731
    with scripted_host(wrap) as tls_host:
        tls_host.answers["account/info"] = success({"id": "1", "username": "demo"})
        tls_host.answers["account/package"] = success({"label": "free"})
        config = write_config(
            tmp_path / "config.toml",
            api_url=tls_host.url,
            remote={**FAIL_FAST, "verify_tls": False},
        )
        for args in (("config", "check"), ("login",)):
            result = run_syncd("--config", str(config), *args, home=tmp_path)
            assert result.returncode == 0, result.stderr
            records = [line for line in result.stderr.splitlines() if "verify_tls" in line]
            assert len(records) == 1 and "DISABLED" in records[0], result.stderr
        assert tls_host.calls("authorize") == 1  # it did talk to the self-signed host


# ---- restore stays inside DEST -----------------------------------------------------------------


def test_restore_through_the_cli_keeps_hostile_names_inside_dest(
    tmp_path: Path, emulator: Any
) -> None:
    admin = emulator.admin
    root = admin.drift("add_folder", parent_id=None, name="H")["id"]
    files = ["../../../x", "/etc/cron.d/evil", "é" * 200 + ".txt", "n" * 300, "a\nb", "~", "."]
    for i, name in enumerate(files):
        admin.drift("add_file", folder_id=root, name=name, content_b64=b64(f"c{i}".encode()))
    parent = root
    for name in ("..", "../..", "d" * 300, "."):  # nested hostile folders
        parent = admin.drift("add_folder", parent_id=parent, name=name)["id"]
        admin.drift("add_file", folder_id=parent, name="../inner", content_b64=b64(name.encode()))
    outer = tmp_path / "outer"
    dest = outer / "dest"
    config = write_config(tmp_path / "config.toml", api_url=emulator.api_url, remote=FAIL_FAST)
    result = run_syncd(
        "--config", str(config), "restore", "--remote", "H", str(dest), home=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in outer.iterdir()) == ["dest"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "outer"]
    restored = [p for p in dest.rglob("*") if p.is_file()]
    assert len(restored) == len(files) + 4  # every file, under some safe name
    for path in dest.rglob("*"):
        assert path.resolve().is_relative_to(dest.resolve())
        assert len(path.name.encode()) <= 255


def test_restore_stops_at_a_folder_cycle_in_the_host_listings(
    bad_host: ScriptedHost, tmp_path: Path
) -> None:
    base = bad_host.url.removesuffix("/api/v2/")
    bad_host.answers["folder/info"] = success({"id": "100", "parentId": None, "folderName": "R"})
    bad_host.answers["folder/listing"] = success(
        {
            "folders": [{"id": "100", "parentId": "100", "folderName": "again"}],
            "files": [{"id": "1001", "filename": "f.txt", "fileSize": "2", "folderId": "100"}],
        }
    )
    bad_host.answers["file/download"] = success(
        {"file_id": "1001", "download_url": f"{base}/s?download_token={DOWNLOAD_TOKEN}"}
    )
    bad_host.answers[f"/s?download_token={DOWNLOAD_TOKEN}"] = (200, {}, b"hi")
    config = write_config(tmp_path / "config.toml", api_url=bad_host.url, remote=FAIL_FAST)
    with contextlib.suppress(subprocess.TimeoutExpired):
        run_syncd(
            "--config",
            str(config),
            "restore",
            "--remote-id",
            "100",
            str(tmp_path / "dest"),
            home=tmp_path,
            timeout=4,
        )
    assert bad_host.calls("folder/listing") <= 3


# ---- the emulator's admin API ------------------------------------------------------------------


def test_admin_api_refuses_a_client_that_is_not_loopback(emulator: Any) -> None:
    # uvicorn trusts X-Forwarded-For from 127.0.0.1 only (a local proxy): through it, the
    # admin API sees a network client and must refuse it; the same request without it works.
    url = f"{emulator.base_url}/admin/knobs"
    with httpx.Client() as http:
        assert http.get(url).status_code == 200
        for forwarded in ("10.0.0.5", "203.0.113.9", "::ffff:10.0.0.5"):
            refused = http.get(url, headers={"X-Forwarded-For": forwarded})
            assert refused.status_code == 403, forwarded
            assert refused.json() == {"ok": False, "error": "admin is loopback only"}
            changed = http.post(
                f"{emulator.base_url}/admin/knobs",
                json={"api_access": False},
                headers={"X-Forwarded-For": forwarded},
            )
            assert changed.status_code == 403
    assert emulator.admin.knobs()["api_access"] is True  # nothing changed


def test_emulator_warns_before_listening_beyond_loopback(tmp_path: Path) -> None:
    # 192.0.2.1 (TEST-NET-1) is not on this machine: the bind fails, after the warning.
    command = ("emulator", "--host", "192.0.2.1", "--port", "0", "--data", str(tmp_path))
    proc = start_syncd(*command, capture=True)
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "is not a loopback address" in err and "/admin answers loopback clients only" in err
    assert proc.returncode == 2 and "READY" not in out
    # A bad port fails the bind at once, with one line.
    loopback = run_syncd("emulator", "--host", "127.0.0.1", "--port", "70000", timeout=30)
    assert loopback.returncode == 2 and "Traceback" not in loopback.stderr
    assert loopback.stderr.strip().splitlines() == [
        "syncd emulator: cannot listen on 127.0.0.1:70000: bind(): port must be 0-65535.; "
        "choose another --port (0 picks a free one)"
    ]  # and no warning for a loopback address
