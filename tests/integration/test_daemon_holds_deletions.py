"""A guard that holds deletions in the daemon holds nothing else, and never silently: `syncd
run` as a real subprocess against the emulator. The held deletions are listed by `syncd status`
and approved while the daemon runs (`syncd approve`, or `syncd reconcile --force-deletes`
handing the approval over). A pair that makes no progress for `[daemon] stall_after` (deletions
held, every pass failing) makes the daemon unhealthy in `status`, `syncd health`, /healthz and
systemd's STATUS=, named with what to do."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path
from typing import Any

from syncd.emulator.testing import EmulatorProcess
from syncd.local.markers import INCOMPLETE_MARKER
from tests.integration.test_daemon_never_silent import daemon_record, healthz, status_json
from tests.support.cli import run_syncd
from tests.support.daemon import DaemonProcess, daemon_config, running_daemon, wait_converged
from tests.support.waiting import wait_for

STALL_AFTER = 2.0  # seconds: what the test waits for is the daemon noticing, not the clock


def make_config(tmp_path: Path, api_url: str, root: Path) -> Path:
    return daemon_config(
        tmp_path / "config.toml",
        api_url=api_url,
        state=tmp_path / "state.db",
        pairs={"docs": (root, "Docs")},
        max_delete="2",
        daemon={"metrics_addr": "127.0.0.1:0", "stall_after": STALL_AFTER},
    )


def make_tree(root: Path) -> None:
    for d in ("big", "keep"):
        (root / d).mkdir(parents=True)
    for i in range(6):
        (root / "big" / f"b{i}.txt").write_text(f"big {i}\n")
    for i in range(2):
        (root / "keep" / f"k{i}.txt").write_text(f"keep {i}\n")


def remote_paths(emulator: EmulatorProcess) -> set[str]:
    return set(emulator.admin.active_paths())


def docs_entry(config: Path) -> dict[str, Any]:
    return next(p for p in status_json(config)["pairs"] if p["name"] == "docs")


def wait_unhealthy(daemon: DaemonProcess, config: Path, *words: str) -> dict[str, Any]:
    """The stall shows in /healthz, `syncd status`, `syncd health` and sd_notify STATUS=."""

    def unhealthy() -> dict[str, Any] | None:
        code, body = healthz(daemon)
        return body if code == 503 else None

    body = wait_for(unhealthy, 30, "/healthz to turn 503", daemon.log_tail)
    pair = body["pairs"]["docs"]
    for word in words:
        assert word in pair["stall_reason"] + pair["advice"], pair
    entry = wait_for(
        lambda: (e := docs_entry(config))["daemon"].get("stall_reason") and e,
        15,
        "the stall in `syncd status`",
        daemon.log_tail,
    )
    assert entry["daemon"]["stalled_since"]
    health = run_syncd("health", config=config)
    assert health.returncode == 1 and words[0] in health.stdout, health.stdout
    wait_for(
        lambda: any("STATUS=STALLED" in m and words[0] in m for m in daemon.notify.drain()),
        15,
        "an sd_notify STATUS= line naming the stall",
        daemon.log_tail,
    )
    return entry


def wait_healthy(daemon: DaemonProcess, config: Path) -> None:
    wait_for(lambda: healthz(daemon)[0] == 200, 30, "/healthz to turn 200", daemon.log_tail)
    wait_for(
        lambda: run_syncd("health", config=config).returncode == 0,
        30,
        "`syncd health` to pass",
        daemon.log_tail,
    )


def test_held_deletions_let_other_changes_through_then_stall_until_approved(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    make_tree(root)
    config = make_config(tmp_path, emulator.api_url, root)
    with running_daemon(config, tmp_path) as daemon:
        wait_converged(emulator.admin, root, "Docs", daemon)
        outside = tmp_path / "outside"
        outside.mkdir()
        shutil.move(root / "big", outside / "big")  # 6 of 8 files: over max_delete = 2
        record = wait_for(
            lambda: (r := daemon_record(tmp_path / "state.db", "docs")) and r.held and r,
            30,
            "the held deletions in the daemon's record",
            daemon.log_tail,
        )
        assert record.held == 1
        # Later changes of the pair are not stuck behind the held deletions.
        (root / "keep" / "new.txt").write_text("written while deletions are held\n")
        wait_for(
            lambda: "/Docs/keep/new.txt" in remote_paths(emulator),
            30,
            "the new file uploaded while deletions are held",
            daemon.log_tail,
        )
        assert "/Docs/big/b0.txt" in remote_paths(emulator)
        assert emulator.admin.counts().get("folder/delete", 0) == 0
        entry = wait_unhealthy(daemon, config, "deletions held", "syncd approve --pair docs")
        assert [(h["kind"], h["path"], h["files"]) for h in entry["held"]] == [
            ("trash_folder", "big", 6)
        ]
        assert "deletions held" in " ".join(status_json(config)["problem_summary"])
        # `reconcile --force-deletes` beside the daemon hands the approval over.
        handed = run_syncd("reconcile", "--force-deletes", config=config)
        assert handed.returncode == 0, handed.stderr
        assert "handed to the running daemon" in handed.stdout
        wait_converged(emulator.admin, root, "Docs", daemon, timeout=30)
        wait_healthy(daemon, config)
        assert docs_entry(config)["held"] == []
        held_lines = [line for line in daemon.log_text().splitlines() if "held by a guard" in line]
        assert held_lines and all('"level": "error"' in line for line in held_lines)
        assert daemon.stop() == 0


def test_syncd_approve_beside_the_daemon_carries_out_the_held_set(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    make_tree(root)
    config = make_config(tmp_path, emulator.api_url, root)
    with running_daemon(config, tmp_path) as daemon:
        wait_converged(emulator.admin, root, "Docs", daemon)
        outside = tmp_path / "outside"
        outside.mkdir()
        shutil.move(root / "big", outside / "big")
        (root / "other.txt").write_text("x\n")
        wait_for(
            lambda: docs_entry(config)["held"],
            30,
            "the held set in `syncd status`",
            daemon.log_tail,
        )
        assert "/Docs/other.txt" in remote_paths(emulator)
        approved = run_syncd("approve", "--pair", "docs", config=config)
        assert approved.returncode == 0, approved.stderr
        assert "approved 1 held deletions (6 files)" in approved.stdout
        assert "the running daemon" in approved.stdout
        wait_converged(emulator.admin, root, "Docs", daemon, timeout=30)
        wait_for(lambda: not docs_entry(config)["held"], 15, "the held set emptied")
        assert daemon.stop() == 0


def test_passes_failing_longer_than_stall_after_make_the_daemon_unhealthy(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    make_tree(root)
    config = make_config(tmp_path, emulator.api_url, root)
    with running_daemon(config, tmp_path) as daemon:
        wait_converged(emulator.admin, root, "Docs", daemon)
        (root / INCOMPLETE_MARKER).write_text("")  # every pass is refused until it is gone
        (root / "keep" / "new.txt").write_text("waiting\n")
        wait_unhealthy(daemon, config, "no pass has succeeded", "restore")
        (root / INCOMPLETE_MARKER).unlink()
        nothing = run_syncd("reconcile", "--force-deletes", config=config)
        assert nothing.returncode == 0 and "nothing to approve" in nothing.stdout
        daemon.signal(signal.SIGHUP)  # "fixed it": try again now
        wait_converged(emulator.admin, root, "Docs", daemon, timeout=30)
        wait_healthy(daemon, config)
        assert daemon.stop() == 0
