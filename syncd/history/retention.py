"""Which versions a retention policy keeps, in the spirit of restic's ``forget --keep-*``.

Every version is bucketed by the moment it stopped being live (``live_to``: the last instant it
was the current state of its path). Per path:

* ``keep_last = n`` keeps the n newest versions;
* ``keep_hourly/daily/weekly/monthly = n`` keep, for each of the n most recent hours/days/ISO
  weeks/months (UTC) that have versions, the newest version of that bucket;
* a version is kept when any rule keeps it; with no ``keep_*`` rule every version is kept;
* ``max_age`` (seconds) is a hard limit on top: a version that stopped being live longer ago
  than that is pruned, whatever the rules above say.

Pure: the current time is passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Retention:
    keep_last: int | None = None
    keep_hourly: int | None = None
    keep_daily: int | None = None
    keep_weekly: int | None = None
    keep_monthly: int | None = None
    max_age_s: int | None = None

    @property
    def has_rules(self) -> bool:
        return any(
            n is not None
            for n in (
                self.keep_last,
                self.keep_hourly,
                self.keep_daily,
                self.keep_weekly,
                self.keep_monthly,
            )
        )

    def describe(self) -> str:
        parts = [
            f"{name}={value}"
            for name, value in (
                ("keep_last", self.keep_last),
                ("keep_hourly", self.keep_hourly),
                ("keep_daily", self.keep_daily),
                ("keep_weekly", self.keep_weekly),
                ("keep_monthly", self.keep_monthly),
                ("max_age", f"{self.max_age_s}s" if self.max_age_s is not None else None),
            )
            if value is not None
        ]
        return ", ".join(parts) or "keep everything"


def _utc(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, UTC)


_BUCKETS: tuple[tuple[str, Callable[[datetime], Hashable]], ...] = (
    ("keep_hourly", lambda t: (t.year, t.month, t.day, t.hour)),
    ("keep_daily", lambda t: (t.year, t.month, t.day)),
    ("keep_weekly", lambda t: t.isocalendar()[:2]),
    ("keep_monthly", lambda t: (t.year, t.month)),
)


def kept(versions: Iterable[tuple[K, int]], policy: Retention, now_ns: int) -> set[K]:
    """The keys of the versions of ONE path that ``policy`` keeps; ``versions`` are
    ``(key, live_to_ns)``."""
    ordered: Sequence[tuple[K, int]] = sorted(versions, key=lambda v: v[1], reverse=True)
    if policy.has_rules:
        keep: set[K] = set()
        if policy.keep_last:
            keep.update(k for k, _ in ordered[: policy.keep_last])
        for field_name, bucket_of in _BUCKETS:
            n = getattr(policy, field_name)
            if not n:
                continue
            seen: set[Hashable] = set()
            for key, to_ns in ordered:  # newest first: the first of a bucket is its newest
                bucket = bucket_of(_utc(to_ns))
                if bucket in seen:
                    continue
                if len(seen) == n:
                    break
                seen.add(bucket)
                keep.add(key)
    else:
        keep = {k for k, _ in ordered}
    if policy.max_age_s is not None:
        oldest = now_ns - policy.max_age_s * 1_000_000_000
        keep = {k for k, to_ns in ordered if k in keep and to_ns >= oldest}
    return keep
