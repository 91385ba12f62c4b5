"""Kill `syncd reconcile` (SIGKILL) in the middle of an initial sync, then run it again:
remote == local, no duplicates, nothing uploaded twice beyond what was in flight."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from syncd.emulator.testing import EmulatorProcess
from tests.support.cli import run_syncd, start_syncd
from tests.support.reconcile import expected_remote, pair_config
from tests.support.trees import write_tree


@pytest.mark.emulator(latency_ms=20)
def test_killed_mid_sync_then_rerun_converges_without_duplicates(
    tmp_path: Path, emulator: EmulatorProcess
) -> None:
    local = tmp_path / "local"
    write_tree(local, {f"d{d}/f{i}.txt": os.urandom(2000 + i) for d in range(5) for i in range(30)})
    config = pair_config(tmp_path, emulator.api_url, local)
    proc = start_syncd("reconcile", config=config)
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
    rerun = run_syncd("reconcile", config=config)
    assert rerun.returncode == 0, rerun.stderr
    assert emulator.admin.active_paths() == expected_remote(local, "Backup/docs")
    assert emulator.admin.duplicates() == []
    # Uploads whose answer the killed run never recorded are adopted from their intents:
    # at most the ones in flight (8 workers) are sent twice, never the ones already done.
    assert first + emulator.admin.counts().get("file/upload", 0) <= 150 + 8
    trashed = [f for f in emulator.admin.tree()["files"] if f["status"] != "active"]
    assert len(trashed) <= 8
