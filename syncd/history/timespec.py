"""Times and durations as users write them: ``--at 2024-05-01T12:00``, ``--at 3d``,
``max_age = "90d"``. Pure: the current time is passed in."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(?:(\d+)([smhdw]))")


def parse_duration(text: str) -> int:
    """Seconds in ``3d``, ``12h``, ``1w2d``, ``90m``, ``45s`` (units s, m, h, d, w).

    Raises ValueError with a message that says what is accepted."""
    compact = text.strip().lower().replace(" ", "")
    if not compact or _DURATION.sub("", compact) or not compact[0].isdigit():
        raise ValueError(
            f"{text!r} is not a duration; write a number and a unit (s, m, h, d, w), e.g. 90d, 12h"
        )
    return sum(int(n) * _UNITS[u] for n, u in _DURATION.findall(compact))


def parse_moment(text: str, now_ns: int) -> int:
    """A point in time in nanoseconds since the epoch (UTC).

    ISO 8601 (``2024-05-01``, ``2024-05-01T12:00``, ``…Z``, ``…+02:00``; without an offset it
    is the local time of this machine), or a duration before now (``3d`` = three days ago)."""
    stripped = text.strip()
    try:
        seconds = parse_duration(stripped)
    except ValueError:
        pass
    else:
        return now_ns - seconds * 1_000_000_000
    try:
        moment = datetime.fromisoformat(stripped)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time; write ISO 8601 (2024-05-01T12:00, 2024-05-01T10:00Z) "
            "or an age such as 3d or 12h"
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # the local time zone
    moment = moment.astimezone(UTC)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000
