"""An httpx transport that records every exchange it carries (real HTTP, just observed).

For tests and benchmarks: pass ``RecordingTransport()`` as ``RemoteClient(transport=...)`` and
read ``.exchanges`` afterwards (when each request started and its answer arrived, the action,
the status, the Retry-After header). URLs are recorded without their query (download tokens).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpx

from syncd.remote.stdlib_transport import StdlibHTTPTransport


@dataclass(frozen=True, slots=True)
class Exchange:
    started: float  # time.monotonic() when the request was handed to the transport
    finished: float  # when the answer's headers arrived (or the transport failed)
    path: str  # URL path only, e.g. "/api/v2/file/upload"
    status: int | None  # None when the transport raised
    retry_after: str | None
    error: str | None = None

    @property
    def action(self) -> str:
        marker = "/api/v2/"
        return self.path.split(marker, 1)[1] if marker in self.path else "download"


class RecordingTransport(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport | None = None) -> None:
        # By default the transport syncd's clients use (make_http_client) when given none.
        self._inner = inner or StdlibHTTPTransport()
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []

    @property
    def exchanges(self) -> list[Exchange]:
        with self._lock:
            return list(self._exchanges)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.monotonic()
        try:
            response = self._inner.handle_request(request)
        except Exception as exc:
            self._add(
                Exchange(
                    started, time.monotonic(), request.url.path, None, None, type(exc).__name__
                )
            )
            raise
        self._add(
            Exchange(
                started,
                time.monotonic(),
                request.url.path,
                response.status_code,
                response.headers.get("retry-after"),
            )
        )
        return response

    def _add(self, exchange: Exchange) -> None:
        with self._lock:
            self._exchanges.append(exchange)

    def close(self) -> None:
        self._inner.close()
