"""The watcher at the platform's limits: inotify watch/instance limits, queue overflow, a handler
that raises, an observer that dies, a root that disappears. Real directories, real watchdog."""

from __future__ import annotations

import errno
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from watchdog.observers.api import BaseObserver
from watchdog.observers.inotify_c import InotifyConstants, InotifyEvent

from syncd.local.coalesce import OVERFLOW, Change
from syncd.local.ignore import IgnoreRules
from syncd.local.watcher import Watcher
from tests.integration.watcher.support import drain_until_seen
from tests.support.waiting import wait_for

QUIET = 0.2
POLL = 0.2
DEADLINE = 15.0


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    (r / "a" / "b").mkdir(parents=True)
    (r / "c").mkdir()
    return r


def limit_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "max_user_watches" in r.getMessage()]


def dirty(path: str) -> Change:
    return Change("dirty", path, None, False)


@pytest.fixture()
def started() -> Iterator[list[Watcher]]:
    watchers: list[Watcher] = []
    yield watchers
    for w in watchers:
        w.stop()


def start(started: list[Watcher], root: Path, **kw: object) -> Watcher:
    w = Watcher(root, ignore=IgnoreRules(), quiet=QUIET, poll_interval=POLL, **kw)  # type: ignore[arg-type]
    started.append(w.start())
    return w


def test_too_many_directories_falls_back_to_polling_with_one_warning(
    root: Path, caplog: pytest.LogCaptureFixture, started: list[Watcher]
) -> None:
    caplog.set_level(logging.WARNING)
    w = start(started, root, watch_limit=2, supervise_interval=0.1, recheck_interval=0.1)
    assert w.mode == "polling"
    (root / "a" / "b" / "new.txt").write_text("x")
    drain_until_seen(w, dirty("a/b/new.txt"))
    (root / "c" / "second.txt").write_text("x")  # lets several supervision/recheck rounds run
    drain_until_seen(w, dirty("c/second.txt"))
    warnings = limit_warnings(caplog)
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "sysctl" in message and "max_user_instances" in message
    assert "polling" in message and str(root) in message


def test_directory_count_within_limit_stays_native(root: Path, started: list[Watcher]) -> None:
    w = start(started, root, watch_limit=100)
    assert w.mode == "native"


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EMFILE])
def test_observer_start_failing_with_limit_errno_falls_back(
    root: Path, caplog: pytest.LogCaptureFixture, started: list[Watcher], err: int
) -> None:
    caplog.set_level(logging.WARNING)

    def failing_observer() -> BaseObserver:
        raise OSError(err, os.strerror(err))

    w = start(started, root, observer_factory=failing_observer)
    assert w.mode == "polling"
    assert len(limit_warnings(caplog)) == 1
    (root / "c" / "f.txt").write_text("x")
    drain_until_seen(w, dirty("c/f.txt"))


def test_other_start_errors_are_raised(root: Path) -> None:
    def failing_observer() -> BaseObserver:
        raise OSError(errno.EACCES, "denied")

    with pytest.raises(PermissionError):
        Watcher(root, observer_factory=failing_observer).start()


def test_polling_still_coalesces_a_directory_move(root: Path, started: list[Watcher]) -> None:
    for i in range(20):
        (root / "a" / "b" / f"f{i}").write_text("x")
    w = start(started, root, force_polling=True)
    assert w.mode == "polling"
    os.rename(root / "a", root / "moved")
    got = drain_until_seen(w, Change("moved", "a", "moved", True))
    assert [c for c in got if c.kind == "moved"] == [Change("moved", "a", "moved", True)]


def test_kernel_queue_overflow_asks_for_full_reconcile(root: Path, started: list[Watcher]) -> None:
    w = start(started, root)
    assert w.mode == "native"
    # Feed watchdog's own inotify reader the kernel's IN_Q_OVERFLOW event: watchdog only logs
    # it, and the log hook must turn it into an overflow change.
    reader = w.observer._inotify_fd  # type: ignore[union-attr]
    reader.handle_event(InotifyEvent(-1, InotifyConstants.IN_Q_OVERFLOW, 0, b""))
    drain_until_seen(w, OVERFLOW)
    (root / "after.txt").write_text("x")  # still watching
    drain_until_seen(w, dirty("after.txt"))


def test_handler_exception_does_not_kill_watching(root: Path, started: list[Watcher]) -> None:
    class ExplodingRules(IgnoreRules):
        def matches(self, relpath: str, is_dir: bool) -> bool:
            if relpath == "boom":
                raise RuntimeError("bug in a handler")
            return super().matches(relpath, is_dir)

    w = Watcher(root, ignore=ExplodingRules(), quiet=QUIET).start()
    started.append(w)
    (root / "boom").write_text("x")
    drain_until_seen(w, OVERFLOW)
    (root / "fine.txt").write_text("x")
    drain_until_seen(w, dirty("fine.txt"))
    assert w.observer is not None and w.observer.is_alive()


def test_dead_observer_is_restarted(
    root: Path, caplog: pytest.LogCaptureFixture, started: list[Watcher]
) -> None:
    caplog.set_level(logging.WARNING)
    w = start(started, root, supervise_interval=0.1)
    first = w.observer
    assert first is not None
    first.stop()
    first.join(5)
    drain_until_seen(w, OVERFLOW)  # events may have been lost while it was down
    assert w.observer is not first and w.observer is not None and w.observer.is_alive()
    assert any("restarting" in r.getMessage() for r in caplog.records)
    (root / "later.txt").write_text("x")
    drain_until_seen(w, dirty("later.txt"))
    assert w.is_alive()


def test_root_removed_and_recreated(root: Path, started: list[Watcher]) -> None:
    w = start(started, root, supervise_interval=0.1)
    shutil.rmtree(root)
    drain_until_seen(w, OVERFLOW)
    assert w.is_alive()  # keeps trying; the daemon's guard deals with the missing root
    root.mkdir()
    wait_for(
        lambda: w.observer is not None and w.observer.is_alive(),
        DEADLINE,
        "the observer to be restarted",
    )
    drain_until_seen(w, OVERFLOW)  # watching again: the daemon must reconcile
    (root / "back.txt").write_text("x")
    drain_until_seen(w, dirty("back.txt"))
