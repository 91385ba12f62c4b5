"""RemoteClient under faults injected by the emulator (and one tiny lying host for MD5 checks)."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from syncd.emulator import DEMO_KEY1, DEMO_KEY2
from syncd.emulator.testing import EmulatorProcess
from syncd.remote.client import RemoteClient
from syncd.remote.credentials import Credentials
from syncd.remote.errors import HashMismatch, TokenInvalid, TransientError, UploadOutcomeUnknown
from syncd.remote.ratelimit import AdaptiveRateLimiter
from syncd.remote.recording import RecordingTransport

KEYS = Credentials(key1=DEMO_KEY1, key2=DEMO_KEY2)


def make_client(emu: EmulatorProcess, **kwargs: object) -> RemoteClient:
    kwargs.setdefault("max_retry_time", 15.0)
    kwargs.setdefault("backoff_base", 0.05)
    return RemoteClient(emu.api_url, KEYS, **kwargs)  # type: ignore[arg-type]


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------- tokens


def test_expired_token_is_renewed_transparently(emulator: EmulatorProcess) -> None:
    with make_client(emulator) as remote:
        remote.folder_listing(None)
        emulator.admin.set_knobs(token_lifetime_s=0.3)
        time.sleep(0.6)  # outlive the token: expiry is what this test is about
        assert remote.account_info().id == 1
        counts = emulator.admin.counts()
        assert counts["authorize"] == 2 and counts["account/info"] == 2  # one replay
        assert remote.stats().token_renewals == 1


def test_revoked_token_renewed_once_for_all_threads(emulator: EmulatorProcess) -> None:
    with make_client(emulator) as remote:
        remote.folder_listing(None)
        emulator.admin.revoke_tokens()  # another process authorized with our keys
        errors: list[BaseException] = []

        def work() -> None:
            try:
                for _ in range(5):
                    remote.folder_listing(None)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert not errors
        assert emulator.admin.counts()["authorize"] == 2  # one renewal, everyone reused it


def test_tokens_taken_away_repeatedly_backs_off_then_gives_up(emulator: EmulatorProcess) -> None:
    with make_client(emulator, token_give_up=2.5) as remote:
        remote.folder_listing(None)
        # Every token is stale as soon as it is issued: what a client sees when another process
        # keeps authorizing with the same keys. (A thief thread revoking in a loop races the
        # client and loses on a loaded machine; this is deterministic.)
        emulator.admin.set_knobs(token_lifetime_s=0)
        emulator.admin.reset_counts()
        with pytest.raises(TokenInvalid):
            remote.folder_listing(None)
        renewals = emulator.admin.counts().get("authorize", 0)
        # Backoff 0.5, 1, 2 s...: a handful of renewals in 2.5 s, not hundreds.
        assert 2 <= renewals <= 5


# ---------------------------------------------------------------- 429 and faults


@pytest.mark.emulator(rate_limit_rps=2)
def test_429_retry_after_is_obeyed(emulator: EmulatorProcess) -> None:
    recorder = RecordingTransport()
    with make_client(emulator, transport=recorder) as remote:
        for _ in range(5):
            remote.folder_listing(None)
    exchanges = recorder.exchanges
    # close()'s disable_access_token is best effort: a 429 there is not retried.
    limited = [
        (i, x)
        for i, x in enumerate(exchanges)
        if x.status == 429 and not x.path.endswith("disable_access_token")
    ]
    assert limited, "the test needs at least one 429"
    for i, x in limited:
        assert x.retry_after is not None
        later = [y.started for y in exchanges[i + 1 :]]
        assert later, "a 429 must be followed by its retry"
        gap = min(later) - x.finished
        print(f"429 Retry-After={x.retry_after}s -> next request after {gap:.3f}s")
        assert gap >= float(x.retry_after)
    counts = emulator.admin.counts()
    assert counts["folder/listing"] == 5  # every call eventually served


@pytest.mark.emulator(fault_rate=0.3, fault_seed=7, fault_kinds=["500", "502", "503", "drop"])
def test_5xx_html_and_dropped_answers_are_retried(emulator: EmulatorProcess) -> None:
    with make_client(emulator) as remote:
        for _ in range(15):
            assert remote.folder_listing(None) is not None
            assert remote.account_package().max_upload_size > 0
        faults = emulator.admin.counts().get("faults", 0)
        assert faults > 5
        assert remote.stats().retries >= faults - 2  # authorize faults are retried too


@pytest.mark.emulator(fault_rate=0.3, fault_seed=11, fault_kinds=["500", "503", "drop"])
def test_a_failed_first_attempt_is_retried_not_resent_twice(emulator: EmulatorProcess) -> None:
    """The first attempt runs outside tenacity; when it fails, tenacity starts from that
    failure: each failed attempt is followed by exactly one new request, logged as a retry."""
    with make_client(emulator) as remote:
        for _ in range(20):
            assert remote.folder_listing(None) is not None
        stats = remote.stats()
        authorizations = stats.token_renewals + 1
        assert stats.retries > 0, "the test needs failed attempts"
        assert stats.requests == 20 + authorizations + stats.retries
        counts = emulator.admin.counts()  # the host saw each of those requests once
        assert counts["folder/listing"] + counts["authorize"] == stats.requests


@pytest.mark.emulator(fault_rate=1.0, fault_kinds=["stall"], stall_s=5)
def test_stalled_answer_times_out(emulator: EmulatorProcess) -> None:
    emulator.admin.set_knobs(fault_rate=0)
    with make_client(emulator, timeout=0.3, max_retry_time=1.2) as remote:
        remote.folder_listing(None)  # authorized while the host is healthy
        emulator.admin.set_knobs(fault_rate=1.0)
        started = time.monotonic()
        with pytest.raises(TransientError, match="ReadTimeout"):
            remote.folder_listing(None)
        assert time.monotonic() - started < 5  # gave up, did not wait for the stall
        emulator.admin.set_knobs(fault_rate=0)
        assert remote.folder_listing(None) is not None


def test_connect_error_is_transient_and_retried() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    remote = RemoteClient(
        f"http://127.0.0.1:{port}/api/v2/", KEYS, max_retry_time=0.6, backoff_base=0.05
    )
    with pytest.raises(TransientError, match="ConnectError") as error:
        remote.folder_listing(None)
    assert error.value.request_sent is False
    assert remote.stats().requests >= 2  # retried before giving up
    remote.close()


@pytest.mark.parametrize("kind", ["after_500", "after_drop"])
def test_lost_upload_answer_is_unknown_not_duplicated(
    emulator: EmulatorProcess, tmp_path: Path, kind: str
) -> None:
    with make_client(emulator) as remote:
        folder = remote.folder_create("lost")
        emulator.admin.set_knobs(fault_rate=1.0, fault_kinds=[kind])
        with pytest.raises(UploadOutcomeUnknown):
            remote.upload_file(write(tmp_path / "a.txt", b"payload"), folder.id)
        with pytest.raises(UploadOutcomeUnknown):
            remote.folder_create("twin?", folder.id)
        emulator.admin.set_knobs(fault_rate=0)
        source = remote.upload_file(write(tmp_path / "b.txt", b"copy me"), folder.id)
        emulator.admin.set_knobs(fault_rate=1.0, fault_kinds=[kind])
        with pytest.raises(UploadOutcomeUnknown):
            remote.file_copy(source.file_id, folder.id)
        emulator.admin.set_knobs(fault_rate=0)
        listing = remote.folder_listing(folder.id)
    counts = emulator.admin.counts()
    assert counts["file/upload"] == 2 and counts["folder/create"] == 2 and counts["file/copy"] == 1
    # The actions took effect exactly once each; the engine will find them in the listing.
    assert sorted(f.name for f in listing.files) == ["a.txt", "b.txt", "b.txt"]
    assert [f.name for f in listing.folders] == ["twin?"]


@pytest.mark.emulator(rate_limit_rps=2)
def test_upload_answered_429_is_safely_retried(emulator: EmulatorProcess, tmp_path: Path) -> None:
    limiter = AdaptiveRateLimiter(initial_rate=100)
    with make_client(emulator, rate_limiter=limiter) as remote:
        files = [write(tmp_path / f"f{i}", f"{i}".encode()) for i in range(4)]
        for path in files:
            remote.upload_file(path, None)
        assert remote.stats().rate_limited >= 1
    names = sorted(f["name"] for f in emulator.admin.tree()["files"])
    assert names == ["f0", "f1", "f2", "f3"]


# ---------------------------------------------------------------- MD5 mismatch


class _LyingHost(BaseHTTPRequestHandler):
    """Answers authorize and file/upload like the host, but reports the MD5 of other bytes."""

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        if self.path.endswith("/authorize"):
            data: object = {"access_token": "t" * 128, "account_id": "1"}
        elif self.path.endswith("/file/upload"):
            data = [
                {
                    "name": "x.bin",
                    "size": "3",
                    "error": None,
                    "hash": hashlib.md5(b"not what you sent").hexdigest(),
                    "file_id": "77",
                    "short_url": "a1",
                    "url": "http://127.0.0.1/a1",
                }
            ]
        else:
            data = {}
        body = json.dumps({"data": data, "_status": "success"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def lying_host() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LyingHost)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/v2/"
    finally:
        server.shutdown()
        server.server_close()


def test_md5_mismatch_is_detected(lying_host: str, tmp_path: Path) -> None:
    with RemoteClient(lying_host, KEYS) as remote, pytest.raises(HashMismatch) as mismatch:
        remote.upload_file(write(tmp_path / "x.bin", b"abc"), None)
    assert mismatch.value.file_id == 77
    assert hashlib.md5(b"abc").hexdigest() in str(mismatch.value)
