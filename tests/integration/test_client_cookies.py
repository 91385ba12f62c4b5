"""A host that sets a cookie gets it back on the next request, as httpx always did; the jar is
only read from answers that carry Set-Cookie (the API's answers carry none)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from syncd.remote.transport import make_http_client


class _CookieHost(BaseHTTPRequestHandler):
    seen: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.headers.get("Cookie"))
        self.send_response(200)
        if self.path == "/set":
            self.send_header("Set-Cookie", "lb=node-2; Path=/")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def host() -> Iterator[str]:
    _CookieHost.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CookieHost)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_cookie_the_host_sets_is_sent_back(host: str) -> None:
    with make_http_client(verify_tls=True, timeout=5, max_connections=2, transport=None) as http:
        http.get(host + "/plain")
        assert len(http.cookies) == 0
        http.get(host + "/set")
        http.get(host + "/plain")
        assert dict(http.cookies) == {"lb": "node-2"}
    assert _CookieHost.seen == [None, None, "lb=node-2"]
