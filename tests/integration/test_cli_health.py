"""`syncd health` as a container's HEALTHCHECK runs it: a real daemon against the emulator,
then journals holding the records a stopped, vanished, failing or silent daemon leaves.
Exit codes are 0 and 1 only (Docker reserves 2); `python -m syncd.daemon.health` is an alias."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from syncd.emulator.testing import EmulatorProcess
from syncd.journal.rows import DaemonStatus
from syncd.journal.store import Journal
from tests.support.cli import REPO
from tests.support.daemon import daemon_config, running_daemon, wait_converged
from tests.support.waiting import wait_for


def health(config: Path, *extra: str, alias: bool = False) -> tuple[int, str]:
    command = ["syncd.daemon.health"] if alias else ["syncd", "health"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(
        [sys.executable, "-m", *command, "--config", str(config), *extra],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.stderr == "", done.stderr
    return done.returncode, done.stdout.strip()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    return daemon_config(
        tmp_path / "config.toml",
        api_url="http://127.0.0.1:9/api/v2/",
        state=tmp_path / "state.db",
        pairs={"docs": (tmp_path / "docs", "docs")},
    )


def publish(state: Path, record: DaemonStatus, *, age: float = 0.0) -> None:
    """The record a daemon writes, ``age`` seconds old."""
    with Journal(state) as journal:
        journal.ensure_pair("docs", str(state.parent / "docs"), "docs")
        journal.write_daemon_status("docs", record)
    if age:
        with sqlite3.connect(state) as db:
            db.execute("UPDATE daemon_status SET updated_at = ?", (time.time() - age,))


def test_a_running_daemon_is_healthy_and_a_stopped_one_is_not(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.txt").write_text("a\n")
    config = daemon_config(
        tmp_path / "run.toml",
        api_url=emulator.api_url,
        state=tmp_path / "run.db",
        pairs={"docs": (root, "Backup/Docs")},
    )
    with running_daemon(config, tmp_path) as daemon:
        wait_converged(emulator.admin, root, "Backup/Docs", daemon)
        wait_for(lambda: health(config)[0] == 0, 30, "a healthy check", daemon.log_tail)
        assert health(config) == (0, "healthy: 1 pairs")
        assert health(config, alias=True) == (0, "healthy: 1 pairs")
        assert daemon.stop() == 0
    assert health(config) == (1, "unhealthy: docs: the daemon stopped")


def test_no_state_database_yet(config: Path, tmp_path: Path) -> None:
    code, line = health(config)
    assert code == 1
    assert (
        line
        == f"unhealthy: no state database at {tmp_path / 'state.db'}: the daemon has not started"
    )


def test_no_record_for_a_pair(config: Path, tmp_path: Path) -> None:
    with Journal(tmp_path / "state.db") as journal:
        journal.ensure_pair("docs", str(tmp_path / "docs"), "docs")
    assert health(config) == (1, "unhealthy: docs: no status from the daemon yet")


def test_a_vanished_daemon_is_unhealthy_at_once(config: Path, tmp_path: Path) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    pid = int(gone.stdout)  # exited: its record still says running, as after SIGKILL
    publish(tmp_path / "state.db", DaemonStatus(pid=pid, running=True, up_to_date=True))
    assert health(config) == (1, f"unhealthy: docs: the daemon (pid {pid}) is gone")


def test_a_silent_daemon_is_unhealthy(config: Path, tmp_path: Path) -> None:
    publish(tmp_path / "state.db", DaemonStatus(pid=os.getpid(), running=True), age=200)
    code, line = health(config)
    assert code == 1 and line.startswith("unhealthy: docs: no word from the daemon for 20")
    assert health(config, "--max-age", "300")[0] == 0


def test_a_daemon_failing_pass_after_pass_is_unhealthy(config: Path, tmp_path: Path) -> None:
    record = DaemonStatus(
        pid=os.getpid(), running=True, consecutive_failures=5, last_error="host unreachable"
    )
    publish(tmp_path / "state.db", record)
    assert health(config) == (1, "unhealthy: docs: failing: host unreachable")


def test_config_errors_are_unhealthy_not_exit_2(tmp_path: Path) -> None:
    code, line = health(tmp_path / "missing.toml")
    assert code == 1
    assert line == (
        f"unhealthy: config error: {tmp_path / 'missing.toml'}: config file not found — "
        "check the path (--config)"
    )
    broken = tmp_path / "broken.toml"
    broken.write_text("[state\n")
    code, line = health(broken)
    assert code == 1 and line.startswith(f"unhealthy: config error: {broken}: TOML syntax error")


def test_the_light_reader_agrees_with_the_full_config(config: Path, tmp_path: Path) -> None:
    from syncd.config import load_config
    from syncd.config_facts import read_light

    for text in ('[state]\npath = "sub/../s.db"\n', "", '[state]\npath = "~/x.db"\n'):
        other = tmp_path / "other.toml"
        other.write_text(
            config.read_text().split("[state]")[0] + text + "\n[[pairs]]\n"
            'name = "a"\nlocal = "a"\nremote = "a"\n'
        )
        full = load_config(other, env={}, warn=False)
        light = read_light(other, env={})
        assert (light.state_path, light.pair_names) == (full.state.path, tuple(full.pair_names))
    assert json.dumps(str(light.source)) == json.dumps(str(other))
