"""Logging for the whole process: structlog in front, stdlib logging routed through it.

Console output (stderr) is human-readable on a terminal and JSON lines otherwise; the optional
log file is always JSON lines. Every record — ours and those of httpx, watchdog, apscheduler,
uvicorn — passes :func:`redact_secrets` before it is rendered, so key1, key2, passwords, access
tokens and download tokens never reach a log line.

Use ``structlog.get_logger(__name__)`` (or :func:`get_logger`) anywhere; call
:func:`configure_logging` once at start (again to change settings).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    import structlog
    from structlog.typing import EventDict, Processor, WrappedLogger

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS = ("auto", "console", "json")

REDACTED = "[REDACTED]"

# Event-dict keys whose values are secrets wherever they appear (also nested, any case).
SECRET_KEY_NAMES = frozenset(
    {"key1", "key2", "password", "access_token", "download_token", "token", "secret"}
)

# `name=value` (URLs, form bodies, also URL-encoded inside another URL) and `"name": "value"`
# (JSON, dict reprs) inside free text. Not a bare `name: text`: that is how our own messages
# name a key ("remote.key1: must be ...").
_INLINE_SECRET = re.compile(
    r"(?i)(?:(?<![A-Za-z0-9_])|(?<=%3F)|(?<=%26))"
    r"(key1|key2|password|access_token|download_token|token)"
    r"""(\s*=\s*|%3D|["']\s*:\s*["']?)([^\s&"',;}\])]+)"""
)

# Registered secret values shorter than this are only redacted by key name: replacing a
# three-letter password everywhere would shred ordinary log text.
_MIN_SECRET_LENGTH = 6

# Third-party loggers that are chatty at INFO; kept at WARNING unless the level is debug.
NOISY_LOGGERS = (
    "httpx",
    "watchdog",
    "apscheduler",
    "uvicorn",
    "uvicorn.access",
    "uvicorn.error",
    "alembic",  # "setup plugin ..." at INFO every time the state database is opened
)
# httpcore logs every socket event at DEBUG: too much even for -v.
ALWAYS_QUIET_LOGGERS = ("httpcore", "multipart", "python_multipart")

_secrets_lock = threading.Lock()
_secret_values: set[str] = set()
_secret_pattern: re.Pattern[str] | None = None


def register_secret(value: object) -> None:
    """Redact this exact value from every future log line (config loading calls it for
    key1, key2 and password; the client may call it for access tokens)."""
    global _secret_pattern
    if value is None:
        return
    get_secret = getattr(value, "get_secret_value", None)  # pydantic SecretStr
    text = str(get_secret() if callable(get_secret) else value).strip()
    if len(text) < _MIN_SECRET_LENGTH:
        return
    with _secrets_lock:
        if text in _secret_values:
            return
        _secret_values.add(text)
        # Longest first, so a secret that contains another is removed whole.
        ordered = sorted(_secret_values, key=len, reverse=True)
        _secret_pattern = re.compile("|".join(re.escape(s) for s in ordered))


def forget_secrets() -> None:
    """Drop every registered secret value (for tests)."""
    global _secret_pattern
    with _secrets_lock:
        _secret_values.clear()
        _secret_pattern = None


def redact_text(text: str) -> str:
    """Remove registered secret values and `key=value` style secrets from free text."""
    pattern = _secret_pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    return _INLINE_SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)


def _is_secret_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    lowered = key.lower()
    return (
        lowered in SECRET_KEY_NAMES
        or lowered.endswith("_token")
        or "password" in lowered
        or "secret" in lowered
    )


def _redact_value(value: Any, depth: int = 0) -> Any:
    if depth > 8:  # pathological nesting: render it as redacted text rather than recurse
        return redact_text(repr(value))
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {
            k: REDACTED if _is_secret_key(k) else _redact_value(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(v, depth + 1) for v in value]
    # Any other object is rendered through its repr/str later: redact that text if needed,
    # keep the object as it is otherwise.
    text = repr(value)
    cleaned = redact_text(text)
    return value if cleaned == text else cleaned


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: remove secrets anywhere in the event dict, including the message."""
    out: EventDict = {}
    for key, value in event_dict.items():
        if key in ("_record", "_from_structlog"):
            out[key] = value  # ProcessorFormatter's bookkeeping, never rendered
        elif _is_secret_key(key):
            out[key] = REDACTED
        else:
            out[key] = _redact_value(value)
    return out


