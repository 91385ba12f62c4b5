"""User-facing errors and the exit codes of one-shot commands.

A :class:`UserError` is a mistake or refusal the user can act on: the CLI prints its one-line
message as ``syncd: error: <message>`` on stderr, without a traceback, and exits with its
``exit_code``. Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of one-shot commands (the table in the README, "Exit codes")."""

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
