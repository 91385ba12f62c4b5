"""Downloads for restore and verify: one download-and-hash, and a bounded worker pool.

:func:`download_to` streams one remote file into a sink while hashing and counting it, so the
MD5 and size that restore checks and verify compares are computed in one place. It makes one
attempt (the client already retries opening the transfer); a caller that can start over — restore,
with a fresh temp file — wraps it in its own retries.

``submit`` blocks while ``workers * backlog`` tasks are queued or running, so a walk over a huge
tree never queues more than a few handfuls of jobs. A task that raises (a bug: expected failures
are reported by the task itself) is re-raised on exit, never dropped; on Ctrl-C or any error in
the submitting thread, queued tasks are cancelled instead of run.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from syncd.remote.client import RemoteClient


class Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


class Downloaded(NamedTuple):
    md5: str  # lowercase hex of the bytes received
    size: int  # bytes received


def download_to(
    client: RemoteClient,
    file_id: int,
    sink: Sink | None = None,
    *,
    on_chunk: Callable[[int], None] | None = None,
) -> Downloaded:
    """Download file ``file_id`` into ``sink`` (None: only hash it), one attempt.

    ``on_chunk(n)`` is called after each chunk of ``n`` bytes has been written (progress bars).
    Raises what the client raises (NotFound, TransientError, ...) and what ``sink`` raises; a
    failure leaves ``sink`` holding a partial copy for the caller to discard.
    """
    link = client.file_download(file_id)
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    for chunk in client.iter_download(link):
        if sink is not None:
            sink.write(chunk)
        digest.update(chunk)
        size += len(chunk)
        if on_chunk is not None:
            on_chunk(len(chunk))
    return Downloaded(digest.hexdigest(), size)


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
