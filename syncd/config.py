"""The TOML configuration: where it is found, its schema, and one-line errors.

Found at ``--config FILE``, else ``$SYNCD_CONFIG``, else ``<user config dir>/syncd/config.toml``
(platformdirs). Secrets may come from where services keep them instead, and then win over the
file: ``SYNCD_KEY1``, ``SYNCD_KEY2``, ``SYNCD_USERNAME``, ``SYNCD_PASSWORD``; their ``*_FILE``
variants (Docker secrets); systemd credentials ``syncd-key1`` ... in ``$CREDENTIALS_DIRECTORY``
(see :func:`secrets_from_environment`). Relative paths in the file are
relative to the file's own directory, so a service started from ``/`` reads the same config.

Every problem raises :class:`syncd.errors.ConfigError` whose message is one line:
``config error: <file>: <key path>: <what is wrong> — <how to fix>``.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import socket
import stat
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args, get_origin
from urllib.parse import urlsplit, urlunsplit

import pathspec
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    SecretStr,
    StrictBool,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
)

# The path rules live there, for commands that must not import pydantic.
from syncd.config_facts import CONFIG_ENV, default_state_path, resolve_config_path
from syncd.errors import ConfigError
from syncd.history.retention import Retention
from syncd.history.timespec import parse_duration
from syncd.local.scanner import LocalFilters
from syncd.logging import LOG_FORMATS, LOG_LEVELS, register_secret
from syncd.remote.bandwidth import BwLimit, parse_bwlimit
from syncd.remote.credentials import Credentials

if TYPE_CHECKING:
    from syncd.crypt import CryptOptions

log = logging.getLogger(__name__)

EXAMPLE = "`syncd config example` shows every key"

# Config key -> environment variable that overrides it.
SECRET_ENV = {
    "key1": "SYNCD_KEY1",
    "key2": "SYNCD_KEY2",
    "username": "SYNCD_USERNAME",
    "password": "SYNCD_PASSWORD",
}
SECRET_FIELDS = frozenset({"key1", "key2", "password"})
# systemd credentials (LoadCredential=NAME:PATH) read from $CREDENTIALS_DIRECTORY/NAME.
CREDENTIALS_DIRECTORY_ENV = "CREDENTIALS_DIRECTORY"
CREDENTIAL_NAMES = {
    "key1": "syncd-key1",
    "key2": "syncd-key2",
    "username": "syncd-username",
    "password": "syncd-password",
}
API_KEY_LENGTH = 64
PAIR_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True, slots=True)
class EnvSecret:
    """A credential found outside the config file, and where (for error messages)."""

    value: str = field(repr=False)
    origin: str  # "SYNCD_KEY1", "SYNCD_KEY1_FILE", "systemd credential syncd-key1"


def secrets_from_environment(
    env: Mapping[str, str], config_file: Path | None = None
) -> dict[str, EnvSecret]:
    """The credentials the environment provides, by config key, each from the first of:

    1. ``SYNCD_KEY1`` (the value itself),
    2. ``SYNCD_KEY1_FILE`` (a file holding it: Docker and Compose secrets),
    3. ``$CREDENTIALS_DIRECTORY/syncd-key1`` (systemd's ``LoadCredential=``),

    and likewise for key2, username and password; any of them wins over the config file.
    A file's one trailing newline is dropped (``echo secret > file``). A named file that cannot
    be read, or is empty, is a ConfigError naming the variable and the fix: falling back to
    another source would hide a broken deployment."""
    found: dict[str, EnvSecret] = {}
    for key, var in SECRET_ENV.items():
        value = env.get(var)
        if value is not None and value.strip() != "":
            secret = EnvSecret(value if key == "password" else value.strip(), var)
        elif env.get(f"{var}_FILE", "").strip():
            path = Path(env[f"{var}_FILE"].strip())
            secret = EnvSecret(
                _read_secret_file(path, key, f"{var}_FILE", config_file), f"{var}_FILE"
            )
        elif env.get(CREDENTIALS_DIRECTORY_ENV, "").strip():
            path = Path(env[CREDENTIALS_DIRECTORY_ENV].strip()) / CREDENTIAL_NAMES[key]
            if not path.exists():
                continue
            origin = f"systemd credential {CREDENTIAL_NAMES[key]}"
            secret = EnvSecret(_read_secret_file(path, key, origin, config_file), origin)
        else:
            continue
        if key in SECRET_FIELDS:
            register_secret(secret.value)
        found[key] = secret
    return found


def _read_secret_file(path: Path, key: str, origin: str, config_file: Path | None) -> str:
    where = f"{key if '.' in key else 'remote.' + key} (from {origin})"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            config_file,
            where,
            f"cannot read {path} ({exc.strerror or exc})",
            f"fix the path in {origin} or let user id {os.getuid()} read the file"
            if origin.endswith("_FILE")
            else "check LoadCredential= in the unit",
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(
            config_file, where, f"{path} is not UTF-8 text", "write the secret as plain text"
        ) from None
    text = text.removesuffix("\n").removesuffix("\r")
    if not key.endswith("password"):
        text = text.strip()
    if text == "":
        raise ConfigError(config_file, where, f"{path} is empty", "put the secret in the file")
    return text


# --------------------------------------------------------------------------------------------
# Value types


@dataclass(frozen=True, slots=True)
class MaxDelete:
    """The most deletions one pass may make: an absolute ``count`` or a ``percent`` of the
    items the pair tracks. Exactly one of the two is set."""

    count: int | None = None
    percent: float | None = None

    def limit(self, total: int) -> int:
        """How many deletions are allowed when the pair tracks ``total`` items."""
        if self.count is not None:
            return self.count
        assert self.percent is not None
        return int(total * self.percent / 100)

    def allows(self, deletions: int, total: int) -> bool:
        # "100%" means no limit: a pass may also trash untracked extras and crash leftovers,
        # which can outnumber what the journal tracks.
        if self.percent is not None and self.percent >= 100:
            return True
        return deletions <= self.limit(total)

    def __str__(self) -> str:
        if self.count is not None:
            return str(self.count)
        return f"{self.percent:g}%"


def parse_max_delete(value: object) -> MaxDelete:
    """100 -> count 100; "50%" -> percent 50; "100" -> count 100."""
    if isinstance(value, MaxDelete):
        return value
    fix = 'write a count like 100 or a percent like "50%"'
    if isinstance(value, bool):
        raise ValueError(f"expected a count or a percent, got {value!r} — {fix}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"must not be negative, got {value} — {fix}")
        return MaxDelete(count=value)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("%"):
            try:
                percent = float(text[:-1].strip())
            except ValueError:
                raise ValueError(f"{value!r} is not a percent — {fix}") from None
            if not 0 <= percent <= 100:
                raise ValueError(f"percent must be between 0 and 100, got {value!r} — {fix}")
            return MaxDelete(percent=percent)
        if text.isdigit():
            return MaxDelete(count=int(text))
    raise ValueError(f"expected a count or a percent, got {value!r} — {fix}")


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A daily span of local time, ``start`` to ``end`` in minutes of the day; it may wrap
    midnight (``"22:00-06:00"``)."""

    start: int
    end: int

    def contains(self, minute: int) -> bool:
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end

    def __str__(self) -> str:
        (h1, m1), (h2, m2) = divmod(self.start, 60), divmod(self.end, 60)
        return f"{h1:02d}:{m1:02d}-{h2:02d}:{m2:02d}"


_WINDOW_RE = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")


def parse_window(value: object) -> TimeWindow:
    """ "01:00-06:00" -> TimeWindow(60, 360)."""
    if isinstance(value, TimeWindow):
        return value
    fix = 'write local times like "01:00-06:00" (it may wrap midnight: "22:00-06:00")'
    match = _WINDOW_RE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{_short(value)} is not a time window — {fix}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError(f"{value!r} holds a time that is not a time of day — {fix}")
    window = TimeWindow(h1 * 60 + m1, h2 * 60 + m2)
    if window.start == window.end:
        raise ValueError(f"{value!r} is empty — {fix}, or remove the key for no window")
    return window


def _as_path(value: object, info: ValidationInfo) -> Path:
    """Expand ``~`` and make the path absolute relative to the config file's directory."""
    if isinstance(value, Path):
        path = value
    elif isinstance(value, str) and value.strip():
        path = Path(value.strip())
    else:
        raise ValueError(f"expected a path string, got {value!r} — write it in quotes")
    path = path.expanduser()
    if not path.is_absolute():
        base = (info.context or {}).get("base_dir") or Path.cwd()
        path = Path(base) / path
    return Path(os.path.normpath(path))


def normalise_remote_path(value: str) -> str:
    """'/Backup//Documents/' -> 'Backup/Documents'; '' and '/' -> '' (the account root)."""
    segments = [s for s in value.strip().split("/") if s != ""]
    for segment in segments:
        if segment in (".", ".."):
            raise ValueError(
                f"{segment!r} is not allowed in a remote path — "
                'write the folder path from the account root, like "Backup/Documents"'
            )
        if segment != segment.strip():
            raise ValueError(
                f"folder name {segment!r} starts or ends with spaces, which the host trims — "
                "remove the spaces"
            )
        if "<" in segment or ">" in segment:
            raise ValueError(
                f"folder name {segment!r} contains < or >, which the host strips as HTML — "
                "choose another name"
            )
    return "/".join(segments)


# --------------------------------------------------------------------------------------------
# Schema


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


PositiveSeconds = Annotated[float, Field(strict=True, gt=0)]


class RemoteConfig(_Section):
    api_url: str
    key1: SecretStr | None = None
    key2: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    allow_insecure_http: StrictBool = False
    verify_tls: StrictBool = True
    timeout: PositiveSeconds = 30.0
    max_retry_time: Annotated[float, Field(strict=True, ge=0)] = 120.0

    @field_validator("api_url")
    @classmethod
    def _check_api_url(cls, value: str) -> str:
        example = "use the API base URL, like https://yourhost.com/api/v2/"
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL — {example}")
        if parts.query or parts.fragment:
            raise ValueError(f"{value!r} has a query or fragment — {example}")
        path = parts.path if parts.path.endswith("/") else parts.path + "/"
        if not path.endswith("/api/v2/"):
            raise ValueError(f"{value!r} does not end with /api/v2/ — {example}")
        netloc = parts.netloc
        full = _full_ipv4(parts.hostname)
        if full is not None and full != parts.hostname:
            # 127.1 is 127.0.0.1 to the resolver; written out, every check agrees on it.
            userinfo = netloc.rpartition("@")[0]
            netloc = (userinfo + "@" if userinfo else "") + full
            netloc += f":{parts.port}" if parts.port is not None else ""
        return urlunsplit((parts.scheme, netloc, path, "", ""))

    @field_validator("key1", "key2")
    @classmethod
    def _check_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        key = value.get_secret_value().strip()
        if len(key) != API_KEY_LENGTH:
            raise ValueError(
                f"must be {API_KEY_LENGTH} characters, got {len(key)} — copy the key exactly "
                "from the API section of your account settings"
            )
        return SecretStr(key)

    @field_validator("username")
    @classmethod
    def _check_username(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("is empty — set your account's username or remove the key")
        return value.strip() if value is not None else None

    @field_validator("password")
    @classmethod
    def _check_password(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            raise ValueError("is empty — set your account's password or remove the key")
        return value

    @property
    def auth_method(self) -> Literal["keys", "password"] | None:
        """Which complete credential method is configured, if exactly one is."""
        keys = self.key1 is not None and self.key2 is not None
        password = self.username is not None and self.password is not None
        if keys and not password:
            return "keys"
        if password and not keys:
            return "password"
        return None

    @property
    def is_loopback(self) -> bool:
        return _is_loopback_host(urlsplit(self.api_url).hostname or "")

    def credentials(self) -> Credentials:
        """The credentials for :class:`syncd.remote.RemoteClient`."""
        method = self.auth_method
        if method == "keys":
            assert self.key1 is not None and self.key2 is not None
            return Credentials(key1=self.key1.get_secret_value(), key2=self.key2.get_secret_value())
        if method == "password":
            assert self.password is not None
            return Credentials(username=self.username, password=self.password.get_secret_value())
        raise ConfigError(
            None,
            "remote",
            "no complete set of credentials",
            "set key1 and key2 (or SYNCD_KEY1/SYNCD_KEY2), or username and password",
        )


class StateConfig(_Section):
    path: Path = Field(default_factory=default_state_path)

    @field_validator("path", mode="before")
    @classmethod
    def _check_path(cls, value: object, info: ValidationInfo) -> Path:
        return _as_path(value, info)


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _optional(parse: Callable[[object], Any]) -> Callable[[object], Any]:
    """``parse``, letting None through (a dumped config with the key unset validates again)."""
    return lambda value: None if value is None else parse(value)


class SyncConfig(_Section):
    # Up to this many uploads at once; the account's concurrent_uploads lowers it per pass.
    workers: Annotated[StrictInt, Field(ge=1, le=256)] = 16
    max_delete: Annotated[
        MaxDelete,
        PlainValidator(parse_max_delete),
        PlainSerializer(str, return_type=str),  # "50%" / "100": what the file holds
    ] = MaxDelete(percent=50.0)
    quiet_period: Annotated[float, Field(strict=True, ge=0)] = 0.5
    reconcile_interval: Annotated[float, Field(strict=True, ge=1)] = 900.0
    follow_symlinks: StrictBool = False
    # rclone's --bwlimit for every upload (and download) of the process, one shared bucket:
    # "4M", "512k:off" (upload:download), or a time table "08:00,512k 19:00,4M 23:00,off".
    bwlimit: Annotated[
        BwLimit | None, PlainValidator(_optional(parse_bwlimit)), PlainSerializer(_text_or_none)
    ] = None
    # Periodic full passes only inside this daily window of local time ("01:00-06:00").
    full_pass_window: Annotated[
        TimeWindow | None, PlainValidator(_optional(parse_window)), PlainSerializer(_text_or_none)
    ] = None


class LogConfig(_Section):
    level: str = "info"
    format: str = "auto"
    file: Path | None = None

    @field_validator("level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        if value.lower() not in LOG_LEVELS:
            raise ValueError(f"{value!r} is not a log level — use one of {', '.join(LOG_LEVELS)}")
        return value.lower()

    @field_validator("format")
    @classmethod
    def _check_format(cls, value: str) -> str:
        if value.lower() not in LOG_FORMATS:
            raise ValueError(f"{value!r} is not a log format — use one of {', '.join(LOG_FORMATS)}")
        return value.lower()

    @field_validator("file", mode="before")
    @classmethod
    def _check_file(cls, value: object, info: ValidationInfo) -> Path | None:
        return None if value is None else _as_path(value, info)


class DaemonConfig(_Section):
    """`syncd run` only: the optional metrics endpoint and the shutdown grace period."""

    metrics_addr: str | None = None  # "127.0.0.1:9108": /healthz and /metrics; off when unset
    shutdown_grace: PositiveSeconds = 30.0  # seconds in-flight requests get after SIGTERM

    @field_validator("metrics_addr")
    @classmethod
    def _check_metrics_addr(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, sep, port = value.rpartition(":")
        host = host.strip("[]")
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not sep or not port.isdigit() or not 0 <= int(port) < 65536 or not loopback:
            raise ValueError(f'{value!r} is not a loopback HOST:PORT — use e.g. "127.0.0.1:9108"')
        return value


KeepCount = Annotated[int, Field(strict=True, ge=1)]


class RetentionConfig(_Section):
    """A pair's ``versions = { keep_daily = 7, max_age = "90d" }``: versions kept, then pruned
    (to the host's trash) after each full pass; see ``syncd.history.retention``."""

    keep_last: KeepCount | None = None
    keep_hourly: KeepCount | None = None
    keep_daily: KeepCount | None = None
    keep_weekly: KeepCount | None = None
    keep_monthly: KeepCount | None = None
    max_age: str | None = None

    @field_validator("max_age")
    @classmethod
    def _check_max_age(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)  # its ValueError is the one-line message
        return value

    def policy(self) -> Retention:
        return Retention(
            keep_last=self.keep_last,
            keep_hourly=self.keep_hourly,
            keep_daily=self.keep_daily,
            keep_weekly=self.keep_weekly,
            keep_monthly=self.keep_monthly,
            max_age_s=parse_duration(self.max_age) if self.max_age is not None else None,
        )


@dataclass(frozen=True)
class HistoryPolicy:
    """What happens to a remote file that leaves a pair's live tree (replaced or removed).

    ``keep``: moved into the versions area (else trashed, as before versions existed);
    ``retention``: the policy that prunes the versions area after each full pass (None: keep
    every version forever)."""

    keep: bool
    retention: Retention | None = None


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGTP]?)(?:i?B)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "P": 1024**5}


def parse_size(value: object) -> int | None:
    """ "2G" -> 2147483648 (binary units, as rclone's --max-size: K, M, G, T, P, optionally
    followed by B or iB); a whole number is bytes; "off" or "" is no limit (None)."""
    fix = 'write a size like "2G", "500M" or a number of bytes'
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "off")):
        return None
    if isinstance(value, bool):
        raise ValueError(f"expected a size, got {value!r} — {fix}")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"must be positive, got {value} — {fix}")
        return value
    if isinstance(value, str):
        match = _SIZE_RE.match(value)
        if match:
            size = int(float(match[1]) * _SIZE_UNITS[match[2].upper()])
            if size > 0:
                return size
    raise ValueError(f"{value!r} is not a size — {fix}")


