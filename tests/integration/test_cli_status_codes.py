"""`syncd status` and `syncd reconcile` for scripts and cron: exit codes (0 up to date, 1
failures pending, 3 daemon down), ISO 8601 times in --json, and `-q` printing only problems.
Real subprocesses, a real emulator, a real daemon."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from syncd.emulator.testing import EmulatorProcess
from syncd.journal.store import Journal
from tests.support.cli import run_syncd
from tests.support.daemon import daemon_config, running_daemon, wait_converged

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def syncd(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_syncd(*args, config=config)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    local = tmp_path / "docs"
    (local / "sub").mkdir(parents=True)
    (local / "a.txt").write_text("a\n")
    (local / "sub" / "b.txt").write_text("b\n")
    (local / "empty.txt").touch()  # the host refuses zero-byte files: skipped, with a reason
    return local


def make_config(tmp_path: Path, api_url: str, root: Path) -> Path:
    return daemon_config(
        tmp_path / "config.toml",
        api_url=api_url,
        state=tmp_path / "state.db",
        pairs={"docs": (root, "Backup/Docs")},
    )


def test_quiet_cron_run_up_to_date_is_silent_and_0(
    emulator: EmulatorProcess, tmp_path: Path, root: Path
) -> None:
    config = make_config(tmp_path, emulator.api_url, root)
    never = syncd(config, "status", "-q")
    assert (never.returncode, never.stdout) == (1, "pair docs: never synced\n")

    done = syncd(config, "reconcile", "-q")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert emulator.admin.active_paths()  # it did sync
    loud = syncd(config, "reconcile")
    assert loud.returncode == 0 and "pair docs: uploaded 0" in loud.stdout

    quiet = syncd(config, "status", "-q")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    shown = syncd(config, "status")
    assert shown.returncode == 0 and "skipped empty.txt:" in shown.stdout.replace("  ", " ")

    as_json = syncd(config, "status", "--json")
    assert as_json.returncode == 0, as_json.stderr
    status = json.loads(as_json.stdout)
    assert status["exit_code"] == 0 and status["problem_summary"] == []
    run = status["pairs"][0]["last_run"]
    assert ISO.match(run["started"]) and ISO.match(run["ended"]), run


def test_failures_pending_exit_1_and_quiet_prints_them(
    emulator: EmulatorProcess, tmp_path: Path, root: Path
) -> None:
    config = make_config(tmp_path, emulator.api_url, root)
    assert syncd(config, "reconcile", "-q").returncode == 0
    with Journal(tmp_path / "state.db") as journal:  # a pass that failed, as the engine records
        row = journal.pair("docs")
        assert row is not None
        run = journal.start_run(row.id, "full")
        journal.finish_run(run, "failed", {"failed": 1}, error="sub/b.txt: upload kept failing")
    quiet = syncd(config, "status", "-q")
    assert quiet.returncode == 1
    assert quiet.stdout == "pair docs: last full failed: sub/b.txt: upload kept failing\n"
    status = json.loads(syncd(config, "status", "--json").stdout)
    assert status["exit_code"] == 1

    # The host failing every request: -q prints nothing on stdout, one error line on stderr.
    emulator.admin.set_knobs(fault_rate=1.0, fault_kinds=["500"])
    failed = syncd(config, "reconcile", "-q")
    assert failed.returncode == 1 and failed.stdout == ""
    lines = failed.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("syncd: error: no usable answer from the host")


def test_daemon_down_is_exit_3(emulator: EmulatorProcess, tmp_path: Path, root: Path) -> None:
    config = make_config(tmp_path, emulator.api_url, root)
    with running_daemon(config, tmp_path) as daemon:
        wait_converged(
            emulator.admin, root, "Backup/Docs", daemon, skip=lambda rel: rel == "empty.txt"
        )
        assert daemon.stop() == 0
    quiet = syncd(config, "status", "-q")
    assert quiet.returncode == 3
    assert re.fullmatch(
        r"pair docs: daemon not running \(last seen \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)\n",
        quiet.stdout,
    )
    status = json.loads(syncd(config, "status", "--json").stdout)
    assert status["exit_code"] == 3
    daemon_view = status["pairs"][0]["daemon"]
    assert daemon_view["alive"] is False and ISO.match(daemon_view["updated"])
