"""A scripted HTTP host on loopback, for answers the emulator never gives (HTML error pages,
truncated bodies, wrong statuses, secrets echoed back), optionally behind TLS."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Answer = tuple[int, dict[str, str], bytes]


@dataclass
class ScriptedHost:
    """``answers[action]`` is a body (bytes), a (status, headers, body) tuple, or a callable of
    the form fields returning one of those; actions without one answer a plain success."""

    url: str = ""
    answers: dict[str, object] = field(default_factory=dict)
    requests: list[tuple[str, str, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, method: str, path: str, body: bytes) -> Answer:
        with self.lock:
            self.requests.append((method, path, body))
        action = path.split("/api/v2/", 1)[1] if "/api/v2/" in path else path
        script = self.answers.get(action)
        if callable(script):
            script = script(body)
        if script is None:
            data: object = {"access_token": "T" * 128, "account_id": "1"}
            if action != "authorize":
                data = {"id": "1", "filename": "x", "fileSize": "1"}
            script = json.dumps({"data": data, "_status": "success"}).encode()
        if isinstance(script, bytes):
            return 200, {"Content-Type": "application/json"}, script
        assert isinstance(script, tuple)
        return script

    def calls(self, action: str) -> int:
        """How many requests named ``action`` arrived so far."""
        with self.lock:
            return sum(1 for _, path, _ in self.requests if path.endswith("/" + action))


@contextlib.contextmanager
def scripted_host(wrap_socket: Callable[[object], object] | None = None) -> Iterator[ScriptedHost]:
    """Serve a :class:`ScriptedHost` on 127.0.0.1 (port 0) until the block ends; with
    ``wrap_socket`` (an SSL context's) it speaks https."""
    host = ScriptedHost()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            status, headers, payload = host.answer(method, self.path, body)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if not any(name.lower() == "content-length" for name in headers):
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            if any(name.lower() == "content-length" for name in headers):
                self.close_connection = True  # a body shorter than announced: cut it off

        def do_POST(self) -> None:
            self._serve("POST")

        def do_GET(self) -> None:
            self._serve("GET")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if wrap_socket is not None:
        server.socket = wrap_socket(server.socket)  # type: ignore[assignment]
    scheme = "https" if wrap_socket is not None else "http"
    host.url = f"{scheme}://127.0.0.1:{server.server_address[1]}/api/v2/"
    thread = threading.Thread(target=server.serve_forever, name="scripted-host", daemon=True)
    thread.start()
    try:
        yield host
    finally:
        server.shutdown()
        server.server_close()
