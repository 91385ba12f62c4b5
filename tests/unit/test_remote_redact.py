"""Secrets are scrubbed from text and from httpx/httpcore log records."""

from __future__ import annotations

import logging

import pytest

from syncd.remote.redact import Redactor, install_http_log_filter, redact_params


def test_secret_parameters_are_masked() -> None:
    url = "http://h/2Vv?download_token=c3e6289a23e9&x=1"
    assert redact_params(url) == "http://h/2Vv?download_token=***&x=1"
    assert "abc" not in redact_params("access_token=abc&account_id=1")
    assert "k" * 64 not in redact_params('{"key1": "' + "k" * 64 + '"}')


def test_redactor_masks_known_values() -> None:
    redact = Redactor(["supersecretkey", None, "ab"])  # too-short values are ignored
    redact.add("tokentokentoken")
    text = redact("key supersecretkey and tokentokentoken, ab stays")
    assert "supersecretkey" not in text and "tokentokentoken" not in text and "ab stays" in text
    assert "supersecretkey" not in repr(redact)


def test_httpx_request_log_is_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    install_http_log_filter()
    install_http_log_filter()  # idempotent
    caplog.set_level(logging.DEBUG)
    # Another test may have set up syncd's logging, which quiets these two loggers for good.
    caplog.set_level(logging.DEBUG, logger="httpx")
    caplog.set_level(logging.DEBUG, logger="httpcore")
    logging.getLogger("httpx").info(
        'HTTP Request: %s %s "%s"', "GET", "http://h/x?download_token=deadbeef", "200 OK"
    )
    logging.getLogger("httpcore.http11").debug("headers [(b'location', b'/x?download_token=cafe')]")
    assert "deadbeef" not in caplog.text and "cafe'" not in caplog.text
    assert "download_token=***" in caplog.text
