"""The process's one access token, shared by all threads and renewed in one place.

The host keeps one live token per account: ``authorize`` deletes every other token, so another
process with the same keys kills ours. Renewal is coordinated (the first thread that sees the
stale token renews, the others wait and reuse the new one), and renewals that follow each other
quickly back off with a growing delay until a token has served a request again.

A refused authorization is remembered: until its backoff expires every call fails at once with
the same error and no request (repeated failures lock the account, and each attempt during a
lockout can extend it). The backoff is long and capped (5 min, doubling, at most an hour by
default), so a long-running process recovers by itself once the account is unlocked or the
keys are fixed; :meth:`TokenManager.allow_retry_now` (SIGHUP) or an explicit
:meth:`TokenManager.authorize_now` tries at once.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from syncd.remote.errors import AuthError

log = structlog.get_logger(__name__)


# A refused authorization is retried after base * 2^(n-1) seconds (n refusals in a row), at most
# the cap: long enough that a lockout counter is not fed, short enough that an unlocked account
# is used again within the hour without anyone restarting anything.
REFUSAL_BACKOFF_BASE = 300.0
REFUSAL_BACKOFF_CAP = 3600.0


@dataclass(frozen=True, slots=True)
class Refusal:
    """The host refused our credentials ``attempts`` times in a row, first at ``since`` (unix
    time); no implicit authorization is sent before ``retry_at`` (on the manager's clock)."""

    error: AuthError
    since: float
    attempts: int
    retry_at: float

    def retry_in(self, now: float) -> float:
        return max(0.0, self.retry_at - now)


@dataclass(frozen=True, slots=True)
class Session:
    """One authorization's result. ``generation`` counts authorizations of this client."""

    access_token: str = field(repr=False)
    account_id: str
    generation: int


class TokenManager:
    """Holds the current :class:`Session`; ``authorize`` performs the /authorize call."""

    def __init__(
        self,
        authorize: Callable[[], tuple[str, str]],
        *,
        quick_renewal_window: float = 60.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        refusal_backoff_base: float = REFUSAL_BACKOFF_BASE,
        refusal_backoff_cap: float = REFUSAL_BACKOFF_CAP,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._authorize = authorize
        self._lock = threading.Lock()
        self._session: Session | None = None
        self._generation = 0
        self._refusal: Refusal | None = None
        self._refusal_base = refusal_backoff_base
        self._refusal_cap = refusal_backoff_cap
        self._wall_clock = wall_clock
        self._quick_window = quick_renewal_window
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._clock = clock
        self._sleep = sleep
        self._last_renewal: float | None = None
        self._quick_renewals = 0  # renewals in a row, each soon after the previous one
        self._worked: int | None = None  # generation of the last token that served a request

    @property
    def session(self) -> Session | None:
        return self._session

    @property
    def authorizations(self) -> int:
        return self._generation

    def refusal(self) -> Refusal | None:
        """The remembered refusal of our credentials, if the last authorization was refused."""
        return self._refusal

    def allow_retry_now(self) -> None:
        """Let the next call authorize at once despite a remembered refusal (the user says the
        credentials or the account are fixed: SIGHUP). A new refusal keeps counting up."""
        with self._lock:
            if self._refusal is not None:
                self._refusal = Refusal(
                    self._refusal.error, self._refusal.since, self._refusal.attempts, 0.0
                )

    def set_refusal_backoff(self, base: float, cap: float) -> None:
        """Change the refusal backoff (seconds) for refusals from now on."""
        with self._lock:
            self._refusal_base, self._refusal_cap = base, max(base, cap)

    def worked(self, session: Session) -> None:
        """``session``'s token served a request: renewals are no longer "in a row" (cheap: called
        after every answered request, no lock)."""
        if self._worked != session.generation:
            self._worked = session.generation

    def current(self) -> Session:
        """The live session, authorizing first if there is none."""
        session = self._session
        if session is not None:
            return session
        with self._lock:
            if self._session is None:
                self._raise_if_refused()
                self._session = self._do_authorize()
            return self._session

    def authorize_now(self) -> Session:
        """Explicit authorization: tries even during a refusal's backoff (the caller asked)."""
        with self._lock:
            self._session = self._do_authorize()
            return self._session

    def renew(self, stale: Session) -> Session:
        """Replace ``stale`` (rejected by the host). If another thread already renewed, reuse it."""
        with self._lock:
            current = self._session
            if current is not None and current.generation != stale.generation:
                return current
            self._raise_if_refused()
            now = self._clock()
            quick = self._last_renewal is not None and now - self._last_renewal < self._quick_window
            if self._worked is not None and self._worked == stale.generation:
                # The stale token served requests: someone took it away, but we are not in a
                # loop of tokens that never work. Start the backoff from its smallest step.
                self._quick_renewals = 1 if quick else 0
            else:
                self._quick_renewals = self._quick_renewals + 1 if quick else 0
            if self._quick_renewals:
                # Tokens keep dying: someone else is authorizing with our keys. Don't thrash.
                delay = min(self._backoff_cap, self._backoff_base * 2 ** (self._quick_renewals - 1))
                delay *= random.uniform(0.8, 1.2)
                log.warning(
                    "remote.token.backoff",
                    delay_s=round(delay, 2),
                    renewals_in_a_row=self._quick_renewals + 1,
                )
                self._sleep(delay)
            else:
                log.info("remote.token.renew")
            self._session = self._do_authorize()
            self._last_renewal = self._clock()
            return self._session

    def forget(self) -> Session | None:
        """Drop the session (after disable_access_token); the next call authorizes again."""
        with self._lock:
            session, self._session = self._session, None
            return session

    def _raise_if_refused(self) -> None:
        """Within a refusal's backoff: fail at once, the same way, without a request."""
        refusal = self._refusal
        if refusal is not None and self._clock() < refusal.retry_at:
            raise type(refusal.error)(refusal.error.message, action=refusal.error.action)

    def _do_authorize(self) -> Session:
        try:
            token, account_id = self._authorize()
        except AuthError as refused:
            previous = self._refusal
            attempts = previous.attempts + 1 if previous else 1
            delay = min(self._refusal_cap, self._refusal_base * 2 ** (attempts - 1))
            delay *= random.uniform(0.8, 1.2)
            self._refusal = Refusal(
                refused,
                previous.since if previous else self._wall_clock(),
                attempts,
                self._clock() + delay,
            )
            self._session = None  # whatever we held is dead: fail without sending it again
            log.warning("remote.auth.refused", attempts=attempts, next_try_in_s=round(delay, 1))
            raise
        if self._refusal is not None:
            log.warning("remote.auth.accepted_again", after_refusals=self._refusal.attempts)
            self._refusal = None
        self._generation += 1
        return Session(token, account_id, self._generation)

    def __repr__(self) -> str:
        return f"TokenManager(generation={self._generation}, live={self._session is not None})"
