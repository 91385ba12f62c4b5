"""Run-time knobs of the emulator, the request-rate token bucket and the fault dice."""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from typing import Any

FAULT_KINDS = ("500", "502", "503", "drop", "stall", "after_500", "after_drop")
DEFAULT_FAULT_KINDS = ["500", "502", "503", "drop"]


class KnobError(ValueError):
    """A knob value that makes no sense (admin API answers 400)."""


@dataclass
class Knobs:
    latency_ms: float = 0.0
    rate_limit_rps: float = 0.0  # 0 = unlimited
    upload_concurrency_limit: int = 0  # 0 = unlimited (the proxy's limit, answered with 429)
    fault_rate: float = 0.0
    fault_kinds: list[str] = field(default_factory=lambda: list(DEFAULT_FAULT_KINDS))
    fault_seed: int | None = None
    stall_s: float = 120.0  # how long a "stall" fault holds the request before a 504
    token_lifetime_s: float = 3600.0
    max_upload_size: int = 1073741824
    concurrent_uploads: int = 100  # the package value; also enforced with 429 (0 = unlimited)
    api_access: bool = True
    # After this many failed authorizations in a row the account is locked (0 = never):
    # every authorize, even with the right keys, is refused until the knob is set again.
    lockout_after_failures: int = 0

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def update(self, changes: dict[str, Any]) -> list[str]:
        """Validate and apply a subset of knobs; returns the names changed."""
        known = {f.name: f for f in fields(self)}
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise KnobError(f"unknown knob(s): {', '.join(unknown)}; known: {', '.join(known)}")
        staged = {name: _coerce(name, value) for name, value in changes.items()}
        for name, value in staged.items():
            setattr(self, name, value)
        return list(staged)


def _coerce(name: str, value: Any) -> Any:
    try:
        if name == "fault_kinds":
            kinds = value.split(",") if isinstance(value, str) else list(value)
            kinds = [str(k).strip() for k in kinds if str(k).strip()]
            bad = [k for k in kinds if k not in FAULT_KINDS]
            if bad:
                raise KnobError(f"fault_kinds: unknown kind(s) {bad}; known: {list(FAULT_KINDS)}")
            return kinds
        if name == "fault_seed":
            return None if value is None else int(value)
        if name == "api_access":
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if name in (
            "upload_concurrency_limit",
            "max_upload_size",
            "concurrent_uploads",
            "lockout_after_failures",
        ):
            number = int(value)
        else:
            number = float(value)
    except (TypeError, ValueError) as exc:
        raise KnobError(f"{name}: not a valid value: {value!r}") from exc
    if number < 0 or (isinstance(number, float) and not math.isfinite(number)):
        raise KnobError(f"{name}: must be a finite number >= 0, got {value!r}")
    if name == "fault_rate" and number > 1:
        raise KnobError(f"fault_rate: must be between 0 and 1, got {value!r}")
    return number


class TokenBucket:
    """Request-rate limiter of the 'proxy': `rate` tokens per second, bursts up to one second."""

    def __init__(self) -> None:
        self._tokens = 0.0
        self._rate = 0.0
        self._stamp = time.monotonic()

    def take(self, rate: float) -> float:
        """Take one token. Returns 0 if allowed, else the seconds until one is available."""
        if rate <= 0:
            return 0.0
        now = time.monotonic()
        capacity = max(1.0, rate)
        if rate != self._rate:
            # A new limit starts with a full bucket.
            self._rate, self._tokens = rate, capacity
        else:
            self._tokens = min(capacity, self._tokens + (now - self._stamp) * rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / rate


def retry_after_header(wait_s: float) -> str:
    """Retry-After in whole seconds, never 0 (proxies round up)."""
    return str(max(1, math.ceil(wait_s)))


class FaultDice:
    """Decides which request gets which fault; reproducible for a given seed."""

    def __init__(self, seed: int | None) -> None:
        self._random = random.Random(seed)

    def reseed(self, seed: int | None) -> None:
        self._random = random.Random(seed)

    def roll(self, rate: float, kinds: list[str]) -> str | None:
        if rate <= 0 or not kinds:
            return None
        if self._random.random() >= rate:
            return None
        return self._random.choice(kinds)


class Counts:
    """Per-action request counts plus '429' and 'faults' (admin calls are never counted)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def add(self, key: str) -> None:
        self._counts[key] += 1

    def snapshot(self) -> dict[str, int]:
        return dict(self._counts)

    def reset(self) -> None:
        self._counts.clear()