def _shared_processors() -> list[Processor]:
    """Run on every record, ours and stdlib's, before it reaches a handler."""
    import structlog

    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _formatter(renderer: Processor) -> structlog.stdlib.ProcessorFormatter:
    import structlog

    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.StackInfoRenderer(),
            # Tracebacks become text *before* redaction so they are redacted too.
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
    )


def _console_renderer(colors: bool) -> Processor:
    import structlog

    return structlog.dev.ConsoleRenderer(
        colors=colors,
        # Never a rich traceback with local variables: locals hold keys and tokens.
        exception_formatter=structlog.dev.plain_traceback,
    )


def _json_renderer() -> Processor:
    # Readable non-ASCII names; lone surrogates (undecodable file names) are escaped by the
    # handlers' errors="backslashreplace".
    import structlog

    return structlog.processors.JSONRenderer(ensure_ascii=False)


class _SyncdHandler:
    """Marker mixin so a second configure_logging() call replaces only our handlers."""


class _StreamHandler(_SyncdHandler, logging.StreamHandler):  # type: ignore[type-arg]
    pass


def _file_handler(path: Path) -> logging.Handler:
    """A WatchedFileHandler (reopened after logrotate moves the file). logging.handlers is
    imported here: it pulls in socket, which commands that log to stderr only never need."""
    import logging.handlers

    class _FileHandler(_SyncdHandler, logging.handlers.WatchedFileHandler):
        pass

    return _FileHandler(path, encoding="utf-8", errors="backslashreplace")


# -- journald --------------------------------------------------------------------------------

# syslog priorities (sd-daemon(3)): a line starting with "<N>" on a stream connected to the
# journal is stored with priority N, so `journalctl -p warning` selects by it.
SYSLOG_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


def syslog_priority(levelno: int) -> int:
    """The syslog priority of a logging level (levels between two take the more severe)."""
    for level in (logging.CRITICAL, logging.ERROR, logging.WARNING, logging.INFO):
        if levelno >= level:
            return SYSLOG_PRIORITY[level]
    return SYSLOG_PRIORITY[logging.DEBUG]


def is_journal_stream(stream: TextIO | None = None, env: Mapping[str, str] | None = None) -> bool:
    """Whether ``stream`` (default stderr) is connected to systemd's journal.

    systemd.exec(5): systemd sets ``JOURNAL_STREAM=<device>:<inode>`` for the stream it
    connected to the journal; a program should compare it with its own stderr's, because the
    variable is inherited by children whose stderr was redirected elsewhere."""
    env = os.environ if env is None else env
    value = env.get("JOURNAL_STREAM", "")
    device, sep, inode = value.partition(":")
    if not sep or not device.isdigit() or not inode.isdigit():
        return False
    try:
        info = os.fstat((stream if stream is not None else sys.stderr).fileno())
    except (AttributeError, OSError, ValueError):
        return False
    return (info.st_dev, info.st_ino) == (int(device), int(inode))


def journal_prefix(levelno: int, stream: TextIO | None = None) -> str:
    """``<N>`` when ``stream`` (default stderr) goes to the journal, else ``""``: for lines
    written outside logging (the CLI's one-line errors)."""
    return f"<{syslog_priority(levelno)}>" if is_journal_stream(stream) else ""


