"""The httpx transport syncd sends its requests through: HTTP/1.1 over the standard library's
``http.client``, with a small pool of keep-alive connections.

Why not httpx's own (httpcore + h11): in a bulk upload of small files they were three quarters
of a worker thread's Python time, spread over ~1,000 function calls per request with no one hot
spot. A small POST and answer over loopback (one thread, ``time.thread_time``, the 2-core
benchmark machine) cost ~510-900 µs of client CPU through httpx over httpcore, ~450-550 through
httpx over this transport, and ~250 through ``http.client`` alone. httpx stays the client: this
is a ``httpx.BaseTransport``, so the request building, the answers and httpx's exception types
are unchanged. When the environment names a proxy, ``make_http_client`` leaves the transport to
httpx, which honours it.

What it keeps from httpcore, because the engine's no-duplicates rule rests on it:

- an exception before the request could reach the host is ``httpx.ConnectError`` or
  ``httpx.ConnectTimeout`` (connecting failed); anything later is ``WriteError``,
  ``WriteTimeout``, ``ReadError``, ``ReadTimeout`` or ``RemoteProtocolError``, which the
  client treats as "the host may have acted";
- an idle connection is never reused once the server may have closed it: one older than the
  keep-alive expiry is dropped, and one whose socket is readable while idle (the server's FIN,
  or bytes nobody asked for) is closed instead of being sent on;
- a connection goes back to the pool only after its answer was read to the end and the server
  did not say ``Connection: close``.

An answer's header block is read here, not by ``http.client``, which hands it to the email
package's parser: ~40 µs of a small request's ~500 (one thread, loopback), against ~3 for
splitting each line at its colon. The status line and the body stay ``http.client``'s.
"""

from __future__ import annotations

import http.client
import select
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

import httpx

_READ_PIECE = 64 * 1024
# Below common server keep-alive timeouts (uvicorn: 5 s), so we rarely send on a connection the
# server is closing (which would look like a lost answer).
KEEPALIVE_EXPIRY = 3.0
_Origin = tuple[str, str, int]


class _BodyFailed(Exception):
    """The request body's own source failed while it was sent: not a network error, so not
    mapped to one (the caller knows what its source's errors mean)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class _Fields:
    """An answer's header fields as the bytes the server sent, in order; ``get`` answers
    ``http.client``'s own questions (Connection, Keep-Alive) as its ``HTTPMessage`` would."""

    __slots__ = ("raw",)

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self.raw = raw

    def get(self, name: str, default: str | None = None) -> str | None:
        key = name.lower().encode("ascii")
        for field, value in self.raw:
            if field.lower() == key:
                return value.decode("latin-1")
        return default


