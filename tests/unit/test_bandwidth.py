"""Bandwidth limits: rclone's bwlimit syntax, the time table, the full-pass window, the token
bucket's accounting (time passed in: nothing here sleeps), and the one-line config errors."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from syncd.config import TimeWindow, load_config, parse_window
from syncd.errors import ConfigError
from syncd.remote.bandwidth import (
    KIB,
    UNLIMITED,
    Bandwidth,
    TokenBucket,
    format_rate,
    parse_bwlimit,
    parse_rate,
)
from syncd.wiring import bandwidth_now

MIB = KIB * KIB
# 2026-12-07 is a Monday.
MONDAY = datetime(2026, 12, 7)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """Weekday ``day`` (0 = Monday) of the test week, at HH:MM."""
    return MONDAY.replace(day=7 + day, hour=hour, minute=minute)


# -- rates ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("512k", 512 * KIB),
        ("512K", 512 * KIB),
        ("4M", 4 * MIB),
        ("1.5M", 1.5 * MIB),
        ("1G", 1024 * MIB),
        ("100", 100 * KIB),  # a bare number is KiB/s, as in rclone
        ("2048B", 2048),
        ("4MiB", 4 * MIB),
        ("off", None),
        ("OFF", None),
    ],
)
def test_a_rate_applies_to_both_directions(text: str, rate: float | None) -> None:
    assert parse_rate(text) == Bandwidth(rate, rate)


def test_upload_and_download_apart() -> None:
    assert parse_rate("4M:off") == Bandwidth(4 * MIB, None)
    assert parse_rate("off:256k") == Bandwidth(None, 256 * KIB)
    assert parse_rate("1M:2M") == Bandwidth(MIB, 2 * MIB)


def test_rates_read_back_in_words() -> None:
    assert str(Bandwidth(MIB, MIB)) == "1 MiB/s"
    assert str(Bandwidth(512 * KIB, None)) == "upload 512 KiB/s, download off"
    assert str(UNLIMITED) == "off"
    assert format_rate(1.5 * MIB) == "1.5 MiB/s"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("fast", "is not a rate"),
        ("0", "ambiguous"),
        ("4X", "is not a rate"),
        ("1M:2M:3M", "more than one ':'"),
        ("25:00,1M", "not a time of day"),
        ("08:60,1M", "not a time of day"),
        ("Xyz-08:00,1M", "not a weekday"),
        ("08:00 1M", "not a time-table entry"),
        ("8h,1M", "not a time-table entry"),
        ("08:00,1M 08:00,2M", "appears twice"),
        ("08:00,nope", "is not a rate"),
        ("", "expected a string"),
    ],
)
def test_bad_bwlimit_says_what_and_how(text: str, says: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_bwlimit(text)
    message = str(info.value)
    assert says in message and " — " in message and "\n" not in message


def test_a_single_rate_holds_all_week() -> None:
    limit = parse_bwlimit("4M")
    assert not limit.timed
    assert {limit.at(at(day, hour)) for day in range(7) for hour in range(24)} == {
        Bandwidth(4 * MIB, 4 * MIB)
    }


# -- the time table --------------------------------------------------------------------------


def test_daily_table_switches_at_its_times_and_wraps_midnight() -> None:
    limit = parse_bwlimit("08:00,512k 19:00,4M 23:00,off")
    assert limit.timed
    slow, fast = Bandwidth(512 * KIB, 512 * KIB), Bandwidth(4 * MIB, 4 * MIB)
    assert limit.at(at(2, 7, 59)) == UNLIMITED  # the previous evening's 23:00,off holds
    assert limit.at(at(2, 8, 0)) == slow
    assert limit.at(at(2, 18, 59)) == slow
    assert limit.at(at(2, 19, 0)) == fast
    assert limit.at(at(2, 23, 0)) == UNLIMITED
    assert limit.at(at(0, 0, 0)) == UNLIMITED  # Monday 00:00 wraps to Sunday 23:00


def test_semicolons_and_extra_spaces_separate_entries() -> None:
    assert parse_bwlimit(" 08:00,512k;19:00,4M  ").at(at(1, 20)) == Bandwidth(4 * MIB, 4 * MIB)


def test_weekday_entries_wrap_around_the_week() -> None:
    limit = parse_bwlimit("Mon-08:00,512k Fri-18:00,off Sat-10:00,1M")
    slow, mid = Bandwidth(512 * KIB, 512 * KIB), Bandwidth(MIB, MIB)
    assert limit.at(at(0, 7)) == mid  # Monday before 08:00: Saturday's entry still holds
    assert limit.at(at(0, 8)) == slow
    assert limit.at(at(3, 23)) == slow  # Thursday: Monday's entry holds all week
    assert limit.at(at(4, 18)) == UNLIMITED
    assert limit.at(at(5, 9)) == UNLIMITED
    assert limit.at(at(6, 12)) == mid


def test_entries_without_a_day_hold_on_every_day_among_weekday_entries() -> None:
    limit = parse_bwlimit("08:00,1M 20:00,off Sat-00:00,256k")
    assert limit.at(at(5, 1)) == Bandwidth(256 * KIB, 256 * KIB)  # Saturday night
    assert limit.at(at(5, 9)) == Bandwidth(MIB, MIB)  # Saturday 08:00 comes after
    assert limit.at(at(2, 21)) == UNLIMITED


def test_full_day_names_and_upload_download_pairs_in_a_table() -> None:
    limit = parse_bwlimit("monday-09:30,1M:off sunday-00:00,off")
    assert limit.at(at(0, 10)) == Bandwidth(MIB, None)
    assert limit.switches[0].hour_minute == (9, 30)


def test_bandwidth_now_reads_the_config_table(tmp_path: Path) -> None:
    config = load_config(
        write_config(tmp_path, '[sync]\nbwlimit = "08:00,512k 19:00,off"\n'), env={}
    )
    assert bandwidth_now(config, at(1, 9)) == Bandwidth(512 * KIB, 512 * KIB)
    assert bandwidth_now(config, at(1, 20)) == UNLIMITED


# -- the full-pass window --------------------------------------------------------------------


def test_window_contains_its_start_not_its_end() -> None:
    window = parse_window("01:00-06:00")
    assert window == TimeWindow(60, 360) and str(window) == "01:00-06:00"
    assert window.contains(60) and window.contains(359)
    assert not window.contains(360) and not window.contains(59)


def test_window_may_wrap_midnight() -> None:
    window = parse_window("22:00-06:00")
    assert window.contains(23 * 60) and window.contains(0) and window.contains(5 * 60)
    assert not window.contains(12 * 60)


@pytest.mark.parametrize("text", ["01:00", "1-6", "25:00-06:00", "06:00-06:00", "night"])
def test_bad_window_says_what_and_how(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_window(text)
    assert " — " in str(info.value)


# -- config errors are one line --------------------------------------------------------------

REMOTE = '[remote]\napi_url = "https://host.example/api/v2/"\nkey1 = "{}"\nkey2 = "{}"\n'.format(
    "a1" * 32, "b2" * 32
)


def write_config(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(REMOTE + extra)
    path.chmod(0o600)
    return path


@pytest.mark.parametrize(
    ("line", "key", "says"),
    [
        ('bwlimit = "4Q"', "sync.bwlimit", "is not a rate"),
        ("bwlimit = 4", "sync.bwlimit", "expected a string"),
        ('full_pass_window = "late"', "sync.full_pass_window", "is not a time window"),
    ],
)
def test_config_errors_name_the_key_and_the_fix(
    tmp_path: Path, line: str, key: str, says: str
) -> None:
    path = write_config(tmp_path, f"[sync]\n{line}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    message = str(info.value)
    assert message.startswith(f"config error: {path}: {key}: "), message
    assert says in message and " — " in message and "\n" not in message


def test_config_keeps_the_text_it_was_given(tmp_path: Path) -> None:
    config = load_config(
        write_config(
            tmp_path, '[sync]\nbwlimit = "08:00,512k 23:00,off"\nfull_pass_window = "1:00-6:00"\n'
        ),
        env={},
    )
    dumped = config.sync.model_dump()
    assert dumped["bwlimit"] == "08:00,512k 23:00,off"
    assert dumped["full_pass_window"] == "01:00-06:00"
    assert type(config).model_validate(config.model_dump()).sync == config.sync
    assert load_config(write_config(tmp_path, ""), env={}).sync.bwlimit is None


# -- the token bucket ------------------------------------------------------------------------


class Clock:
    """Time that moves only when told (or when a caller "sleeps")."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_no_limit_lets_everything_through_and_counts_it() -> None:
    clock = Clock()
    bucket = TokenBucket(None, clock=clock, sleep=clock.sleep)
    for _ in range(100):
        bucket.take(MIB)
    assert clock.slept == [] and bucket.granted == 100 * MIB


