"""Logging: console/JSON rendering, stdlib routing, and redaction of secrets in both formats."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from syncd.logging import (
    ALWAYS_QUIET_LOGGERS,
    NOISY_LOGGERS,
    REDACTED,
    configure_logging,
    forget_secrets,
    redact_text,
    register_secret,
)

KEY1 = "0123456789abcdef" * 4
KEY2 = "fedcba9876543210" * 4
PASSWORD = "correct horse battery"
ACCESS_TOKEN = "Tk" * 64
DOWNLOAD_TOKEN = "9f" * 32
SECRETS = (KEY1, KEY2, PASSWORD, ACCESS_TOKEN, DOWNLOAD_TOKEN)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """configure_logging() changes process-wide state: put all of it back for other tests."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    tuned = {name: logging.getLogger(name).level for name in NOISY_LOGGERS + ALWAYS_QUIET_LOGGERS}
    forget_secrets()
    yield
    forget_secrets()
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    for name, old_level in tuned.items():
        logging.getLogger(name).setLevel(old_level)
    logging.captureWarnings(False)
    structlog.reset_defaults()


class LeakyObject:
    def __repr__(self) -> str:
        return f"LeakyObject(key={KEY2})"


def emit_everything() -> None:
    """Secrets in every place a log line can carry them."""
    log = structlog.get_logger("syncd.test")
    log.info("authorize", key1=KEY1, key2=KEY2, account_id=1)
    log.info(f"message mentions {KEY1} inline")
    log.info("nested", form={"key1": KEY1, "inner": [{"password": PASSWORD}]}, obj=LeakyObject())
    log.info("token", access_token=ACCESS_TOKEN, Download_Token=DOWNLOAD_TOKEN)
    log.info("fetch", url=f"http://127.0.0.1:1/abc?download_token={DOWNLOAD_TOKEN}&x=1")
    log.info("body", text=f"access_token={ACCESS_TOKEN}&account_id=1&password={PASSWORD}")
    # stdlib loggers (httpx, uvicorn...) go through the same processors
    logging.getLogger("httpx").warning(
        "HTTP Request: GET http://h/x?download_token=%s", DOWNLOAD_TOKEN
    )
    logging.getLogger("syncd.other").error("refused %s / %s", KEY1, {"password": PASSWORD})
    try:
        raise RuntimeError(f"boom with {KEY2}")
    except RuntimeError:
        log.exception("failed")
        logging.getLogger("syncd.other").exception("failed in stdlib")


def capture(fmt: str, level: str = "info") -> str:
    stream = io.StringIO()
    for secret in (KEY1, KEY2, PASSWORD):  # what config loading registers
        register_secret(secret)
    configure_logging(level, fmt, stream=stream)
    emit_everything()
    return stream.getvalue()


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_no_secret_reaches_the_output(fmt: str) -> None:
    out = capture(fmt)
    for secret in SECRETS:
        assert secret not in out, f"{secret[:6]}... leaked in {fmt} output"
    assert out.count(REDACTED) >= 15
    assert "boom with" in out and "Traceback" in out  # tracebacks kept, minus the secret
    assert "account_id" in out  # ordinary fields are untouched


def test_json_lines_are_valid_and_structured() -> None:
    out = capture("json")
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert len(records) == 10
    first = records[0]
    assert first["event"] == "authorize" and first["key1"] == REDACTED
    assert first["account_id"] == 1 and first["level"] == "info" and first["logger"]
    assert first["timestamp"].endswith("Z")
    nested = records[2]
    assert nested["form"] == {"key1": REDACTED, "inner": [{"password": REDACTED}]}
    assert nested["obj"] == f"LeakyObject(key={REDACTED})"
    httpx_record = next(r for r in records if r["logger"] == "httpx")
    assert httpx_record["event"].endswith(f"download_token={REDACTED}")
    assert "exception" in records[-2] and KEY2 not in records[-2]["exception"]


def test_auto_is_json_when_not_a_tty_and_console_forced() -> None:
    stream = io.StringIO()
    configure_logging("info", "auto", stream=stream)
    structlog.get_logger("x").info("hello", n=1)
    assert json.loads(stream.getvalue())["event"] == "hello"
    stream = io.StringIO()
    configure_logging("info", "console", stream=stream)
    structlog.get_logger("x").info("hello", n=1)
    line = stream.getvalue()
    assert "hello" in line and "n=1" in line and not line.startswith("{")
    assert "\x1b[" not in line  # no colour codes when the stream is not a terminal


def test_file_gets_json_lines_redacted(tmp_path: Path) -> None:
    register_secret(KEY1)
    log_file = tmp_path / "logs" / "syncd.log"
    configure_logging("info", "console", log_file, stream=io.StringIO())
    structlog.get_logger("x").info("written", key=KEY1, path="ünïcode.txt")
    record = json.loads(log_file.read_text("utf-8").strip())
    assert record["key"] == REDACTED and record["path"] == "ünïcode.txt"


def test_levels_and_noisy_third_party_loggers() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream=stream)
    logging.getLogger("httpx").info("HTTP Request: chatter")
    logging.getLogger("apscheduler.scheduler").info("job ran")
    structlog.get_logger("syncd").debug("hidden")
    structlog.get_logger("syncd").info("shown")
    assert [json.loads(x)["event"] for x in stream.getvalue().splitlines()] == ["shown"]

    stream = io.StringIO()
    configure_logging("debug", "json", stream=stream)
    logging.getLogger("httpx").info("HTTP Request: chatter")
    structlog.get_logger("syncd").debug("visible")
    events = [json.loads(x)["event"] for x in stream.getvalue().splitlines()]
    assert events == ["HTTP Request: chatter", "visible"]


def test_reconfiguring_replaces_handlers_instead_of_duplicating() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("info", "json", stream=first)
    configure_logging("info", "json", stream=second)
    structlog.get_logger("x").info("once")
    assert first.getvalue() == "" and second.getvalue().count("once") == 1


def test_redact_text_rules() -> None:
    register_secret(KEY1)
    register_secret("abc")  # too short to redact by value: only by key name
    assert redact_text(f"a {KEY1} b") == f"a {REDACTED} b"
    assert redact_text("abc password=abc") == f"abc password={REDACTED}"
    assert redact_text('{"key2": "zzz", "x": 1}') == f'{{"key2": "{REDACTED}", "x": 1}}'
    assert redact_text("?download_token=ab12&b=2") == f"?download_token={REDACTED}&b=2"
    assert (
        redact_text("next=%2Fx%3Fdownload_token%3Dab12")
        == f"next=%2Fx%3Fdownload_token%3D{REDACTED}"
    )
    assert redact_text("{'password': 'pw'}") == f"{{'password': '{REDACTED}'}}"
    assert redact_text("nothing secret here") == "nothing secret here"
    message = "config error: f.toml: remote.key1: must be 64 characters"
    assert redact_text(message) == message  # naming a key is not leaking it


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="log level"):
        configure_logging("loud")
    with pytest.raises(ValueError, match="log format"):
        configure_logging("info", "xml")
