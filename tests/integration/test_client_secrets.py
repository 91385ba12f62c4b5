"""Keys, passwords, access tokens and download tokens never show in logs, reprs or errors."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path
from typing import Any

import pytest
import structlog

from syncd.emulator import DEMO_KEY1, DEMO_KEY2, DEMO_PASSWORD, DEMO_USERNAME
from syncd.emulator.testing import EmulatorProcess
from syncd.remote.client import RemoteClient
from syncd.remote.credentials import Credentials
from syncd.remote.errors import AuthError, NotFound, RemoteError, UploadOutcomeUnknown

WRONG_KEY1 = "a1b2c3d4" * 8
WRONG_KEY2 = "e5f6a7b8" * 8
WRONG_PASSWORD = "hunter2-not-the-password"


def test_no_secret_in_logs_reprs_or_errors(
    emulator: EmulatorProcess,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx logs URLs at INFO, httpcore headers at DEBUG
    texts: list[str] = []
    secrets = {DEMO_KEY1, DEMO_KEY2, DEMO_PASSWORD, WRONG_KEY1, WRONG_KEY2, WRONG_PASSWORD}

    def keep(*objects: Any) -> None:
        for obj in objects:
            texts.append(repr(obj))
            texts.append(str(obj))
            if isinstance(obj, BaseException):
                texts.append("".join(traceback.format_exception(obj)))

    with structlog.testing.capture_logs() as events:
        creds = Credentials(key1=DEMO_KEY1, key2=DEMO_KEY2)
        remote = RemoteClient(emulator.api_url, creds, max_retry_time=3, backoff_base=0.01)
        keep(creds, remote)
        remote.folder_listing(None)
        session = remote._tokens.session
        assert session is not None
        secrets.add(session.access_token)
        keep(session, remote._tokens, remote)

        source = tmp_path / "secret-free.txt"
        source.write_bytes(b"data" * 100)
        uploaded = remote.upload_file(source, None)
        link = remote.file_download(uploaded.file_id)
        secrets.add(link.url.split("download_token=", 1)[1])
        assert b"".join(remote.iter_download(link)) == b"data" * 100
        keep(uploaded, link)

        emulator.admin.revoke_tokens()  # renewal: a second token to keep secret
        remote.account_info()
        renewed = remote._tokens.session
        assert renewed is not None and renewed.access_token != session.access_token
        secrets.add(renewed.access_token)

        with pytest.raises(NotFound) as not_found:
            remote.file_info(424242)
        keep(not_found.value)
        emulator.admin.set_knobs(fault_rate=1.0, fault_kinds=["after_drop"])
        with pytest.raises(UploadOutcomeUnknown) as unknown:
            remote.upload_file(source, None)
        keep(unknown.value)
        emulator.admin.set_knobs(fault_kinds=["drop"])
        with pytest.raises(RemoteError) as dropped:
            remote.folder_listing(None)
        keep(dropped.value)
        emulator.admin.set_knobs(fault_rate=0.0)
        remote.close()

        wrong = RemoteClient(emulator.api_url, Credentials(key1=WRONG_KEY1, key2=WRONG_KEY2))
        with pytest.raises(AuthError) as refused:
            wrong.folder_listing(None)
        keep(refused.value, wrong)
        wrong.close()

    with (
        EmulatorProcess(auth_method="password") as password_host,
        structlog.testing.capture_logs() as more,
    ):
        for password in (DEMO_PASSWORD, WRONG_PASSWORD):
            creds = Credentials(username=DEMO_USERNAME, password=password)
            client = RemoteClient(password_host.api_url, creds)
            keep(creds, client)
            try:
                client.account_info()
            except AuthError as exc:
                keep(exc)
            client.close()

    captured = capfd.readouterr()
    texts += [caplog.text, captured.out, captured.err]
    texts += [repr(event) for event in [*events, *more]]
    assert any("download" in t for t in texts)  # the scenario did produce log lines
    assert any("HTTP Request: GET" in record.getMessage() for record in caplog.records)
    leaks = {
        secret[:8] + "...": i
        for i, text in enumerate(texts)
        for secret in secrets
        if secret in text
    }
    assert leaks == {}, f"secrets leaked into {len(leaks)} texts"