class _JournalPrefix(logging.Formatter):
    """Wraps a formatter: every line of a record (tracebacks too) gets the record's priority;
    journald would store a continuation line without one at its default priority."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self._inner = inner

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{syslog_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in self._inner.format(record).splitlines())


def _journal_renderer(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> str:
    """One plain line for the journal: the message, then key=value pairs. No time stamp, level
    or colours: journald records the time, and the level travels in the ``<N>`` prefix."""
    event = str(event_dict.pop("event", ""))
    exception = event_dict.pop("exception", None)
    for key in ("timestamp", "level", "log_level"):
        event_dict.pop(key, None)
    logger = event_dict.pop("logger", None)
    pairs = " ".join(f"{key}={_plain_value(value)}" for key, value in event_dict.items())
    line = f"{logger}: {event}" if logger else event
    line = f"{line} {pairs}" if pairs else line
    return f"{line}\n{exception}" if exception else line


def _plain_value(value: object) -> str:
    text = str(value)
    return text if text and not any(c.isspace() or c in '"=' for c in text) else repr(text)


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def configure_logging(
    level: str = "info",
    fmt: str = "auto",
    file: str | os.PathLike[str] | None = None,
    *,
    stream: TextIO | None = None,
) -> None:
    """Set up logging for the process.

    ``level``: debug|info|warning|error|critical. ``fmt``: ``auto`` (console renderer on a TTY,
    JSON lines otherwise), ``console`` or ``json``; applies to ``stream`` (default stderr).
    ``file``: also append JSON lines to this file (WatchedFileHandler: logrotate-friendly).
    """
    import structlog

    level_name = level.lower()
    if level_name not in LOG_LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}, not {level!r}")
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {fmt!r}")
    numeric_level = getattr(logging, level_name.upper())
    stream = stream if stream is not None else sys.stderr
    tty = _is_tty(stream)
    journal = is_journal_stream(stream)
    use_console = fmt == "console" or (fmt == "auto" and tty and not journal)
    colors = use_console and tty and "NO_COLOR" not in os.environ

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: configure_logging() may run again (after the config file is read).
        cache_logger_on_first_use=False,
    )

    handlers: list[logging.Handler] = []
    console = _StreamHandler(stream)
    if journal:
        # Under systemd: "auto" means plain lines; any format gets the priority prefix.
        renderer = _journal_renderer if fmt == "auto" else None
        inner = _formatter(
            renderer or (_console_renderer(False) if use_console else _json_renderer())
        )
        console.setFormatter(_JournalPrefix(inner))
    else:
        console.setFormatter(
            _formatter(_console_renderer(colors) if use_console else _json_renderer())
        )
    handlers.append(console)
    if file is not None:
        path = Path(file).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        file_handler = _file_handler(path)
        file_handler.setFormatter(_formatter(_json_renderer()))
        handlers.append(file_handler)

    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _SyncdHandler)]:
        root.removeHandler(old)
        old.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(numeric_level)

    _quiet_noisy_loggers(numeric_level)
    logging.captureWarnings(True)


class _PlainFormatter(logging.Formatter):
    """``syncd: <level>: <message>``, secrets removed (a terminal)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(f"syncd: {record.levelname.lower()}: {record.getMessage()}")


class _PlainJsonFormatter(logging.Formatter):
    """The same JSON line structlog's renderer writes (event, level, logger, timestamp)."""

    def format(self, record: logging.LogRecord) -> str:
        import json
        from datetime import UTC, datetime

        when = datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z")
        line = {
            "event": record.getMessage(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "timestamp": when,
        }
        return redact_text(json.dumps(line, ensure_ascii=False))


def configure_plain_logging(
    level: str = "info", fmt: str = "auto", *, stream: TextIO | None = None
) -> None:
    """One line per record on ``stream`` (default stderr) in the format ``fmt`` asks for
    (console on a terminal, else JSON), without structlog.

    For commands that only read and at most warn (`status`, `config check`): importing
    structlog (and rich under it) would cost them more than all their own work."""
    level_name = level.lower()
    if level_name not in LOG_LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}, not {level!r}")
    stream = stream if stream is not None else sys.stderr
    use_console = fmt == "console" or (fmt == "auto" and _is_tty(stream))
    handler = _StreamHandler(stream)
    if is_journal_stream(stream):
        # Under systemd: plain lines, each with its syslog priority (as configure_logging).
        handler.setFormatter(_JournalPrefix(_PlainFormatter()))
    else:
        handler.setFormatter(_PlainFormatter() if use_console else _PlainJsonFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _SyncdHandler)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    numeric_level = getattr(logging, level_name.upper())
    root.setLevel(numeric_level)
    _quiet_noisy_loggers(numeric_level)
    logging.captureWarnings(True)


def _quiet_noisy_loggers(numeric_level: int) -> None:
    """Third-party INFO chatter (one line per HTTP request) only at debug level."""
    debug = numeric_level <= logging.DEBUG
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if debug else logging.WARNING)
    for name in ALWAYS_QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def quiet_console() -> None:
    """Only errors on stderr from now on (`-q` for cron: retries that end well are no
    problem); a log file keeps the configured level. Called after the config's own warnings
    (permissions, TLS) were logged, so those still show."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, _StreamHandler):
            handler.setLevel(logging.ERROR)


def get_logger(name: str | None = None, **initial: Any) -> structlog.stdlib.BoundLogger:
    """A structlog logger; ``initial`` key/values are bound to every event."""
    import structlog

    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name, **initial)
    return logger
