"""The adaptive limiter on a virtual clock, against a simulated host limit."""

from __future__ import annotations

import itertools
import math
import threading

import pytest

from syncd.remote.client import INITIAL_BURST, INITIAL_RATE
from syncd.remote.ratelimit import AdaptiveRateLimiter, ResizableSemaphore


class VirtualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


def limiter_on(clock: VirtualClock, **kwargs: float) -> AdaptiveRateLimiter:
    return AdaptiveRateLimiter(clock=clock, sleep=clock.sleep, **kwargs)


def test_slots_are_spaced_by_the_rate() -> None:
    clock = VirtualClock()
    limiter = limiter_on(clock, initial_rate=10, max_rate=10)
    starts = []
    for _ in range(5):
        limiter.acquire()
        starts.append(clock.now)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps == pytest.approx([0.1] * 4)


def test_slow_start_doubles_until_the_first_429() -> None:
    clock = VirtualClock()
    limiter = limiter_on(clock, initial_rate=10, max_rate=10_000)
    for _ in range(10):  # one second's worth of successes at 10/s
        limiter.on_success()
    assert limiter.rate == pytest.approx(20, rel=0.01)
    assert limiter.ceiling is None


def test_retry_after_pauses_everyone() -> None:
    clock = VirtualClock()
    limiter = limiter_on(clock, initial_rate=100)
    limiter.on_rate_limited(retry_after=2.0)
    before = clock.now
    limiter.acquire()
    assert clock.now - before >= 2.0


def busy_second(limiter: AdaptiveRateLimiter, requests: int) -> None:
    """Callers queue for slots (the limiter paces them) and every request succeeds."""
    for _ in range(requests):
        limiter.acquire()
        limiter.on_success()


def test_one_cut_per_overshoot_and_ceiling_from_what_succeeded() -> None:
    clock = VirtualClock()
    limiter = limiter_on(clock, initial_rate=20, decrease=0.8)
    busy_second(limiter, 20)  # slow start: 20 successes in well under a second
    assert limiter.rate > 30
    limiter.on_rate_limited(retry_after=1)
    assert limiter.ceiling == pytest.approx(20)
    assert limiter.rate == pytest.approx(16)
    limiter.on_rate_limited(retry_after=1)  # the same overshoot, answered a moment later
    limiter.on_rate_limited(retry_after=1)
    stats = limiter.stats()
    assert stats.cuts == 1 and stats.rate_limited == 3


def test_a_lone_429_of_an_idle_client_halves_at_most() -> None:
    clock = VirtualClock()
    limiter = limiter_on(clock, initial_rate=40)
    limiter.acquire()
    limiter.on_success()
    clock.sleep(5)
    limiter.on_rate_limited(retry_after=None)
    assert limiter.ceiling == pytest.approx(20.5)  # half the rate, not "0 requests per second"


def test_rate_approaches_the_ceiling_then_probes_slowly() -> None:
    clock = VirtualClock()
    limiter = limiter_on(clock, initial_rate=20, decrease=0.8, probe=0.005)
    busy_second(limiter, 20)
    limiter.on_rate_limited(retry_after=None)
    assert limiter.rate < 20
    busy_second(limiter, 100)  # about five seconds
    assert 19 < limiter.rate < 21


def test_the_probe_speeds_up_after_a_long_calm() -> None:
    clock = VirtualClock()
    limiter = limiter_on(clock, initial_rate=20)
    busy_second(limiter, 20)
    limiter.on_rate_limited(retry_after=None)
    busy_second(limiter, 1500)  # about a minute without a 429
    assert limiter.rate > 2 * limiter.ceiling  # type: ignore[operator]


class TokenBucketHost:
    """The emulator's proxy: `rate` tokens/s, bursts up to one second, Retry-After rounded up."""

    def __init__(self, clock: VirtualClock, rate: float) -> None:
        self.clock, self.rate = clock, rate
        self.tokens, self.stamp = rate, clock.now

    def request(self) -> float | None:
        """None if served, else the Retry-After."""
        now = self.clock.now
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return float(max(1, math.ceil((1 - self.tokens) / self.rate)))


@pytest.mark.parametrize("limit", [2.0, 20.0, 100.0])
def test_finds_a_hosts_limit_with_few_429s(limit: float) -> None:
    clock = VirtualClock()
    limiter = limiter_on(clock)
    host = TokenBucketHost(clock, limit)
    served = limited = 0
    start = clock.now
    while clock.now - start < 120:
        limiter.acquire()
        clock.sleep(0.002)  # the request's own round trip
        retry_after = host.request()
        if retry_after is None:
            served += 1
            limiter.on_success()
        else:
            limited += 1
            limiter.on_rate_limited(retry_after)
            clock.sleep(retry_after)  # the retry waits too
    achieved = served / (clock.now - start)
    share = limited / (served + limited)
    print(f"limit {limit}: achieved {achieved / limit:.0%}, 429 share {share:.1%}")
    assert achieved >= 0.85 * limit
    assert share <= 0.05


def test_semaphore_caps_and_resizes() -> None:
    slots = ResizableSemaphore(2)
    slots.acquire()
    slots.acquire()
    entered = threading.Event()

    def third() -> None:
        with slots:
            entered.set()

    thread = threading.Thread(target=third)
    thread.start()
    assert not entered.wait(0.05)  # blocked at capacity 2
    slots.resize(3)
    assert entered.wait(5)
    thread.join()
    slots.release()
    slots.release()
    assert slots.in_use == 0
    unlimited = ResizableSemaphore(None)
    for _ in range(100):
        unlimited.acquire()
    assert unlimited.capacity == 0 and unlimited.in_use == 100


def test_rejects_nonsense_rates() -> None:
    with pytest.raises(ValueError):
        AdaptiveRateLimiter(initial_rate=0)


def test_an_absurd_retry_after_pauses_at_most_max_pause() -> None:
    clock = VirtualClock()
    limiter = limiter_on(clock, max_pause=30)
    limiter.on_rate_limited(retry_after=3600)
    before = clock.now
    limiter.acquire()
    assert clock.now - before == pytest.approx(30)


def test_an_idle_client_may_burst_then_is_paced() -> None:
    clock = VirtualClock()
    limiter = limiter_on(clock, initial_rate=10, max_rate=10, burst=3)
    starts = []
    for _ in range(6):
        limiter.acquire()
        starts.append(clock.now - 1000.0)
    # Three slots at once (the bucket was full), then 1/rate apart again.
    assert starts == pytest.approx([0.0, 0.0, 0.0, 0.1, 0.2, 0.3])
    clock.sleep(10)  # idle: the bucket refills, but never beyond `burst`
    before = clock.now
    for _ in range(4):
        limiter.acquire()
    assert clock.now - before == pytest.approx(0.1)


def test_the_clients_default_limiter_holds_no_request_back_before_the_first_429() -> None:
    # A no-op pass on a fast host lists ~900 folders a second from its start; slow start from
    # 200 req/s made it queue for slots (docs/architecture.md, "CPU per request").
    clock = VirtualClock()
    limiter = limiter_on(clock, initial_rate=INITIAL_RATE, burst=INITIAL_BURST)
    waited = 0.0
    for _ in range(1_800):  # two seconds at 900 requests/s, every one a success
        before = clock.now
        limiter.acquire()
        waited += clock.now - before
        limiter.on_success()
        clock.now += 1 / 900
    assert waited == 0.0
