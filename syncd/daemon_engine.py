"""The daemon's bindings to the rest of syncd: watcher, journal, remote client and engine.

:mod:`syncd.daemon` only knows the narrow seams (``Backend``, ``PairSyncer``, ``Watch``); this
module fills them with the real parts, one remote client and one journal for the process.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

from syncd.daemon import ChangesCallback, DaemonSettings, PairSpec
from syncd.local.ignore import IgnoreRules
from syncd.local.watcher import Watcher
from syncd.metrics import DaemonMetrics
from syncd.pair_worker import PairState

log = logging.getLogger(__name__)

# Override of the usable inotify watch count for every root (0 or a small number forces the
# polling fallback; also how the tests exercise that path in a real subprocess).
WATCH_LIMIT_ENV = "SYNCD_WATCH_LIMIT"


def start_watcher(pair: PairSpec, settings: DaemonSettings, on_changes: ChangesCallback) -> Watcher:
    config = settings.config
    limit_text = os.environ.get(WATCH_LIMIT_ENV, "").strip()
    watch_limit = int(limit_text) if limit_text.isdigit() else None
    ignore = IgnoreRules.for_root(pair.local, pair.config.ignore, state_db=settings.state_path)
    watcher = Watcher(
        pair.local,
        ignore=ignore,
        on_changes=on_changes,
        quiet=float(config.sync.quiet_period),
        watch_limit=watch_limit,
        name=pair.name,
    )
    watcher.start()
    log.info("pair %s: watching %s (%s)", pair.name, pair.local, watcher.mode)
    return watcher


def status_record(state: PairState, *, running: bool) -> dict[str, Any]:
    """What `syncd status` reads from the journal's daemon_status table, per pair."""
    return {
        "daemon_pid": os.getpid(),
        "daemon_running": running,
        "up_to_date": state.up_to_date,
        "queue_length": state.queue_length,
        "full_pending": state.full_pending,
        "busy": state.busy,
        "in_flight": state.in_flight,
        "last_full_reconcile": state.last_full_reconcile,
        "last_pass": state.last_pass,
        "last_error": state.last_error,
        "last_error_at": state.last_error_at,
        "consecutive_failures": state.consecutive_failures,
        "next_retry_in": state.next_retry_in,
        "passes": dict(state.passes),
    }


class EngineBackend:
    """One RemoteClient and one Journal shared by every pair's syncer."""

    def __init__(self, settings: DaemonSettings, metrics: DaemonMetrics) -> None:
        from syncd.journal.store import Journal
        from syncd.remote import RemoteClient

        config = settings.config
        remote = config.remote
        self.metrics = metrics
        self.journal = Journal(settings.state_path)
        self.client = RemoteClient(
            remote.api_url,
            remote.credentials(),
            allow_insecure_http=remote.allow_insecure_http,
            verify_tls=remote.verify_tls,
            timeout=remote.timeout,
            max_retry_time=remote.max_retry_time,
            max_connections=max(32, config.sync.workers * 2),
        )
        self._seen_429 = 0
        self._lock = threading.Lock()

    def make_syncer(self, pair: PairSpec) -> EngineSyncer:
        return EngineSyncer(self, pair)

    def write_status(self, pair: str, state: PairState, *, running: bool = True) -> None:
        self.journal.write_daemon_status(pair, status_record(state, running=running))
        self._count_rate_limited()

    def _count_rate_limited(self) -> None:
        seen = self.client.stats().rate_limited
        with self._lock:
            if seen > self._seen_429:
                self.metrics.rate_limited.inc(seen - self._seen_429)
                self._seen_429 = seen

    def close(self) -> None:
        try:
            self.client.close()  # disables the access token
        finally:
            self.journal.close()


class EngineSyncer:
    """A pair's passes through the engine."""

    def __init__(self, backend: EngineBackend, pair: PairSpec) -> None:
        self.backend = backend
        self.pair = pair

    def full_pass(self, cancel: threading.Event) -> Any:
        raise NotImplementedError("the sync engine has not landed yet")

    def incremental_pass(self, changes: Sequence[Any], cancel: threading.Event) -> Any:
        raise NotImplementedError("the sync engine has not landed yet")


__all__ = ["EngineBackend", "EngineSyncer", "start_watcher", "status_record"]
