"""A bounded worker pool for restore and verify downloads.

``submit`` blocks while ``workers * backlog`` tasks are queued or running, so a walk over a huge
tree never queues more than a few handfuls of jobs. A task that raises (a bug: expected failures
are reported by the task itself) is re-raised on exit, never dropped; on Ctrl-C or any error in
the submitting thread, queued tasks are cancelled instead of run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any


class BoundedPool:
    def __init__(self, workers: int, name: str, backlog: int = 4) -> None:
        self._pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix=name)
        self._slots = threading.BoundedSemaphore(max(1, workers) * backlog)
        self._lock = threading.Lock()
        self._pending: set[Future[Any]] = set()
        self._error: BaseException | None = None

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self._raise_error()
        self._slots.acquire()
        try:
            future = self._pool.submit(fn, *args)
        except BaseException:
            self._slots.release()
            raise
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)
            if not future.cancelled() and future.exception() is not None and self._error is None:
                self._error = future.exception()
        self._slots.release()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def __enter__(self) -> BoundedPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._pool.shutdown(wait=True, cancel_futures=exc is not None)
        if exc is None:
            self._raise_error()
