"""Watches one pair root with watchdog and hands out `Change`s after a quiet period.

One `Watcher` per root. It owns a watchdog observer (inotify on Linux; watchdog's native choice
elsewhere), a `ChangeCoalescer` (the rules: see `syncd.local.coalesce`) and one background thread
that supervises the observer and, when an `on_changes` callback is given, delivers ready changes
to it. Without a callback, call `drain(timeout)`.

The platform's limits (found in watchdog's sources and issue tracker):

* watchdog 7.x fails watches on subdirectories *silently* past `fs.inotify.max_user_watches`:
  the directories are counted first (at start and every `recheck_interval`) and, past the limit
  minus a margin, or when starting the native observer fails with ENOSPC/EMFILE, the root is
  watched by watchdog's PollingObserver instead, with ONE warning naming the sysctls.
* A kernel queue overflow is only logged by watchdog ("Inotify queue overflowed"): a
  `logging.Handler` on watchdog's logger turns that record into an `overflow` change.
* An exception in an event handler kills watchdog's dispatcher thread silently: the handler
  catches everything (and reports `overflow`, since an event was lost), and the supervisor
  restarts a dead observer (again reporting `overflow`).
* watchdog adds a new directory's watch at the path its queued event names. When an ancestor
  was renamed in between (`mkdir a/new; mv a b`, microseconds apart: 47 to 50 of 50 such
  directories went unwatched with watchdog 7.1), or a directory moved into one not watched yet,
  the watch fails or is dropped without a word, and nothing inside is ever reported again. So
  once directories stop being created and moved for `AUDIT_SETTLE` seconds, the tree is
  compared with the kernel's list of watches (`unwatched_directories`); a directory missing
  there restarts the observer (every watch added again at today's paths) and reports
  `overflow` for what was missed. A directory still missing right after that cannot be watched
  at all: it is named once in a warning and left to the periodic full pass.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Protocol

from watchdog.events import (
    EVENT_TYPE_ATTRIB,
    EVENT_TYPE_CLOSED,
    EVENT_TYPE_CREATED,
    EVENT_TYPE_DELETED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    DirAttribEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from syncd.local.coalesce import Change, ChangeCoalescer
from syncd.local.watch_limits import (
    LIMIT_ERRNOS,
    count_directories,
    default_watch_limit,
    limit_warning,
    unwatched_directories,
)

log = logging.getLogger(__name__)

# watchdog 7.1 warns (RuntimeWarning) when `mkdir -p` races its recursive watch registration and a
# callback is registered twice; it is harmless and would otherwise print on every such burst.
warnings.filterwarnings(
    "ignore", message=r"Callback with id .* already exists", category=RuntimeWarning
)

DEFAULT_QUIET = 0.5
DEFAULT_UNCLOSED_TIMEOUT = 10.0
DEFAULT_POLL_INTERVAL = 2.0
DEFAULT_SUPERVISE_INTERVAL = 1.0
DEFAULT_RECHECK_INTERVAL = 300.0
# Never rescan the pending set more often than this, so a burst of 100k events stays cheap.
MIN_DELIVERY_GAP = 0.05
MIN_QUIET_GAP = 0.002  # the floor of that gap when the quiet period is shorter
# The watch audit (module docstring): after this long without directory creations and moves, and
# never more often than every AUDIT_MIN_GAP seconds or AUDIT_COST_FACTOR times its own last
# duration (a walk of 1,000 directories takes about 5 ms here; 100,000 about half a second).
AUDIT_SETTLE = 1.0
AUDIT_MIN_GAP = 5.0
AUDIT_COST_FACTOR = 20.0

# watchdog's loggers that report a lost-event condition.
_WATCHDOG_LOGGERS = ("watchdog.observers.inotify_c", "watchdog.observers.inotify")
_OVERFLOW_TEXT = "queue overflowed"

ObserverFactory = Callable[[], BaseObserver]
ChangesCallback = Callable[[Sequence[Change]], None]


class IgnoreMatcher(Protocol):
    def matches(self, relpath: str, is_dir: bool) -> bool: ...


class Watcher:
    """Watch `root` recursively; changes become ready `quiet` seconds after their last event.

    `watch_limit`: usable inotify watches for this root (None: read
    /proc/sys/fs/inotify/max_user_watches minus a margin; only on Linux). `observer_factory`
    builds the native observer (tests inject one that raises `OSError(errno.ENOSPC)`).
    `mode` after `start()` is "native" or "polling".
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        ignore: IgnoreMatcher | None = None,
        on_changes: ChangesCallback | None = None,
        quiet: float = DEFAULT_QUIET,
        unclosed_timeout: float = DEFAULT_UNCLOSED_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        force_polling: bool = False,
        watch_limit: int | None = None,
        observer_factory: ObserverFactory | None = None,
        supervise_interval: float = DEFAULT_SUPERVISE_INTERVAL,
        recheck_interval: float = DEFAULT_RECHECK_INTERVAL,
        name: str | None = None,
    ) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self.name = name or self.root
        self._prefix = self.root.rstrip(os.sep) + os.sep
        self._ignore = ignore
        self._on_changes = on_changes
        self._quiet = quiet
        self._poll_interval = poll_interval
        self._watch_limit = watch_limit
        self._native_factory = observer_factory or Observer
        self._supervise_interval = supervise_interval
        self._recheck_interval = recheck_interval
        # A quiet period shorter than the gap (0.01 s, 0) must not wait out the whole gap.
        self._delivery_gap = min(MIN_DELIVERY_GAP, max(quiet, MIN_QUIET_GAP))

        self._cond = threading.Condition()
        self._coalescer = ChangeCoalescer(
            quiet + poll_interval if force_polling else quiet, unclosed_timeout
        )
        self._observer: BaseObserver | None = None
        self._observer_lock = threading.Lock()
        self.mode: str = "polling" if force_polling else "native"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._handler = _EventHandler(self)
        self._log_hook = _OverflowLogHook(self)
        self._warned_limit = False
        self._restart_failing = False
        self._next_recheck = 0.0
        # Directories only get more through creations and moves in: without one since the last
        # count, the periodic recount (a walk of the whole tree) is skipped.
        self._dirs_added = False
        # The watch audit: when directories last appeared or moved (None: audited since), when
        # the next audit may run, and directories found not watchable (by inode).
        self._dirs_moved_at: float | None = None
        self._next_audit = 0.0
        self._unwatchable: frozenset[int] = frozenset()
        self._rewatched: dict[int, str] = {}  # what the last restart was for

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Watcher:
        """Start watching. Raises OSError if the root cannot be watched at all (e.g. missing)."""
        if not os.path.isdir(self.root):
            raise FileNotFoundError(errno.ENOENT, "watch root is not a directory", self.root)
        for name in _WATCHDOG_LOGGERS:
            wd_logger = logging.getLogger(name)
            wd_logger.addHandler(self._log_hook)
            if wd_logger.getEffectiveLevel() > logging.WARNING:
                wd_logger.setLevel(logging.WARNING)  # the overflow record must be created
        try:
            self._start_observer()
        except BaseException:
            self._remove_log_hook()
            raise
        self._next_recheck = time.monotonic() + self._recheck_interval
        self._thread = threading.Thread(
            target=self._run, name=f"syncd-watch-{os.path.basename(self.root)}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        with self._observer_lock:
            observer, self._observer = self._observer, None
        if observer is not None:
            _stop_observer(observer, timeout)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._remove_log_hook()

    def is_alive(self) -> bool:
        """True while watching (the observer itself is supervised and restarted inside)."""
        return not self._stop.is_set() and self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> Watcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def observer(self) -> BaseObserver | None:
        """The watchdog observer in use right now (diagnostics and fault-injection tests)."""
        return self._observer

    # -- output ---------------------------------------------------------------------------------

    def drain(self, timeout: float | None = None) -> list[Change]:
        """Wait up to `timeout` seconds (None: forever) for changes to become ready; return
        them all (possibly none on timeout). Only for watchers without `on_changes`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                now = time.monotonic()
                ready = self._coalescer.pop_ready(now)
                if ready or self._stop.is_set():
                    return ready
                if deadline is not None and now >= deadline:
                    return []
                wait = self._wait_time(now, deadline)
                self._cond.wait(None if wait is None else max(wait, 0.001))

    def pending_count(self) -> int:
        """Paths and moves waiting for their quiet period (for status / metrics)."""
        with self._cond:
            return len(self._coalescer)

    # -- event input (watchdog's dispatcher thread) ---------------------------------------------

    def _relpath(self, path: str | bytes) -> str | None:
        path = os.fsdecode(path)
        if path == self.root:
            return ""
        if not path.startswith(self._prefix):
            return None
        rel = path[len(self._prefix) :]
        if os.sep != "/":
            rel = rel.replace(os.sep, "/")
        try:
            rel.encode("utf-8")
        except UnicodeEncodeError:
            return None  # not valid UTF-8: the scanner reports it; we cannot sync it anyway
        return rel

    def _ignored(self, relpath: str, is_dir: bool) -> bool:
        ignore = self._ignore
        return ignore is not None and ignore.matches(relpath, is_dir)

    def _on_event(self, event: FileSystemEvent) -> None:
        if event.is_synthetic:
            return  # children of a moved/created directory: the directory stands for them
        kind = event.event_type
        is_dir = event.is_directory
        if is_dir and kind in (EVENT_TYPE_CREATED, EVENT_TYPE_MOVED):
            self._dirs_added = True  # ignored ones too: watchdog watches them as well
            self._dirs_moved_at = time.monotonic()
        if is_dir and kind in (EVENT_TYPE_MODIFIED, EVENT_TYPE_ATTRIB, EVENT_TYPE_CLOSED):
            return  # a directory's own mtime/mode: its children's events say what changed
        if kind not in _HANDLED:
            return  # opened, closed without writing
        src = self._relpath(event.src_path)
        if src is None:
            return
        if src == "":
            if kind in (EVENT_TYPE_DELETED, EVENT_TYPE_MOVED):
                self._report_overflow("the watched root itself was removed or moved")
            return
        now = time.monotonic()
        if kind == EVENT_TYPE_MOVED:
            dest = self._relpath(event.dest_path) if event.dest_path else None
            src_ignored = self._ignored(src, is_dir)
            if dest is None or dest == "":  # moved out of the root (full-events emitters)
                if not src_ignored:
                    with self._cond:
                        was_idle = len(self._coalescer) == 0
                        self._coalescer.deleted(src, is_dir, now)
                        if was_idle:
                            self._cond.notify_all()
                return
            dest_ignored = self._ignored(dest, is_dir)
            with self._cond:
                was_idle = len(self._coalescer) == 0
                self._coalescer.moved(
                    src, dest, is_dir, now, src_ignored=src_ignored, dest_ignored=dest_ignored
                )
                if was_idle:
                    self._cond.notify_all()
            return
        if self._ignored(src, is_dir):
            return
        with self._cond:
            c = self._coalescer
            # Waiters sleep until the earliest due time; a new event can only make something
            # due *earlier* when nothing was pending or when a close ends a write.
            wake = len(c) == 0 or kind == EVENT_TYPE_CLOSED
            if kind == EVENT_TYPE_CREATED:
                c.created(src, is_dir, now)
            elif kind == EVENT_TYPE_DELETED:
                c.deleted(src, is_dir, now)
            elif kind == EVENT_TYPE_MODIFIED:
                c.modified(src, now, expect_close=self.mode == "native")
            elif kind == EVENT_TYPE_CLOSED:
                c.closed(src, now)
            elif kind == EVENT_TYPE_ATTRIB:
                c.attrib(src, now)
            if wake:
                self._cond.notify_all()

    def _report_overflow(self, reason: str) -> None:
        log.warning(
            "watcher %s: events may have been lost (%s); asking for a full reconcile",
            self.name,
            reason,
        )
        with self._cond:
            self._coalescer.overflow()
            self._cond.notify_all()

    # -- observer management --------------------------------------------------------------------

    def _start_observer(self) -> None:
        if self.mode == "native":
            problem = self._watch_limit_problem()
            if problem is not None:
                self._fall_back(problem)
            else:
                try:
                    self._observer = self._launch(self._native_factory)
                    return
                except OSError as exc:
                    if exc.errno not in LIMIT_ERRNOS:
                        raise
                    what = "watch" if exc.errno == errno.ENOSPC else "instance"
                    self._fall_back(f"starting inotify failed: {what} limit reached ({exc})")
        self._observer = self._launch(self._polling_factory)

    def _polling_factory(self) -> BaseObserver:
        return PollingObserver(timeout=self._poll_interval)

    def _launch(self, factory: ObserverFactory) -> BaseObserver:
        observer = factory()
        try:
            observer.schedule(self._handler, self.root, recursive=True, event_filter=_EVENT_FILTER)
            observer.start()
        except BaseException:
            _stop_observer(observer, 1.0)
            raise
        return observer

    def _watch_limit_problem(self) -> str | None:
        limit = self._watch_limit if self._watch_limit is not None else default_watch_limit()
        if limit is None:
            return None
        dirs = count_directories(self.root, stop_after=limit)
        if dirs > limit:
            return f"the root holds more than {limit} directories, the usable inotify watches"
        return None

    def _fall_back(self, reason: str) -> None:
        self.mode = "polling"
        # A file being written shows up as a modification per poll: the quiet period must
        # outlast one poll interval, and polling reports no closes.
        with self._cond:
            self._coalescer.quiet = self._quiet + self._poll_interval
        if not self._warned_limit:
            self._warned_limit = True
            log.warning(
                "%s",
                limit_warning(
                    self.root,
                    reason,
                    f"Falling back to polling this root every {self._poll_interval:g} s "
                    "(slower to notice changes, more CPU); the periodic full reconcile still runs.",
                ),
            )

    # -- supervision and delivery (our thread) --------------------------------------------------

    def _run(self) -> None:
        next_supervise = time.monotonic() + self._supervise_interval
        while not self._stop.is_set():
            try:
                now = time.monotonic()
                if now >= next_supervise:
                    self._supervise(now)
                    self._audit_watches(now)
                    next_supervise = now + self._supervise_interval
                if self._on_changes is not None:
                    self._deliver()
                with self._cond:
                    if self._stop.is_set():
                        break
                    now = time.monotonic()
                    timeout = next_supervise - now
                    due = self._coalescer.next_due() if self._on_changes is not None else None
                    if due is not None:
                        timeout = min(timeout, max(due - now, self._delivery_gap))
                    self._cond.wait(max(timeout, 0.0))
            except Exception:  # never let the supervisor die: it is what keeps watching alive
                log.exception("watcher %s: supervisor error", self.name)
                self._stop.wait(self._supervise_interval)

    def _audit_watches(self, now: float) -> None:
        """Restart the observer if directories went unwatched (module docstring)."""
        moved_at = self._dirs_moved_at
        if (
            self.mode != "native"
            or moved_at is None
            or now - moved_at < AUDIT_SETTLE
            or now < self._next_audit
        ):
            return
        self._dirs_moved_at = None
        started = time.monotonic()
        missing = unwatched_directories(self.root, self._unwatchable)
        took = time.monotonic() - started
        self._next_audit = time.monotonic() + max(AUDIT_MIN_GAP, AUDIT_COST_FACTOR * took)
        if missing is None:
            return
        again = {inode: path for inode, path in missing.items() if inode in self._rewatched}
        if again:
            self._unwatchable |= again.keys()
            log.warning(
                "watcher %s: %d directories cannot be watched (e.g. %s); changes inside them "
                "are found by the periodic full reconcile",
                self.name,
                len(again),
                next(iter(again.values())),
            )
            missing = {i: p for i, p in missing.items() if i not in again}
        self._rewatched = missing
        if not missing:
            return
        with self._observer_lock:
            if self._stop.is_set() or not self._restart_locked():
                return
        self._dirs_moved_at = time.monotonic()  # audit the restart itself
        self._report_overflow(
            f"{len(missing)} directories were not watched, e.g. "
            f"{os.path.relpath(next(iter(missing.values())), self.root)}; watching the tree again"
        )

    def _wait_time(self, now: float, deadline: float | None) -> float | None:
        due = self._coalescer.next_due()
        candidates = [t for t in (due, deadline) if t is not None]
        if not candidates:
            return None
        return max(0.0, min(candidates) - now)

    def _deliver(self) -> None:
        with self._cond:
            ready = self._coalescer.pop_ready(time.monotonic())
        if not ready or self._on_changes is None:
            return
        try:
            self._on_changes(ready)
        except Exception:
            log.exception(
                "watcher %s: change consumer failed; asking for a full reconcile", self.name
            )
            with self._cond:
                self._coalescer.overflow()

    def _supervise(self, now: float) -> None:
        with self._observer_lock:
            if self._stop.is_set():
                return
            observer = self._observer
            healthy = observer is not None and _observer_alive(observer)
            if healthy and self.mode == "native" and now >= self._next_recheck:
                self._next_recheck = now + self._recheck_interval
                added, self._dirs_added = self._dirs_added, False
                problem = self._watch_limit_problem() if added else None
                if problem is not None:
                    assert observer is not None
                    _stop_observer(observer, 2.0)
                    self._observer = None
                    self._fall_back(problem)
                    healthy = False
            if healthy:
                return
            if observer is not None:
                log.warning("watcher %s: observer stopped; restarting it", self.name)
            if not self._restart_locked():
                return
        self._report_overflow("the observer was restarted")

    def _restart_locked(self) -> bool:
        """Stop the observer (if any) and start a new one; the caller holds the observer lock.
        False: it cannot watch yet (the supervisor keeps trying, and reports the overflow)."""
        if self._observer is not None:
            _stop_observer(self._observer, 2.0)
            self._observer = None
        try:
            self._start_observer()
        except OSError as exc:
            if not self._restart_failing:
                log.warning("watcher %s: cannot watch yet (%s); retrying", self.name, exc)
            self._restart_failing = True
            return False
        self._restart_failing = False
        return True

    def _remove_log_hook(self) -> None:
        for name in _WATCHDOG_LOGGERS:
            logging.getLogger(name).removeHandler(self._log_hook)

    def _owns_log_record(self, record: logging.LogRecord) -> bool:
        """Is this watchdog record about our observer? The per-watch record names the watched
        path; the global one comes from the thread reading our observer's inotify instance.
        When neither can be told, assume yes (a needless reconcile is cheap, a missed one not)."""
        if self.mode != "native":
            return False
        args = record.args if isinstance(record.args, tuple) else ()
        paths = [os.fsdecode(a) for a in args if isinstance(a, str | bytes)]
        if paths:
            return self.root in paths
        reader = getattr(self._observer, "_inotify_fd", None)
        ident = getattr(reader, "ident", None)
        return ident is None or record.thread == ident


# The event classes asked of watchdog. Left out: opens and closes without writing (any reader
# of the tree, our own walks and hashing, would cost two events per file or directory: the
# inotify mask then does not even ask the kernel for them) and a directory's own modifications
# (its children's events say what changed).
_EVENT_FILTER: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    DirCreatedEvent,
    FileDeletedEvent,
    DirDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileAttribEvent,
    DirAttribEvent,
]

_HANDLED = frozenset(
    {
        EVENT_TYPE_CREATED,
        EVENT_TYPE_DELETED,
        EVENT_TYPE_MODIFIED,
        EVENT_TYPE_MOVED,
        EVENT_TYPE_CLOSED,
        EVENT_TYPE_ATTRIB,
    }
)


class _EventHandler(FileSystemEventHandler):
    """Never raises: an exception here would silently kill watchdog's dispatcher thread."""

    def __init__(self, watcher: Watcher) -> None:
        super().__init__()
        self._watcher = watcher

    def dispatch(self, event: FileSystemEvent) -> None:
        try:
            self._watcher._on_event(event)
        except Exception:
            with contextlib.suppress(Exception):
                log.exception("watcher %s: error handling %r", self._watcher.name, event)
                self._watcher._report_overflow("an event could not be handled")


class _OverflowLogHook(logging.Handler):
    def __init__(self, watcher: Watcher) -> None:
        super().__init__(level=logging.WARNING)
        self._watcher = watcher

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if _OVERFLOW_TEXT in str(record.msg) and self._watcher._owns_log_record(record):
                self._watcher._report_overflow("the inotify event queue overflowed")
        except Exception:
            self.handleError(record)


def _observer_alive(observer: BaseObserver) -> bool:
    if not observer.is_alive():
        return False
    emitters = observer.emitters
    return bool(emitters) and all(e.is_alive() for e in emitters)


def _stop_observer(observer: BaseObserver, timeout: float) -> None:
    with contextlib.suppress(Exception):
        observer.stop()
    with contextlib.suppress(Exception):
        if observer.is_alive():
            observer.join(timeout)
