"""A daemon that never silently stops: `syncd run` as a real subprocess against the emulator.

Each test is a failure that once left the daemon running but doing nothing, or doing something
other than what it said: a refused authorization remembered forever, a reload that kept old
settings, wrong keys at start that never exited.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from syncd.emulator.testing import EmulatorProcess, RawApi
from syncd.journal.reader import JournalReader
from tests.support.daemon import DaemonProcess, daemon_config, running_daemon, wait_converged
from tests.support.waiting import wait_for

WRONG_KEY = "0" * 64


def make_config(tmp_path: Path, api_url: str, **kw: Any) -> Path:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    return daemon_config(
        tmp_path / "config.toml",
        api_url=api_url,
        state=tmp_path / "state.db",
        pairs={"docs": (root, "Docs")},
        daemon={"metrics_addr": "127.0.0.1:0"},
        **kw,
    )


def healthz(daemon: DaemonProcess) -> tuple[int, dict[str, Any]]:
    """GET /healthz of the daemon's metrics endpoint (its port is in the log)."""
    match = wait_for(
        lambda: re.search(r"metrics endpoint on http://127\.0\.0\.1:(\d+)/", daemon.log_text()),
        15,
        "the metrics endpoint's address in the log",
        daemon.log_tail,
    )
    url = f"http://127.0.0.1:{match.group(1)}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def status_json(config: Path) -> dict[str, Any]:
    """`syncd status --json`, as a user runs it beside the daemon."""
    done = subprocess.run(
        [sys.executable, "-m", "syncd", "status", "--json", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    status = json.loads(done.stdout)
    # 0 up to date, 1 failures pending (a stalled pair among them), 3 the daemon is down.
    assert done.returncode == status["exit_code"], done.stderr
    return status


def daemon_record(state_db: Path, pair: str) -> Any:
    with JournalReader(state_db) as journal:
        return journal.daemon_status().get(pair)


def lock_account(emulator: EmulatorProcess) -> None:
    """The host locks the account after a failed login and drops every token."""
    emulator.admin.set_knobs(lockout_after_failures=1)
    with RawApi(emulator.api_url, key1=WRONG_KEY, key2=WRONG_KEY) as raw:
        answer = raw.post("authorize", key1=WRONG_KEY, key2=WRONG_KEY).json()
    assert answer.get("_status") != "success"
    emulator.admin.revoke_tokens()


def unlock_account(emulator: EmulatorProcess) -> None:
    emulator.admin.set_knobs(lockout_after_failures=0)  # setting the knob unlocks


def authorizations(emulator: EmulatorProcess) -> int:
    return int(emulator.admin.counts().get("authorize", 0))


def wait_stalled_on_credentials(daemon: DaemonProcess, config: Path, state_db: Path) -> None:
    """/healthz, the journal (`syncd status`) and sd_notify STATUS= all name the refusal."""

    def unhealthy() -> dict[str, Any] | None:
        code, body = healthz(daemon)
        return body if code == 503 else None

    body = wait_for(unhealthy, 30, "/healthz to turn 503", daemon.log_tail)
    pair = body["pairs"]["docs"]
    assert "credentials" in pair["stall_reason"], body
    assert pair["stalled_since"], body
    assert "key1/key2" in pair["advice"], body

    record = wait_for(
        lambda: (r := daemon_record(state_db, "docs")) and r.stall_reason and r,
        15,
        "the stall in the daemon's journal record",
        daemon.log_tail,
    )
    assert record.stalled_since is not None
    shown = status_json(config)
    entry = next(p for p in shown["pairs"] if p["name"] == "docs")
    assert "credentials" in entry["daemon"]["stall_reason"]
    wait_for(
        lambda: any("STATUS=" in m and "credentials" in m for m in daemon.notify.drain()),
        15,
        "an sd_notify STATUS= line naming the refused credentials",
        daemon.log_tail,
    )


def test_refused_authorization_then_unlock_resumes_on_sighup(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.txt").write_text("before the lockout\n")
    config = make_config(tmp_path, emulator.api_url)
    with running_daemon(config, tmp_path) as daemon:
        wait_converged(emulator.admin, root, "Docs", daemon)
        lock_account(emulator)
        locked_at = authorizations(emulator)
        (root / "b.txt").write_text("written while the account is locked\n")
        wait_stalled_on_credentials(daemon, config, tmp_path / "state.db")
        # Locked: one refused try, then the daemon waits its backoff (minutes) instead of
        # hammering the host (each try during a lockout can extend it).
        before = authorizations(emulator)
        assert before == locked_at + 1
        unlock_account(emulator)
        daemon.signal(signal.SIGHUP)  # "I fixed it": try again now, not in ten minutes
        wait_converged(emulator.admin, root, "Docs", daemon, timeout=30)
        assert authorizations(emulator) > before
        wait_for(lambda: healthz(daemon)[0] == 200, 15, "/healthz back to 200", daemon.log_tail)
        assert daemon.stop() == 0


def test_refused_authorization_is_retried_on_its_own_backoff(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.txt").write_text("before the lockout\n")
    config = make_config(tmp_path, emulator.api_url)
    # Seconds instead of minutes, so the test sees the retry without a human (SIGHUP).
    env = {"SYNCD_AUTH_RETRY_BASE": "1", "SYNCD_AUTH_RETRY_CAP": "3"}
    with running_daemon(config, tmp_path, env=env) as daemon:
        wait_converged(emulator.admin, root, "Docs", daemon)
        lock_account(emulator)
        (root / "b.txt").write_text("written while the account is locked\n")
        wait_stalled_on_credentials(daemon, config, tmp_path / "state.db")
        unlock_account(emulator)
        wait_converged(emulator.admin, root, "Docs", daemon, timeout=45)
        wait_for(lambda: healthz(daemon)[0] == 200, 15, "/healthz back to 200", daemon.log_tail)
        assert "syncing again" in daemon.log_text()
        assert daemon.stop() == 0


def test_wrong_keys_at_start_exit_2(emulator: EmulatorProcess, tmp_path: Path) -> None:
    config = make_config(tmp_path, emulator.api_url)
    text = config.read_text()
    config.write_text(text.replace(text.split('key1 = "')[1].split('"')[0], WRONG_KEY, 1))
    daemon = DaemonProcess(config, tmp_path)
    try:
        daemon.start(wait_ready=False)
        assert daemon.wait(60) == 2, daemon.log_tail()
        log = daemon.log_text()
        assert "refused the credentials" in log and "key1/key2" in log
        assert WRONG_KEY not in log
        assert not daemon.notify.seen("READY=1")
    finally:
        daemon.close()


@pytest.mark.emulator(lockout_after_failures=3)
def test_wrong_keys_at_start_try_once(emulator: EmulatorProcess, tmp_path: Path) -> None:
    """One refused authorization, not a retry loop: repeated failures lock the account."""
    config = make_config(tmp_path, emulator.api_url)
    text = config.read_text()
    config.write_text(text.replace(text.split('key1 = "')[1].split('"')[0], WRONG_KEY, 1))
    daemon = DaemonProcess(config, tmp_path)
    try:
        daemon.start(wait_ready=False)
        assert daemon.wait(60) == 2, daemon.log_tail()
        assert authorizations(emulator) == 1
    finally:
        daemon.close()


def test_sighup_applies_sync_settings_to_restarted_pairs(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """`max_delete` raised by SIGHUP lets the held deletions through without a restart."""
    root = tmp_path / "root"
    root.mkdir()
    for i in range(8):
        (root / f"f{i}.txt").write_text(f"file {i}\n")
    config = make_config(tmp_path, emulator.api_url)
    with running_daemon(config, tmp_path) as daemon:
        wait_converged(emulator.admin, root, "Docs", daemon)
        for i in range(6):  # 6 of 8: over the default max_delete of 50%
            (root / f"f{i}.txt").unlink()
        wait_for(
            lambda: (r := daemon_record(tmp_path / "state.db", "docs")) and r.held,
            30,
            "the deletions held by max_delete in the daemon status",
            daemon.log_tail,
        )
        config.write_text(config.read_text().replace("[sync]\n", '[sync]\nmax_delete = "100%"\n'))
        daemon.signal(signal.SIGHUP)
        wait_converged(emulator.admin, root, "Docs", daemon, timeout=30)
        assert re.search(r"pair docs changed \(.*sync\.max_delete.*\)", daemon.log_text())
        assert daemon.stop() == 0


def test_sighup_names_the_settings_that_need_a_restart(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.txt").write_text("a\n")
    config = make_config(tmp_path, emulator.api_url)
    with running_daemon(config, tmp_path) as daemon:
        wait_converged(emulator.admin, root, "Docs", daemon)
        text = config.read_text().replace(
            f'path = "{tmp_path / "state.db"}"', f'path = "{tmp_path / "other.db"}"'
        )
        config.write_text(text + '\n[log]\nlevel = "debug"\n')
        daemon.signal(signal.SIGHUP)
        line = wait_for(
            lambda: re.search(r"SIGHUP: (.*) changed; .*next start.*", daemon.log_text()),
            15,
            "the line naming what needs a restart",
            daemon.log_tail,
        )
        assert "log.level" in line.group(1) and "state.path" in line.group(1), line.group(0)
        (root / "b.txt").write_text("b\n")
        wait_converged(emulator.admin, root, "Docs", daemon)
        assert not (tmp_path / "other.db").exists()
        assert daemon.stop() == 0


def test_host_down_at_start_is_not_fatal(tmp_path: Path) -> None:
    """The start-up credential check must not turn an unreachable host into an exit: the
    daemon starts (READY=1), keeps running and catches up when the host answers."""
    with socket.socket() as sock:  # a loopback port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = make_config(tmp_path, f"http://127.0.0.1:{port}/api/v2/")
    with running_daemon(config, tmp_path) as daemon:
        assert daemon.proc is not None and daemon.proc.poll() is None
        assert "host not answering at start" in daemon.log_text()
        assert daemon.stop() == 0
