"""`syncd run` lifecycle: readiness, signals, reload, the state-DB lock, status and metrics.

Every test runs the real daemon as a subprocess against the emulator fixture, with a real unix
datagram socket as NOTIFY_SOCKET.
"""

from __future__ import annotations

import json
import re
import signal
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from syncd.journal.rows import DaemonStatus
from syncd.journal.store import Journal
from tests.support.cli import run_syncd
from tests.support.daemon import (
    DaemonProcess,
    Snapshot,
    daemon_config,
    remote_snapshot,
    running_daemon,
    wait_converged,
)
from tests.support.waiting import wait_for


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "root").mkdir()
    return tmp_path


def make_config(workdir: Path, api_url: str, **kw: Any) -> Path:
    return daemon_config(
        workdir / "config.toml",
        api_url=api_url,
        state=workdir / "state.db",
        pairs={"docs": (workdir / "root", "Backup/Docs")},
        **kw,
    )


def test_ready_watchdog_status_and_clean_stop(emulator, workdir: Path) -> None:
    root = workdir / "root"
    (root / "hello.txt").write_text("hello\n")
    config = make_config(workdir, emulator.api_url)
    daemon = DaemonProcess(config, workdir, env={"WATCHDOG_USEC": "400000"})
    try:
        daemon.start()
        wait_converged(emulator.admin, root, "Backup/Docs", daemon)
        # WATCHDOG=1 every WATCHDOG_USEC/2 while healthy; STATUS= lines describe the pairs.
        wait_for(lambda: daemon.notify.seen("WATCHDOG=1"), 10, "WATCHDOG=1", daemon.log_tail)
        assert any(m.startswith("STATUS=") or "\nSTATUS=" in m for m in daemon.notify.drain())
        assert daemon.stop() == 0
        assert daemon.notify.seen("STOPPING=1")
        counts = emulator.admin.counts()
        # The token was disabled on the way out.
        assert counts.get("disable_access_token", 0) >= 1, counts
    finally:
        daemon.close()


def test_second_daemon_on_same_state_db_is_refused(emulator, workdir: Path) -> None:
    config = make_config(workdir, emulator.api_url)
    with running_daemon(config, workdir) as first:
        second = run_syncd("run", config=config, cwd=workdir)
        assert second.returncode == 2, second.stderr
        lines = [line for line in second.stderr.splitlines() if "error" in line]
        assert len(lines) == 1, second.stderr
        assert "already running" in lines[0] and str(first.pid) in lines[0]
        assert "Traceback" not in second.stderr
        assert first.proc is not None and first.proc.poll() is None
        assert first.stop() == 0


def test_status_written_to_journal_while_running(emulator, workdir: Path) -> None:
    root = workdir / "root"
    (root / "a.txt").write_text("a\n")
    config = make_config(workdir, emulator.api_url)
    with running_daemon(config, workdir) as daemon:
        wait_converged(emulator.admin, root, "Backup/Docs", daemon)

        def status() -> DaemonStatus | None:
            with Journal(workdir / "state.db") as journal:  # read-only use, another "process"
                record = journal.daemon_status().get("docs")
            return record if record is not None and record.last_full_reconcile else None

        state = wait_for(status, 15, "daemon status in the journal", daemon.log_tail)
        assert state.running is True
        assert state.queue_length == 0 and state.in_flight == 0 and state.last_error is None
        assert health(config) == (0, "healthy: 1 pairs")
        shown = status_text(config)
        assert f"daemon pid {state.pid}: up to date; last full reconcile 20" in shown
        assert daemon.stop() == 0
    with Journal(workdir / "state.db") as journal:
        assert journal.daemon_status()["docs"].running is False
    code, line = health(config)
    assert code == 1 and "the daemon stopped" in line
    assert "daemon: not running (last seen 20" in status_text(config, code=3)


def status_text(config: Path, code: int = 0) -> str:
    """`syncd status` as a user runs it beside (or after) the daemon; ``code`` is the exit code
    it must give (0 up to date, 1 failures pending, 3 daemon down)."""
    done = run_syncd("status", config=config)
    assert done.returncode == code, done.stderr
    return done.stdout


def health(config: Path) -> tuple[int, str]:
    """The container health check (`python -m syncd.daemon.health`), as Docker runs it."""
    done = run_syncd(config=config, module="syncd.daemon.health")
    return done.returncode, done.stdout.strip()


