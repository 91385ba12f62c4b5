"""PairWorker under partial failure: a pass in which a few items fail keeps what succeeded,
counts as done, and retries just those items soon; the pair itself is not backed off, so new
changes keep flowing while the failed items wait for their retry.

The syncer is scripted (which items fail); the worker runs on its real thread and every wait
is a poll with a deadline."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from syncd.daemon.backend import PassIncomplete, RetryChange
from syncd.daemon.pair_worker import PairWorker
from tests.support.waiting import wait_for


@dataclass(frozen=True)
class Change:
    path: str
    kind: str = "dirty"
    dest: str | None = None


class ScriptedSyncer:
    """Fails the paths in ``failing`` (each for ``fail_times`` passes); everything else works."""

    def __init__(self, failing: set[str], fail_times: int = 1, everything: int = 10) -> None:
        self.failing = dict.fromkeys(failing, fail_times)
        self.everything = everything
        self.passes: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()

    def _pass(self, kind: str, paths: list[str]) -> str:
        with self.lock:
            self.passes.append((kind, paths))
            failed = [p for p in paths if self.failing.get(p, 0) > 0]
            for p in failed:
                self.failing[p] -= 1
        if failed:
            raise PassIncomplete(
                f"{len(failed)} items failed",
                retry_changes=[RetryChange(p) for p in failed],
                progress=len(failed) < len(paths),
            )
        return "ok"

    def full_pass(self, cancel: threading.Event) -> Any:
        return self._pass("full", [f"f{i}.txt" for i in range(self.everything)])

    def incremental_pass(self, changes: Sequence[Any], cancel: threading.Event) -> Any:
        return self._pass("incremental", [c.path for c in changes])


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    return wait_for(condition, timeout, what)


def test_failed_items_alone_are_retried_and_the_pair_is_not_failing() -> None:
    syncer = ScriptedSyncer({"f3.txt", "f7.txt"})
    worker = PairWorker("docs", syncer, retry_base=0.05, retry_max=0.2)
    worker.start()
    try:
        worker.request_full("start-up")
        wait_until(lambda: len(syncer.passes) >= 2, "the retry of the failed items")
        kind, paths = syncer.passes[1]
        assert kind == "incremental" and sorted(paths) == ["f3.txt", "f7.txt"]
        state = wait_until(
            lambda: (s := worker.snapshot()).up_to_date and s, "the pair to be up to date"
        )
        # The full pass counted as done: no failed pass, no second walk of the tree.
        assert state.consecutive_failures == 0 and state.last_full_reconcile is not None
        assert [k for k, _ in syncer.passes].count("full") == 1
    finally:
        worker.stop()
        worker.join(5)


def test_new_changes_flow_while_failed_items_wait() -> None:
    syncer = ScriptedSyncer({"f3.txt"}, fail_times=100)
    # Failed items wait at least 30 s (0.8 x retry_base): far longer than the test waits.
    worker = PairWorker("docs", syncer, retry_base=40.0, retry_max=60.0)
    worker.start()
    try:
        worker.request_full("start-up")
        wait_until(lambda: syncer.passes, "the first pass")
        state = wait_until(
            lambda: (s := worker.snapshot()).busy is None and s.last_pass and s, "its end"
        )
        assert state.consecutive_failures == 0 and state.queue_length == 1  # f3 waits
        worker.add_changes([Change("new.txt")])
        wait_until(lambda: len(syncer.passes) >= 2, "a pass for the new change")
        assert syncer.passes[1] == ("incremental", ["new.txt"])
    finally:
        worker.stop()
        worker.join(5)


def test_a_pass_where_every_item_failed_backs_the_pair_off() -> None:
    """Nothing went through (the host went away mid-pass): the whole work is kept and the
    pair waits its backoff, as for any failed pass."""
    syncer = ScriptedSyncer({"a", "b"}, fail_times=1)
    worker = PairWorker("docs", syncer, retry_base=0.05, retry_max=0.2)
    worker.start()
    try:
        worker.add_changes([Change("a"), Change("b")])
        state = wait_until(
            lambda: (s := worker.snapshot()).consecutive_failures == 1 and s, "a failed pass"
        )
        assert state.last_error and "2 items failed" in state.last_error
        wait_until(lambda: len(syncer.passes) >= 2, "the retry")
        assert sorted(syncer.passes[1][1]) == ["a", "b"]
    finally:
        worker.stop()
        worker.join(5)