# Per-pair encryption secrets from the environment: SYNCD_ENCRYPTION_PASSWORD (every encrypted
# pair), SYNCD_ENCRYPTION_PASSWORD_<PAIR> (one pair; name upper-cased, other characters as "_"),
# each also as *_FILE and as the systemd credential syncd-encryption-password[-<pair>].
ENCRYPTION_SECRET_ENV = {
    "password": "SYNCD_ENCRYPTION_PASSWORD",
    "password2": "SYNCD_ENCRYPTION_PASSWORD2",
}
ENCRYPTION_SECRET_FIELDS = frozenset(
    {"password", "password2", "password_obscured", "password2_obscured"}
)


class EncryptionConfig(_Section):
    """A pair's ``[pairs.encryption]``: rclone's crypt options, by rclone's names, so a crypt
    remote's section of ``rclone.conf`` can be copied (passwords there are obscured: paste them
    as ``password_obscured`` / ``password2_obscured``)."""

    password: SecretStr | None = None
    password_obscured: SecretStr | None = None
    password2: SecretStr | None = None
    password2_obscured: SecretStr | None = None
    filename_encryption: Literal["standard", "obfuscate", "off"] = "standard"
    directory_name_encryption: StrictBool = True
    filename_encoding: Literal["base32", "base64", "base32768"] = "base32"
    suffix: str = ".bin"  # file name suffix when filename_encryption = "off"

    def options(self) -> CryptOptions:
        """The crypt options with the passwords revealed (ValueError: one line, no secret)."""
        from syncd.crypt import CryptConfigError, CryptOptions, reveal

        def one(plain: SecretStr | None, obscured: SecretStr | None, key: str) -> str:
            if plain is not None and obscured is not None:
                raise ValueError(f"both {key} and {key}_obscured are set — keep one of them")
            if obscured is None:
                return plain.get_secret_value() if plain is not None else ""
            try:
                value = reveal(obscured.get_secret_value())
            except CryptConfigError:
                raise ValueError(
                    f"{key}_obscured is not an rclone-obscured password — paste it from "
                    f"rclone.conf as it is, or give the plain passphrase as {key}"
                ) from None
            register_secret(value)
            return value

        password = one(self.password, self.password_obscured, "password")
        password2 = one(self.password2, self.password2_obscured, "password2")
        if not password:
            raise ValueError(
                "no encryption password — set password (or password_obscured, or "
                f"{ENCRYPTION_SECRET_ENV['password']}) to the passphrase of the encrypted data"
            )
        return CryptOptions(
            password=password,
            password2=password2,
            filename_encryption=self.filename_encryption,
            directory_name_encryption=self.directory_name_encryption,
            filename_encoding=self.filename_encoding,
            suffix="" if self.suffix.lower() == "none" else self.suffix,
        )


