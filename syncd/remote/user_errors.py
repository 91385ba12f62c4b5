"""The client's errors, as the one line a user can act on (for commands that stop on them)."""

from __future__ import annotations

from syncd.errors import ConfigError, CredentialError, ExitCode, HostError, UserError
from syncd.remote.errors import (
    AuthError,
    InsecureURL,
    NoApiAccess,
    RateLimited,
    RemoteError,
    TransientError,
    UnknownAction,
)


def user_error_from_remote(exc: RemoteError, api_url: str | None = None) -> UserError:
    """Translate a client error that reached the command level into one actionable line."""
    host = f" at {api_url}" if api_url else ""
    if isinstance(exc, NoApiAccess):
        return CredentialError(
            f"the account{host} has no access to the file upload API — upgrade the account "
            "level or ask the host's admin to enable API access"
        )
    if isinstance(exc, AuthError):
        return CredentialError(
            f"the host{host} refused the credentials — check key1/key2 (or username/password) "
            "in your account settings; repeated failures can lock the account"
        )
    if isinstance(exc, InsecureURL):
        return ConfigError(
            None,
            "remote.api_url",
            "plain http to a non-loopback host would send your keys in clear",
            "use an https:// URL, or set remote.allow_insecure_http = true if you accept the risk",
        )
    if isinstance(exc, UnknownAction):
        return HostError(
            f"the host{host} does not answer like a File Upload Script API v2 ({exc}) — "
            "check remote.api_url (it ends in /api/v2/)",
            exit_code=ExitCode.USAGE,
        )
    if isinstance(exc, RateLimited):
        return HostError(
            f"the host{host} kept rate-limiting the requests ({exc}) — wait a while and retry"
        )
    if isinstance(exc, TransientError):
        return HostError(
            f"no usable answer from the host{host} ({exc}) — check remote.api_url and your "
            "network, then retry"
        )
    return HostError(f"the host{host} refused: {exc} — see the message, fix, then retry")
