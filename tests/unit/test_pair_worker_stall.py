"""PairWorker: a pair that makes no progress for ``stall_after`` seconds (deletions held by a
guard, every pass failing) shows as stalled, named with what to do; progress clears it. The
worker runs on its real thread; time is passed to ``snapshot(now=...)``, never slept."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from syncd.daemon.pair_worker import Holding, PairWorker
from tests.support.waiting import wait_for

STALL_AFTER = 600.0


class Syncer:
    def __init__(self) -> None:
        self.fail = False
        self.held = Holding()

    def full_pass(self, cancel: threading.Event) -> Any:
        if self.fail:
            raise OSError("disk on fire")
        return "ok"

    def incremental_pass(self, changes: Sequence[Any], cancel: threading.Event) -> Any:
        return self.full_pass(cancel)

    def holding(self) -> Holding:
        return self.held


def run_pass(worker: PairWorker, passes: int) -> None:
    worker.request_full("test", now=True)
    wait_for(
        lambda: (
            sum(worker.snapshot().passes.values()) + worker.snapshot().consecutive_failures
            >= passes
        ),
        10,
        "the pass",
    )


def test_held_deletions_stall_the_pair_after_the_threshold() -> None:
    syncer = Syncer()
    since = time.time()
    syncer.held = Holding(2, since, "too many deletions")
    worker = PairWorker("docs", syncer, stall_after=STALL_AFTER)
    worker.start()
    try:
        run_pass(worker, 1)
        early = worker.snapshot(now=since + STALL_AFTER / 2)
        assert early.held == 2 and early.stall_reason is None
        late = worker.snapshot(now=since + STALL_AFTER + 1)
        assert late.stall_reason is not None and "2 deletions held" in late.stall_reason
        assert late.advice is not None and "syncd approve --pair docs" in late.advice
        assert late.stalled_since == since
        syncer.held = Holding()  # approved and carried out
        run_pass(worker, 2)
        assert worker.snapshot(now=since + STALL_AFTER * 2).stall_reason is None
    finally:
        worker.stop()
        worker.join(5)


def test_failing_passes_stall_the_pair_after_the_threshold() -> None:
    syncer = Syncer()
    syncer.fail = True
    worker = PairWorker("docs", syncer, stall_after=STALL_AFTER)
    worker.start()
    try:
        run_pass(worker, 1)
        state = worker.snapshot()
        assert state.failing_since is not None and state.stall_reason is None
        late = worker.snapshot(now=state.failing_since + STALL_AFTER + 1)
        assert late.stall_reason is not None and "no pass has succeeded" in late.stall_reason
        assert "disk on fire" in late.stall_reason
        syncer.fail = False
        worker.retry_now()
        wait_for(lambda: worker.snapshot().consecutive_failures == 0, 10, "a pass to succeed")
        assert worker.snapshot(now=time.time() + STALL_AFTER * 2).stall_reason is None
    finally:
        worker.stop()
        worker.join(5)
