"""`syncd run`: the long-running daemon.

Wiring, per pair: watcher ──changes──▶ PairWorker ◀──request_full── APScheduler interval job.
The worker thread is the only place the pair's passes run (see
:mod:`syncd.daemon.pair_worker`), so the incremental path and the periodic full reconcile
are serialised per pair.

The main thread owns the lifecycle: it holds the state-DB lock, waits on a self-pipe for signals
(SIGTERM/SIGINT stop, SIGHUP reloads), supervises watchers and workers, publishes status to the
journal for `syncd status`, and pings systemd's watchdog.
"""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import os
import select
import signal
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from syncd.daemon.metrics import DaemonMetrics, MetricsServer
from syncd.daemon.pair_worker import PairState, PairWorker, PassReport
from syncd.daemon.sdnotify import SystemdNotifier
from syncd.daemon.seams import (
    DEFAULT_SHUTDOWN_GRACE,
    SCHEDULED,
    Backend,
    DaemonSettings,
    LoadSettings,
    OpenBackend,
    PairSpec,
    StartWatcher,
    Watch,
    config_changes,
    restart_needed,
    with_state_path,
)
from syncd.journal.lock import AlreadyRunning, StateLock
from syncd.journal.rows import DaemonStatus
from syncd.remote.bandwidth import DAYS, UNLIMITED, Bandwidth

log = logging.getLogger(__name__)

SUPERVISE_EVERY = 1.0  # seconds between supervision rounds of the main loop
STATUS_EVERY = 1.0  # at most this often is status written to the journal
WATCH_RETRY_EVERY = 30.0  # seconds between attempts to start a watcher that failed
BANDWIDTH_JOB = "bwlimit:"  # id prefix of the time table's cron jobs


# -- one pair at run time --------------------------------------------------------------------


@dataclass
class _PairRuntime:
    spec: PairSpec
    worker: PairWorker
    watch: Watch | None = None
    next_watch_attempt: float = 0.0  # monotonic; a failing watcher is retried, not hammered

    @property
    def job_id(self) -> str:
        return f"full-reconcile:{self.spec.name}"

    @property
    def window_job_id(self) -> str:
        return f"full-pass-window:{self.spec.name}"