class PairConfig(_Section):
    name: str
    local: Path
    remote: str
    mode: Literal["mirror", "backup"] = "mirror"
    ignore: tuple[str, ...] = ()
    # "trash" | "keep" | a retention table; None: "keep" in backup mode, "trash" in mirror mode.
    versions: Literal["trash", "keep"] | RetentionConfig | None = None

    @field_validator("versions", mode="before")
    @classmethod
    def _check_versions(cls, value: object) -> object:
        if value is None or value in ("trash", "keep") or isinstance(value, RetentionConfig):
            return value
        if isinstance(value, dict):
            try:
                return RetentionConfig.model_validate(value)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "versions"
                if first["type"] == "extra_forbidden":
                    why = (
                        "is not a retention setting — use keep_last, keep_hourly, keep_daily, "
                        "keep_weekly, keep_monthly or max_age"
                    )
                else:
                    why = str(first["msg"]).removeprefix("Value error, ")
                raise ValueError(f"{where}: {why}") from None
        raise ValueError(
            f'{_short(value)} is not a versions setting — use "trash", "keep" or a table such as '
            '{ keep_daily = 7, keep_weekly = 4, max_age = "365d" }'
        )

    @property
    def history(self) -> HistoryPolicy:
        """The versions setting with the mode's default applied."""
        if self.versions is None:
            return HistoryPolicy(keep=self.mode == "backup")
        if self.versions == "trash":
            return HistoryPolicy(keep=False)
        if self.versions == "keep":
            return HistoryPolicy(keep=True)
        return HistoryPolicy(keep=True, retention=self.versions.policy())

    # Files larger than this are skipped, with the reason shown (None: no limit but the host's).
    max_size: Annotated[
        int | None, PlainValidator(parse_size), PlainSerializer(lambda v: v, return_type=object)
    ] = None
    # A directory holding any of these names is not synced (kept as it was remotely).
    exclude_if_present: tuple[str, ...] = ()
    # Encryption at rest in rclone's crypt format (None: files are stored as they are).
    encryption: EncryptionConfig | None = None

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not PAIR_NAME_RE.match(value) or len(value) > 64:
            raise ValueError(
                f"{value!r} is not a valid pair name — use 1-64 letters, digits, '_', '.' or '-'"
            )
        return value

    @field_validator("local", mode="before")
    @classmethod
    def _check_local(cls, value: object, info: ValidationInfo) -> Path:
        return _as_path(value, info)

    @field_validator("remote")
    @classmethod
    def _check_remote(cls, value: str) -> str:
        return normalise_remote_path(value)

    @field_validator("ignore", mode="before")
    @classmethod
    def _check_ignore(cls, value: object) -> object:
        if not isinstance(value, list | tuple):
            raise ValueError('expected a list of patterns — write it like ["*.tmp", "cache/"]')
        for index, pattern in enumerate(value):
            if not isinstance(pattern, str):
                raise ValueError(f"pattern {index} is {pattern!r}, not a string — quote it")
            try:
                pathspec.GitIgnoreSpec.from_lines([pattern])
            except Exception as exc:  # pathspec raises assorted errors for bad patterns
                raise ValueError(
                    f"pattern {pattern!r} is not valid gitignore syntax ({exc}) — fix the pattern"
                ) from None
        return tuple(value)

    @field_validator("exclude_if_present", mode="before")
    @classmethod
    def _check_markers(cls, value: object) -> object:
        fix = 'write it like ["CACHEDIR.TAG", ".nobackup"]'
        if not isinstance(value, list | tuple):
            raise ValueError(f"expected a list of file names — {fix}")
        for name in value:
            if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
                raise ValueError(f"{name!r} is not a file name — {fix}")
        return tuple(value)

    @property
    def filters(self) -> LocalFilters:
        """What the scanner skips besides ignore patterns (``max_size``, markers)."""
        return LocalFilters(max_size=self.max_size, exclude_if_present=self.exclude_if_present)

    @property
    def remote_parts(self) -> tuple[str, ...]:
        """The remote folder path as segments; () is the account root."""
        return tuple(self.remote.split("/")) if self.remote else ()


