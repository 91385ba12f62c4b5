"""Request pacing shared by every thread of one client.

:class:`AdaptiveRateLimiter` spaces requests at a rate it learns from the host: it starts fast
and grows quickly (slow start) until the first 429, then remembers the throughput that was
succeeding when the 429 came (the *ceiling*), drops a little below it (multiplicative decrease),
closes the gap quickly and then probes above the ceiling very slowly, so 429s stay rare while
the achieved rate stays close to the host's limit. A ``Retry-After`` pauses everyone.

:class:`ResizableSemaphore` caps concurrent uploads; the engine sizes it from
``account/package``'s ``concurrent_uploads`` and the config.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RateLimiterStats:
    rate: float  # requests/s the limiter currently allows
    ceiling: float | None  # learned host limit, None before the first 429
    successes: int
    rate_limited: int
    cuts: int  # multiplicative decreases applied


MAX_RATE = 1000.0  # requests/s: the most the limiter ever lets through


class AdaptiveRateLimiter:
    """Thread-safe pacing with additive-increase / multiplicative-decrease around a learned ceiling.

    ``acquire()`` blocks until the caller may send one request. Report each answer with
    ``on_success()`` or ``on_rate_limited(retry_after)``.
    """

    def __init__(
        self,
        *,
        initial_rate: float = 50.0,
        min_rate: float = 0.2,
        max_rate: float = MAX_RATE,
        decrease: float = 0.85,
        approach: float = 1.0,
        probe: float = 0.004,
        probe_doubling: float = 10.0,
        window: float = 1.0,
        max_pause: float = 60.0,
        burst: int = 0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 0 < min_rate <= initial_rate <= max_rate:
            raise ValueError("need 0 < min_rate <= initial_rate <= max_rate")
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self._rate = initial_rate
        self._min_rate = min_rate
        self._max_rate = max_rate
        self._decrease = decrease
        self._approach = approach  # 1/s: how fast the gap below the ceiling closes
        self._probe = probe  # growth per second at/above the ceiling, as a fraction of it
        # The probe doubles every `probe_doubling` seconds without a 429, so a ceiling learned
        # from a passing disturbance (another client, a concurrency 429) is soon forgotten.
        self._probe_doubling = probe_doubling
        self._window = window
        self._max_pause = max_pause  # a Retry-After of an hour must not freeze every thread
        # Slots an idle client may use at once (a token bucket's depth): a daemon's pass after a
        # quiet spell (listing, upload) is not paced 1/rate apart. Hosts' limits allow bursts.
        self._burst_credit = max(0, burst - 1)  # slots it may lag behind `now`
        self._ceiling: float | None = None
        self._next_slot = 0.0
        self._pause_until = 0.0
        self._last_cut = float("-inf")
        self._last_throttled = float("-inf")  # last time a caller had to wait for its slot
        self._recent: deque[float] = deque()  # times of recent successes, within `window`
        self._successes = 0
        self._rate_limited = 0
        self._cuts = 0

    @property
    def rate(self) -> float:
        return self._rate

    @property
    def ceiling(self) -> float | None:
        return self._ceiling

    def stats(self) -> RateLimiterStats:
        with self._lock:
            return RateLimiterStats(
                self._rate, self._ceiling, self._successes, self._rate_limited, self._cuts
            )

    def acquire(self) -> None:
        """Block until this caller's slot comes; slots are spaced 1/rate apart."""
        while True:
            with self._lock:
                now = self._clock()
                earliest = now - self._burst_credit / self._rate
                slot = max(earliest, self._next_slot, self._pause_until)
                self._next_slot = slot + 1.0 / self._rate
                if slot > now:
                    self._last_throttled = now
            if slot > now:
                self._sleep(slot - now)
            # A Retry-After that arrived while we slept applies to us too.
            with self._lock:
                if self._pause_until <= self._clock():
                    return

    def on_success(self) -> None:
        with self._lock:
            now = self._clock()
            self._successes += 1
            self._recent.append(now)
            self._trim(now)
            rate = self._rate
            if self._ceiling is None:
                grow = rate  # slow start: doubles every second
            else:
                calm = (now - self._last_cut) / self._probe_doubling
                probe = self._probe * self._ceiling * 2 ** min(20.0, calm)
                grow = max(probe, self._approach * (self._ceiling - rate))
            # Growth is expressed per second; each success is 1/rate of a second at this rate.
            self._rate = min(self._max_rate, rate + grow / rate)

    def on_rate_limited(self, retry_after: float | None = None) -> None:
        with self._lock:
            now = self._clock()
            self._rate_limited += 1
            pause = retry_after if retry_after is not None else 1.0 / self._rate
            pause = min(max(0.0, pause), self._max_pause)
            self._pause_until = max(self._pause_until, now + pause)
            self._next_slot = max(self._next_slot, self._pause_until)
            # Answers already in flight when we cut belong to the same overshoot: cut once.
            if now - self._last_cut < self._window + pause:
                return
            self._trim(now)
            achieved = len(self._recent) / self._window
            # When callers were queueing for slots, what was succeeding just before the 429 is
            # the best estimate of the host's limit. A client that was not using its allowance
            # learns little from one 429 (another client, a concurrency limit): halve at most.
            busy = now - self._last_throttled < self._window
            if busy and achieved > 0:
                ceiling = min(self._rate, achieved)
            else:
                ceiling = min(self._rate, max(achieved, self._rate / 2))
            ceiling = max(ceiling, self._min_rate)
            self._ceiling = ceiling
            self._rate = max(self._min_rate, ceiling * self._decrease)
            self._last_cut = now
            self._cuts += 1

    def _trim(self, now: float) -> None:
        horizon = now - self._window
        while self._recent and self._recent[0] < horizon:
            self._recent.popleft()


class ResizableSemaphore:
    """A counting semaphore whose capacity can change while in use (0 or None = unlimited)."""

    def __init__(self, capacity: int | None) -> None:
        self._cond = threading.Condition()
        self._capacity = capacity or 0
        self._in_use = 0

    @property
    def capacity(self) -> int:
        """Current cap; 0 means unlimited."""
        return self._capacity

    @property
    def in_use(self) -> int:
        return self._in_use

    def resize(self, capacity: int | None) -> None:
        with self._cond:
            self._capacity = max(0, capacity or 0)
            self._cond.notify_all()

    def acquire(self) -> None:
        with self._cond:
            while self._capacity and self._in_use >= self._capacity:
                self._cond.wait()
            self._in_use += 1

    def release(self) -> None:
        with self._cond:
            self._in_use -= 1
            self._cond.notify()

    def __enter__(self) -> ResizableSemaphore:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"ResizableSemaphore(capacity={self._capacity}, in_use={self._in_use})"
