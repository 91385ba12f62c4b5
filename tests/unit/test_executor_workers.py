"""The executor's worker threads: ops come back in finishing order with what they raised, the
threads start as work needs them, and leaving the block finishes what was handed over."""

from __future__ import annotations

import threading

import pytest

from syncd.engine.executor import Executor, _Failed, _Workers
from syncd.remote.errors import AuthError, NotFound


def test_every_op_comes_back_once_with_its_error() -> None:
    ran: list[object] = []
    lock = threading.Lock()

    def run(op: object) -> None:
        with lock:
            ran.append(op)
        if op == 3:
            raise NotFound("gone", action="file/info")

    with _Workers(4, run) as pool:  # type: ignore[arg-type]
        for op in range(10):
            pool.submit(op)  # type: ignore[arg-type]
        back = dict(pool.finished() for _ in range(10))
    assert sorted(back) == list(range(10)) and sorted(ran) == list(range(10))  # type: ignore[type-var]
    assert isinstance(back[3], NotFound)  # type: ignore[index]
    assert all(back[op] is None for op in range(10) if op != 3)  # type: ignore[index]


def test_threads_start_as_needed_and_are_joined() -> None:
    before = {t.name for t in threading.enumerate()}
    with _Workers(8, lambda op: None) as pool:
        pool.submit(object())  # type: ignore[arg-type]
        pool.finished()
        started = [t for t in threading.enumerate() if t.name.startswith("syncd-exec")]
        assert len(started) == 1  # one op in flight needed one thread, not eight
    assert not [t for t in started if t.is_alive()]
    assert {t.name for t in threading.enumerate()} <= before | {t.name for t in started}


def test_leaving_early_still_runs_what_was_handed_over() -> None:
    """As a pool's shutdown(wait=True): an error that stops the pass lets the ops already
    handed to workers finish (and be recorded) before it propagates."""
    gate = threading.Event()
    done: list[int] = []

    def run(op: object) -> None:
        gate.wait(5)
        done.append(op)  # type: ignore[arg-type]

    with pytest.raises(RuntimeError), _Workers(2, run) as pool:  # type: ignore[arg-type]
        for op in range(5):
            pool.submit(op)  # type: ignore[arg-type]
        gate.set()
        raise RuntimeError("the scheduler stops")
    assert sorted(done) == list(range(5))


def test_failures_become_reasons_and_dead_credentials_stop_the_pass() -> None:
    assert Executor._failure(None) is None
    assert Executor._failure(_Failed("refused")) == "refused"
    assert Executor._failure(NotFound("gone", action="file/info")) == "file/info: gone"
    assert Executor._failure(PermissionError(13, "Permission denied")) == (
        "local error: Permission denied"
    )
    with pytest.raises(AuthError):
        Executor._failure(AuthError("Could not authenticate user.", action="file/upload"))
    with pytest.raises(ZeroDivisionError):  # a bug is not a reason
        Executor._failure(ZeroDivisionError())
