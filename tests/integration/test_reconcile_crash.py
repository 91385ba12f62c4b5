"""Kill `syncd reconcile` (SIGKILL) in the middle of an initial sync, then run it again:
remote == local, no duplicates, nothing uploaded twice beyond what was in flight."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from syncd.emulator.testing import EmulatorProcess
from tests.support.reconcile import expected_remote, run_cli, write_config


@pytest.mark.emulator(latency_ms=20)
def test_killed_mid_sync_then_rerun_converges_without_duplicates(
    tmp_path: Path, emulator: EmulatorProcess
) -> None:
    local = tmp_path / "local"
    for d in range(5):
        (local / f"d{d}").mkdir(parents=True)
        for i in range(30):
            (local / f"d{d}" / f"f{i}.txt").write_bytes(os.urandom(2000 + i))
    config = write_config(tmp_path, emulator.api_url, local)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "syncd", "reconcile", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    deadline = time.monotonic() + 60
    try:
        while emulator.admin.counts().get("file/upload", 0) < 40:
            assert proc.poll() is None, "finished before it could be killed"
            assert time.monotonic() < deadline, "uploads did not start"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    first = emulator.admin.counts()["file/upload"]
    assert first < 150
    emulator.admin.reset_counts()
    rerun = run_cli("reconcile", config=config)
    assert rerun.returncode == 0, rerun.stderr
    assert emulator.admin.active_paths() == expected_remote(local, "Backup/docs")
    assert emulator.admin.duplicates() == []
    # Uploads whose answer the killed run never recorded are adopted from their intents:
    # at most the ones in flight (8 workers) are sent twice, never the ones already done.
    assert first + emulator.admin.counts().get("file/upload", 0) <= 150 + 8
    trashed = [f for f in emulator.admin.tree()["files"] if f["status"] != "active"]
    assert len(trashed) <= 8
