"""StdlibHTTPTransport against a real HTTP/1.1 server on loopback: connection reuse, the
connections it must never reuse, and which httpx exception each failure becomes (the client's
"did the host act?" rests on ConnectError meaning "never sent")."""

from __future__ import annotations

import gc
import http.server
import socket
import threading
import weakref
from collections.abc import Iterator

import httpx
import pytest

from syncd.remote.errors import TransientError
from syncd.remote.stdlib_transport import StdlibHTTPTransport
from syncd.remote.transport import make_http_client, transport_error

_RAW_ANSWERS = {
    # A header folded onto the next line (obsolete, still legal in an answer).
    "/folded": b"HTTP/1.1 200 OK\r\nX-Note: one\r\n  two\r\nContent-Length: 2\r\n\r\nok",
    # An interim 100 Continue before the answer.
    "/continue": b"HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
    b"HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\nmade",
    # HTTP/1.0 without Keep-Alive: the connection ends with this answer.
    "/http10": b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "/malformed": b"HTTP/1.1 200 OK\r\nthis line has no colon\r\nContent-Length: 2\r\n\r\nok",
    # One header more than http.client's limit of 100.
    "/too-many": b"HTTP/1.1 200 OK\r\n"
    + b"".join(b"X-%d: %d\r\n" % (i, i) for i in range(100))
    + b"Content-Length: 2\r\n\r\nok",
}


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                chunk = self.rfile.read(size + 2)[:size]
                if not size:
                    return data
                data += chunk
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_POST(self) -> None:
        body = self._body()
        with self.server.lock:
            self.server.requests.append((self.path, body))
        if self.path == "/drop":  # read the request, then hang up without an answer
            self.close_connection = True
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if self.path == "/hang":
            self.server.hanging.set()
            self.server.release.wait(10)
            self.close_connection = True
            return
        if self.path == "/utf8":  # a header with UTF-8 bytes, as hosts send file names
            self.wfile.write(
                b"HTTP/1.1 200 OK\r\nContent-Disposition: attachment; "
                b'filename="na\xc3\xafve.txt"\r\nContent-Length: 2\r\n\r\nok'
            )
            return
        if self.path in _RAW_ANSWERS:  # answers written byte for byte
            self.wfile.write(_RAW_ANSWERS[self.path])
            if self.path in ("/http10", "/malformed", "/too-many"):
                self.close_connection = True
            return
        answer = b"seen " + str(len(body)).encode()
        self.send_response(200)
        if self.path == "/chunked":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (answer, b" and more"):
                self.wfile.write(b"%x\r\n%b\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
            return
        if self.path in ("/close", "/big-close"):
            self.send_header("Connection", "close")
            self.close_connection = True
        if self.path.startswith("/big"):
            answer = b"x" * 300_000
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.connections = 0
        self.requests: list[tuple[str, bytes]] = []
        self.release = threading.Event()
        self.hanging = threading.Event()  # a /hang request arrived and is being held

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that hangs up mid-request is what some tests do

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.release.set()
        srv.shutdown()
        srv.server_close()


def _client(transport: StdlibHTTPTransport, timeout: float = 10.0) -> httpx.Client:
    return httpx.Client(transport=transport, timeout=timeout)


def test_requests_of_one_thread_share_one_connection(server: _Server) -> None:
    with _client(StdlibHTTPTransport()) as client:
        answers = [client.post(server.url + "/ok", data={"n": str(i)}).text for i in range(5)]
    assert answers == ["seen 3"] * 5
    assert server.connections == 1
    assert [path for path, _ in server.requests] == ["/ok"] * 5


def test_a_streamed_body_with_a_length_and_a_chunked_one_arrive_whole(server: _Server) -> None:
    pieces = [b"a" * 70_000, b"", b"b" * 5]
    with _client(StdlibHTTPTransport()) as client:
        sized = client.post(
            server.url + "/ok",
            content=iter(pieces),
            headers={"Content-Length": str(sum(map(len, pieces)))},
        )
        chunked = client.post(server.url + "/ok", content=iter(pieces))
    assert sized.text == chunked.text == "seen 70005"
    assert [body for _, body in server.requests] == [b"".join(pieces)] * 2
    assert server.connections == 1


def test_a_chunked_answer_is_read_whole_and_the_connection_reused(server: _Server) -> None:
    with _client(StdlibHTTPTransport()) as client:
        first = client.post(server.url + "/chunked", content=b"abc")
        second = client.post(server.url + "/ok", content=b"abcd")
    assert (first.text, second.text) == ("seen 3 and more", "seen 4")
    assert server.connections == 1


def test_answer_headers_keep_the_bytes_the_server_sent(server: _Server) -> None:
    with _client(StdlibHTTPTransport()) as client:
        response = client.post(server.url + "/utf8", content=b"x")
    assert response.text == "ok"
    assert response.headers.raw[0] == (
        b"Content-Disposition",
        b'attachment; filename="na\xc3\xafve.txt"',
    )


def test_folded_headers_and_an_interim_answer_are_read_as_http_allows(server: _Server) -> None:
    with _client(StdlibHTTPTransport()) as client:
        folded = client.post(server.url + "/folded", content=b"x")
        made = client.post(server.url + "/continue", content=b"x")
        after = client.post(server.url + "/ok", content=b"x")
    assert (folded.text, folded.headers["x-note"]) == ("ok", "one two")
    assert (made.status_code, made.text, "x-interim" in made.headers) == (201, "made", False)
    assert after.text == "seen 1"
    assert server.connections == 1


@pytest.mark.parametrize("path", ["/malformed", "/too-many"])
def test_a_header_line_without_a_colon_is_a_protocol_error_that_may_have_acted(
    server: _Server, path: str
) -> None:
    """So is a header block over http.client's limits."""
    transport = StdlibHTTPTransport()
    with _client(transport) as client, pytest.raises(httpx.RemoteProtocolError) as raised:
        client.post(server.url + path, content=b"x")
    assert transport_error(raised.value, "file/upload").request_sent
    assert not transport._open


def test_an_http_1_0_answer_without_keep_alive_ends_its_connection(server: _Server) -> None:
    with _client(StdlibHTTPTransport()) as client:
        assert client.post(server.url + "/http10", content=b"x").text == "ok"
        assert client.post(server.url + "/ok", content=b"x").text == "seen 1"
    assert server.connections == 2


def test_an_answer_saying_connection_close_ends_its_connection(server: _Server) -> None:
    with _client(StdlibHTTPTransport()) as client:
        assert client.post(server.url + "/close", content=b"x").text == "seen 1"
        assert client.post(server.url + "/ok", content=b"x").text == "seen 1"
    assert server.connections == 2


def test_a_connection_the_server_closed_while_idle_is_not_sent_on() -> None:
    """The server answers one request per connection and then closes it without saying so
    (as a server does at its keep-alive timeout): the next request must go on a new connection,
    never onto the closed one, where it would be lost or answered by a reset."""
    closed = threading.Event()
    seen: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            with conn:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(65536)
                head, body = request.split(b"\r\n\r\n", 1)
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                while len(body) < length:
                    body += conn.recv(65536)
                seen.append(body)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            closed.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/ok"
    try:
        with _client(StdlibHTTPTransport()) as client:
            assert client.post(url, content=b"1").text == "ok"
            assert closed.wait(10)  # the server's end is closed: the FIN is in our socket
            closed.clear()
            assert client.post(url, content=b"2").text == "ok"
        thread.join(10)
    finally:
        listener.close()
    assert seen == [b"1", b"2"]


@pytest.mark.parametrize("path", ["/big", "/big-close"])
def test_an_answer_not_read_to_the_end_does_not_return_its_connection(
    server: _Server, path: str
) -> None:
    transport = StdlibHTTPTransport()
    with _client(transport) as client:
        client.post(server.url + "/ok", content=b"x")
        ((idle,),) = transport._idle.values()
        sock = idle.http.sock  # the connection the next request reuses
        assert sock is not None
        with client.stream("POST", server.url + path, content=b"x") as response:
            first = next(response.iter_raw(1000))
        assert first == b"x" * len(first)
        assert sock.fileno() == -1  # closed for real, not held open by the answer's reader
        assert client.post(server.url + "/ok", content=b"x").text == "seen 1"
    assert server.connections == 2


def test_an_expired_idle_connection_is_not_reused(server: _Server) -> None:
    with _client(StdlibHTTPTransport(keepalive_expiry=0.0)) as client:
        for _ in range(3):
            assert client.post(server.url + "/ok", content=b"x").text == "seen 1"
    assert server.connections == 3


def test_close_ends_the_idle_connections(server: _Server) -> None:
    transport = StdlibHTTPTransport()
    client = _client(transport)
    client.post(server.url + "/ok", content=b"x")
    (idle,) = [c for conns in transport._idle.values() for c in conns]
    client.close()
    assert idle.http.sock is None


def test_threads_use_connections_side_by_side(server: _Server) -> None:
    transport = StdlibHTTPTransport()
    errors: list[BaseException] = []
    with _client(transport) as client:

        def work(n: int) -> None:
            try:
                for i in range(10):
                    text = client.post(server.url + "/ok", content=b"x" * (n + i)).text
                    assert text == f"seen {n + i}"
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(k * 100,)) for k in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors
    assert len(server.requests) == 40
    # A connection is made only when every pooled one is in use: at most one per thread.
    assert server.connections <= 4


