"""TokenManager with a fake clock: a refusal is retried on a long, capped backoff (never forgotten
forever, never hammered), and the renewal backoff resets once a token has worked."""

from __future__ import annotations

import threading

import pytest

from syncd.remote.auth import TokenManager
from syncd.remote.errors import AuthError


class Clock:
    """A monotonic clock the test moves; ``sleep`` advances it and records the delay."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Host:
    """Stands in for /authorize: refuses while ``locked``, else hands out numbered tokens."""

    def __init__(self) -> None:
        self.calls = 0
        self.locked = False
        self.lock = threading.Lock()

    def authorize(self) -> tuple[str, str]:
        with self.lock:
            self.calls += 1
            if self.locked:
                raise AuthError("Could not authenticate user.", action="authorize")
            return f"token-{self.calls}", "1"


def manager(host: Host, clock: Clock) -> TokenManager:
    return TokenManager(
        host.authorize,
        clock=clock,
        sleep=clock.sleep,
        refusal_backoff_base=300.0,
        refusal_backoff_cap=3600.0,
    )


def test_refusal_is_retried_after_its_backoff_and_clears_on_success() -> None:
    host, clock = Host(), Clock()
    tokens = manager(host, clock)
    session = tokens.current()
    host.locked = True
    with pytest.raises(AuthError):
        tokens.renew(session)
    assert host.calls == 2
    refusal = tokens.refusal()
    assert refusal is not None and refusal.attempts == 1
    assert 240 <= refusal.retry_in(clock()) <= 360  # about the base, jittered

    clock.now += 10  # soon after: remembered, no request
    with pytest.raises(AuthError):
        tokens.current()
    assert host.calls == 2

    host.locked = False  # the account was unlocked
    clock.now += refusal.retry_in(clock()) + 0.01
    assert tokens.current().access_token == "token-3"
    assert host.calls == 3 and tokens.refusal() is None


def test_refusal_backoff_grows_to_its_cap() -> None:
    host, clock = Host(), Clock()
    host.locked = True
    tokens = manager(host, clock)
    waits = []
    for _ in range(8):
        with pytest.raises(AuthError):
            tokens.current()
        refusal = tokens.refusal()
        assert refusal is not None
        waits.append(refusal.retry_in(clock()))
        clock.now += waits[-1] + 0.01
    assert host.calls == 8  # one request per expired backoff, never more
    assert waits[1] > waits[0] * 1.3 and waits[2] > waits[1] * 1.3
    assert max(waits) <= 3600 * 1.2 and waits[-1] >= 3600 * 0.8


def test_allow_retry_now_lets_the_next_call_try_once() -> None:
    host, clock = Host(), Clock()
    host.locked = True
    tokens = manager(host, clock)
    with pytest.raises(AuthError):
        tokens.current()
    host.locked = False
    tokens.allow_retry_now()  # SIGHUP: the user says it is fixed
    assert tokens.current().access_token == "token-2"
    assert tokens.refusal() is None


def test_renewal_backoff_resets_once_a_token_has_worked() -> None:
    """Two processes on one account: each renewal kills the other's token. Once a token has
    served requests, the next renewal starts from the smallest wait again."""
    host, clock = Host(), Clock()
    tokens = manager(host, clock)
    session = tokens.current()
    for _ in range(12):
        clock.now += 5  # tokens live seconds, well inside the quick-renewal window
        session = tokens.renew(session)
        tokens.worked(session)  # a request with it was answered
    # Still a short pause between renewals (so two processes do not thrash), never growing.
    assert max(clock.sleeps) <= 0.5 * 1.2, clock.sleeps


def test_renewal_backoff_grows_while_no_token_works() -> None:
    host, clock = Host(), Clock()
    tokens = manager(host, clock)
    session = tokens.current()
    for _ in range(6):
        clock.now += 0.1
        session = tokens.renew(session)
    assert len(clock.sleeps) == 5 and clock.sleeps[-1] > clock.sleeps[0]
