"""The daemon's bindings to the rest of syncd: watcher, journal, remote client and engine.

:mod:`syncd.daemon.core` only knows the narrow seams (``Backend``, ``PairSyncer``, ``Watch``); this
module fills them with the real parts, one remote client and one journal for the process.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

from syncd.daemon.core import Daemon
from syncd.daemon.metrics import DaemonMetrics
from syncd.daemon.pair_worker import Holding, ItemsFailed, PairState, Stalled
from syncd.daemon.seams import ChangesCallback, DaemonSettings, PairSpec, settings_from_config
from syncd.engine.executor import Progress
from syncd.engine.reconcile import (
    DeletionsHeld,
    PassOptions,
    PassResult,
    Rechecks,
    reconcile_pair,
)
from syncd.journal.rows import DaemonStatus
from syncd.local.ignore import IgnoreRules
from syncd.local.watcher import Watcher
from syncd.remote.bandwidth import Bandwidth
from syncd.remote.errors import AuthError, NoApiAccess, RemoteError, TransientError
from syncd.remote.models import AccountPackage
from syncd.wiring import cached_package, make_client

log = logging.getLogger(__name__)

# Override of the usable inotify watch count for every root (0 or a small number forces the
# polling fallback; also how the tests exercise that path in a real subprocess).
WATCH_LIMIT_ENV = "SYNCD_WATCH_LIMIT"
# Override of the wait after refused credentials (seconds: first wait, and the cap it doubles up
# to). The defaults (5 min to 1 h) suit a real host; tests use seconds.
AUTH_RETRY_BASE_ENV = "SYNCD_AUTH_RETRY_BASE"
AUTH_RETRY_CAP_ENV = "SYNCD_AUTH_RETRY_CAP"
# How long the start-up credential check retries a host that does not answer before the daemon
# starts anyway (READY=1 must not wait minutes: systemd gives a start 90 s by default).
START_CHECK_WAIT = 10.0
CREDENTIALS_ADVICE = (
    "check key1/key2 (or username/password) and that the account is not locked, then reload "
    "(SIGHUP, `systemctl reload syncd`) to try at once; repeated failures can lock the account"
)
NO_API_ADVICE = "upgrade the account level or ask the host's admin to enable API access"


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


def status_record(state: PairState, *, running: bool) -> DaemonStatus:
    """What `syncd status` and `syncd health` read of this pair, via the journal: every field
    the worker's state shares with the record, plus who and whether it runs."""
    shared = {f.name for f in fields(DaemonStatus)} & {f.name for f in fields(PairState)}
    return DaemonStatus(
        pid=os.getpid(),
        running=running,
        up_to_date=state.up_to_date,
        **{name: getattr(state, name) for name in shared if name != "passes"},
        passes=dict(state.passes),
    )


