"""User-facing errors and the exit codes of one-shot commands.

A :class:`UserError` is a mistake or refusal the user can act on: the CLI prints its one-line
message as ``syncd: error: <message>`` on stderr, without a traceback, and exits with its
``exit_code``. Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

from enum import IntEnum

from syncd.remote.errors import (
    AuthError,
    InsecureURL,
    NoApiAccess,
    RateLimited,
    RemoteError,
    TransientError,
    UnknownAction,
)


class ExitCode(IntEnum):
    """Exit codes of one-shot commands (the contract in DESIGN.md)."""

    OK = 0  # converged; skipped-but-explained items allowed
    FAILED = 1  # some items failed (or the host could not be reached)
    USAGE = 2  # usage, configuration or credential error
    GUARD = 3  # a safety guard refused to act


class UserError(Exception):
    """An error the user can fix; ``message`` is one line naming the cause and the fix."""

    exit_code: int = ExitCode.USAGE

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        # One line, always: a multi-line message would break `syncd: error: ...` for scripts.
        message = " ".join(message.split())
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class ConfigError(UserError):
    """The configuration is missing or invalid.

    The message reads ``config error: <file>: <key path>: <what is wrong> — <how to fix>``;
    ``key`` is omitted for errors that concern the whole file, ``file`` when it is unknown.
    """

    exit_code = ExitCode.USAGE

    def __init__(self, file: object, key: str | None, problem: str, fix: str) -> None:
        self.file = str(file) if file is not None else None
        self.key = key
        self.problem = problem
        self.fix = fix
        where = ": ".join(part for part in (self.file, key) if part)
        prefix = f"config error: {where}: " if where else "config error: "
        super().__init__(f"{prefix}{problem} — {fix}")


class CredentialError(UserError):
    """The host refused the credentials, or the account has no API access."""

    exit_code = ExitCode.USAGE


class HostError(UserError):
    """The host could not be used (unreachable, not an API v2 host, kept failing)."""

    exit_code = ExitCode.FAILED


class GuardRefused(UserError):
    """A safety guard refused a dangerous plan and changed nothing (exit code 3)."""

    exit_code = ExitCode.GUARD


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
