"""The daemon's seams, and its settings as read from a config.

:mod:`syncd.daemon.core` knows only these narrow types (``Backend``, ``PairSyncer``, ``Watch``);
:mod:`syncd.daemon.backend` fills them with the real watcher, journal, client and engine. A
test can fill them with fakes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from syncd.config import DaemonConfig
from syncd.daemon.metrics import DaemonMetrics
from syncd.daemon.pair_worker import PairState, PairSyncer

# Used only when no config has loaded yet; the config schema holds the default.
DEFAULT_SHUTDOWN_GRACE = float(DaemonConfig.model_fields["shutdown_grace"].default)


@dataclass(frozen=True)
class PairSpec:
    """One `[[pairs]]` entry as the daemon needs it; ``config`` is the config module's object.

    ``fingerprint`` changes whenever anything about the pair changes (compared on SIGHUP).
    """

    name: str
    local: Path
    config: Any = field(compare=False, repr=False)
    fingerprint: str = ""


@dataclass(frozen=True)
class DaemonSettings:
    state_path: Path
    reconcile_interval: float
    shutdown_grace: float
    metrics_addr: str | None
    pairs: tuple[PairSpec, ...]
    remote_fingerprint: str  # changes when [remote] changes: the client must be rebuilt
    config: Any = field(compare=False, repr=False)
    # [sync] bwlimit (a syncd.remote.bandwidth.BwLimit) and full_pass_window (a
    # syncd.config.TimeWindow); None when unset. Applied by the scheduler, no pair restarts.
    bwlimit: Any = None
    full_pass_window: Any = None


class Watch(Protocol):
    def stop(self) -> None: ...
    def is_alive(self) -> bool: ...


class Backend(Protocol):
    """The engine side of the daemon: one remote client and journal for the whole process."""

    def make_syncer(self, pair: PairSpec) -> PairSyncer: ...
    def write_status(self, pair: str, state: PairState, *, running: bool = True) -> None: ...
    def close(self) -> None: ...  # persist the journal, disable the token


ChangesCallback = Callable[[Sequence[Any]], None]
LoadSettings = Callable[[], DaemonSettings]
OpenBackend = Callable[[DaemonSettings, DaemonMetrics], Backend]
StartWatcher = Callable[[PairSpec, DaemonSettings, ChangesCallback], Watch]


def settings_from_config(config: Any) -> DaemonSettings:
    """What the daemon needs from a loaded :class:`syncd.config.Config`."""
    config.require_pairs()
    # Everything a pair's syncer and watcher are built from: a change restarts the pair. The
    # schedule's settings are not: the scheduler applies them in place.
    shared = config.sync.model_dump_json(exclude=SCHEDULED)
    pairs = tuple(
        PairSpec(
            name=pair.name,
            local=Path(pair.local),
            config=pair,
            fingerprint=_digest(pair.model_dump_json() + shared),
        )
        for pair in config.pairs
    )
    return DaemonSettings(
        state_path=Path(config.state.path),
        reconcile_interval=float(config.sync.reconcile_interval),
        shutdown_grace=float(config.daemon.shutdown_grace),
        metrics_addr=config.daemon.metrics_addr or None,
        pairs=pairs,
        remote_fingerprint=_digest(
            # The connection pool is sized from [sync] workers when the client is made.
            _reveal(config.remote.model_dump()) + f"/workers={config.sync.workers}"
        ),
        config=config,
        bwlimit=config.sync.bwlimit,
        full_pass_window=config.sync.full_pass_window,
    )


# [sync] keys a running daemon applies through its scheduler, without restarting pairs.
SCHEDULED = frozenset({"reconcile_interval", "bwlimit", "full_pass_window"})

# Sections a running daemon cannot change: the state database is locked and open, and logging
# is set up before the daemon starts.
RESTART_NEEDED = ("state.", "log.")


def config_changes(old: Any, new: Any) -> list[str]:
    """The settings that differ between two configs, as ``section.key`` and
    ``pairs[NAME].key`` (names only: a changed key1 shows as ``remote.key1``, never its value)."""
    if old is None or new is None:
        return []
    changed: list[str] = []
    for section in ("remote", "state", "sync", "log", "daemon"):
        a = getattr(old, section, None)
        b = getattr(new, section, None)
        if a is None or b is None:
            continue
        before, after = _revealed(a.model_dump()), _revealed(b.model_dump())
        changed += [
            f"{section}.{key}"
            for key in sorted(before.keys() | after.keys())
            if before.get(key) != after.get(key)
        ]
    old_pairs = {p.name: _revealed(p.model_dump()) for p in getattr(old, "pairs", ())}
    for pair in getattr(new, "pairs", ()):
        before = old_pairs.get(pair.name)
        if before is None:
            continue
        after = _revealed(pair.model_dump())
        changed += [
            f"pairs[{pair.name}].{key}"
            for key in sorted(before.keys() | after.keys())
            if before.get(key) != after.get(key)
        ]
    return changed


def restart_needed(changes: list[str]) -> list[str]:
    """Of ``changes``, those only a restart applies."""
    return [c for c in changes if c.startswith(RESTART_NEEDED)]


def with_state_path(settings: DaemonSettings, path: Path) -> DaemonSettings:
    return replace(settings, state_path=path)


def _revealed(values: dict[str, Any]) -> dict[str, Any]:
    """Secret fields as their values, so a changed key is noticed; only compared or hashed."""
    return {
        k: (v.get_secret_value() if hasattr(v, "get_secret_value") else v)
        for k, v in values.items()
    }


def _reveal(values: dict[str, Any]) -> str:
    return repr(sorted(_revealed(values).items()))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