class EngineBackend:
    """One RemoteClient and one Journal shared by every pair's syncer."""

    def __init__(self, settings: DaemonSettings, metrics: DaemonMetrics) -> None:
        from syncd.journal.store import Journal

        self.metrics = metrics
        self.journal = Journal(settings.state_path)
        # The client's default limiter already allows a burst, so an event's listing and
        # upload after a quiet spell go out at once.
        self.client = make_client(settings.config, one_shot=False)
        base, cap = _env_seconds(AUTH_RETRY_BASE_ENV), _env_seconds(AUTH_RETRY_CAP_ENV)
        if base is not None:
            self.client.set_refusal_backoff(base, cap if cap is not None else base)
        self.settings = settings
        self._seen_429 = 0
        self._lock = threading.Lock()
        self._package: AccountPackage | None = None

    def package(self) -> AccountPackage | None:
        """The account's package (upload limits), from the journal's hourly cache; the last
        known one (or None) while the host does not answer (the pass then runs without the
        limits; its own calls fail if the host is down)."""
        try:
            package = cached_package(self.client, self.journal, self.settings.config.remote.api_url)
        except RemoteError as exc:
            log.debug("account/package unavailable: %s", exc)
            with self._lock:
                return self._package
        with self._lock:
            changed = package != self._package
            self._package = package
        if changed and package.concurrent_uploads > 0:
            self.client.set_upload_concurrency(package.concurrent_uploads)
        return package

    def apply_settings(self, settings: DaemonSettings) -> None:
        """SIGHUP with the same [remote]: syncers made from now on read the new [sync] and
        pair settings (the daemon restarts every pair whose settings changed)."""
        self.settings = settings

    def set_bandwidth(self, bandwidth: Bandwidth) -> None:
        """The ``bwlimit`` in force now, for every pair's transfers (one bucket each way)."""
        self.client.set_bandwidth(bandwidth)

    def check_credentials(self) -> None:
        """At start: one authorization. A refusal propagates (the daemon exits 2: restarting
        cannot fix keys); a host that does not answer is not fatal (passes retry it)."""
        from syncd.remote.user_errors import user_error_from_remote

        try:
            self.client.authorize(max_wait=START_CHECK_WAIT)
        except AuthError as exc:
            raise user_error_from_remote(exc, self.client.api_url) from None
        except TransientError as exc:
            log.warning("host not answering at start (%s); will keep trying", exc)

    def retry_credentials_now(self) -> bool:
        """After SIGHUP: if the host refused our credentials, let the next pass try at once.
        True when there was a refusal to retry."""
        if self.client.credential_refusal() is None:
            return False
        self.client.retry_credentials_now()
        return True

    def credentials_stall(self, exc: AuthError) -> Stalled:
        """A refused authorization as the pair's stall, with when the next try is due."""
        import time

        refusal = self.client.credential_refusal()
        if isinstance(exc, NoApiAccess):
            reason, advice = "the account has no access to the file upload API", NO_API_ADVICE
        else:
            reason = f"the host at {self.client.api_url} refused the credentials"
            advice = CREDENTIALS_ADVICE
        if refusal is None:  # refused, yet not remembered: try again after the slow retry
            return Stalled(reason, advice=advice, retry_in=600.0, since=time.time())
        return Stalled(
            reason,
            advice=advice,
            retry_in=refusal.retry_in(time.monotonic()),
            since=refusal.since,
        )

    def approvals(self) -> dict[str, float]:
        """Per pair, the latest approval (`syncd approve`) of deletions not yet carried out."""
        return self.journal.approvals()

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

    def release_memory(self, *, collect: bool) -> None:
        """After a pass, when idle: drop the journal's pooled read connections (each keeps up
        to 2 MiB of SQLite page cache) and give freed heap back; ``collect`` also runs the
        cycle collector first (after a full pass: a big walk leaves the most behind)."""
        if collect:
            import gc

            gc.collect()
        release = getattr(self.journal, "release_memory", None)
        if release is not None:
            release()
        trim_heap()

    def close(self) -> None:
        try:
            self.client.close()  # disables the access token
        finally:
            self.journal.close()


# -- memory of a long-running process -----------------------------------------------------------

M_ARENA_MAX = -8  # mallopt(3) parameter number (glibc)
DAEMON_MALLOC_ARENAS = 2


def _libc() -> Any:
    """glibc, or None elsewhere (musl, macOS): the calls below are then skipped."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def limit_malloc_arenas(arenas: int = DAEMON_MALLOC_ARENAS) -> None:
    """Few malloc arenas: glibc gives each thread that allocates its own (up to 8 per core),
    and memory freed in one is never reused by another; a daemon with a dozen threads then
    keeps several partly empty heaps. Call before starting threads."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(M_ARENA_MAX, arenas)


