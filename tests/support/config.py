"""A syncd config file for a test: ``[remote]`` with the emulator's demo keys, ``[state]``,
optional ``[sync]``/``[log]`` keys and ``[[pairs]]``.

Values are rendered as TOML (strings quoted and escaped), so a path with a quote or a backslash
in it is written correctly. Tests that need text syncd must reject write it verbatim with
:func:`write_config_text`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from syncd.emulator import DEMO_KEY1, DEMO_KEY2

#: Nothing listens on port 9 (discard) of loopback: for configs that must never reach a host.
UNREACHABLE_API_URL = "http://127.0.0.1:9/api/v2/"

TomlValue = str | int | float | bool | Path


@dataclass(frozen=True)
class Pair:
    """One ``[[pairs]]`` entry; ``mode`` None leaves syncd's default (mirror)."""

    name: str
    local: Path
    remote: str
    mode: str | None = None


def toml_value(value: TomlValue) -> str:
    """``value`` as a TOML literal (a JSON string is a valid TOML basic string)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def _table(header: str, keys: Mapping[str, TomlValue | None]) -> list[str]:
    return [header, *(f"{k} = {toml_value(v)}" for k, v in keys.items() if v is not None), ""]


def write_config(
    path: Path,
    *,
    api_url: str = UNREACHABLE_API_URL,
    pairs: Mapping[str, tuple[Path, str]] | Iterable[Pair] = (),
    state: Path | None = None,
    key1: str | None = DEMO_KEY1,
    key2: str | None = DEMO_KEY2,
    remote: Mapping[str, TomlValue | None] | None = None,
    sync: Mapping[str, TomlValue | None] | None = None,
    log: Mapping[str, TomlValue | None] | None = None,
    daemon: Mapping[str, TomlValue | None] | None = None,
    file_mode: int = 0o600,
) -> Path:
    """Write a config to ``path`` and return ``path``.

    ``pairs`` is ``{name: (local, remote)}`` or a list of :class:`Pair` (to set a mode).
    ``state`` defaults to ``state.db`` beside the config. ``remote``, ``sync``, ``log`` and
    ``daemon`` add keys to those tables (a None value leaves a key out). The file gets
    ``file_mode``: 0600 by default, since syncd warns about a config others can read.
    """
    entries = (
        [Pair(name, local, where) for name, (local, where) in pairs.items()]
        if isinstance(pairs, Mapping)
        else list(pairs)
    )
    lines = _table("[remote]", {"api_url": api_url, "key1": key1, "key2": key2, **(remote or {})})
    lines += _table("[state]", {"path": state if state is not None else path.parent / "state.db"})
    if sync:
        lines += _table("[sync]", sync)
    if log:
        lines += _table("[log]", log)
    if daemon:
        lines += _table("[daemon]", daemon)
    for pair in entries:
        keys = {"name": pair.name, "local": pair.local, "remote": pair.remote, "mode": pair.mode}
        lines += _table("[[pairs]]", keys)
    return write_config_text(path, "\n".join(lines), file_mode=file_mode)


def write_config_text(path: Path, body: str, *, file_mode: int = 0o600) -> Path:
    """Write ``body`` verbatim as the config at ``path`` (for configs syncd must refuse)."""
    path.write_text(body, encoding="utf-8")
    path.chmod(file_mode)
    return path


#: Retries give up after 2 s instead of syncd's 120: for tests against hosts that may never
#: answer usefully, where a failure should come quickly.
FAIL_FAST: Mapping[str, TomlValue | None] = {"max_retry_time": 2.0}