def test_a_steady_sender_is_held_to_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(MIB, clock=clock, sleep=clock.sleep)
    start = clock.now
    for _ in range(160):  # 10 MiB in 64 KiB pieces
        bucket.take(64 * KIB)
    # A new limit starts with an empty bucket: exactly bytes / rate, no burst.
    assert clock.now - start == pytest.approx(10.0)
    assert bucket.granted == 10 * MIB


def test_many_senders_share_one_rate_and_each_window_holds_the_limit() -> None:
    """Sixteen workers asking in turn: the bytes whose wait ends within any second are at most
    one second of rate plus one burst and one piece, and the total time is bytes / rate."""
    clock = Clock()
    rate = 4 * MIB
    bucket = TokenBucket(rate, clock=clock, sleep=clock.sleep)
    piece = bucket.piece()
    start = clock.now
    ready_at = [start] * 16  # when each worker may send its next piece
    sent: list[tuple[float, int]] = []
    for _ in range(2000):
        worker = min(range(16), key=lambda w: ready_at[w])
        clock.now = max(clock.now, ready_at[worker])
        wait = bucket.reserve(piece)
        ready_at[worker] = clock.now + wait
        sent.append((clock.now + wait, piece))
    total = sum(n for _, n in sent)
    end = max(t for t, _ in sent)
    assert end - start == pytest.approx((total - 15 * piece) / rate, rel=0.01)
    for second in range(int(end - start)):
        lo = start + second
        in_window = sum(n for t, n in sent if lo <= t < lo + 1)
        assert in_window <= rate + bucket.capacity + piece


