"""Crash trials for `syncd run`: the daemon syncs a churning tree of a few thousand small files and
is SIGKILLed at a seeded random moment while it is busy; restarted, it must converge with the
whole invariant (remote == local, no duplicates, no orphans, journal consistent, no intents).

Gets a third of `--trials N` (default 12, so 4 kills in the quick set); the backup-mode variant
(versions kept) a twelfth more (1 in the quick set, 25 of 300)."""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from pathlib import Path

import pytest

from syncd.emulator.testing import EmulatorProcess
from tests.support.daemon import DaemonProcess

from .invariants import Ledger, history_problems, invariant_problems, remote_tree
from .test_crash_support import (
    PAIR,
    REMOTE,
    Churn,
    crash_config,
    journal_intents,
    mutations,
    wait_for_invariant,
    wait_for_mutations,
)

SEED = int(os.environ.get("SYNCD_CRASH_SEED", "20261123")) + 7
INITIAL_FILES = 2000


def daemon_trials(config: pytest.Config) -> int:
    trials = int(config.getoption("trials", default=12))
    return max(1, trials - trials * 2 // 3)


@pytest.mark.timeout(0)
@pytest.mark.emulator(latency_ms=10, concurrent_uploads=8)
def test_daemon_killed_while_busy_always_converges_after_restart(
    tmp_path: Path, emulator: EmulatorProcess, request: pytest.FixtureRequest
) -> None:
    trials = daemon_trials(request.config)
    rng = random.Random(SEED)
    local = tmp_path / "local"
    churn = Churn(local, random.Random(SEED + 1))
    churn.populate(INITIAL_FILES)
    config = crash_config(tmp_path, emulator.api_url, local, quiet_period=0.1)
    state_db = tmp_path / "state.db"
    admin = emulator.admin

    mid_activity = 0
    left_intents: Counter[str] = Counter()
    daemon = DaemonProcess(config, tmp_path).start()
    try:
        for trial in range(trials):
            # The first pass uploads the whole tree: the lowest latency keeps CI time down.
            latency = rng.randint(5, 20)
            admin.set_knobs(latency_ms=5 if trial == 0 else latency)
            before = mutations(admin.counts())
            if trial:
                churn.step(rng.randint(60, 200))
            wait_for_mutations(admin, before, timeout=60, log_tail=daemon.log_tail)
            time.sleep(rng.uniform(0.0, 0.5))
            daemon.kill()
            daemon.close()
            # Killed with work undone: the remote still differs from the (unchanged) tree.
            mid_activity += bool(invariant_problems(admin, local, REMOTE))
            left_intents.update(i.kind for i in journal_intents(state_db))
            if rng.random() < 0.3:  # the tree changes while no daemon is running
                churn.step(rng.randint(5, 30))
            daemon = DaemonProcess(config, tmp_path).start()
            wait_for_invariant(
                admin,
                local,
                state_db,
                timeout=90,
                what=f"convergence after kill {trial} (seed {SEED})",
                log_tail=daemon.log_tail,
            )
    finally:
        daemon.close()
    print(
        f"\ndaemon crash trials: {trials} kills survived (seed {SEED}), {mid_activity} while "
        f"remote != local, intents left at kills: {dict(left_intents)}"
    )
    assert mid_activity >= max(1, trials // 3), f"only {mid_activity}/{trials} kills mid-sync"


@pytest.mark.timeout(0)
@pytest.mark.emulator(latency_ms=10, concurrent_uploads=8)
def test_backup_daemon_killed_while_busy_keeps_one_live_tree_and_every_version(
    tmp_path: Path, emulator: EmulatorProcess, request: pytest.FixtureRequest
) -> None:
    """The daemon in backup mode (versions kept): after each restart converges, the whole
    invariant holds for the live tree, every upload ever recorded live is live or in the
    versions area, and nothing was trashed."""
    trials = max(1, int(request.config.getoption("trials", default=12)) // 12)
    seed = SEED + 17
    rng = random.Random(seed)
    local = tmp_path / "local"
    churn = Churn(local, random.Random(seed + 1))
    churn.populate(500, top_dirs=4, sub_dirs=3)
    config = crash_config(tmp_path, emulator.api_url, local, quiet_period=0.1, mode="backup")
    state_db = tmp_path / "state.db"
    admin = emulator.admin
    ledger = Ledger()

    admin.set_knobs(latency_ms=5)
    daemon = DaemonProcess(config, tmp_path).start()
    try:
        wait_for_invariant(
            admin, local, state_db, timeout=90, what="the first sync", log_tail=daemon.log_tail
        )
        for trial in range(trials):
            admin.set_knobs(latency_ms=rng.randint(5, 20))
            before = mutations(admin.counts())
            churn.step(rng.randint(30, 80))
            wait_for_mutations(admin, before, timeout=60, log_tail=daemon.log_tail)
            time.sleep(rng.uniform(0.0, 0.4))
            daemon.kill()
            daemon.close()
            ledger.saw_journal(state_db, PAIR)
            daemon = DaemonProcess(config, tmp_path).start()
            context = f"convergence after kill {trial} (seed {seed})"
            wait_for_invariant(
                admin, local, state_db, timeout=90, what=context, log_tail=daemon.log_tail
            )
            ledger.saw_live(remote_tree(admin, REMOTE))
            problems = history_problems(admin, REMOTE, ledger, foreign_kept=True)
            assert not problems, f"history broken {context}:\n  " + "\n  ".join(problems[:40])
            trashed = [f for f in admin.tree()["files"] if f["status"] != "active"]
            assert trashed == [], f"backup mode trashed {len(trashed)} files ({context})"
    finally:
        daemon.close()
    print(
        f"\nbackup daemon crash trials: {trials} kills survived (seed {seed}), "
        f"{len(ledger.ever_live)} uploads seen live, all live or versions, nothing trashed"
    )