class Config(_Section):
    remote: RemoteConfig
    state: StateConfig = Field(default_factory=StateConfig)
    sync: SyncConfig = Field(default_factory=SyncConfig)
    log: LogConfig = Field(default_factory=LogConfig)
    daemon: DaemonConfig = Field(default_factory=DaemonConfig)
    pairs: tuple[PairConfig, ...] = ()

    _source: Path | None = PrivateAttr(default=None)
    _warnings: tuple[str, ...] = PrivateAttr(default=())

    @property
    def source(self) -> Path | None:
        """The file this config was read from."""
        return self._source

    @property
    def warnings(self) -> tuple[str, ...]:
        """Warnings found while loading (insecure permissions, TLS verification off)."""
        return self._warnings

    def log_warnings(self) -> None:
        for message in self._warnings:
            log.warning(message)

    @property
    def pair_names(self) -> list[str]:
        return [p.name for p in self.pairs]

    def pair(self, name: str) -> PairConfig:
        """The pair called ``name``; a ConfigError listing the known names otherwise."""
        for pair in self.pairs:
            if pair.name == name:
                return pair
        known = ", ".join(self.pair_names) or "none defined"
        raise ConfigError(self._source, "pairs", f"no pair named {name!r}", f"use one of: {known}")

    def require_pairs(self) -> tuple[PairConfig, ...]:
        """All pairs; a ConfigError when there are none (for commands that sync)."""
        if not self.pairs:
            raise ConfigError(
                self._source,
                "pairs",
                "no [[pairs]] defined",
                f"add a [[pairs]] table with name, local and remote ({EXAMPLE})",
            )
        return self.pairs

    def select_pairs(self, name: str | None) -> tuple[PairConfig, ...]:
        """One pair by name, or all of them when ``name`` is None (``--pair`` options)."""
        return (self.pair(name),) if name is not None else self.require_pairs()


