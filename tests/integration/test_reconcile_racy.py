"""A file rewritten with the same size inside the time stamp tick in which syncd read it keeps its
mtime ("racy git"): size and mtime alone would record the first version as synced forever."""

from __future__ import annotations

import os
import time
from pathlib import Path

from syncd.emulator.testing import EmulatorProcess
from syncd.engine.executor import Progress
from tests.support.reconcile import Syncer, expected_remote, pair_config


def test_same_size_rewrite_within_the_mtime_tick_is_sent_again(
    tmp_path: Path, emulator: EmulatorProcess
) -> None:
    local = tmp_path / "local"
    local.mkdir()
    target = local / "note.txt"
    target.write_bytes(b"version A")

    class RewriteInTheSameTick(Progress):
        tick = 0

        def op_started(self, op: object) -> None:
            self.tick = time.time_ns()  # version A was written just now, in the current tick
            os.utime(target, ns=(self.tick, self.tick))

        def bytes_sent(self, n: int) -> None:
            if self.tick and n:  # syncd has read version A; the writer saves B in the same tick
                target.write_bytes(b"version B")
                os.utime(target, ns=(self.tick, self.tick))
                self.tick = 0

    syncer = Syncer(pair_config(tmp_path, emulator.api_url, local))
    try:
        result = syncer.run(progress=RewriteInTheSameTick())
        assert result.exit_code == 0, result.outcome.failed
        assert emulator.admin.active_paths() == expected_remote(local, "Backup/docs")
        assert emulator.admin.counts()["file/upload"] == 2
        assert syncer.run().plan.ops == []
    finally:
        syncer.close()


def test_an_old_file_is_not_checked_again(tmp_path: Path, emulator: EmulatorProcess) -> None:
    local = tmp_path / "local"
    local.mkdir()
    target = local / "old.txt"
    target.write_bytes(b"settled long ago")
    os.utime(target, (1_600_000_000, 1_600_000_000))
    syncer = Syncer(pair_config(tmp_path, emulator.api_url, local))
    try:
        result = syncer.run()
        assert result.exit_code == 0, result.outcome.failed
        assert emulator.admin.counts()["file/upload"] == 1
        assert syncer.run().plan.ops == []
    finally:
        syncer.close()
