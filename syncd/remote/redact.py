"""Keep secrets (API keys, passwords, access and download tokens) out of text we emit.

Two layers: a :class:`Redactor` that knows the exact secret values of one client and scrubs any
string (exception messages, log fields), and a logging filter on httpx/httpcore loggers that
scrubs token-bearing query strings (httpx logs every request URL at INFO, and download URLs
carry ``download_token``).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

MASK = "***"

# Query/form parameters whose values are secrets wherever they appear.
_SECRET_PARAM_RE = re.compile(
    r"(?i)\b(download_token|access_token|key1|key2|password)(=|%3D|\"?\s*:\s*\"?)([^&\s\"',;)]+)"
)


def redact_params(text: str) -> str:
    """Mask secret-named parameters: ``download_token=abc`` -> ``download_token=***``."""
    return _SECRET_PARAM_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)


class Redactor:
    """Scrubs a set of known secret values (thread-safe; values can be added as tokens change)."""

    _MIN_SECRET_LEN = 4  # never mask tiny strings that would shred ordinary text

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        fresh = {s for s in secrets if s and len(s) >= self._MIN_SECRET_LEN}
        if fresh - self._secrets:
            with self._lock:
                self._secrets = self._secrets | fresh

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        return redact_params(text)

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secrets)"


class _SecretParamFilter(logging.Filter):
    """Rewrites a record's message with secret parameters masked; never drops records."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is not ours to fix
            return True
        cleaned = redact_params(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


# httpx logs "HTTP Request: GET <url>" at INFO; httpcore logs request/response headers at DEBUG.
# Logger filters only see records logged on that exact logger, so each one gets the filter.
_HTTP_LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)
_FILTER = _SecretParamFilter()
_installed = False
_install_lock = threading.Lock()


def install_http_log_filter() -> None:
    """Attach the secret-parameter filter to httpx's and httpcore's loggers (idempotent)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        for name in _HTTP_LOGGERS:
            logging.getLogger(name).addFilter(_FILTER)
        _installed = True