def test_refused_connection_is_connect_error_never_sent() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: connections are refused
        with _client(StdlibHTTPTransport()) as client, pytest.raises(httpx.ConnectError) as info:
            client.post(f"http://127.0.0.1:{port}/ok", content=b"x")
    mapped = transport_error(info.value, "file/upload")
    assert isinstance(mapped, TransientError)
    assert mapped.request_sent is False


def test_a_hang_up_after_the_request_is_an_error_that_may_have_acted(server: _Server) -> None:
    with _client(StdlibHTTPTransport()) as client, pytest.raises(httpx.TransportError) as info:
        client.post(server.url + "/drop", content=b"x")
    assert not isinstance(info.value, httpx.ConnectError | httpx.ConnectTimeout)
    assert transport_error(info.value, "file/upload").request_sent is True
    assert server.requests == [("/drop", b"x")]


def test_no_answer_in_time_is_a_read_timeout(server: _Server) -> None:
    with (
        _client(StdlibHTTPTransport(), timeout=0.3) as client,
        pytest.raises(httpx.ReadTimeout) as info,
    ):
        client.post(server.url + "/hang", content=b"x")
    # The request reached the host (it holds it): the client must count it as sent.
    assert server.hanging.wait(10)
    assert server.requests == [("/hang", b"x")]
    assert transport_error(info.value, "file/upload").request_sent is True


