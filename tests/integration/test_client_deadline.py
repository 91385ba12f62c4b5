"""`max_retry_time` bounds a whole call, authorization included, against a host that refuses
connections: retries nested inside retries (authorize inside the call's own loop) once took
226 s for a setting of 120 s."""

from __future__ import annotations

import socket
import time

import pytest

from syncd.emulator import DEMO_KEY1, DEMO_KEY2
from syncd.remote.client import RemoteClient
from syncd.remote.credentials import Credentials
from syncd.remote.errors import TransientError

MAX_RETRY_TIME = 3.0
BACKOFF_CAP = 0.5  # the longest single wait between attempts


def refusing_port() -> int:
    """A loopback port with nothing listening: every connect is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("call", ["folder_listing", "account_info"])
def test_unreachable_host_gives_up_within_max_retry_time(call: str) -> None:
    client = RemoteClient(
        f"http://127.0.0.1:{refusing_port()}/api/v2/",
        Credentials(key1=DEMO_KEY1, key2=DEMO_KEY2),
        max_retry_time=MAX_RETRY_TIME,
        backoff_base=0.05,
        backoff_cap=BACKOFF_CAP,
        revoke_on_close=False,
    )
    with client:
        started = time.monotonic()
        with pytest.raises(TransientError):
            if call == "folder_listing":
                client.folder_listing(None)
            else:
                client.account_info()
        elapsed = time.monotonic() - started
        stats = client.stats()
    # Refused connects cost nothing: the time is the retries' own waits. One deadline for the
    # whole call ends it within max_retry_time plus at most one last wait; nested loops took
    # a multiple of it.
    assert elapsed <= MAX_RETRY_TIME + BACKOFF_CAP, (elapsed, stats)
    assert stats.requests >= 2  # it did retry