def test_sighup_reload_adds_pair_and_keeps_old_config_when_new_is_bad(
    emulator, workdir: Path
) -> None:
    root = workdir / "root"
    (root / "one.txt").write_text("1\n")
    config = make_config(workdir, emulator.api_url)
    with running_daemon(config, workdir) as daemon:
        wait_converged(emulator.admin, root, "Backup/Docs", daemon)

        # A config that does not validate: logged, the running one kept.
        good = config.read_text()
        config.write_text(good + "\n[sync]\nworkers = 'many'\n")
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "new configuration rejected" in daemon.log_text(), 15, "rejection")
        (root / "two.txt").write_text("2\n")
        wait_converged(emulator.admin, root, "Backup/Docs", daemon)

        # A second pair added by SIGHUP is synced without a restart.
        other = workdir / "other"
        other.mkdir()
        (other / "x.txt").write_text("x\n")
        config.write_text(
            good + f'\n[[pairs]]\nname = "other"\nlocal = "{other}"\nremote = "Other"\n'
        )
        daemon.signal(signal.SIGHUP)
        wait_converged(emulator.admin, other, "Other", daemon)
        assert daemon.proc is not None and daemon.proc.poll() is None
        assert daemon.stop() == 0


def test_metrics_endpoint(emulator, workdir: Path) -> None:
    root = workdir / "root"
    (root / "m.txt").write_text("metrics\n")
    config = make_config(workdir, emulator.api_url, daemon={"metrics_addr": "127.0.0.1:0"})
    with running_daemon(config, workdir) as daemon:
        wait_converged(emulator.admin, root, "Backup/Docs", daemon)
        match = wait_for(
            lambda: re.search(r"metrics endpoint on http://127\.0\.0\.1:(\d+)/", daemon.log_text()),
            10,
            "the metrics endpoint's address in the log",
            daemon.log_tail,
        )
        base = f"http://127.0.0.1:{match.group(1)}"
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as answer:
            health = json.load(answer)
        assert health["ok"] is True and "docs" in health["pairs"]
        (root / "n.txt").write_text("more\n")
        wait_converged(emulator.admin, root, "Backup/Docs", daemon)

        def metrics() -> str | None:
            with urllib.request.urlopen(f"{base}/metrics", timeout=5) as answer:
                text = answer.read().decode()
            return text if "syncd_event_to_remote_seconds_count" in text else None

        text = wait_for(metrics, 10, "latency histogram in /metrics")
        for name in (
            "syncd_queue_length",
            "syncd_ops_done_total",
            "syncd_uploaded_bytes_total",
            "syncd_rate_limited_responses_total",
            "syncd_passes_total",
        ):
            assert name in text, name
        assert daemon.stop() == 0


@pytest.mark.emulator(latency_ms=400)
def test_sigterm_mid_upload_exits_0_and_next_start_completes(emulator, workdir: Path) -> None:
    root = workdir / "root"
    for i in range(40):
        (root / f"f{i:02d}.bin").write_bytes(bytes([i]) * 5000)
    # Two workers, so uploads are still under way.
    config = make_config(
        workdir, emulator.api_url, sync={"workers": 2}, daemon={"shutdown_grace": 10}
    )
    daemon = DaemonProcess(config, workdir)
    try:
        daemon.start()
        # Stop while uploads are under way (some done, not all).
        wait_for(
            lambda: len((remote_snapshot(emulator.admin, "Backup/Docs") or _empty()).files) >= 2,
            60,
            "the first uploads",
            daemon.log_tail,
        )
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(30) == 0, daemon.log_tail()
        assert "Traceback" not in daemon.log_text()
        partial = remote_snapshot(emulator.admin, "Backup/Docs") or _empty()
        assert len(partial.files) < 40, "the test meant to stop mid-way; slow the emulator more"
    finally:
        daemon.close()
    emulator.admin.set_knobs(latency_ms=0)
    with running_daemon(config, workdir) as again:
        wait_converged(emulator.admin, root, "Backup/Docs", again, timeout=60)
        assert again.stop() == 0


def _empty() -> Snapshot:
    return Snapshot({}, set())


def test_emptied_root_is_refused_not_mirrored(emulator, workdir: Path) -> None:
    """An unmounted disk looks like 'everything deleted': the daemon trashes nothing, keeps
    running and reports the held deletions in its status."""
    root = workdir / "root"
    for i in range(6):
        (root / f"f{i}.txt").write_text(f"{i}\n")
    config = make_config(workdir, emulator.api_url)
    with running_daemon(config, workdir) as daemon:
        before = wait_converged(emulator.admin, root, "Backup/Docs", daemon)
        for path in root.iterdir():
            path.unlink()

        def refused() -> DaemonStatus | None:
            with Journal(workdir / "state.db") as journal:
                record = journal.daemon_status().get("docs")
            return record if record is not None and record.held else None

        wait_for(refused, 20, "the held deletions in the daemon status", daemon.log_tail)
        remote = remote_snapshot(emulator.admin, "Backup/Docs")
        assert remote is not None and remote.files == before.files
        assert emulator.admin.counts().get("file/delete", 0) == 0
        assert daemon.proc is not None and daemon.proc.poll() is None
        assert daemon.stop() == 0
