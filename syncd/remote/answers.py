"""Turn one HTTP answer of the host into a JSON body or the right :mod:`errors` exception.

The host reports most errors with HTTP 200 and ``{"status": "error", "response": "..."}``;
only a 404 for unknown actions comes from the application itself. 401/413/429/5xx come from
whatever stands in front of PHP and usually carry HTML. Errors are classified by the body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from syncd.remote.errors import (
    AuthError,
    NoApiAccess,
    NotFound,
    RateLimited,
    Refused,
    RemoteError,
    TokenInvalid,
    TransientError,
    UnknownAction,
)

_NO_API_ACCESS = re.compile(r"does not have access to the file upload api", re.I)
_TOKEN_INVALID = re.compile(
    r"could not validate access_token|please provide the access_token param"
    r"|please provide the account_id param",
    re.I,
)
_AUTH_REFUSED = re.compile(
    r"could not authenticate|key pair may be invalid|username and password may be invalid"
    r"|locked from too many failed|please provide key[12]|please provide the (username|password)",
    re.I,
)
_NOT_FOUND = re.compile(r"\bcould not find\b", re.I)
_ZERO_BYTE = re.compile(r"filesize received was zero", re.I)
_TOO_LARGE = re.compile(
    r"too (large|big)|exceeds?\b|maximum (upload|file) ?size|max(imum)?[ _]upload[ _]size"
    r"|upload_max_filesize|post_max_size|file ?size (is )?(over|above|larger)"
    r"|larger than (permitted|allowed)",
    re.I,
)
_UNKNOWN_ACTION = re.compile(r"no method found", re.I)

Scrub = Callable[[str], str]


def _identity(text: str) -> str:
    return text


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP-date. None if absent/bad."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def classify_message(
    action: str, message: str, *, status_code: int = 200, scrub: Scrub = _identity
) -> RemoteError:
    """The exception for a host error message (HTTP 200 ``status: error`` or an error JSON)."""
    text = scrub(message.strip() or f"HTTP {status_code} without a message")
    if _NO_API_ACCESS.search(message):
        return NoApiAccess(text, action=action)
    if _TOKEN_INVALID.search(message):
        return TokenInvalid(text, action=action)
    if action == "authorize" or _AUTH_REFUSED.search(message):
        return AuthError(text, action=action)
    if _UNKNOWN_ACTION.search(message):
        return UnknownAction(text, action=action)
    if _ZERO_BYTE.search(message):
        return Refused(text, action=action, kind=Refused.ZERO_BYTE)
    if _TOO_LARGE.search(message):
        return Refused(text, action=action, kind=Refused.TOO_LARGE)
    if _NOT_FOUND.search(message):
        return NotFound(text, action=action)
    return Refused(text, action=action)


def _error_message(body: Mapping[str, Any]) -> str | None:
    """The host's error text if ``body`` is an error answer, else None."""
    status = body.get("status", body.get("_status"))
    if str(status).lower() != "error":
        return None
    for key in ("response", "0", "message", "error"):
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return ""


def parse_answer(
    action: str,
    status_code: int,
    headers: Mapping[str, str],
    content: bytes,
    *,
    scrub: Scrub = _identity,
) -> dict[str, Any]:
    """The JSON body of a successful answer; raises the classified error otherwise."""
    if status_code == 429:
        retry_after = parse_retry_after(headers.get("retry-after"))
        _raise(RateLimited("rate limited (HTTP 429)", action=action, retry_after=retry_after))
    if status_code >= 500:
        _raise(
            TransientError(
                f"HTTP {status_code} from the host", action=action, status_code=status_code
            )
        )
    if status_code == 401:
        # The pages document 401 as "bad or expired token": re-authorize (bounded by the client).
        _raise(TokenInvalid("HTTP 401: token refused", action=action))
    if status_code == 413:
        _raise(Refused("HTTP 413: request too large", action=action, kind=Refused.TOO_LARGE))

    body = _decode_json(content)
    if body is None:
        if status_code == 404:
            if _UNKNOWN_ACTION.search(content[:2048].decode("utf-8", "replace")):
                _raise(UnknownAction(f"no method found for {action}", action=action))
            _raise(Refused("HTTP 404 without a JSON answer", action=action))
        if 200 <= status_code < 300:
            # HTML error pages, truncated JSON: the host (or a proxy) is in trouble.
            _raise(
                TransientError(
                    f"HTTP {status_code} with a non-JSON or truncated body",
                    action=action,
                    status_code=status_code,
                )
            )
        _raise(Refused(f"HTTP {status_code} without a JSON answer", action=action))
    assert body is not None

    message = _error_message(body)
    if status_code == 404:
        text = message if message is not None else json.dumps(body)[:2048]
        if _UNKNOWN_ACTION.search(text):
            _raise(UnknownAction(scrub(message or f"no method found for {action}"), action=action))
    if message is not None:
        _raise(classify_message(action, message, status_code=status_code, scrub=scrub))
    if not 200 <= status_code < 300:
        _raise(Refused(f"HTTP {status_code}", action=action))
    return body


def _decode_json(content: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _raise(error: RemoteError) -> Any:
    raise error


def upload_entry(
    action: str, body: Mapping[str, Any], *, scrub: Scrub = _identity
) -> dict[str, Any]:
    """The single object of file/upload's ``data`` list; its ``error`` field is a refusal."""
    data = body.get("data")
    entry = data[0] if isinstance(data, list) and data else data
    if not isinstance(entry, dict):
        raise TransientError("upload answer without a file entry", action=action)
    error = entry.get("error")
    if error:
        raise classify_message(action, str(error), scrub=scrub)
    return entry


def data_of(action: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """``body["data"]`` as a dict; a success answer without it is a broken answer."""
    data = body.get("data")
    if not isinstance(data, dict):
        raise TransientError("success answer without data", action=action)
    return data