def test_an_idle_spell_earns_at_most_one_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(MIB, clock=clock, sleep=clock.sleep)
    clock.now += 3600  # an hour idle
    assert bucket.capacity == pytest.approx(max(bucket.piece(), MIB * 0.05))
    free = 0
    while bucket.reserve(KIB) == 0:
        free += KIB
    assert free <= bucket.capacity + KIB


def test_a_new_rate_applies_to_the_next_piece() -> None:
    clock = Clock()
    bucket = TokenBucket(MIB, clock=clock, sleep=clock.sleep)
    for _ in range(16):
        bucket.take(64 * KIB)  # one second at 1 MiB/s
    assert clock.now == pytest.approx(101.0)
    bucket.set_rate(4 * MIB)
    for _ in range(64):
        bucket.take(64 * KIB)  # 4 MiB at 4 MiB/s
    assert clock.now == pytest.approx(102.0)
    bucket.set_rate(None)
    bucket.take(100 * MIB)
    assert clock.now == pytest.approx(102.0)
    with pytest.raises(ValueError):
        bucket.set_rate(0)


def test_paced_cuts_chunks_into_pieces_and_keeps_every_byte() -> None:
    clock = Clock()
    bucket = TokenBucket(512 * KIB, clock=clock, sleep=clock.sleep)
    data = bytes(range(256)) * 4096  # 1 MiB
    out = list(bucket.paced([data[:300_000], data[300_000:]]))
    assert b"".join(out) == data
    assert max(len(p) for p in out) <= bucket.piece() < len(data)
    assert clock.now - 100.0 == pytest.approx(2.0)  # 1 MiB at 512 KiB/s
    unlimited = TokenBucket(None, clock=clock, sleep=clock.sleep)
    assert list(unlimited.paced([data])) == [data]  # untouched without a limit
