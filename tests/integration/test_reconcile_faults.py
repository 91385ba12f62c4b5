"""Reconcile through injected faults: lost answers after the host acted, 5xx, dropped
connections. Whatever happens, a few passes converge to remote == local with no duplicates
(uploads whose answer was lost are adopted from the listing, never sent twice)."""

from __future__ import annotations

from pathlib import Path

from syncd.emulator.testing import EmulatorProcess
from tests.support.reconcile import Syncer, expected_remote, pair_config


def test_faults_converge_without_duplicates(tmp_path: Path, emulator: EmulatorProcess) -> None:
    local = tmp_path / "local"
    for d in range(6):
        (local / f"dir{d}" / "sub").mkdir(parents=True)
        for i in range(8):
            (local / f"dir{d}" / f"f{i}.txt").write_text(f"{d}-{i} " * (i + 1))
            (local / f"dir{d}" / "sub" / f"g{i}.txt").write_text(f"sub {d}-{i}")
    syncer = Syncer(pair_config(tmp_path, emulator.api_url, local))
    emulator.admin.set_knobs(
        fault_rate=0.2, fault_kinds=["after_drop", "after_500", "500", "drop"], fault_seed=11
    )
    try:
        results = []
        for _ in range(5):  # failures are recorded and retried by the next pass
            results.append(syncer.run())
            if results[-1].exit_code == 0 and not results[-1].plan.ops:
                break
        emulator.admin.set_knobs(fault_rate=0.0)
        assert emulator.admin.counts().get("faults", 0) > 0  # the dice did roll
        final = syncer.run()
        assert final.exit_code == 0, final.outcome.failed
        assert emulator.admin.active_paths() == expected_remote(local, "Backup/docs")
        assert emulator.admin.duplicates() == []
        assert final.plan.ops == []
    finally:
        syncer.close()
