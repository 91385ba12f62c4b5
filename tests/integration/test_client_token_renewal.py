"""Tokens taken away again and again (another process authorizing with the same keys): once a
renewed token has served requests, the next renewal starts from the smallest wait again; the
wait grew by doubling per renewal (to 25-35 s) even while every token worked."""

from __future__ import annotations

from structlog.testing import capture_logs

from syncd.emulator import DEMO_KEY1, DEMO_KEY2
from syncd.emulator.testing import EmulatorProcess
from syncd.remote.client import RemoteClient
from syncd.remote.credentials import Credentials

RENEWALS = 6
SMALLEST_WAIT = 0.5  # TokenManager's backoff_base
JITTER = 1.2


def test_renewal_wait_does_not_grow_while_tokens_work(emulator: EmulatorProcess) -> None:
    client = RemoteClient(emulator.api_url, Credentials(key1=DEMO_KEY1, key2=DEMO_KEY2))
    with client, capture_logs() as logs:
        client.folder_listing(None)
        for _ in range(RENEWALS):
            emulator.admin.revoke_tokens()  # someone else authorized: our token is gone
            client.folder_listing(None)  # renewed, and the new token works
            client.folder_listing(None)
        assert client.stats().token_renewals == RENEWALS
    waits = [e["delay_s"] for e in logs if e["event"] == "remote.token.backoff"]
    assert all(w <= SMALLEST_WAIT * JITTER for w in waits), waits
