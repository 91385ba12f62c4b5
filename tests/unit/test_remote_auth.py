"""TokenManager: one renewal for many threads, backoff when tokens keep dying, no retry loops."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from syncd.remote.auth import TokenManager
from syncd.remote.errors import AuthError


class Host:
    """Stands in for the /authorize call: hands out numbered tokens."""

    def __init__(self, refuse: bool = False) -> None:
        self.calls = 0
        self.refuse = refuse
        self.lock = threading.Lock()

    def authorize(self) -> tuple[str, str]:
        with self.lock:
            self.calls += 1
            if self.refuse:
                raise AuthError("Could not authenticate user.", action="authorize")
            return f"token-{self.calls}", "1"


def test_many_threads_share_one_renewal() -> None:
    host = Host()
    sleeps: list[float] = []
    tokens = TokenManager(host.authorize, sleep=sleeps.append)
    stale = tokens.current()
    barrier = threading.Barrier(8)

    def renew() -> str:
        barrier.wait()
        return tokens.renew(stale).access_token

    with ThreadPoolExecutor(8) as pool:
        results = set(pool.map(lambda _: renew(), range(8)))
    assert results == {"token-2"} and host.calls == 2 and sleeps == []


def test_quick_successive_renewals_back_off_with_growing_delay() -> None:
    host = Host()
    sleeps: list[float] = []
    now = [0.0]
    tokens = TokenManager(host.authorize, sleep=sleeps.append, clock=lambda: now[0])
    session = tokens.current()
    for _ in range(5):
        now[0] += 0.1
        session = tokens.renew(session)
    assert len(sleeps) == 4  # the first renewal is free
    assert all(b > a for a, b in itertools.pairwise(sleeps))
    now[0] += 1000  # a token that lived long: the next renewal is free again
    tokens.renew(session)
    assert len(sleeps) == 4


def test_refused_authorization_is_remembered_not_retried() -> None:
    host = Host(refuse=True)
    tokens = TokenManager(host.authorize)
    for _ in range(3):
        with pytest.raises(AuthError):
            tokens.current()
    assert host.calls == 1
    with pytest.raises(AuthError):
        tokens.authorize_now()  # an explicit request does try again
    assert host.calls == 2


def test_session_repr_hides_the_token() -> None:
    tokens = TokenManager(Host().authorize)
    session = tokens.current()
    assert "token-1" not in repr(session) and "token-1" not in repr(tokens)
