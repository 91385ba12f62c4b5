"""Answer parsing and error classification (pure: bytes in, dict or exception out)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from syncd.remote.answers import (
    classify_message,
    data_of,
    parse_answer,
    parse_retry_after,
    upload_entry,
)
from syncd.remote.errors import (
    AuthError,
    NoApiAccess,
    NotFound,
    RateLimited,
    Refused,
    TokenInvalid,
    TransientError,
    UnknownAction,
)

NOW = "2024-11-08 21:57:50"


def error_body(message: str) -> bytes:
    return json.dumps({"status": "error", "response": message, "_datetime": NOW}).encode()


def answer(
    content: bytes, status: int = 200, headers: dict[str, str] | None = None, action: str = "x/y"
) -> dict:
    return parse_answer(action, status, headers or {}, content)


def test_success_body_is_returned() -> None:
    body = {"data": {"id": "1"}, "_status": "success", "_datetime": NOW}
    assert answer(json.dumps(body).encode()) == body


@pytest.mark.parametrize(
    ("message", "action", "error", "kind"),
    [
        (
            "Could not authenticate user. The key pair may be invalid or your account may be "
            "locked from too many failed logins.",
            "authorize",
            AuthError,
            None,
        ),
        ("Please provide key1. It must be 64 characters in length.", "authorize", AuthError, None),
        ("Please provide a username.", "authorize", AuthError, None),
        (
            "Your account level does not have access to the file upload API. Please upgrade.",
            "authorize",
            NoApiAccess,
            None,
        ),
        (
            "Could not validate access_token and account_id, please reauthenticate or try again.",
            "folder/listing",
            TokenInvalid,
            None,
        ),
        ("Please provide the access_token param.", "file/info", TokenInvalid, None),
        ("Please provide the account_id param.", "file/info", TokenInvalid, None),
        ("Could not find file based on file_id.", "file/info", NotFound, None),
        ("Could not find folder based on folder_id.", "folder/listing", NotFound, None),
        (
            "Could not find the destination folder id defined by new_parent_folder_id.",
            "file/move",
            NotFound,
            None,
        ),
        ("Filesize received was zero.", "file/upload", Refused, Refused.ZERO_BYTE),
        (
            "Error on: https://h/core/page/ajax/api_upload_handler.ajax.php. File received is "
            "larger than permitted. (max 1000 bytes)",
            "file/upload",
            Refused,
            Refused.TOO_LARGE,
        ),
        ("File is too big", "file/upload", Refused, Refused.TOO_LARGE),
        (
            "The uploaded file exceeds the upload_max_filesize directive in php.ini",
            "file/upload",
            Refused,
            Refused.TOO_LARGE,
        ),
        ("Did not receive uploaded file.", "file/upload", Refused, Refused.OTHER),
        (
            "Param folder_id can not match new_parent_folder_id.",
            "folder/move",
            Refused,
            Refused.OTHER,
        ),
    ],
)
def test_http_200_errors_are_classified(
    message: str, action: str, error: type[Exception], kind: str | None
) -> None:
    with pytest.raises(error) as raised:
        answer(error_body(message), action=action)
    assert type(raised.value) is error
    assert raised.value.action == action
    assert message in str(raised.value)
    if kind is not None:
        assert raised.value.kind == kind  # type: ignore[attr-defined]
        assert raised.value.reason == message  # type: ignore[attr-defined]


def test_error_flag_in_underscore_status_counts_too() -> None:
    body = json.dumps({"_status": "error", "response": "Could not find file based on file_id."})
    with pytest.raises(NotFound):
        answer(body.encode())


def test_unknown_action_404() -> None:
    body = {"0": "No method found within endpoint (file): nosuch", "_status": "error"}
    with pytest.raises(UnknownAction, match="No method found"):
        answer(json.dumps(body).encode(), status=404, action="file/nosuch")
    with pytest.raises(UnknownAction):
        answer(b"<html>No method found</html>", status=404)
    with pytest.raises(Refused):
        answer(b"<html>Not Found</html>", status=404)


def test_429_with_retry_after_seconds() -> None:
    with pytest.raises(RateLimited) as limited:
        answer(b"<html>429</html>", status=429, headers={"retry-after": "3"})
    assert limited.value.retry_after == 3.0
    with pytest.raises(RateLimited) as bare:
        answer(b"", status=429)
    assert bare.value.retry_after is None


def test_retry_after_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=7), usegmt=True)
    assert parse_retry_after(later, now=now) == pytest.approx(7.0)
    earlier = format_datetime(now - timedelta(seconds=7), usegmt=True)
    assert parse_retry_after(earlier, now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("  ") is None
    assert parse_retry_after("1.5") == 1.5


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_html_is_transient(status: int) -> None:
    with pytest.raises(TransientError) as error:
        answer(b"<html><body>Bad Gateway</body></html>", status=status)
    assert error.value.status_code == status and error.value.request_sent


@pytest.mark.parametrize(
    "content",
    [
        b"<html><body>Maintenance</body></html>",
        b'{"data": {"folders": [',  # truncated
        b"",
        b"[1, 2]",  # JSON, but not an object
    ],
)
def test_non_json_or_truncated_200_is_transient(content: bytes) -> None:
    with pytest.raises(TransientError):
        answer(content)


def test_proxy_401_means_token_and_413_means_too_large() -> None:
    with pytest.raises(TokenInvalid):
        answer(b"<html>401</html>", status=401)
    with pytest.raises(Refused) as too_large:
        answer(b"<html>413</html>", status=413, action="file/upload")
    assert too_large.value.kind == Refused.TOO_LARGE


def test_other_4xx_are_refusals() -> None:
    with pytest.raises(Refused, match="HTTP 403"):
        answer(b"<html>Forbidden</html>", status=403)
    with pytest.raises(Refused, match="HTTP 400"):
        answer(b'{"data": {}}', status=400)


def test_messages_are_scrubbed() -> None:
    content = error_body("Could not validate access_token=SECRETTOKEN please")
    with pytest.raises(TokenInvalid) as error:
        parse_answer("a/b", 200, {}, content, scrub=lambda s: s.replace("SECRETTOKEN", "***"))
    assert "SECRETTOKEN" not in str(error.value)


def test_upload_entry_and_its_error_field() -> None:
    ok = {"data": [{"file_id": "5", "hash": "a" * 32, "error": None}], "_status": "success"}
    assert upload_entry("file/upload", ok)["file_id"] == "5"
    refused = {"data": [{"error": "File is too large", "file_id": None}], "_status": "success"}
    with pytest.raises(Refused) as error:
        upload_entry("file/upload", refused)
    assert error.value.kind == Refused.TOO_LARGE
    with pytest.raises(TransientError):
        upload_entry("file/upload", {"data": [], "_status": "success"})


def test_data_of_requires_a_dict() -> None:
    assert data_of("a", {"data": {"x": 1}}) == {"x": 1}
    with pytest.raises(TransientError):
        data_of("a", {"response": "ok"})


def test_classify_message_defaults_to_refused() -> None:
    error = classify_message("folder/create", "Something odd happened.")
    assert type(error) is Refused and error.kind == Refused.OTHER
