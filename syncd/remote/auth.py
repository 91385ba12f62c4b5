"""The process's one access token, shared by all threads and renewed in one place.

The host keeps one live token per account: ``authorize`` deletes every other token, so another
process with the same keys kills ours. Renewal is coordinated (the first thread that sees the
stale token renews, the others wait and reuse the new one), renewals that follow each other
quickly back off with a growing delay, and a refused authorization is remembered and never
retried implicitly (repeated failures lock the account).
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
    ) -> None:
        self._authorize = authorize
        self._lock = threading.Lock()
        self._session: Session | None = None
        self._generation = 0
        self._refused: AuthError | None = None
        self._quick_window = quick_renewal_window
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._clock = clock
        self._sleep = sleep
        self._last_renewal: float | None = None
        self._quick_renewals = 0  # renewals in a row, each soon after the previous one

    @property
    def session(self) -> Session | None:
        return self._session

    @property
    def authorizations(self) -> int:
        return self._generation

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
        """Explicit authorization (clears a remembered refusal: the caller asked for it)."""
        with self._lock:
            self._refused = None
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
        if self._refused is not None:
            raise AuthError(self._refused.message, action=self._refused.action)

    def _do_authorize(self) -> Session:
        try:
            token, account_id = self._authorize()
        except AuthError as refused:
            self._refused = refused
            raise
        self._generation += 1
        return Session(token, account_id, self._generation)

    def __repr__(self) -> str:
        return f"TokenManager(generation={self._generation}, live={self._session is not None})"
