"""One error hierarchy for everything the host can answer.

Callers act on the type, never on message text. Messages never contain key1, key2, access
tokens or download tokens: they are built from the host's `response` text and the action name.
"""

from __future__ import annotations


class RemoteError(Exception):
    """Base of every error raised by :mod:`syncd.remote`."""

    def __init__(self, message: str, *, action: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.action = action

    def __str__(self) -> str:
        return f"{self.action}: {self.message}" if self.action else self.message


class AuthError(RemoteError):
    """The host refused the credentials (wrong keys, locked account). Never retried."""


class NoApiAccess(AuthError):
    """The account's level has no access to the file upload API."""


class TokenInvalid(RemoteError):
    """The access token was rejected. Handled inside the client (re-authorize once, replay);
    escapes only when tokens keep being taken away (another process authorizing)."""


class RateLimited(RemoteError):
    """HTTP 429. ``retry_after`` is the delay the host asked for, in seconds, if it said."""

    def __init__(
        self, message: str, *, action: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, action=action)
        self.retry_after = retry_after


class TransientError(RemoteError):
    """5xx, connection reset, timeout, non-JSON/HTML body: safe to retry when idempotent.

    ``request_sent`` is False only when the request certainly never reached the host (connect
    error, connect timeout); then even a non-idempotent request may be sent again.
    """

    def __init__(
        self,
        message: str,
        *,
        action: str | None = None,
        request_sent: bool = True,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message, action=action)
        self.request_sent = request_sent
        self.status_code = status_code


class NotFound(RemoteError):
    """The file or folder id does not exist (or is not this account's)."""


class UnknownAction(RemoteError):
    """HTTP 404 'No method found within endpoint': the host does not offer this action."""


class Refused(RemoteError):
    """The host answered with an error message (HTTP 200 ``status: error`` or another code).

    ``reason`` is the host's own text; ``kind`` classifies the refusals the engine acts on.
    """

    ZERO_BYTE = "zero_byte"
    TOO_LARGE = "too_large"
    OTHER = "other"

    def __init__(self, message: str, *, action: str | None = None, kind: str = OTHER) -> None:
        super().__init__(message, action=action)
        self.reason = message
        self.kind = kind


class UploadOutcomeUnknown(RemoteError):
    """A non-idempotent request (file/upload, folder/create, file/copy) was sent but its answer
    was lost (timeout, reset, 5xx, truncated body after the request went out).

    The file or folder may or may not exist remotely; it is not replayed blindly. The engine
    checks the folder listing for an entry of the expected name (and size) and adopts it or
    sends the request again.
    """


class HashMismatch(RemoteError):
    """The MD5 the host reports for an upload differs from the bytes we sent."""

    def __init__(self, message: str, *, action: str | None = None, file_id: int | None = None):
        super().__init__(message, action=action)
        self.file_id = file_id


class InsecureURL(RemoteError):
    """Plain http to a non-loopback host without ``allow_insecure_http``."""