# --------------------------------------------------------------------------------------------
# Loading


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    require_credentials: bool = True,
    warn: bool = True,
) -> Config:
    """Read, validate and return the config.

    ``path``: the ``--config`` value (None: ``$SYNCD_CONFIG``, then the default location).
    ``require_credentials``: fail unless exactly one credential method is complete.
    ``warn``: log the warnings now; pass False to log them later with
    :meth:`Config.log_warnings` (after logging is configured from this config).
    """
    env = os.environ if env is None else env
    file, origin = resolve_config_path(path, env)
    raw = _read_toml(file, origin)

    # Secrets registered before anything can fail, so no error or log line can show them.
    remote_raw = raw.get("remote")
    file_secret_keys: set[str] = set()
    if isinstance(remote_raw, dict):
        for key in SECRET_FIELDS:
            register_secret(remote_raw.get(key))
        file_secret_keys = {key for key in SECRET_FIELDS if remote_raw.get(key)}
    file_secret_keys |= _encryption_secrets(raw, env, file)
    secrets = secrets_from_environment(env, file)
    from_env = {key: secret.origin for key, secret in secrets.items()}
    if secrets:
        if remote_raw is None:
            remote_raw = raw["remote"] = {}
        if isinstance(remote_raw, dict):
            for key, secret in secrets.items():
                remote_raw[key] = secret.value

    try:
        config = Config.model_validate(raw, context={"base_dir": file.parent.absolute()})
    except ValidationError as exc:
        raise _config_error_from(exc, file, from_env) from None

    config._source = file
    _check_pairs(config, file)
    _check_encryption(config, file)
    _check_transport(config, file)
    if require_credentials:
        _check_credentials(config, file, from_env)

    warnings = _permission_warnings(file, raw_secret_keys=file_secret_keys)
    if not config.remote.verify_tls:
        warnings.append(
            f"TLS certificate verification is DISABLED for {config.remote.api_url}: anyone on "
            "the network path can read your keys and files — set remote.verify_tls = true"
        )
    config._warnings = tuple(warnings)
    if warn:
        config.log_warnings()
    return config


