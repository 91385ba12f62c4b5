"""One worker thread per pair: the only place a pair's sync passes run.

Watcher changes and full-reconcile requests are queued here and run one pass at a time, so the
incremental path and the periodic reconcile never touch the same pair concurrently or out of
order. A failed pass (host unreachable, rate limited, anything) keeps its work and is retried
with exponential backoff; the worker never gives up and never takes the daemon down.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)


class ItemsFailed(Exception):
    """Some items of a pass failed and the rest is done. With ``progress`` (something else in
    the pass succeeded) the pass counts as done:
    only ``retry_changes`` (the failed items, as changes the syncer understands) are retried,
    soon and on their own backoff, while the pair's other work flows on. Without it (every
    item failed: the host went away mid-pass) it is a failed pass like any other."""

    def __init__(
        self, message: str, *, retry_changes: Sequence[Any], progress: bool, outcome: Any = None
    ) -> None:
        super().__init__(message)
        self.retry_changes = list(retry_changes)
        self.progress = progress
        self.outcome = outcome


class Stalled(Exception):
    """A pass cannot succeed until something outside the daemon changes (the host refuses our
    credentials, ...). The pair waits ``retry_in`` seconds (long: retrying sooner cannot help
    and may hurt), and shows itself as stalled (``reason`` since ``since``, with ``advice``) in
    `syncd status`, /healthz and systemd's STATUS= until a pass succeeds."""

    def __init__(self, reason: str, *, advice: str, retry_in: float, since: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.advice = advice
        self.retry_in = retry_in
        self.since = since


class PairSyncer(Protocol):
    """The seam between the daemon and the engine for one pair.

    ``cancel`` is set on shutdown: start no new operation, let in-flight ones finish, return.
    Either method raises on failure; the worker retries with backoff.
    """

    def full_pass(self, cancel: threading.Event) -> Any: ...

    def incremental_pass(self, changes: Sequence[Any], cancel: threading.Event) -> Any: ...


@dataclass(frozen=True)
class Holding:
    """What a syncer holds back after a pass until the user acts (deletions a guard held):
    how many, since when, and why. Optional: ``holding()`` on the syncer."""

    count: int = 0
    since: float | None = None
    reason: str | None = None


def release_memory(syncer: Any) -> None:
    """Let the syncer hand back what a pass left cached (optional ``release_memory()``)."""
    release = getattr(syncer, "release_memory", None)
    if release is None:
        return
    try:
        release()
    except Exception:
        log.exception("releasing memory after a pass failed")


@dataclass
class PairState:
    """What the worker knows about its pair; a snapshot goes to status and metrics."""

    name: str
    queue_length: int = 0
    full_pending: bool = False
    busy: str | None = None  # "full" | "incremental" while a pass runs
    in_flight: int = 0
    last_full_reconcile: float | None = None  # unix time of the last successful full pass
    last_pass: float | None = None  # unix time of the last successful pass of any kind
    last_error: str | None = None
    last_error_at: float | None = None
    consecutive_failures: int = 0
    next_retry_in: float | None = None
    stalled_since: float | None = None  # unix time; set while passes fail with Stalled
    stall_reason: str | None = None
    advice: str | None = None
    passes: dict[str, int] = field(default_factory=lambda: {"full": 0, "incremental": 0})
    failing_since: float | None = None  # unix time of the first of the failed passes in a row
    held: int = 0  # deletions a guard holds until the user approves them
    held_since: float | None = None
    held_reason: str | None = None

    @property
    def up_to_date(self) -> bool:
        return (
            self.queue_length == 0
            and not self.full_pending
            and self.busy is None
            and self.consecutive_failures == 0
            and self.last_full_reconcile is not None
            and self.held == 0  # deletions a guard holds are changes not yet synced
        )


@dataclass(frozen=True)
class PassReport:
    """Handed to the observer after every pass (metrics, latency, status)."""

    pair: str
    kind: str  # "full" | "incremental"
    ok: bool
    duration: float
    outcome: Any = None
    error: BaseException | None = None
    changes: Sequence[Any] = ()
    received_at: Sequence[float] = ()  # monotonic time each change reached the worker


StatusListener = Callable[[PairState], None]
PassListener = Callable[[PassReport], None]


def is_overflow(change: Any) -> bool:
    """The watcher lost events (queue overflow, observer restarted): only a full pass is safe."""
    kind = getattr(change, "kind", None)
    return str(getattr(kind, "value", kind)) == "overflow"


class PairWorker:
    def __init__(
        self,
        name: str,
        syncer: PairSyncer,
        *,
        on_status: StatusListener | None = None,
        on_pass: PassListener | None = None,
        retry_base: float = 1.0,
        retry_max: float = 30.0,
        max_batch: int = 10_000,
        stall_after: float = 3600.0,
    ) -> None:
        self.name = name
        self.stall_after = stall_after  # see snapshot()
        self.syncer = syncer
        self.cancel = threading.Event()
        self._on_status = on_status
        self._on_pass = on_pass
        self._retry_base = retry_base
        self._retry_max = retry_max
        self._max_batch = max_batch
        self._cond = threading.Condition()
        self._pending: list[Any] = []
        self._pending_times: list[float] = []  # parallel to _pending
        self._full_reason: str | None = None
        self._retry_at: float | None = None  # monotonic; no pass before this after a failure
        # Items that failed in a pass that otherwise went through: retried on their own clock.
        self._items: list[Any] = []
        self._items_at: float | None = None  # monotonic; when the failed items are retried
        self._item_rounds = 0  # passes in a row that left failed items
        self._stopping = False
        self.state = PairState(name)
        self._thread = threading.Thread(target=self._run, name=f"syncd-pair-{name}", daemon=True)

    # -- feeding work (any thread) ------------------------------------------------------------

    def add_changes(self, changes: Sequence[Any]) -> None:
        if not changes:
            return
        with self._cond:
            if any(is_overflow(c) for c in changes):
                self._request_full_locked("watcher overflow")
            else:
                self._pending.extend(changes)
                self._pending_times.extend([time.monotonic()] * len(changes))
                if len(self._pending) > self._max_batch:
                    # A burst this large is cheaper as one walk than as per-path work.
                    self._request_full_locked(f"{len(self._pending)} queued changes")
            self._publish_locked()
            self._cond.notify()

    def request_full(self, reason: str, *, now: bool = False) -> None:
        with self._cond:
            self._request_full_locked(reason)
            if now:
                self._retry_at = None
            self._publish_locked()
            self._cond.notify()

    def retry_now(self) -> None:
        """Drop the current backoff: the failed work runs at once (SIGHUP after a fix)."""
        with self._cond:
            self._retry_at = None
            self._cond.notify()

    def _request_full_locked(self, reason: str) -> None:
        if self._full_reason is None:
            self._full_reason = reason

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the worker to finish: the running pass sees ``cancel`` and returns early."""
        with self._cond:
            self._stopping = True
            self.cancel.set()
            self._cond.notify()

    def join(self, timeout: float | None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def snapshot(self, now: float | None = None) -> PairState:
        """A copy of the state. A pair that has made no progress for ``stall_after`` seconds
        (deletions held, every pass failing) shows as stalled, like refused credentials."""
        with self._cond:
            copy = PairState(**{k: getattr(self.state, k) for k in self.state.__dataclass_fields__})
            copy.passes = dict(copy.passes)
        if copy.stall_reason is None:
            _stall_if_stuck(copy, self.stall_after, time.time() if now is None else now)
        if copy.busy:
            # Operations running right now, if the syncer counts them (the engine's executor).
            copy.in_flight = int(getattr(self.syncer, "in_flight", 0) or 0)
        return copy

    # -- the thread --------------------------------------------------------------------------

    def _take_work(self) -> tuple[str | None, list[Any], list[float]] | None:
        """Block until there is work (and no backoff), or return None when stopping."""
        with self._cond:
            while True:
                if self._stopping:
                    return None
                due = self._items_at is not None and time.monotonic() >= self._items_at
                if self._items and due:
                    self._pending.extend(self._items)
                    self._pending_times.extend([time.monotonic()] * len(self._items))
                    self._items, self._items_at = [], None
                has_work = self._full_reason is not None or bool(self._pending)
                wait: float | None = None
                if has_work and self._retry_at is not None:
                    wait = self._retry_at - time.monotonic()
                if has_work and (wait is None or wait <= 0):
                    work = (self._full_reason, self._pending, self._pending_times)
                    self._full_reason, self._pending, self._pending_times = None, [], []
                    self.state.busy = "full" if work[0] else "incremental"
                    self._publish_locked()
                    return work
                if self._items_at is not None:
                    until_items = max(0.0, self._items_at - time.monotonic())
                    wait = until_items if wait is None or wait <= 0 else min(wait, until_items)
                self._cond.wait(wait)

    def _run(self) -> None:
        while (work := self._take_work()) is not None:
            full_reason, changes, times = work
            kind = "full" if full_reason is not None else "incremental"
            if full_reason is not None:
                log.info("pair %s: full reconcile (%s)", self.name, full_reason)
            started = time.monotonic()
            outcome: Any = None
            try:
                if full_reason is not None:
                    outcome = self.syncer.full_pass(self.cancel)
                else:
                    outcome = self.syncer.incremental_pass(changes, self.cancel)
            except ItemsFailed as exc:
                duration = time.monotonic() - started
                if exc.progress and not self.cancel.is_set():
                    self._succeeded(kind, changes, times, exc.outcome, duration, partial=exc)
                else:
                    self._failed(kind, full_reason, changes, times, exc, duration)
            except Exception as exc:
                self._failed(kind, full_reason, changes, times, exc, time.monotonic() - started)
            else:
                self._succeeded(kind, changes, times, outcome, time.monotonic() - started)
            self._read_holding()
            del outcome, changes, times, work  # nothing of the pass outlives it while idle
            if self._idle():
                # Going idle: the memory a pass touched (a full walk of a big tree) goes back
                # to the system now, not whenever the allocator gets round to it.
                release_memory(self.syncer)

    def _read_holding(self) -> None:
        holding = getattr(self.syncer, "holding", None)
        if holding is None:
            return
        try:
            held: Holding = holding()
        except Exception:
            log.exception("pair %s: reading what is held failed", self.name)
            return
        with self._cond:
            if held.count and held.count != self.state.held:
                log.error(
                    "pair %s: %d deletions held by a guard (%s); everything else syncs — "
                    "`syncd status --pair %s` lists them, `syncd approve --pair %s` carries "
                    "them out",
                    self.name,
                    held.count,
                    held.reason,
                    self.name,
                    self.name,
                )
            self.state.held, self.state.held_since = held.count, held.since
            self.state.held_reason = held.reason
            self._publish_locked()

    def _idle(self) -> bool:
        with self._cond:
            return not self._pending and self._full_reason is None and not self._stopping

    def _succeeded(
        self,
        kind: str,
        changes: list[Any],
        times: list[float],
        outcome: Any,
        duration: float,
        partial: ItemsFailed | None = None,
    ) -> None:
        item_delay = 0.0
        with self._cond:
            now = time.time()
            self.state.busy = None
            self.state.in_flight = 0
            self.state.last_pass = now
            self.state.passes[kind] += 1
            if kind == "full":
                self.state.last_full_reconcile = now
            if self.state.consecutive_failures:
                log.info(
                    "pair %s: caught up after %d failed attempts",
                    self.name,
                    self.state.consecutive_failures,
                )
                if kind == "incremental":
                    # Failed passes (lost answers, outages) can leave drift outside the dirty
                    # paths; one full pass (a listing per folder) repairs it now, not at the
                    # next interval.
                    self._request_full_locked("catch-up after failed passes")
            if self.state.stalled_since is not None:
                log.warning(
                    "pair %s: syncing again (%s since %s)",
                    self.name,
                    self.state.stall_reason,
                    time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.state.stalled_since)),
                )
            self.state.consecutive_failures = 0
            self.state.failing_since = None
            self.state.next_retry_in = None
            self.state.stalled_since = self.state.stall_reason = self.state.advice = None
            self._retry_at = None
            if partial is not None:
                item_delay = self._keep_failed_items_locked(partial)
            elif not self._items:
                self._item_rounds = 0
            self._publish_locked()
        if partial is not None:
            log.warning(
                "pair %s: %s pass done except %d items (%s); retrying those in %.1fs",
                self.name,
                kind,
                len(partial.retry_changes),
                partial,
                item_delay,
            )
        self._report(
            PassReport(
                self.name, kind, True, duration, outcome=outcome, changes=changes, received_at=times
            )
        )

    def _keep_failed_items_locked(self, partial: ItemsFailed) -> float:
        """Queue the failed items for a retry of their own; returns its delay. The delay grows
        only while passes keep leaving failed items (an item that can never succeed is not
        hammered), and never holds up the pair's other changes."""
        self._item_rounds += 1
        delay = min(self._retry_max, self._retry_base * 2 ** (self._item_rounds - 1))
        delay *= random.uniform(0.8, 1.2)
        self._items.extend(partial.retry_changes)
        self._items_at = time.monotonic() + delay
        self.state.last_error = f"{type(partial).__name__}: {partial}"
        self.state.last_error_at = time.time()
        self.state.next_retry_in = delay
        return delay

    def _failed(
        self,
        kind: str,
        full_reason: str | None,
        changes: list[Any],
        times: list[float],
        exc: Exception,
        duration: float,
    ) -> None:
        with self._cond:
            self.state.busy = None
            self.state.in_flight = 0
            if self.cancel.is_set():
                # Shutting down: the interrupted work is redone by the next start's full pass.
                self._publish_locked()
                return
            self.state.consecutive_failures += 1
            self.state.failing_since = self.state.failing_since or time.time()
            n = self.state.consecutive_failures
            if isinstance(exc, Stalled):
                # The syncer knows when trying again makes sense (its own backoff, jittered).
                delay = max(1.0, exc.retry_in)
                self.state.stalled_since = self.state.stalled_since or exc.since
                self.state.stall_reason = exc.reason
                self.state.advice = exc.advice
            else:
                delay = min(self._retry_max, self._retry_base * 2 ** (n - 1))
                delay = max(delay, _slow_retry(exc))
                delay *= random.uniform(0.8, 1.2)  # jitter: pairs that failed together drift
                self.state.stalled_since = self.state.stall_reason = self.state.advice = None
            self._retry_at = time.monotonic() + delay
            # Keep the work: a failed full pass stays a full pass; changes go back in front.
            if full_reason is not None:
                self._request_full_locked(full_reason)
            self._pending[:0] = changes
            self._pending_times[:0] = times
            message = f"{type(exc).__name__}: {exc}"
            self.state.last_error = message
            self.state.last_error_at = time.time()
            self.state.next_retry_in = delay
            self._publish_locked()
        if isinstance(exc, Stalled):
            log.error(
                "pair %s: stalled: %s — %s; next try in %.0fs",
                self.name,
                exc.reason,
                exc.advice,
                delay,
            )
            self._report(PassReport(self.name, kind, False, duration, error=exc, changes=changes))
            return
        # A failure only a human can fix (a guard, refused keys) is an error from the first time.
        level = logging.WARNING if n < 5 and not _slow_retry(exc) else logging.ERROR
        log.log(
            level,
            "pair %s: %s pass failed (%s); retry %d in %.1fs",
            self.name,
            kind,
            message,
            n,
            delay,
            exc_info=_want_traceback(exc),
        )
        self._report(PassReport(self.name, kind, False, duration, error=exc, changes=changes))

    def _publish_locked(self) -> None:
        self.state.queue_length = len(self._pending) + len(self._items)
        self.state.full_pending = self._full_reason is not None
        if self._on_status is not None:
            try:
                self._on_status(self.state)
            except Exception:
                log.exception("pair %s: status listener failed", self.name)

    def _report(self, report: PassReport) -> None:
        if self._on_pass is not None:
            try:
                self._on_pass(report)
            except Exception:
                log.exception("pair %s: pass listener failed", self.name)


def _stall_if_stuck(state: PairState, stall_after: float, now: float) -> None:
    """Mark ``state`` stalled when it has made no progress for ``stall_after`` seconds."""
    if state.held and state.held_since is not None and now - state.held_since >= stall_after:
        state.stalled_since = state.held_since
        state.stall_reason = f"{state.held} deletions held by a guard ({state.held_reason})"
        state.advice = (
            f"review them with `syncd status --pair {state.name}`, then `syncd approve --pair "
            f"{state.name}` (or restore the files, or mount the disk)"
        )
    elif state.failing_since is not None and now - state.failing_since >= stall_after:
        state.stalled_since = state.failing_since
        state.stall_reason = (
            f"no pass has succeeded ({state.consecutive_failures} failed in a row; last: "
            f"{state.last_error})"
        )
        state.advice = "fix the cause named in the last error (see the log), then reload (SIGHUP)"


# Failures that retrying soon cannot fix, and that must not be hammered: refused credentials
# (repeated failures can lock the account) and safety guards (a human has to look). SIGHUP with
# a fixed config, or the next scheduled reconcile, tries again sooner.
SLOW_RETRY_SECONDS = 600.0


def _slow_retry(exc: BaseException) -> float:
    from syncd.errors import CredentialError, GuardRefused
    from syncd.remote.errors import AuthError

    if isinstance(exc, AuthError | CredentialError | GuardRefused):
        return SLOW_RETRY_SECONDS
    return 0.0


def _want_traceback(exc: BaseException) -> bool:
    """Expected failures (network, host errors) log one line; anything else is a bug: full trace."""
    from syncd.errors import UserError
    from syncd.remote.errors import RemoteError

    return not isinstance(exc, RemoteError | UserError | OSError | TimeoutError)
