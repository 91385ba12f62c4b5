"""Ctrl-C during `syncd reconcile`: the operations in flight finish, the summary of what was done
so far is printed, and the exit code is 130 (not click's bare "Aborted!")."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from syncd.emulator.testing import EmulatorProcess
from tests.support.reconcile import pair_config
from tests.support.waiting import wait_for

FILES = 60


@pytest.mark.emulator(latency_ms=150)
def test_ctrl_c_prints_the_summary_so_far_and_exits_130(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    local = tmp_path / "local"
    local.mkdir()
    for i in range(FILES):
        (local / f"f{i:03}.txt").write_text(f"file {i}\n")
    config = pair_config(tmp_path, emulator.api_url, local)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "syncd", "reconcile", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        wait_for(
            lambda: emulator.admin.counts().get("file/upload", 0) >= 4 or proc.poll() is not None,
            60,
            "the first uploads",
        )
        assert proc.poll() is None, "reconcile finished before it could be interrupted"
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 130, (out, err)
    assert "Aborted!" not in out + err
    uploaded = sum(1 for f in emulator.admin.tree()["files"] if f["status"] == "active")
    assert 0 < uploaded < FILES, uploaded
    assert f"pair docs: uploaded {uploaded}," in out, out
    assert "interrupted" in (out + err).lower(), (out, err)