def test_a_body_that_fails_mid_stream_raises_its_own_error_and_drops_the_connection(
    server: _Server,
) -> None:
    class Shrank(OSError):
        pass

    def body() -> Iterator[bytes]:
        yield b"a" * 1000
        raise Shrank("file shrank while uploading")

    transport = StdlibHTTPTransport()
    with _client(transport) as client:
        with pytest.raises(Shrank):
            client.post(server.url + "/ok", content=body(), headers={"Content-Length": "5000"})
        assert not [c for conns in transport._idle.values() for c in conns]
        assert not list(transport._open)  # closed, not merely left out of the pool
        assert client.post(server.url + "/ok", content=b"x").text == "seen 1"


def _no_proxy_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for scheme in ("HTTP", "HTTPS", "ALL", "NO"):
        monkeypatch.delenv(f"{scheme}_PROXY", raising=False)
        monkeypatch.delenv(f"{scheme.lower()}_proxy", raising=False)


def test_syncd_clients_use_it_unless_given_a_transport(
    server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_proxy_in_environment(monkeypatch)
    client = make_http_client(verify_tls=True, timeout=10, max_connections=4, transport=None)
    with client:
        assert isinstance(client._transport, StdlibHTTPTransport)
        assert client.post(server.url + "/ok", content=b"xy").text == "seen 2"


def test_an_answer_read_whole_is_freed_as_soon_as_it_is_dropped(
    server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Left to httpx, every answer is in a reference cycle (its stream refers back to it) that
    # only the cyclic collector frees: a bulk upload's answers were most of its collections.
    _no_proxy_in_environment(monkeypatch)
    client = make_http_client(verify_tls=True, timeout=10, max_connections=4, transport=None)
    gc.disable()
    try:
        with client:
            response = client.post(server.url + "/ok", content=b"xy")
            assert response.text == "seen 2"
            assert list(response.iter_bytes()) == [b"seen 2"]  # still readable as before
            dropped = weakref.ref(response)
            del response
            assert dropped() is None
    finally:
        gc.enable()


def test_a_proxy_from_the_environment_is_still_used(
    server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # httpx reads HTTP(S)_PROXY only when it picks the transport itself: a user behind a proxy
    # must keep going through it.
    _no_proxy_in_environment(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", server.url)
    client = make_http_client(verify_tls=True, timeout=10, max_connections=4, transport=None)
    with client:
        assert client.post("http://host.invalid/api/v2/ok", content=b"xyz").text == "seen 3"
    assert server.requests == [("http://host.invalid/api/v2/ok", b"xyz")]  # sent to the proxy
