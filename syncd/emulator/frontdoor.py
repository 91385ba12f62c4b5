"""What stands in front of the PHP application: rate limits, latency and injected faults.

A pure ASGI middleware around the Starlette app so that it can do what a real proxy or a dying
backend does: answer 429/5xx with HTML bodies, stall, or cut a connection in the middle of an
answer. `/admin` requests pass straight through and are never counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from syncd.emulator.api import split_action
from syncd.emulator.host import Host
from syncd.emulator.knobs import Counts, FaultDice, TokenBucket, retry_after_header

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

API_PREFIX = "/api/v2/"

_HTML = {
    429: "429 Too Many Requests",
    500: "500 Internal Server Error",
    502: "502 Bad Gateway",
    503: "503 Service Temporarily Unavailable",
    504: "504 Gateway Time-out",
}


class DroppedConnection(Exception):
    """Raised after a partial answer: the server closes the connection mid-body."""


class QuietDroppedConnections(logging.Filter):
    """Keeps uvicorn from logging a traceback for every connection we drop on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DroppedConnection)


def html_page(status: int) -> bytes:
    title = _HTML.get(status, f"{status} Error")
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        f"</body>\r\n</html>\r\n"
    ).encode()


async def send_html(send: Send, status: int, extra_headers: list[tuple[bytes, bytes]] = ()) -> None:  # type: ignore[assignment]
    body = html_page(status)
    headers = [
        (b"content-type", b"text/html"),
        (b"content-length", str(len(body)).encode()),
        *extra_headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def drop_connection(send: Send) -> None:
    """Promise a body, send part of it, then abort: the client sees a truncated answer."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"data": {', "more_body": True})
    raise DroppedConnection()


async def drain(receive: Receive) -> None:
    """Read the request body to its end, as a buffering proxy would before answering.

    Answering while a client is still sending makes it see a reset instead of the answer.
    """
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


def action_of(path: str) -> str | None:
    """The count key of a request: `file/upload`, `authorize`, ... or `download`."""
    if path.startswith(API_PREFIX):
        endpoint, action = split_action(path[len(API_PREFIX) :])
        return endpoint if action == "index" else f"{endpoint}/{action}"
    if path.startswith("/admin"):
        return None
    return "download"


class FrontDoor:
    def __init__(self, app: ASGIApp, host: Host, counts: Counts, dice: FaultDice) -> None:
        self.app = app
        self.host = host
        self.counts = counts
        self.dice = dice
        self.bucket = TokenBucket()
        self.uploads_in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        action = action_of(scope["path"])
        if action is None:
            await self.app(scope, receive, send)
            return
        knobs = self.host.knobs
        wait = self.bucket.take(knobs.rate_limit_rps)
        if wait > 0:
            await self._too_many(receive, send, wait)
            return
        is_upload = action == "file/upload"
        if is_upload:
            limit = min(
                (n for n in (knobs.upload_concurrency_limit, knobs.concurrent_uploads) if n > 0),
                default=0,
            )
            if limit and self.uploads_in_flight >= limit:
                await self._too_many(receive, send, 1.0)
                return
            self.uploads_in_flight += 1
        try:
            self.counts.add(action)
            if knobs.latency_ms > 0:
                await asyncio.sleep(knobs.latency_ms / 1000)
            fault = self.dice.roll(knobs.fault_rate, knobs.fault_kinds)
            if fault is None:
                await self.app(scope, receive, send)
                return
            self.counts.add("faults")
            await self._fault(fault, scope, receive, send)
        finally:
            if is_upload:
                self.uploads_in_flight -= 1

    async def _too_many(self, receive: Receive, send: Send, wait: float) -> None:
        self.counts.add("429")
        await drain(receive)
        await send_html(send, 429, [(b"retry-after", retry_after_header(wait).encode())])

    async def _fault(self, kind: str, scope: Scope, receive: Receive, send: Send) -> None:
        if kind.startswith("after_"):
            # The action takes effect; its answer is lost.
            async def swallow(message: Message) -> None:
                return None

            await self.app(scope, receive, swallow)
            kind = kind[len("after_") :]
        else:
            await drain(receive)
        if kind == "drop":
            await drop_connection(send)
        elif kind == "stall":
            await asyncio.sleep(self.host.knobs.stall_s)
            await send_html(send, 504)
        else:
            await send_html(send, int(kind))
