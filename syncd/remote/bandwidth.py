"""Bandwidth limits: rclone's ``bwlimit`` syntax, and the token bucket bytes pass through.

``bwlimit`` is written as rclone users know it:

- a rate: ``"512k"``, ``"4M"``, ``"1.5M"`` (bytes per second, binary units B K M G T P; a bare
  number is KiB/s, as in rclone), or ``"off"``;
- upload and download apart: ``"4M:off"`` (upload ``4M``, downloads unlimited);
- a time table of ``HH:MM,RATE`` entries separated by spaces or ``;``, optionally per weekday:
  ``"08:00,512k 19:00,4M 23:00,off"``, ``"Mon-08:00,512k Sat-00:00,off"``. The rate of the
  latest entry at or before now applies, wrapping around the day (or the week when weekdays are
  given; an entry without a day holds on every day).

:class:`TokenBucket` paces bytes for every thread of one client: one bucket for uploads and one
for downloads, so ``workers`` parallel transfers share the limit. Its clock and sleep are passed
in, so its accounting is tested without waiting.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

KIB = 1024
_UNITS = {"b": 1, "k": KIB, "m": KIB**2, "g": KIB**3, "t": KIB**4, "p": KIB**5}
_RATE_RE = re.compile(r"(\d+(?:\.\d+)?)([bkmgtp]?)(?:i?b)?(?:/s)?", re.IGNORECASE)
_TIME_RE = re.compile(r"(?:([a-z]+)-)?(\d{1,2}):(\d{2})", re.IGNORECASE)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = {
    **{day: index for index, day in enumerate(DAYS)},
    **{
        name: index
        for index, name in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    },
}
RATE_FIX = 'write a rate like "512k" or "4M", "off", or a time table like "08:00,512k 23:00,off"'
MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True, slots=True)
class Bandwidth:
    """Bytes per second allowed for uploads (``up``) and downloads (``down``); None: no limit."""

    up: float | None = None
    down: float | None = None

    @property
    def limited(self) -> bool:
        return self.up is not None or self.down is not None

    def __str__(self) -> str:
        if self.up == self.down:
            return format_rate(self.up)
        return f"upload {format_rate(self.up)}, download {format_rate(self.down)}"


UNLIMITED = Bandwidth()


def format_rate(rate: float | None) -> str:
    """1048576 -> "1 MiB/s"; None -> "off"."""
    if rate is None:
        return "off"
    for unit, size in (("GiB", KIB**3), ("MiB", KIB**2), ("KiB", KIB)):
        if rate >= size:
            return f"{rate / size:g} {unit}/s"
    return f"{rate:g} B/s"


def _parse_one_rate(text: str, whole: str) -> float | None:
    if text.lower() == "off":
        return None
    match = _RATE_RE.fullmatch(text)
    if not match:
        raise ValueError(f"{whole!r}: {text!r} is not a rate — {RATE_FIX}")
    rate = float(match[1]) * _UNITS[(match[2] or "k").lower()]
    if rate <= 0:
        # rclone reads 0 as "off"; a reader of the config could take it for "pause".
        raise ValueError(f'{whole!r}: a rate of 0 is ambiguous — write "off" for no limit')
    return rate


def parse_rate(text: str, whole: str | None = None) -> Bandwidth:
    """ "4M" -> both directions 4 MiB/s; "4M:off" -> upload 4 MiB/s, downloads unlimited."""
    whole = text if whole is None else whole
    up, sep, down = text.strip().partition(":")
    if sep and ":" in down:
        raise ValueError(f"{whole!r}: {text!r} has more than one ':' — write UPLOAD:DOWNLOAD")
    up_rate = _parse_one_rate(up.strip(), whole)
    return Bandwidth(up_rate, _parse_one_rate(down.strip(), whole) if sep else up_rate)


@dataclass(frozen=True, slots=True)
class Switch:
    """One time-table entry: from ``minute`` of the day (on weekday ``day``, 0 = Monday, or
    every day when None) on, ``bandwidth`` applies."""

    day: int | None
    minute: int
    bandwidth: Bandwidth

    @property
    def hour_minute(self) -> tuple[int, int]:
        return divmod(self.minute, 60)


@dataclass(frozen=True)
class BwLimit:
    """A parsed ``bwlimit``: one rate, or a time table (``timed``) of switches."""

    text: str
    switches: tuple[Switch, ...]
    timed: bool

    def at(self, when: datetime) -> Bandwidth:
        """The limit in force at local time ``when``."""
        if not self.timed:
            return self.switches[0].bandwidth
        now = when.weekday() * MINUTES_PER_DAY + when.hour * 60 + when.minute
        week = self._week()
        current = week[-1][1]  # before the week's first entry, the last one holds (wrap)
        for start, bandwidth in week:
            if start > now:
                break
            current = bandwidth
        return current

    def _week(self) -> list[tuple[int, Bandwidth]]:
        entries: dict[int, Bandwidth] = {}
        for switch in self.switches:
            days = range(7) if switch.day is None else (switch.day,)
            for day in days:
                entries[day * MINUTES_PER_DAY + switch.minute] = switch.bandwidth
        return sorted(entries.items())

    def __str__(self) -> str:
        return self.text


def parse_bwlimit(value: object) -> BwLimit:
    """The config's ``bwlimit``; ValueError ``"<problem> — <fix>"`` otherwise."""
    if isinstance(value, BwLimit):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a string, got {value!r} — {RATE_FIX}")
    text = " ".join(value.replace(";", " ").split())
    if "," not in text and " " not in text:
        return BwLimit(text, (Switch(None, 0, parse_rate(text, value)),), timed=False)
    switches: list[Switch] = []
    seen: dict[tuple[int | None, int], str] = {}
    for entry in text.split(" "):
        when, sep, rate = entry.partition(",")
        match = _TIME_RE.fullmatch(when)
        if not sep or not match:
            raise ValueError(
                f"{value!r}: {entry!r} is not a time-table entry — write HH:MM,RATE or "
                "Mon-HH:MM,RATE, entries separated by spaces"
            )
        day_name, hour, minute = match[1], int(match[2]), int(match[3])
        day = None
        if day_name is not None:
            day = _DAY_NAMES.get(day_name.lower())
            if day is None:
                raise ValueError(
                    f"{value!r}: {day_name!r} is not a weekday — use Mon, Tue, Wed, Thu, Fri, "
                    "Sat or Sun"
                )
        if hour > 23 or minute > 59:
            raise ValueError(f"{value!r}: {when!r} is not a time of day — use 00:00 to 23:59")
        key = (day, hour * 60 + minute)
        if key in seen:
            raise ValueError(f"{value!r}: {when!r} appears twice — give each time once")
        seen[key] = when
        switches.append(Switch(day, hour * 60 + minute, parse_rate(rate, value)))
    return BwLimit(text, tuple(switches), timed=True)


