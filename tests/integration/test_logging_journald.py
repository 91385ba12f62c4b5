"""Under systemd (JOURNAL_STREAM naming stderr's device:inode, systemd.exec(5)) every line on
stderr carries its syslog priority (`<3>` error, `<4>` warning, `<6>` info, `<7>` debug), so
`journalctl -p warning` selects by it. Real subprocesses whose stderr is a file standing in for
the journal's stream; the same variable with another inode (a redirected child) changes
nothing."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from syncd.emulator import DEMO_KEY1, DEMO_KEY2
from syncd.emulator.testing import EmulatorProcess
from syncd.logging import configure_logging, is_journal_stream
from tests.support.cli import REPO
from tests.support.daemon import DaemonProcess, daemon_config, wait_converged
from tests.support.waiting import wait_for

PRIORITY = re.compile(r"^<([0-7])>")


def stream_id(path: Path) -> str:
    info = path.stat()
    return f"{info.st_dev}:{info.st_ino}"


def run_with_journal(
    tmp_path: Path, *args: str, journal: str | None = "match"
) -> tuple[int, list[str]]:
    """`python -m syncd ARGS` with stderr in a file; JOURNAL_STREAM names that file ("match"),
    another file ("other"), or is unset (None). Returns the exit code and stderr's lines."""
    err = tmp_path / f"stderr-{len(list(tmp_path.glob('stderr-*')))}.txt"
    err.touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCD_", "JOURNAL_"))}
    env["PYTHONPATH"] = str(REPO)
    if journal == "match":
        env["JOURNAL_STREAM"] = stream_id(err)
    elif journal == "other":
        env["JOURNAL_STREAM"] = stream_id(Path(sys.executable).resolve())
    with err.open("ab") as stderr:
        done = subprocess.run(
            [sys.executable, "-m", "syncd", *args],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=env,
            cwd=tmp_path,
            timeout=120,
        )
    return done.returncode, [line for line in err.read_text().splitlines() if line]


def config_file(tmp_path: Path, api_url: str, mode: int = 0o600) -> Path:
    (tmp_path / "docs").mkdir(exist_ok=True)
    path = daemon_config(
        tmp_path / "config.toml",
        api_url=api_url,
        state=tmp_path / "state.db",
        pairs={"docs": (tmp_path / "docs", "docs")},
    )
    path.chmod(mode)
    return path


def test_warning_and_error_lines_carry_their_priority(tmp_path: Path) -> None:
    config = config_file(tmp_path, "http://127.0.0.1:9/api/v2/", mode=0o644)
    code, lines = run_with_journal(tmp_path, "--config", str(config), "config", "check")
    assert code == 0
    assert lines == [
        f"<4>syncd: warning: config file {config} holds key1/key2 and is readable by "
        f"group/others (mode 644) — run: chmod 600 {config}"
    ]
    code, lines = run_with_journal(tmp_path, "--config", str(tmp_path / "nope.toml"), "login")
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith(f"<3>syncd: error: config error: {tmp_path / 'nope.toml'}: ")


def test_debug_and_info_lines_are_plain_and_prefixed(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    config = config_file(tmp_path, emulator.api_url)
    code, lines = run_with_journal(tmp_path, "--config", str(config), "-v", "login")
    assert code == 0, lines
    priorities = [PRIORITY.match(line) for line in lines]
    assert all(priorities), [line for line, p in zip(lines, priorities, strict=True) if not p]
    assert {p[1] for p in priorities if p} >= {"7"}
    assert not any(line[3:].startswith("{") for line in lines)  # plain lines, not JSON
    assert not any(DEMO_KEY1 in line or DEMO_KEY2 in line for line in lines)


def test_no_prefix_when_the_variable_names_another_stream(tmp_path: Path) -> None:
    config = config_file(tmp_path, "http://127.0.0.1:9/api/v2/", mode=0o644)
    for journal in ("other", None):
        code, lines = run_with_journal(
            tmp_path, "--config", str(config), "config", "check", journal=journal
        )
        assert code == 0 and len(lines) == 1
        # Not the journal: no priority prefix, and JSON lines as off any terminal.
        assert not PRIORITY.match(lines[0]) and '"level": "warning"' in lines[0], lines


def test_the_daemon_under_systemd_logs_plain_prioritised_lines(
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
    daemon = DaemonProcess(config, tmp_path)
    daemon.log_path.touch()  # the harness appends the daemon's stderr to this very file
    daemon.extra_env = {"JOURNAL_STREAM": stream_id(daemon.log_path)}
    try:
        daemon.start()
        wait_converged(emulator.admin, root, "Backup/Docs", daemon)
        (root / "a.txt").unlink()  # a vanished root would warn; one missing file is info
        wait_for(lambda: "<6>" in daemon.log_text(), 30, "an info line", daemon.log_tail)
        assert daemon.stop() == 0
    finally:
        daemon.close()
    lines = [line for line in daemon.log_text().splitlines() if line]
    assert lines and all(PRIORITY.match(line) for line in lines), daemon.log_tail()
    info = [line for line in lines if line.startswith("<6>")]
    assert info and not any(line[3] == "{" for line in info)


def test_every_line_of_a_traceback_keeps_the_priority(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "stderr.txt"
    with path.open("w+", encoding="utf-8") as stream:
        monkeypatch.setenv("JOURNAL_STREAM", stream_id(path))
        assert is_journal_stream(stream)
        assert not is_journal_stream(io.StringIO())  # no file descriptor: not the journal
        configure_logging("info", "auto", stream=stream)
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("syncd.test").exception("it failed", extra={"pair": "docs"})
        logging.getLogger("syncd.test").debug("not shown at info")
    configure_logging("info", "auto")  # back to stderr for the rest of this process
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "<3>syncd.test: it failed"
    assert len(lines) > 3 and all(line.startswith("<3>") for line in lines)
    assert lines[-1] == "<3>ValueError: boom"