def _read_fields(fp: Any) -> list[tuple[bytes, bytes]]:
    """The header block up to its blank line; a line folded onto the next (obsolete, still
    legal in an answer) is joined with a space, as h11 does. A line without a colon, or a block
    over http.client's own limits (a line's length, the number of lines), is a protocol error."""
    max_line, max_headers = http.client._MAXLINE, http.client._MAXHEADERS  # type: ignore[attr-defined]
    fields: list[tuple[bytes, bytes]] = []
    for _ in range(max_headers + 1):
        line = fp.readline(max_line + 1)
        if len(line) > max_line:
            raise http.client.LineTooLong("header line")
        if line in (b"\r\n", b"\n", b""):
            return fields
        if line[:1] in (b" ", b"\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + b" " + line.strip())
            continue
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise http.client.HTTPException(f"malformed header line {line[:80]!r}")
        fields.append((name, value.strip()))
    raise http.client.HTTPException(f"got more than {max_headers} headers")


class _Response(http.client.HTTPResponse):
    """``http.client``'s answer with its header block read by ``_read_fields``. ``begin`` is
    ``HTTPResponse.begin`` with that one step replaced; what it decides from the headers (the
    framing, whether the connection closes) is decided as there."""

    fields: _Fields

    def begin(self) -> None:
        if self.headers is not None:
            return
        while True:
            version, status, reason = self._read_status()  # type: ignore[attr-defined]
            if status != http.client.CONTINUE:
                break
            _read_fields(self.fp)  # a 100 Continue's header block: skipped
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        self.fields = _Fields(_read_fields(self.fp))
        self.headers = self.msg = self.fields  # type: ignore[assignment]
        transfer_encoding = self.fields.get("transfer-encoding")
        self.chunked = bool(transfer_encoding) and transfer_encoding.lower() == "chunked"
        self.chunk_left = None
        self.will_close = self._check_close()  # type: ignore[attr-defined]
        self.length = None
        length = self.fields.get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:
                    self.length = None
        if status in (http.client.NO_CONTENT, http.client.NOT_MODIFIED) or 100 <= status < 200:
            self.length = 0
        if self._method == "HEAD":  # type: ignore[attr-defined]
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True  # read until the server closes


class _Connection:
    """One ``http.client`` connection and when it went idle."""

    __slots__ = ("__weakref__", "http", "idle_since")

    def __init__(self, http_connection: http.client.HTTPConnection) -> None:
        http_connection.response_class = _Response
        self.http = http_connection
        self.idle_since = 0.0

    def close(self) -> None:
        self.http.close()


class _Answer(httpx.SyncByteStream):
    """An answer's body, read from its connection; the connection is pooled again once the body
    was read to the end, and closed otherwise."""

    def __init__(
        self,
        pool: StdlibHTTPTransport,
        origin: _Origin,
        connection: _Connection,
        response: http.client.HTTPResponse,
    ) -> None:
        self._pool = pool
        self._origin = origin
        self._connection: _Connection | None = connection
        self._response = response
        self._complete = False

    def __iter__(self) -> Iterator[bytes]:
        read = self._response.read
        try:
            while piece := read(_READ_PIECE):
                yield piece
        except TimeoutError as exc:
            raise httpx.ReadTimeout(str(exc) or "timed out") from exc
        except http.client.IncompleteRead as exc:
            raise httpx.RemoteProtocolError(f"answer ended early: {exc!r}") from exc
        except (http.client.HTTPException, OSError) as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__) from exc
        self._complete = True

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if self._complete and not self._response.will_close:
            self._pool._release(self._origin, connection)
        else:
            self._response.close()  # its file object holds the socket open too
            self._pool._discard(connection)


