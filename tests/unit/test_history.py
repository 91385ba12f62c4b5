"""The versions area's pure rules: versioned names (round trip, order, the host's cleaning,
length), retention policies and the time forms users write."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.emulator.sanitize import clean_field
from syncd.history.names import (
    MAX_NAME,
    VERSIONS_DIR,
    format_stamp,
    parse_versioned_name,
    split_ext,
    versioned_name,
)
from syncd.history.retention import Retention, kept
from syncd.history.timespec import parse_duration, parse_moment

NS = 1_000_000_000
MS = 1_000_000
# Milliseconds between 1970 and 9999: what the fixed-width stamps hold.
moments = st.integers(min_value=0, max_value=253_402_300_799_999).map(lambda ms: ms * MS)
# Any name a file or folder can have: separators, tags, spaces, '%', '~', long ones.
names = st.one_of(
    st.text(min_size=1, max_size=40),
    st.text(alphabet="~v.-0123456789TZ%<> \tabc", min_size=1, max_size=60),
    st.text(min_size=200, max_size=400),
).filter(lambda n: "/" not in n and "\x00" not in n)


@given(names, moments, moments, st.booleans())
@settings(max_examples=200)
def test_round_trip(name: str, a: int, b: int, is_folder: bool) -> None:
    start, end = min(a, b), max(a, b)
    versioned = versioned_name(name, start, end, is_folder=is_folder)
    parsed = parse_versioned_name(versioned)
    assert parsed is not None
    assert (parsed.live_from_ns, parsed.live_to_ns) == (start, end)
    assert parsed.matches(name)
    if not parsed.shortened:
        assert parsed.original == name
    assert len(versioned) <= MAX_NAME


@given(names, moments, moments, st.booleans())
@settings(max_examples=150)
def test_the_hosts_cleaning_leaves_it_alone(name: str, a: int, b: int, is_folder: bool) -> None:
    versioned = versioned_name(name, min(a, b), max(a, b), is_folder=is_folder)
    assert clean_field(versioned) == versioned


@given(names, st.lists(st.tuples(moments, moments), min_size=2, max_size=6))
def test_versions_of_one_name_sort_by_time(name: str, spans: list[tuple[int, int]]) -> None:
    spans = [(min(a, b), max(a, b)) for a, b in spans]
    by_name = sorted(spans, key=lambda s: versioned_name(name, *s))
    assert by_name == sorted(spans)


@given(names, moments, moments)
def test_the_extension_stays_last(name: str, a: int, b: int) -> None:
    _, ext = split_ext(name)
    assert versioned_name(name, min(a, b), max(a, b)).endswith(ext)


def test_examples() -> None:
    t0 = int(datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC).timestamp() * 1000) * MS
    t1 = t0 + 7 * 86400 * NS
    assert versioned_name("report.pdf", t0, t1) == (
        "report~v20240102T030405.678Z-20240109T030405.678Z~.pdf"
    )
    assert versioned_name("photos.2023", t0, t1, is_folder=True).endswith("~")
    assert split_ext(".bashrc") == (".bashrc", "")
    assert format_stamp(t0) == "20240102T030405.678Z"
    # A name that looks like a version is still parsed from the right.
    tricky = versioned_name("a~v20240102T030405.678Z-20240109T030405.678Z~.txt", t0, t1)
    assert parse_versioned_name(tricky).original == (  # type: ignore[union-attr]
        "a~v20240102T030405.678Z-20240109T030405.678Z~.txt"
    )
    for foreign in ("a.txt", "a~v2024~.txt", "~v20240102T030405.678Z-20240109T030405.678Z~", ""):
        assert parse_versioned_name(foreign) is None
    assert VERSIONS_DIR == ".syncd-versions"


def test_long_names_are_shortened_with_a_digest() -> None:
    long = "x" * 300 + ".pdf"
    versioned = versioned_name(long, 0, NS)
    parsed = parse_versioned_name(versioned)
    assert parsed is not None and parsed.shortened
    assert len(versioned) == MAX_NAME and versioned.endswith(".pdf")
    assert parsed.matches(long) and not parsed.matches("x" * 301 + ".pdf")


# -- retention ---------------------------------------------------------------------------------

DAY = 86400 * NS
HOUR = 3600 * NS
NOW = int(datetime(2024, 6, 30, 12, tzinfo=UTC).timestamp()) * NS


def test_no_policy_keeps_everything() -> None:
    versions = [(i, NOW - i * DAY) for i in range(10)]
    assert kept(versions, Retention(), NOW) == set(range(10))


def test_keep_last() -> None:
    versions = [(i, NOW - i * HOUR) for i in range(10)]
    assert kept(versions, Retention(keep_last=3), NOW) == {0, 1, 2}


def test_keep_daily_takes_the_newest_of_each_of_the_latest_days() -> None:
    # Three versions a day over five days; the newest of a day has the highest hour.
    versions = [(f"{d}-{h}", NOW - d * DAY - (11 - h) * HOUR) for d in range(5) for h in (1, 5, 9)]
    assert kept(versions, Retention(keep_daily=3), NOW) == {"0-9", "1-9", "2-9"}


def test_rules_add_up_and_max_age_caps_them() -> None:
    versions = [(i, NOW - i * DAY) for i in range(60)]
    policy = Retention(keep_last=2, keep_weekly=4)
    keep = kept(versions, policy, NOW)
    assert {0, 1} <= keep and len(keep) <= 6
    capped = kept(versions, Retention(keep_last=2, keep_monthly=12, max_age_s=10 * 86400), NOW)
    assert all(i <= 10 for i in capped) and {0, 1} <= capped
    assert kept(versions, Retention(max_age_s=5 * 86400), NOW) == {0, 1, 2, 3, 4, 5}


@given(st.lists(st.integers(min_value=0, max_value=400 * 24), unique=True, max_size=40))
def test_keep_last_one_always_keeps_the_newest(hours: list[int]) -> None:
    versions = [(h, NOW - h * HOUR) for h in hours]
    keep = kept(versions, Retention(keep_last=1, keep_monthly=2), NOW)
    if hours:
        assert min(hours) in keep
    assert keep <= set(hours)


# -- user-written times ------------------------------------------------------------------------


def test_durations() -> None:
    assert parse_duration("3d") == 3 * 86400
    assert parse_duration("1w2d") == 9 * 86400
    assert parse_duration("12h") == 12 * 3600
    for bad in ("", "3", "d", "3x", "-3d", "3 days"):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(bad)


def test_moments() -> None:
    assert parse_moment("3d", NOW) == NOW - 3 * DAY
    assert parse_moment("2024-06-30T12:00:00Z", 0) == NOW
    assert parse_moment("2024-06-30T14:00:00+02:00", 0) == NOW
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_moment("yesterday", NOW)