def _read_toml(file: Path, origin: str) -> dict[str, Any]:
    how = {
        "--config": "check the path given to --config",
        CONFIG_ENV: f"check the path in ${CONFIG_ENV}",
        "default": (
            f"create it with `syncd config init` ({EXAMPLE}), or pass --config FILE, "
            f"or set {CONFIG_ENV}"
        ),
    }[origin]
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError(file, None, "config file not found", how) from None
    except IsADirectoryError:
        raise ConfigError(file, None, "is a directory, not a config file", how) from None
    except PermissionError:
        raise ConfigError(
            file, None, "permission denied reading the config file", "fix its owner or mode"
        ) from None
    except OSError as exc:
        raise ConfigError(file, None, f"cannot read the file ({exc.strerror})", how) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            file, None, f"not UTF-8 text (byte {exc.start})", "save the file as UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = re.search(r"\(at line (\d+), column (\d+)\)", message)
        problem = re.sub(r"\s*\(at [^)]*\)\s*$", "", message) or "invalid TOML"
        location = f"line {where.group(1)}, column {where.group(2)}" if where else None
        if "end of document" in message:
            location = "end of file"
        raise ConfigError(
            file,
            location,
            f"TOML syntax error: {problem[0].lower()}{problem[1:]}",
            "fix the syntax (strings need quotes, tables look like [remote], pairs like [[pairs]])",
        ) from None