class StdlibHTTPTransport(httpx.BaseTransport):
    """HTTP/1.1 through ``http.client``; at most ``max_idle`` idle connections are kept, each
    for at most ``keepalive_expiry`` seconds."""

    def __init__(
        self,
        *,
        verify: bool = True,
        max_idle: int = 32,
        keepalive_expiry: float = KEEPALIVE_EXPIRY,
    ) -> None:
        self._ssl = httpx.create_ssl_context(verify=verify)
        self._max_idle = max_idle
        self._expiry = keepalive_expiry
        self._lock = threading.Lock()
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._open: weakref.WeakSet[_Connection] = weakref.WeakSet()
        self._closed = False

    # -- the pool
    def _acquire(self, origin: _Origin) -> _Connection | None:
        """The most recently used idle connection to ``origin`` that is still good, or None."""
        now = time.monotonic()
        while True:
            with self._lock:
                idle = self._idle.get(origin)
                if not idle:
                    return None
                connection = idle.pop()
            sock = connection.http.sock
            if sock is None or now - connection.idle_since > self._expiry or _readable(sock):
                self._discard(connection)
                continue
            return connection

    def _release(self, origin: _Origin, connection: _Connection) -> None:
        connection.idle_since = time.monotonic()
        with self._lock:
            if self._closed:
                surplus = [connection]
            else:
                idle = self._idle.setdefault(origin, [])
                idle.append(connection)
                surplus = idle[: -self._max_idle] if len(idle) > self._max_idle else []
                del idle[: len(surplus)]
        for old in surplus:
            self._discard(old)

    def _discard(self, connection: _Connection) -> None:
        connection.close()
        with self._lock:
            self._open.discard(connection)

    def _connect(self, url: httpx.URL, timeout: float | None) -> _Connection:
        host = url.raw_host.decode("ascii")  # IDNA-encoded, without an IPv6 literal's brackets
        if url.scheme == "https":
            port = url.port or 443
            http_connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, port, timeout=timeout, context=self._ssl
            )
        else:
            http_connection = http.client.HTTPConnection(host, url.port or 80, timeout=timeout)
        try:
            http_connection.connect()
        except TimeoutError as exc:
            http_connection.close()
            raise httpx.ConnectTimeout(str(exc) or "timed out") from exc
        except OSError as exc:  # refused, unreachable, name not found, TLS handshake failed
            http_connection.close()
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        assert http_connection.sock is not None
        # http.client writes the headers, then the body: without this, Nagle's algorithm would
        # hold a small body back until the server acknowledged the headers (delayed ACK).
        http_connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = _Connection(http_connection)
        with self._lock:
            self._open.add(connection)
        return connection

    # -- one exchange
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        url = request.url
        origin = (url.scheme, url.host, url.port or 0)
        connection = self._acquire(origin) or self._connect(url, timeouts.get("connect"))
        http_connection = connection.http
        sock = http_connection.sock
        assert sock is not None
        try:
            sock.settimeout(timeouts.get("write"))
            self._send(http_connection, request)
        except _BodyFailed as failed:  # its source's error as it is (a file that shrank)
            self._discard(connection)
            raise failed.error from None
        except TimeoutError as exc:
            self._discard(connection)
            raise httpx.WriteTimeout(str(exc) or "timed out") from exc
        except (http.client.HTTPException, OSError) as exc:
            self._discard(connection)
            raise httpx.WriteError(str(exc) or type(exc).__name__) from exc
        except BaseException:  # an interrupt
            self._discard(connection)
            raise
        try:
            sock.settimeout(timeouts.get("read"))
            response = http_connection.getresponse()
            assert isinstance(response, _Response)
        except TimeoutError as exc:
            self._discard(connection)
            raise httpx.ReadTimeout(str(exc) or "timed out") from exc
        except (http.client.HTTPException, OSError) as exc:  # closed before or in the answer
            self._discard(connection)
            raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__) from exc
        except BaseException:
            self._discard(connection)
            raise
        return httpx.Response(
            response.status,
            # The bytes the server sent (a UTF-8 file name in Content-Disposition stays UTF-8).
            headers=response.fields.raw,
            stream=_Answer(self, origin, connection, response),
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": response.reason.encode("latin-1", "replace"),
            },
        )

    @staticmethod
    def _send(http_connection: http.client.HTTPConnection, request: httpx.Request) -> None:
        # httpx has set Host, Accept-Encoding and the body's framing headers already.
        http_connection.putrequest(
            request.method,
            request.url.raw_path.decode("ascii"),
            skip_host=True,
            skip_accept_encoding=True,
        )
        for name, value in request.headers.raw:
            http_connection.putheader(name, value)  # type: ignore[arg-type]
        stream = request.stream
        if isinstance(stream, httpx.ByteStream):
            http_connection.endheaders(request.content)
            return
        chunked = request.headers.get("transfer-encoding", "").lower() == "chunked"
        http_connection.endheaders()
        send = http_connection.send
        pieces = iter(stream)  # type: ignore[call-overload]
        while True:
            try:
                piece = next(pieces, None)
            except Exception as exc:
                raise _BodyFailed(exc) from exc
            if piece is None:
                break
            if piece:
                send(b"%x\r\n%b\r\n" % (len(piece), piece) if chunked else piece)
        if chunked:
            send(b"0\r\n\r\n")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._idle.clear()
            connections = list(self._open)
            self._open.clear()
        for connection in connections:
            connection.close()


def _readable(sock: socket.socket) -> bool:
    """Whether an idle connection has something to read: the server closed it, or sent what
    nobody asked for. Either way it must not carry another request. (poll, not select: a
    descriptor above 1023 is fine.)"""
    poller = select.poll()
    try:
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):  # closed under us
        return True
