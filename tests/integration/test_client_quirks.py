"""Answer shapes a real host (or the proxy before it) produces that the emulator does not:
a tiny scripted HTTP server on loopback plays them, the client talks real HTTP to it."""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from syncd.remote.client import RemoteClient
from syncd.remote.credentials import Credentials
from syncd.remote.errors import Refused, TransientError, UploadOutcomeUnknown

KEYS = Credentials(key1="k" * 64, key2="q" * 64)
FILE_ROW = {"id": "5", "filename": "a.txt", "fileSize": "3", "folderId": None, "status": "active"}


def ok(data: object) -> tuple[int, dict[str, str], bytes]:
    return 200, {}, json.dumps({"data": data, "_status": "success"}).encode()


@dataclass
class Script:
    """Canned answers per action; when an action's queue is empty it answers success."""

    answers: dict[str, deque[tuple[int, dict[str, str], bytes]]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    tokens_issued: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def then(self, action: str, status: int, body: bytes, **headers: str) -> Script:
        self.answers[action].append((status, headers, body))
        return self

    def answer(self, action: str) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            self.calls[action] += 1
            if self.answers[action]:
                return self.answers[action].popleft()
            if action == "authorize":
                self.tokens_issued += 1
                return ok({"access_token": f"T{self.tokens_issued}" * 20, "account_id": "1"})
            if action == "file/upload":
                return ok(
                    [{"file_id": "9", "name": "a.txt", "size": "3", "hash": "", "error": None}]
                )
            return ok(FILE_ROW)


@pytest.fixture
def scripted() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            action = self.path.split("/api/v2/", 1)[1]
            status, headers, body = script.answer(action)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/v2/", script
    finally:
        server.shutdown()
        server.server_close()


def client_for(url: str, **kwargs: object) -> RemoteClient:
    kwargs.setdefault("max_retry_time", 5.0)
    kwargs.setdefault("backoff_base", 0.01)
    return RemoteClient(url, KEYS, **kwargs)  # type: ignore[arg-type]


HTML = b"<html><body><h1>Service Unavailable</h1></body></html>"


def test_html_and_truncated_200_answers_to_reads_are_retried(
    scripted: tuple[str, Script],
) -> None:
    url, script = scripted
    script.then("file/info", 200, HTML, Content_Type="text/html")
    script.then("file/info", 200, b'{"data": {"id": "5", "filen')
    with client_for(url) as remote:
        assert remote.file_info(5).name == "a.txt"
    assert script.calls["file/info"] == 3


def test_html_200_answer_to_upload_is_unknown(scripted: tuple[str, Script], tmp_path: Path) -> None:
    url, script = scripted
    script.then("file/upload", 200, HTML, Content_Type="text/html")
    source = tmp_path / "a.txt"
    source.write_bytes(b"abc")
    with client_for(url) as remote, pytest.raises(UploadOutcomeUnknown):
        remote.upload_file(source, None)
    assert script.calls["file/upload"] == 1


def test_retry_after_as_http_date(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    script.then("file/info", 429, HTML, Retry_After=formatdate(usegmt=True))
    with client_for(url) as remote:
        assert remote.file_info(5).id == 5
        assert remote.stats().rate_limited == 1


def test_proxy_401_renews_the_token(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    script.then("file/info", 401, b"<html>401 Authorization Required</html>")
    with client_for(url) as remote:
        assert remote.file_info(5).id == 5
    assert script.calls["authorize"] == 2


def test_upload_refused_in_the_file_entry(scripted: tuple[str, Script], tmp_path: Path) -> None:
    url, script = scripted
    entry = {"file_id": None, "name": "a.txt", "error": "File is too big", "hash": None}
    script.then("file/upload", *ok([entry])[::2])
    script.then("file/upload", 413, b"<html>413 Request Entity Too Large</html>")
    source = tmp_path / "a.txt"
    source.write_bytes(b"abc")
    with client_for(url) as remote:
        for _ in range(2):
            with pytest.raises(Refused) as refused:
                remote.upload_file(source, None)
            assert refused.value.kind == Refused.TOO_LARGE


def test_persistent_5xx_gives_up_within_max_retry_time(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    for _ in range(200):
        script.then("folder/listing", 503, HTML)
    with client_for(url, max_retry_time=0.5) as remote:
        with pytest.raises(TransientError, match="HTTP 503"):
            remote.folder_listing(None)
        assert 2 <= script.calls["folder/listing"] < 200


def test_unreadable_success_to_a_creating_action_is_unknown(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    script.then("folder/create", *ok(None)[::2])  # "success" without data
    script.then("file/copy", 200, json.dumps({"_status": "success"}).encode())
    with client_for(url) as remote:
        with pytest.raises(UploadOutcomeUnknown):
            remote.folder_create("x")
        with pytest.raises(UploadOutcomeUnknown):
            remote.file_copy(5, None)
    assert script.calls["folder/create"] == 1 and script.calls["file/copy"] == 1
