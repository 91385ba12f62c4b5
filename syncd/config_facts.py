"""Where the config file is, and the few facts of it that cheap commands need, without the
schema: importing pydantic alone costs a health check more CPU than all its own work
(docs/architecture.md, "A fast start").

:mod:`syncd.config` re-exports the path functions and stays the one place that validates a
config; :func:`read_light` follows its rules for what it reads (``~`` expanded, relative paths
from the file's directory, the same defaults), which a unit test checks against it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from syncd.errors import ConfigError

APP_NAME = "syncd"
CONFIG_ENV = "SYNCD_CONFIG"


def default_config_path() -> Path:
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


def default_state_path() -> Path:
    return platformdirs.user_state_path(APP_NAME) / "state.db"


def resolve_config_path(
    explicit: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> tuple[Path, str]:
    """The config file to read and where that choice came from (for error messages)."""
    env = os.environ if env is None else env
    if explicit is not None and str(explicit) != "":
        return Path(explicit).expanduser(), "--config"
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV]).expanduser(), CONFIG_ENV
    return default_config_path(), "default"


@dataclass(frozen=True, slots=True)
class LightConfig:
    """What `syncd health` reads from the config: the state database and the pair names."""

    source: Path
    state_path: Path
    pair_names: tuple[str, ...]


def read_light(
    explicit: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> LightConfig:
    """The state path and pair names of the config, read with tomllib only. Raises a
    ConfigError (one line) when the file is missing, not TOML, or these keys are malformed;
    the rest of the file is not checked here (`syncd config check` does that)."""
    file, origin = resolve_config_path(explicit, env)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            file, None, "config file not found", f"check the path ({origin})"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(file, None, f"cannot read the file ({exc})", "fix it") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            file, None, f"TOML syntax error: {exc}", "run `syncd config check`"
        ) from None

    state = raw.get("state", {})
    state_value = state.get("path") if isinstance(state, dict) else None
    if state_value is None:
        state_path = default_state_path()
    elif isinstance(state_value, str) and state_value.strip():
        state_path = Path(state_value.strip()).expanduser()
        if not state_path.is_absolute():
            state_path = file.parent.absolute() / state_path
        state_path = Path(os.path.normpath(state_path))
    else:
        raise ConfigError(file, "state.path", "expected a path string", "run `syncd config check`")

    pairs = raw.get("pairs", [])
    names: list[str] = []
    for index, pair in enumerate(pairs if isinstance(pairs, list) else []):
        name = pair.get("name") if isinstance(pair, dict) else None
        if not isinstance(name, str):
            raise ConfigError(
                file, f"pairs[{index}].name", "missing or not a string", "run `syncd config check`"
            )
        names.append(name)
    return LightConfig(source=file, state_path=state_path, pair_names=tuple(names))
