"""The daemon's schedule on its real APScheduler: the full-pass window's cron and interval jobs,
and the bandwidth time table's cron jobs (what the jobs would do is checked by calling them;
nothing waits for a trigger to fire)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from syncd.config import TimeWindow
from syncd.daemon.core import Daemon, _PairRuntime, window_end
from syncd.daemon.seams import DaemonSettings, PairSpec
from syncd.remote.bandwidth import UNLIMITED, Bandwidth, parse_bwlimit


class Worker:
    def __init__(self) -> None:
        self.requests: list[str] = []

    def request_full(self, reason: str) -> None:
        self.requests.append(reason)


class Backend:
    def __init__(self) -> None:
        self.applied: list[Bandwidth] = []

    def set_bandwidth(self, bandwidth: Bandwidth) -> None:
        self.applied.append(bandwidth)


def settings(*, window: TimeWindow | None = None, bwlimit: str | None = None) -> DaemonSettings:
    return DaemonSettings(
        state_path=Path("/nonexistent/state.db"),
        reconcile_interval=600.0,
        shutdown_grace=1.0,
        metrics_addr=None,
        pairs=(),
        remote_fingerprint="",
        config=None,
        bwlimit=parse_bwlimit(bwlimit) if bwlimit else None,
        full_pass_window=window,
    )


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    made = Daemon(load_settings=settings, open_backend=Any, start_watcher=Any)  # type: ignore[arg-type]
    made._start_scheduler()
    yield made
    assert made._scheduler is not None
    made._scheduler.shutdown(wait=False)
    os.close(made._wake_r)
    os.close(made._wake_w)


def runtime(worker: Worker) -> _PairRuntime:
    return _PairRuntime(PairSpec("docs", Path("/nonexistent"), config=None), worker)  # type: ignore[arg-type]


def minute_now(daemon: Daemon) -> int:
    assert daemon._scheduler is not None
    now = datetime.now(daemon._scheduler.timezone)
    return now.hour * 60 + now.minute


def test_without_a_window_the_full_pass_runs_every_interval(daemon: Daemon) -> None:
    daemon.settings = settings()
    pair = runtime(Worker())
    daemon._schedule_full(pair)
    assert daemon._scheduler is not None
    job = daemon._scheduler.get_job(pair.job_id)
    assert job is not None and job.trigger.interval.total_seconds() == 600
    assert job.trigger.end_date is None
    assert daemon._scheduler.get_job(pair.window_job_id) is None


def test_inside_the_window_passes_run_until_it_closes(daemon: Daemon) -> None:
    now = minute_now(daemon)
    window = TimeWindow((now - 60) % 1440, (now + 60) % 1440)
    daemon.settings = settings(window=window)
    pair = runtime(Worker())
    daemon._schedule_full(pair)
    assert daemon._scheduler is not None
    opener = daemon._scheduler.get_job(pair.window_job_id)
    assert opener is not None and str(opener.trigger.fields[5]) == str(window.start // 60)
    interval = daemon._scheduler.get_job(pair.job_id)
    assert interval is not None
    assert interval.trigger.end_date == window_end(window, datetime.now(interval.trigger.timezone))


def test_outside_the_window_no_periodic_pass_until_it_opens(daemon: Daemon) -> None:
    now = minute_now(daemon)
    window = TimeWindow((now + 120) % 1440, (now + 180) % 1440)
    daemon.settings = settings(window=window)
    worker = Worker()
    pair = runtime(worker)
    daemon.pairs["docs"] = pair
    daemon._schedule_full(pair)
    assert daemon._scheduler is not None
    assert daemon._scheduler.get_job(pair.window_job_id) is not None
    assert daemon._scheduler.get_job(pair.job_id) is None
    daemon._open_window("docs")  # a late run of the opener, after the window: nothing
    assert worker.requests == [] and daemon._scheduler.get_job(pair.job_id) is None
    # Dropping the window (SIGHUP) brings the plain interval back.
    daemon.settings = settings()
    daemon._schedule_full(pair)
    assert daemon._scheduler.get_job(pair.window_job_id) is None
    assert daemon._scheduler.get_job(pair.job_id) is not None


def test_the_window_opening_requests_a_pass(daemon: Daemon) -> None:
    now = minute_now(daemon)
    daemon.settings = settings(window=TimeWindow((now - 10) % 1440, (now + 60) % 1440))
    worker = Worker()
    daemon.pairs["docs"] = runtime(worker)
    daemon._open_window("docs")
    assert worker.requests == ["full-pass window"]


def test_window_end_wraps_to_tomorrow() -> None:
    night = TimeWindow(22 * 60, 6 * 60)
    assert window_end(night, datetime(2026, 12, 7, 23, 30)) == datetime(2026, 12, 8, 6, 0)
    assert window_end(night, datetime(2026, 12, 8, 5, 59)) == datetime(2026, 12, 8, 6, 0)


def test_the_time_table_becomes_cron_jobs_and_applies_now(daemon: Daemon) -> None:
    backend = Backend()
    daemon.backend = backend  # type: ignore[assignment]
    table = "08:00,512k 19:00,4M Sat-00:00,off"
    daemon.settings = settings(bwlimit=table)
    daemon._schedule_bandwidth("start")
    assert daemon._scheduler is not None
    ids = sorted(j.id for j in daemon._scheduler.get_jobs() if j.id.startswith("bwlimit:"))
    assert ids == ["bwlimit:*-08:00", "bwlimit:*-19:00", "bwlimit:sat-00:00"]
    expected = parse_bwlimit(table).at(datetime.now(daemon._scheduler.timezone))
    assert backend.applied == [expected]
    # A plain rate needs no jobs; lifting the limit applies "off".
    daemon.settings = settings(bwlimit="2M")
    daemon._schedule_bandwidth("SIGHUP")
    assert not [j for j in daemon._scheduler.get_jobs() if j.id.startswith("bwlimit:")]
    daemon.settings = settings()
    daemon._schedule_bandwidth("SIGHUP")
    assert backend.applied[-2:] == [Bandwidth(2 * 1024 * 1024, 2 * 1024 * 1024), UNLIMITED]
