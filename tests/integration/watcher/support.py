"""Shared helpers of the watcher tests: a watched tmp root and deadline-bounded waits.

Every wait polls a condition with a deadline; "exactly one" is checked by letting the watcher go
idle (nothing pending) and then seeing no further change for a few quiet periods.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path

from syncd.local.coalesce import OVERFLOW, Change
from syncd.local.watcher import Watcher

QUIET = 0.2
DEADLINE = 15.0
PROBE_PREFIX = ".probe-"


def drain_until(
    w: Watcher, done: Callable[[list[Change]], bool], timeout: float = DEADLINE
) -> list[Change]:
    """Drain until `done(changes so far)`, probe changes left out; fail at the deadline.

    (Not :func:`tests.support.waiting.wait_for`: the watcher's own ``drain`` blocks up to a
    timeout, so this loop needs no sleep, and it collects what it drained on the way.)"""
    got: list[Change] = []
    deadline = time.monotonic() + timeout
    while not done(got):
        left = deadline - time.monotonic()
        assert left > 0, f"timed out; got {got}"
        got.extend(c for c in w.drain(min(left, 0.5)) if not c.path.startswith(PROBE_PREFIX))
    return got


def drain_until_seen(w: Watcher, want: Change, timeout: float = DEADLINE) -> list[Change]:
    """Drain until ``want`` has arrived; everything drained on the way."""
    return drain_until(w, lambda got: want in got, timeout)


_probes = itertools.count()


def everything_so_far(w: Watcher) -> list[Change]:
    """All changes caused by what the test did so far (see :func:`_probe`)."""
    got = _probe(w, stop_at_overflow=False)
    assert w.pending_count() == 0, f"still pending after the probe; got {got}"
    return got


def everything_so_far_or_overflow(w: Watcher) -> list[Change]:
    """As :func:`everything_so_far`, but an overflow ends the wait too: the watcher restarted
    its observer, and a probe written meanwhile may never be reported (the overflow says so)."""
    return _probe(w, stop_at_overflow=True)


def _probe(w: Watcher, *, stop_at_overflow: bool) -> list[Change]:
    """All changes caused by what the test did so far.

    Writes a probe file and waits for its change: events reach the watcher in kernel order
    (watchdog even holds later events behind an unpaired move), and the probe's quiet period
    ends last, so every earlier change has been handed out by then — unless it still waits for
    a writer to close, which `pending_count()` shows.
    """
    name = f"{PROBE_PREFIX}{next(_probes)}"
    Path(w.root, name).write_text("")
    seen: list[Change] = []
    got: list[Change] = []
    deadline = time.monotonic() + DEADLINE
    while not seen and not (stop_at_overflow and OVERFLOW in got):
        assert time.monotonic() < deadline, f"probe never arrived; got {got}"
        for c in w.drain(0.5):
            (seen if c.path == name else got).append(c)
    return [c for c in got if not c.path.startswith(PROBE_PREFIX)]


def exactly(w: Watcher, expected: list[Change]) -> None:
    assert everything_so_far(w) == expected


def dirty(path: str, is_dir: bool = False) -> Change:
    return Change("dirty", path, None, is_dir)