def _permission_warnings(file: Path, *, raw_secret_keys: set[str]) -> list[str]:
    if not raw_secret_keys or os.name != "posix":
        return []
    try:
        mode = file.stat().st_mode
    except OSError:
        return []
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        keys = "/".join(sorted(raw_secret_keys))
        return [
            f"config file {file} holds {keys} and is readable by group/others "
            f"(mode {stat.S_IMODE(mode):o}) — run: chmod 600 {file}"
        ]
    return []


_IPV4_LOOSE = re.compile(r"(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}", re.IGNORECASE)


def _full_ipv4(host: str) -> str | None:
    """An IPv4 address in any form the resolver takes (``127.1``, ``0x7f.1``, ``2130706433``)
    as its dotted quad; None for anything else."""
    if not _IPV4_LOOSE.fullmatch(host):
        return None
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return None


def _is_loopback_host(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(
        ".localhost"
    ):
        return True
    try:
        return ipaddress.ip_address(_full_ipv4(host) or host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_transport(config: Config, file: Path) -> None:
    remote = config.remote
    insecure = remote.api_url.startswith("http://") and not remote.is_loopback
    if insecure and not remote.allow_insecure_http:
        raise ConfigError(
            file,
            "remote.api_url",
            "plain http to a non-loopback host would send your keys in clear",
            "use https://, or set remote.allow_insecure_http = true if you accept the risk",
        )


def _check_pairs(config: Config, file: Path) -> None:
    seen: dict[str, int] = {}
    for index, pair in enumerate(config.pairs):
        if pair.name in seen:
            raise ConfigError(
                file,
                f"pairs[{index}].name",
                f"{pair.name!r} is already used by pairs[{seen[pair.name]}]",
                "give every pair a unique name",
            )
        seen[pair.name] = index
    # Two pairs sharing a remote folder (or one inside the other) would each see the other's
    # files as untracked extras, and mirror mode trashes those: refuse it.
    for index, pair in enumerate(config.pairs):
        for earlier in range(index):
            other = config.pairs[earlier]
            shorter = min(len(pair.remote_parts), len(other.remote_parts))
            if pair.remote_parts[:shorter] == other.remote_parts[:shorter]:
                raise ConfigError(
                    file,
                    f"pairs[{index}].remote",
                    f'"/{pair.remote}" overlaps "/{other.remote}" of pair {other.name!r}',
                    "give each pair its own remote folder, not one inside another's",
                )
    # Two pairs on one local directory (or one inside the other) would upload the same files
    # twice and fight over deletions: refuse it. Symlinks are resolved.
    roots = [Path(os.path.realpath(pair.local)) for pair in config.pairs]
    for index, pair in enumerate(config.pairs):
        for earlier in range(index):
            other, mine, theirs = config.pairs[earlier], roots[index], roots[earlier]
            if mine == theirs:
                relation = "is the same directory as"
            elif mine.is_relative_to(theirs):
                relation = "is inside"
            elif theirs.is_relative_to(mine):
                relation = "contains"
            else:
                continue
            raise ConfigError(
                file,
                f"pairs[{index}].local",
                f'"{pair.local}" of pair {pair.name!r} {relation} "{other.local}" of pair '
                f"{other.name!r}",
                "give each pair its own local directory, not one inside another's",
            )


def _encryption_secrets(raw: dict[str, Any], env: Mapping[str, str], file: Path) -> set[str]:
    """Registers every encryption password in the file for redaction and fills in those the
    environment gives (see ENCRYPTION_SECRET_ENV); returns the secret keys the file holds."""
    in_file: set[str] = set()
    pairs = raw.get("pairs")
    for pair in pairs if isinstance(pairs, list) else []:
        table = pair.get("encryption") if isinstance(pair, dict) else None
        if not isinstance(table, dict):
            continue
        for key in ENCRYPTION_SECRET_FIELDS:
            register_secret(table.get(key))
            if table.get(key):
                in_file.add(f"encryption.{key}")
        suffix = re.sub(r"[^A-Z0-9]", "_", str(pair.get("name", "")).upper())
        for key, var in ENCRYPTION_SECRET_ENV.items():
            if table.get(key) or table.get(f"{key}_obscured"):
                continue  # the file's own value wins for its pair
            for name in (f"{var}_{suffix}", var):
                value = _env_secret(env, name, file)
                if value:
                    register_secret(value)
                    table[key] = value
                    break
    return in_file


def _env_secret(env: Mapping[str, str], var: str, file: Path) -> str | None:
    """``VAR``, else the file named by ``VAR_FILE``, else the systemd credential."""
    if env.get(var):
        return env[var]
    if env.get(f"{var}_FILE", "").strip():
        path = Path(env[f"{var}_FILE"].strip())
        return _read_secret_file(path, "encryption.password", f"{var}_FILE", file)
    credentials = env.get(CREDENTIALS_DIRECTORY_ENV, "").strip()
    if credentials:
        name = var.lower().removeprefix("syncd_").replace("_", "-")
        path = Path(credentials) / f"syncd-{name}"
        if path.exists():
            origin = f"systemd credential {path.name}"
            return _read_secret_file(path, "encryption.password", origin, file)
    return None


def _check_encryption(config: Config, file: Path) -> None:
    for index, pair in enumerate(config.pairs):
        if pair.encryption is None:
            continue
        try:
            pair.encryption.options()
        except ValueError as exc:
            problem, _, fix = str(exc).partition(" — ")
            raise ConfigError(file, f"pairs[{index}].encryption", problem, fix or EXAMPLE) from None


def _check_credentials(config: Config, file: Path, from_env: Mapping[str, str]) -> None:
    remote = config.remote

    def label(key: str) -> str:
        return f"remote.{key} (from {from_env[key]})" if key in from_env else f"remote.{key}"

    keys = {"key1": remote.key1 is not None, "key2": remote.key2 is not None}
    login = {"username": remote.username is not None, "password": remote.password is not None}
    if all(keys.values()) and all(login.values()):
        raise ConfigError(
            file,
            "remote",
            "both key1/key2 and username/password are set",
            "keep only the method your host uses (SYNCD_* environment variables count too)",
        )
    for group in (keys, login):
        if any(group.values()) and not all(group.values()):
            have = next(k for k, v in group.items() if v)
            missing = next(k for k, v in group.items() if not v)
            raise ConfigError(
                file,
                label(missing),
                f"missing while {have} is set",
                f"add {missing} to [remote] or set {SECRET_ENV[missing]}",
            )
    if not any(keys.values()) and not any(login.values()):
        raise ConfigError(
            file,
            "remote",
            "no credentials",
            "set key1 and key2 (or SYNCD_KEY1/SYNCD_KEY2), or username and password "
            "(or SYNCD_USERNAME/SYNCD_PASSWORD)",
        )


# --------------------------------------------------------------------------------------------
# Turning pydantic's errors into one line


def _key_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The schema class that holds the key at ``loc`` (for listing valid keys)."""
    model: type[BaseModel] = Config
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
        if get_origin(annotation) is not None:  # tuple[PairConfig, ...] -> PairConfig
            annotation = get_args(annotation)[0]
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _config_error_from(
    exc: ValidationError, file: Path, from_env: Mapping[str, str]
) -> ConfigError:
    errors = exc.errors(include_url=False)
    # Unknown keys and missing keys first: they usually explain the others.
    errors.sort(key=lambda e: e["type"] not in ("extra_forbidden", "missing"))
    error = errors[0]
    loc = tuple(error["loc"])
    key = _key_path(loc) or "(top level)"
    leaf = loc[-1] if loc else ""
    if isinstance(leaf, str) and leaf in from_env and loc[:1] == ("remote",):
        key = f"{key} (from {from_env[leaf]})"
    secret = isinstance(leaf, str) and leaf in SECRET_FIELDS | ENCRYPTION_SECRET_FIELDS
    got = "" if secret else f", got {_short(error.get('input'))}"
    kind = error["type"]
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    more = more if len(errors) > 1 else ""

    if kind == "extra_forbidden":
        model = _model_at(loc)
        valid = ", ".join(model.model_fields) if model else ""
        problem = "unknown key"
        fix = f"check the spelling; valid keys here: {valid}" if valid else EXAMPLE
    elif kind == "missing":
        problem = "required key is missing"
        fix = f"add {leaf} = ... ({EXAMPLE})"
    elif kind in ("value_error", "assertion_error"):
        message = str(error["msg"]).removeprefix("Value error, ")
        problem, _, fix = message.partition(" — ")
        fix = fix or EXAMPLE
    elif kind in ("bool_type", "bool_parsing"):
        problem, fix = f"expected true or false{got}", "write true or false without quotes"
    elif kind in ("int_type", "int_parsing", "int_from_float"):
        problem, fix = f"expected a whole number{got}", "write a number without quotes, like 8"
    elif kind in ("float_type", "float_parsing"):
        problem, fix = f"expected a number{got}", "write a number without quotes, like 30.0"
    elif kind == "string_type":
        problem, fix = f"expected a string{got}", 'put the value in double quotes, like "value"'
    elif kind in ("list_type", "tuple_type") and loc == ("pairs",):
        problem, fix = "expected a list of tables", "write each pair as a [[pairs]] table"
    elif kind in ("list_type", "tuple_type"):
        problem, fix = f"expected a list{got}", 'write it like ["a", "b"]'
    elif kind in ("model_type", "dict_type", "model_attributes_type"):
        problem, fix = f"expected a table{got}", f"write it as a [{key}] section ({EXAMPLE})"
    elif kind == "literal_error":
        problem = f"{str(error['msg']).replace('Input should be', 'must be')}{got}"
        fix = "use one of the listed values"
    elif kind.startswith(("greater_than", "less_than")):
        problem = f"{str(error['msg']).replace('Input should be', 'must be')}{got}"
        fix = "change the value"
    else:
        problem, fix = f"{error['msg']}{got}", EXAMPLE
    return ConfigError(file, key, problem + more, fix)