def trim_heap() -> None:
    """Return free heap pages to the system (a pass's temporaries, freed, stay resident
    otherwise: glibc only trims the top of the main heap by itself)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


class PassIncomplete(ItemsFailed):
    """Some items of a pass failed: the worker keeps what succeeded and retries just those
    (or, when nothing succeeded, the whole pass with the pair's backoff)."""


@dataclass(frozen=True)
class RetryChange:
    """A failed item handed back to the worker, shaped like the watcher's changes."""

    path: str
    kind: str = "dirty"
    dest: str | None = None


class DaemonProgress(Progress):
    """Executor progress -> in-flight count (status) and per-kind counters (metrics)."""

    def __init__(self, pair: str, metrics: DaemonMetrics) -> None:
        self._pair = pair
        self._metrics = metrics
        self._lock = threading.Lock()
        self.in_flight = 0

    def begin(self, ops: list[Any]) -> None:
        with self._lock:
            self.in_flight = 0

    def end(self) -> None:
        with self._lock:
            self.in_flight = 0

    def op_started(self, op: Any) -> None:
        with self._lock:
            self.in_flight += 1

    def op_done(self, op: Any, ok: bool) -> None:
        with self._lock:
            self.in_flight = max(0, self.in_flight - 1)
        counter = self._metrics.ops_done if ok else self._metrics.ops_failed
        counter.labels(self._pair, op.kind).inc()

    def bytes_sent(self, n: int) -> None:
        self._metrics.bytes_uploaded.labels(self._pair).inc(n)


class EngineSyncer:
    """A pair's passes through :func:`syncd.engine.reconcile.reconcile_pair`: the whole tree for
    a full pass, the directories holding the watcher's changes for an incremental one."""

    def __init__(self, backend: EngineBackend, pair: PairSpec) -> None:
        self.backend = backend
        self.pair = pair
        self.progress = DaemonProgress(pair.name, backend.metrics)
        self._walked = False  # a full pass ran since memory was last released
        self._rechecks = Rechecks()  # paths a partial pass could not settle: looked at again

    @property
    def in_flight(self) -> int:
        return self.progress.in_flight

    def holding(self) -> Holding:
        """The deletions a guard holds for this pair (the journal's held set)."""
        journal = self.backend.journal
        row = journal.pair(self.pair.name)
        held = journal.held(row.id) if row is not None else []
        if not held:
            return Holding()
        return Holding(len(held), min(h.held_at for h in held), held[0].reason)

    def full_pass(self, cancel: threading.Event) -> PassResult:
        self._walked = True
        return self._run(cancel, None, "reconcile")

    def release_memory(self) -> None:
        """The worker calls this when it goes idle after a pass."""
        walked, self._walked = self._walked, False
        self.backend.release_memory(collect=walked)

    def incremental_pass(self, changes: Sequence[Any], cancel: threading.Event) -> PassResult:
        rechecks = self._rechecks.paths(self.backend.journal, self.pair.config.local)
        dirty = list(dict.fromkeys([*dirty_paths(changes), *rechecks]))
        return self._run(cancel, dirty, "incremental")

    def _run(self, cancel: threading.Event, dirty: list[str] | None, kind: str) -> PassResult:
        backend = self.backend
        config = backend.settings.config
        try:
            result = reconcile_pair(
                backend.client,
                backend.journal,
                self.pair.config,
                sync=config.sync,
                state_path=backend.settings.state_path,
                package=backend.package(),
                options=PassOptions(kind=kind),
                progress=self.progress,
                cancel=cancel,
                dirty=dirty,
            )
        except AuthError as exc:
            raise backend.credentials_stall(exc) from exc
        except DeletionsHeld as held:
            # Everything but the held deletions was done: a pass that made progress (the
            # worker reads what is held through holding()).
            result = held.result
        outcome = result.outcome
        self._rechecks.after(outcome, whole_tree=dirty is None)
        if outcome.counts:
            done = ", ".join(f"{k} {v}" for k, v in sorted(outcome.counts.items()))
            log.info("pair %s: %s pass: %s", self.pair.name, kind, done)
        if outcome.failed and not cancel.is_set():
            path, why = outcome.failed[0]
            left_out = ("failed", "skipped", "ignored", "not synced")  # no progress
            done = sum(n for key, n in outcome.counts.items() if key not in left_out)
            raise PassIncomplete(
                f"{len(outcome.failed)} items failed, e.g. {path}: {why}",
                retry_changes=[RetryChange(p) for p in dict.fromkeys(p for p, _ in outcome.failed)],
                progress=done > 0,
                outcome=result,
            )
        return result


def _env_seconds(name: str) -> float | None:
    text = os.environ.get(name, "").strip()
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value > 0 else None


def dirty_paths(changes: Sequence[Any]) -> list[str]:
    """The watcher's changes as the engine's ``dirty`` paths: a move dirties both ends (the
    planner pairs them by inode into one edit by id)."""
    paths: dict[str, None] = {}
    for change in changes:
        if change.kind == "moved":
            paths[change.path] = None
            if change.dest is not None:
                paths[change.dest] = None
        elif change.kind == "dirty":
            paths[change.path] = None
    return list(paths)


__all__ = [
    "EngineBackend",
    "EngineSyncer",
    "dirty_paths",
    "limit_malloc_arenas",
    "start_watcher",
    "status_record",
    "trim_heap",
]


def run_daemon(load_config: Callable[[], Any]) -> int:
    """`syncd run`: ``load_config`` reads and validates the config (called again on SIGHUP)."""
    limit_malloc_arenas()  # before any thread starts
    daemon = Daemon(
        load_settings=lambda: settings_from_config(load_config()),
        open_backend=EngineBackend,
        start_watcher=start_watcher,
    )
    return daemon.run()