# --------------------------------------------------------------------------------------------
# Pacing

# Bytes are sent in pieces of at most this size while a limit holds, so the pace is smooth and
# a change of rate applies within a piece.
MAX_PIECE = 64 * KIB
MIN_PIECE = 4 * KIB
# A bucket holds at most this many seconds of its rate: an idle spell earns little burst, so the
# achieved rate over a few seconds stays within a few percent of the limit.
BURST_SECONDS = 0.05


class TokenBucket:
    """Bytes per second shared by every thread; ``rate`` None lets everything through.

    :meth:`reserve` grants ``n`` bytes at once and answers how long the caller must wait before
    sending them: the bucket may go into debt, so a large piece is not starved by small ones
    and callers are served in the order they asked. Over any span of ``t`` seconds, the bytes
    whose wait ends inside it are at most ``rate * t`` plus one burst and one piece.
    """

    def __init__(
        self,
        rate: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self._rate: float | None = None
        self._tokens = 0.0
        self._stamp = clock()
        self.granted = 0  # bytes let through since the bucket was made
        self.waited = 0.0  # seconds callers were told to wait, summed
        self.set_rate(rate)

    @property
    def rate(self) -> float | None:
        return self._rate

    @property
    def capacity(self) -> float:
        return 0.0 if self._rate is None else max(float(self.piece()), self._rate * BURST_SECONDS)

    def piece(self) -> int:
        """How many bytes to send between two reservations at the current rate."""
        rate = self._rate
        if rate is None:
            return MAX_PIECE
        return int(min(MAX_PIECE, max(MIN_PIECE, rate / 16)))

    def set_rate(self, rate: float | None) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive or None")
        with self._lock:
            self._refill(self._clock())
            if self._rate is None:
                self._tokens = 0.0  # a new limit starts empty: no burst of a whole capacity
            self._rate = rate
            if rate is None:
                self._tokens = 0.0
            else:
                self._tokens = min(self._tokens, self.capacity)

    def _refill(self, now: float) -> None:
        if self._rate is not None:
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now

    def reserve(self, n: int) -> float:
        """Take ``n`` bytes now; the seconds to wait before sending them."""
        with self._lock:
            self.granted += n
            if self._rate is None:
                return 0.0
            self._refill(self._clock())
            self._tokens -= n
            wait = max(0.0, -self._tokens / self._rate)
            self.waited += wait
            return wait

    def take(self, n: int) -> None:
        """Block until ``n`` bytes may be sent."""
        wait = self.reserve(n)
        if wait > 0:
            self._sleep(wait)

    def paced(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """``chunks`` cut into pieces, each let through by the bucket; untouched while no limit
        holds (the rate is read again for every chunk)."""
        for chunk in chunks:
            if self._rate is None:
                self.reserve(len(chunk))
                yield chunk
                continue
            view = memoryview(chunk)
            while view:
                piece = view[: self.piece()]
                self.take(len(piece))
                yield bytes(piece)
                view = view[len(piece) :]