class Daemon:
    def __init__(
        self,
        *,
        load_settings: LoadSettings,
        open_backend: OpenBackend,
        start_watcher: StartWatcher,
        notifier: SystemdNotifier | None = None,
    ) -> None:
        self._load_settings = load_settings
        self._open_backend = open_backend
        self._start_watcher = start_watcher
        self.notifier = notifier or SystemdNotifier()
        self.metrics = DaemonMetrics()
        self.settings: DaemonSettings | None = None
        self.backend: Backend | None = None
        self.pairs: dict[str, _PairRuntime] = {}
        self._scheduler: BackgroundScheduler | None = None
        self._metrics_server: MetricsServer | None = None
        self._lock: StateLock | None = None
        self._signals: list[int] = []
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._status_dirty = threading.Event()
        self._status_written = 0.0
        self._last_watchdog = 0.0
        self._bandwidth_lock = threading.Lock()
        self._bandwidth: Bandwidth | None = None  # the limit last applied

    # -- entry point ---------------------------------------------------------------------------

    def run(self) -> int:
        """Run in the foreground until SIGTERM/SIGINT; returns the process exit code."""
        settings = self._load_settings()
        self._lock = StateLock(settings.state_path)
        self._lock.acquire()  # AlreadyRunning propagates: the CLI prints it and exits 2
        try:
            self._install_signal_handlers()
            self.settings = settings
            self.backend = self._open_backend(settings, self.metrics)
            self._check_credentials()
            self._start_scheduler()
            self._schedule_bandwidth("start")
            self._start_metrics(settings)
            for spec in settings.pairs:
                self._add_pair(spec)
            names = ", ".join(self.pairs) or "none"
            log.info("syncd daemon running (pid %d), pairs: %s", os.getpid(), names)
            self.notifier.ready(self._status_line())
            self._main_loop()
            return self._shutdown()
        finally:
            self._lock.release()

    def _check_credentials(self) -> None:
        """Wrong keys at start: exit 2 now (a supervisor restarting us cannot fix them), rather
        than run and sync nothing. Later refusals (a lockout, revoked keys) stall the pairs."""
        check = getattr(self.backend, "check_credentials", None)
        if check is None:
            return
        try:
            check()
        except BaseException:
            assert self.backend is not None
            with contextlib.suppress(Exception):
                self.backend.close()
            self.backend = None
            raise

    # -- pairs ----------------------------------------------------------------------------------

    def _add_pair(self, spec: PairSpec) -> None:
        assert self.backend is not None and self.settings is not None
        syncer = self.backend.make_syncer(spec)
        worker = PairWorker(
            spec.name, syncer, on_status=self._on_pair_status, on_pass=self._on_pass
        )
        runtime = _PairRuntime(spec, worker)
        self.pairs[spec.name] = runtime
        worker.start()
        # Watch first, then reconcile: a change made during the start-up walk is not lost.
        self._start_watch(runtime)
        self._schedule_full(runtime)
        # The start-up run, whatever the window: events from before the start are only found
        # by a full pass. Straight into the worker, not through the scheduler's clock.
        worker.request_full("start-up")

    def _start_watch(self, runtime: _PairRuntime) -> None:
        assert self.settings is not None
        runtime.next_watch_attempt = time.monotonic() + WATCH_RETRY_EVERY
        try:
            runtime.watch = self._start_watcher(
                runtime.spec, self.settings, runtime.worker.add_changes
            )
        except Exception as exc:
            # No watcher (root missing, permissions): the periodic reconcile still runs, and
            # supervision retries the watcher every round.
            runtime.watch = None
            log.error("pair %s: cannot watch %s: %s", runtime.spec.name, runtime.spec.local, exc)

    def _remove_pair(self, name: str, grace: float) -> None:
        runtime = self.pairs.pop(name)
        self._unschedule_full(runtime)
        if runtime.watch is not None:
            runtime.watch.stop()
        runtime.worker.stop()
        if not runtime.worker.join(grace):
            log.warning("pair %s: pass still running after %.0fs; left behind", name, grace)

    # -- scheduling -----------------------------------------------------------------------------

    def _start_scheduler(self) -> None:
        # "Running job ... executed successfully" for every tick is noise; errors still show.
        logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
        self._scheduler = BackgroundScheduler(
            daemon=True, job_defaults={"coalesce": True, "max_instances": 1}
        )
        self._scheduler.add_listener(self._on_job_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
        self._scheduler.start()

    def _schedule_full(self, runtime: _PairRuntime) -> None:
        """Periodic full passes: every ``reconcile_interval``, or, with a ``full_pass_window``,
        only inside it: a cron job opens the window each day and an interval job ending with
        the window runs the passes. Incremental passes are not affected."""
        assert self._scheduler is not None and self.settings is not None
        self._unschedule_full(runtime)
        window = self.settings.full_pass_window
        if window is None:
            self._schedule_interval(runtime, until=None)
            return
        hour, minute = divmod(window.start, 60)
        self._scheduler.add_job(
            self._open_window,
            CronTrigger(hour=hour, minute=minute),
            args=[runtime.spec.name],
            id=runtime.window_job_id,
            name=f"full-pass window of {runtime.spec.name}",
            replace_existing=True,
            misfire_grace_time=None,  # a late run checks the window itself
        )
        now = datetime.now(self._scheduler.timezone)
        if window.contains(now.hour * 60 + now.minute):
            self._schedule_interval(runtime, until=window_end(window, now))

    def _open_window(self, name: str) -> None:
        runtime = self.pairs.get(name)
        window = self.settings.full_pass_window if self.settings else None
        if runtime is None or window is None or self._scheduler is None:
            return
        now = datetime.now(self._scheduler.timezone)
        if not window.contains(now.hour * 60 + now.minute):
            return  # woken after the window closed (a suspended machine): wait for tomorrow's
        log.info("pair %s: full-pass window %s open", name, window)
        runtime.worker.request_full("full-pass window")
        self._schedule_interval(runtime, until=window_end(window, now))

    def _schedule_interval(self, runtime: _PairRuntime, until: datetime | None) -> None:
        """Interval job that only queues a full pass: the worker runs it, never the scheduler
        thread, so a long reconcile cannot make the next run misfire or overlap. ``until``: the
        job ends there (the window closes)."""
        assert self._scheduler is not None and self.settings is not None
        interval = self.settings.reconcile_interval
        if until is not None and datetime.now(until.tzinfo) + timedelta(seconds=interval) > until:
            return  # no periodic pass fits before the window closes
        self._scheduler.add_job(
            runtime.worker.request_full,
            "interval",
            seconds=interval,
            end_date=until,
            args=["scheduled"],
            id=runtime.job_id,
            name=f"full reconcile of {runtime.spec.name}",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(1, int(interval * 0.9)),
        )

    def _unschedule_full(self, runtime: _PairRuntime) -> None:
        if self._scheduler is None:
            return
        for job_id in (runtime.job_id, runtime.window_job_id):
            with contextlib.suppress(Exception):
                self._scheduler.remove_job(job_id)

    # -- bandwidth --------------------------------------------------------------------------

    def _schedule_bandwidth(self, why: str) -> None:
        """Apply ``[sync] bwlimit`` now and let cron jobs carry its time table's switches."""
        assert self._scheduler is not None and self.settings is not None
        for job in self._scheduler.get_jobs():
            if job.id.startswith(BANDWIDTH_JOB):
                job.remove()
        limit = self.settings.bwlimit
        if limit is not None and limit.timed:
            for switch in limit.switches:
                hour, minute = switch.hour_minute
                day = "*" if switch.day is None else DAYS[switch.day]
                self._scheduler.add_job(
                    self._apply_bandwidth,
                    CronTrigger(day_of_week=day, hour=hour, minute=minute),
                    args=["time table"],
                    id=f"{BANDWIDTH_JOB}{day}-{hour:02d}:{minute:02d}",
                    name=f"bandwidth switch {day} {hour:02d}:{minute:02d}",
                    replace_existing=True,
                    # Late (a suspended machine) is still right: the job reads the table anew.
                    misfire_grace_time=None,
                )
        self._apply_bandwidth(why)

    def _apply_bandwidth(self, why: str) -> None:
        """The limit the table gives for now, into the backend's client (one shared bucket)."""
        apply = getattr(self.backend, "set_bandwidth", None)
        if apply is None or self.settings is None or self._scheduler is None:
            return
        limit = self.settings.bwlimit
        now = datetime.now(self._scheduler.timezone)
        bandwidth = UNLIMITED if limit is None else limit.at(now)
        with self._bandwidth_lock:
            apply(bandwidth)
            before, self._bandwidth = self._bandwidth, bandwidth
        if bandwidth != before and (before is not None or bandwidth.limited):
            table = f", time table {limit}" if limit is not None and limit.timed else ""
            log.info("bandwidth limit now %s (%s%s)", bandwidth, why, table)

    def _on_job_event(self, event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_MISSED:
            log.warning(
                "scheduler: job %s missed its run at %s", event.job_id, event.scheduled_run_time
            )
        else:
            log.error(
                "scheduler: job %s failed: %r",
                event.job_id,
                event.exception,
                exc_info=event.exception,
            )

    # -- observers of the workers -------------------------------------------------------------

    def _on_pair_status(self, state: PairState) -> None:
        # Called under the worker's lock: only cheap things here; the journal write is batched.
        self.metrics.queue_length.labels(state.name).set(state.queue_length)
        self.metrics.in_flight.labels(state.name).set(state.in_flight)
        self._status_dirty.set()
        self._wake()

    def _on_pass(self, report: PassReport) -> None:
        m = self.metrics
        m.passes.labels(report.pair, report.kind, "ok" if report.ok else "failed").inc()
        if report.ok and report.kind == "full":
            m.last_full_reconcile.labels(report.pair).set(time.time())
        # Ops and bytes are counted as they happen by the engine's progress hook (see
        # syncd.daemon.backend.DaemonProgress); here only what a pass as a whole says.
        if report.ok and report.received_at:
            # The watcher hands a change over `quiet_period` after its last event; add that
            # back to estimate event -> remote.
            quiet = self._quiet_period()
            now = time.monotonic()
            for received in report.received_at:
                m.event_latency.labels(report.pair).observe(max(0.0, now - received + quiet))

    def _quiet_period(self) -> float:
        config = self.settings.config if self.settings else None
        return float(getattr(getattr(config, "sync", None), "quiet_period", 0.0) or 0.0)

    # -- main loop ------------------------------------------------------------------------------

    def _install_signal_handlers(self) -> None:
        # `kill -USR1 <pid>` prints every thread's stack to stderr: a hung daemon explains itself.
        faulthandler.register(signal.SIGUSR1, all_threads=True)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, _frame: object) -> None:
        # Only record and wake: the main loop does the work outside the handler.
        self._signals.append(signum)
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"!")

    def _main_loop(self) -> None:
        ping = self.notifier.watchdog_interval
        while True:
            timeout = SUPERVISE_EVERY if ping is None else min(SUPERVISE_EVERY, ping)
            with contextlib.suppress(InterruptedError):
                select.select([self._wake_r], [], [], timeout)
            with contextlib.suppress(BlockingIOError, OSError):
                os.read(self._wake_r, 4096)
            while self._signals:
                signum = self._signals.pop(0)
                if signum in (signal.SIGTERM, signal.SIGINT):
                    log.info("received %s: stopping", signal.Signals(signum).name)
                    return
                if signum == signal.SIGHUP:
                    self._reload()
            healthy = self._supervise()
            if any(r.worker.state.busy for r in self.pairs.values()):
                self._status_dirty.set()  # in-flight counts move while a pass runs
            self._publish_status()
            if ping is not None and healthy and time.monotonic() - self._last_watchdog >= ping:
                self.notifier.watchdog()
                self._last_watchdog = time.monotonic()

    def _supervise(self) -> bool:
        """Restart dead watchers and workers; True when everything is running."""
        healthy = True
        for runtime in self.pairs.values():
            if not runtime.worker.is_alive():
                healthy = False
                log.error("pair %s: worker thread died; restarting it", runtime.spec.name)
                old = runtime.worker
                runtime.worker = PairWorker(
                    old.name, old.syncer, on_status=self._on_pair_status, on_pass=self._on_pass
                )
                runtime.worker.start()
                runtime.worker.request_full("worker restarted")
                if runtime.watch is not None:
                    runtime.watch.stop()
                    runtime.watch = None
                if self._scheduler is not None and self.settings is not None:
                    self._schedule_full(runtime)
            if runtime.watch is None or not runtime.watch.is_alive():
                healthy = False
                if runtime.watch is not None:
                    log.error("pair %s: watcher stopped; restarting it", runtime.spec.name)
                    with contextlib.suppress(Exception):
                        runtime.watch.stop()
                if time.monotonic() >= runtime.next_watch_attempt:
                    self._start_watch(runtime)
                    if runtime.watch is not None:
                        # Events were lost while it was down.
                        runtime.worker.request_full("watcher restarted")
        return healthy

    def _publish_status(self, force: bool = False, *, running: bool = True) -> None:
        if time.monotonic() - self._status_written >= DaemonStatus.HEARTBEAT:
            force = True  # a heartbeat: health checks read the row's age
        if not self._status_dirty.is_set() and not force:
            return
        if not force and time.monotonic() - self._status_written < STATUS_EVERY:
            return
        self._status_dirty.clear()
        self._status_written = time.monotonic()
        if self.backend is not None:
            for name, runtime in list(self.pairs.items()):
                try:
                    snapshot = runtime.worker.snapshot()
                    self.metrics.in_flight.labels(name).set(snapshot.in_flight)
                    self.backend.write_status(name, snapshot, running=running)
                except Exception as exc:
                    log.warning("could not write status of pair %s: %s", name, exc)
        self.notifier.status(self._status_line())

    def _status_line(self) -> str:
        states = [r.worker.snapshot() for r in self.pairs.values()]
        queued = sum(s.queue_length for s in states)
        busy = sum(1 for s in states if s.busy)
        failing = sum(1 for s in states if s.consecutive_failures and not s.stall_reason)
        text = f"{len(states)} pairs, {queued} changes queued, {busy} syncing"
        text += f", {failing} failing (retrying)" if failing else ""
        stalled = [s for s in states if s.stall_reason]
        if stalled:
            first = stalled[0]
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(first.stalled_since or 0))
            text = (
                f"STALLED ({len(stalled)} of {len(states)} pairs): {first.stall_reason} since "
                f"{since} — {first.advice}; {text}"
            )
        return text

    def health(self) -> tuple[bool, dict[str, Any]]:
        pairs = {}
        ok = True
        problems = []
        for name, runtime in list(self.pairs.items()):
            s = runtime.worker.snapshot()
            alive = runtime.worker.is_alive() and runtime.watch is not None
            ok = ok and alive and not s.stall_reason
            if s.stall_reason:
                problems.append(f"{name}: {s.stall_reason} — {s.advice}")
            elif not alive:
                problems.append(f"{name}: worker or watcher not running")
            pairs[name] = {
                "running": alive,
                "up_to_date": s.up_to_date,
                "queue_length": s.queue_length,
                "last_full_reconcile": s.last_full_reconcile,
                "last_error": s.last_error,
                "consecutive_failures": s.consecutive_failures,
                "stalled_since": s.stalled_since,
                "stall_reason": s.stall_reason,
                "advice": s.advice,
                "next_retry_in": s.next_retry_in,
            }
        return ok, {"pairs": pairs, "problems": problems}

    def _start_metrics(self, settings: DaemonSettings) -> None:
        if self._metrics_server is not None or not settings.metrics_addr:
            return
        try:
            self._metrics_server = MetricsServer(settings.metrics_addr, self.metrics, self.health)
            self._metrics_server.start()
        except (OSError, ValueError) as exc:
            log.error("metrics endpoint disabled: %s", exc)
            self._metrics_server = None

    # -- reload ---------------------------------------------------------------------------------

    def _reload(self) -> None:
        assert self.settings is not None
        self.notifier.reloading()
        try:
            new = self._load_settings()
        except Exception as exc:
            log.error("SIGHUP: new configuration rejected, keeping the running one: %s", exc)
            self.notifier.ready(self._status_line())
            return
        old = self.settings
        changes = config_changes(old.config, new.config)
        later = restart_needed(changes)
        if later:
            log.warning(
                "SIGHUP: %s changed; that takes effect at the next start (restart syncd); "
                "everything else is applied now",
                ", ".join(later),
            )
        if new.state_path != old.state_path:
            new = with_state_path(new, old.state_path)
        self.settings = new
        if new.remote_fingerprint != old.remote_fingerprint:
            what = ", ".join(c for c in changes if c.startswith(("remote.", "sync.workers")))
            log.info("SIGHUP: %s changed; reconnecting all pairs", what or "[remote]")
            self._restart_backend(new)
        else:
            apply = getattr(self.backend, "apply_settings", None)
            if apply is not None:
                apply(new)  # the pairs restarted below are built from the new settings
            old_pairs = {p.name: p for p in old.pairs}
            new_pairs = {p.name: p for p in new.pairs}
            for name in old_pairs.keys() - new_pairs.keys():
                log.info("SIGHUP: pair %s removed", name)
                self._remove_pair(name, new.shutdown_grace)
            for name, spec in new_pairs.items():
                if name not in old_pairs:
                    log.info("SIGHUP: pair %s added", name)
                    self._add_pair(spec)
                elif spec.fingerprint != old_pairs[name].fingerprint:
                    mine = [
                        c
                        for c in changes
                        if c.startswith((f"pairs[{name}].", "sync."))
                        and c.removeprefix("sync.") not in SCHEDULED
                    ]
                    log.info(
                        "SIGHUP: pair %s changed (%s); restarting it with the new settings",
                        name,
                        ", ".join(mine) or "settings",
                    )
                    self._remove_pair(name, new.shutdown_grace)
                    self._add_pair(spec)
                elif (new.reconcile_interval, new.full_pass_window) != (
                    old.reconcile_interval,
                    old.full_pass_window,
                ):
                    self._schedule_full(self.pairs[name])
        if new.full_pass_window != old.full_pass_window:
            log.info("SIGHUP: full-pass window now %s", new.full_pass_window or "none (all day)")
        self._schedule_bandwidth("SIGHUP")
        self._retry_refused_credentials()
        if new.metrics_addr != old.metrics_addr:
            if self._metrics_server is not None:
                self._metrics_server.stop()
                self._metrics_server = None
            self._start_metrics(new)
        log.info("SIGHUP: configuration reloaded (%d pairs)", len(self.pairs))
        self.notifier.ready(self._status_line())

    def _retry_refused_credentials(self) -> None:
        """SIGHUP is how a user says "fixed it": a pair stalled on refused credentials tries
        again now, not at the end of its (long) backoff."""
        retry = getattr(self.backend, "retry_credentials_now", None)
        if retry is None or not retry():
            return
        log.info("SIGHUP: trying the refused credentials again now")
        for runtime in self.pairs.values():
            runtime.worker.retry_now()

    def _restart_backend(self, settings: DaemonSettings) -> None:
        for name in list(self.pairs):
            self._remove_pair(name, settings.shutdown_grace)
        if self.backend is not None:
            self.backend.close()
        self.backend = self._open_backend(settings, self.metrics)
        for spec in settings.pairs:
            self._add_pair(spec)

    # -- shutdown -------------------------------------------------------------------------------

    def _shutdown(self) -> int:
        grace = self.settings.shutdown_grace if self.settings else DEFAULT_SHUTDOWN_GRACE
        self.notifier.stopping("stopping: finishing in-flight requests")
        for runtime in self.pairs.values():
            if runtime.watch is not None:
                with contextlib.suppress(Exception):
                    runtime.watch.stop()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        for runtime in self.pairs.values():
            runtime.worker.stop()
        deadline = time.monotonic() + grace
        stuck = [
            name
            for name, runtime in self.pairs.items()
            if not runtime.worker.join(max(0.0, deadline - time.monotonic()))
        ]
        if stuck:
            log.warning(
                "stopping after the %.0fs grace period with passes still running (%s); "
                "the next start finishes their work",
                grace,
                ", ".join(stuck),
            )
        self._publish_status(force=True, running=False)
        if self._metrics_server is not None:
            self._metrics_server.stop()
        if self.backend is not None:
            try:
                self.backend.close()
            except Exception as exc:
                log.warning("while closing: %s", exc)
        log.info("syncd daemon stopped")
        self.notifier.close()
        if stuck:
            # Worker threads (and any pool threads of the engine) would block interpreter exit.
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            assert self._lock is not None
            self._lock.release()
            os._exit(0)
        return 0


def window_end(window: Any, now: datetime) -> datetime:
    """When the window (a syncd.config.TimeWindow) that holds ``now`` closes."""
    end = now.replace(hour=window.end // 60, minute=window.end % 60, second=0, microsecond=0)
    return end if end > now else end + timedelta(days=1)


__all__ = [
    "AlreadyRunning",
    "Backend",
    "Daemon",
    "DaemonSettings",
    "PairSpec",
    "Watch",
]
