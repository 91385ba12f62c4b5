"""Crash trials for `syncd reconcile`: a churning tree of a few thousand small files, a SIGKILL at a
seeded random moment of each pass (the emulator's latency keeps many requests in flight, so kills
land inside uploads, folder creations, moves and journal commits), then a restart that must
converge with the whole invariant (tests/reliability/invariants.py).

Quick set: `--trials 12` (the default) gives this test two thirds of the kills and the daemon
variant the rest; each variant keeping versions (backup mode, mirror with "keep") a sixth more.
The long variant: `python3 -m pytest tests/reliability/test_crash_reconcile.py --trials 300`.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syncd.emulator.testing import EmulatorProcess
from tests.support.cli import run_syncd

from .invariants import (
    Ledger,
    assert_invariant,
    history_problems,
    invariant_problems,
    local_tree,
    remote_tree,
)
from .test_crash_support import (
    PAIR,
    REMOTE,
    Churn,
    crash_config,
    journal_intents,
    mutations,
    reconcile_until_clean,
    start_reconcile,
    wait_for_first_mutation,
)

SEED = int(os.environ.get("SYNCD_CRASH_SEED", "20261123"))
INITIAL_FILES = 2000


def reconcile_trials(config: pytest.Config) -> int:
    return max(1, int(config.getoption("trials", default=12)) * 2 // 3)


@pytest.mark.timeout(0)
@pytest.mark.emulator(latency_ms=10, concurrent_uploads=8)
def test_reconcile_killed_at_random_moments_always_converges(
    tmp_path: Path, emulator: EmulatorProcess, request: pytest.FixtureRequest
) -> None:
    trials = reconcile_trials(request.config)
    rng = random.Random(SEED)
    local = tmp_path / "local"
    churn = Churn(local, random.Random(SEED + 1))
    churn.populate(INITIAL_FILES)
    config = crash_config(tmp_path, emulator.api_url, local)
    state_db = tmp_path / "state.db"
    log = tmp_path / "reconcile.log"
    admin = emulator.admin

    partial = 0  # kills after which the restart still had remote work to do
    mid_run = 0  # kills that found the process still running
    left_intents: Counter[str] = Counter()
    for trial in range(trials):
        if trial:
            churn.step(rng.randint(60, 200))
        # The first pass uploads the whole tree: the lowest latency keeps CI time down.
        latency = rng.randint(5, 20)
        admin.set_knobs(latency_ms=5 if trial == 0 else latency)
        before = mutations(admin.counts())
        proc = start_reconcile(config, log)
        # Wait for the pass's first remote mutation, then a seeded random delay, then SIGKILL.
        wait_for_first_mutation(admin, before, proc, log)
        time.sleep(rng.uniform(0.0, 0.6))
        if proc.poll() is None:
            mid_run += 1
            proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        context = f"trial {trial} (seed {SEED})"
        intents = journal_intents(state_db)
        left_intents.update(i.kind for i in intents)
        # A partial pass: intents left, or the remote not yet equal to the (unchanged) tree.
        partial += bool(intents) or bool(invariant_problems(admin, local, REMOTE))
        if rng.random() < 0.3:  # sometimes the tree changes again before the restart
            churn.step(rng.randint(5, 30))
        reconcile_until_clean(config, log)
        assert_invariant(admin, local, REMOTE, state_db=state_db, context=context)

    print(
        f"\nreconcile crash trials: {trials} kills survived (seed {SEED}), {mid_run} mid-run, "
        f"{partial} left a partial pass, intents left at kills: {dict(left_intents)}, "
        f"churn ops {churn.useful_ops}"
    )
    # The kills must have landed inside passes, not only between them.
    assert partial >= max(1, trials // 3), f"only {partial}/{trials} kills interrupted a pass"


VERSIONS_FILES = 500  # the versions trials' tree: history checks read the whole host each time


def versions_trials(config: pytest.Config) -> int:
    """Each versions variant gets a sixth of ``--trials`` (2 of the quick 12; 50 of 300)."""
    return max(1, int(config.getoption("trials", default=12)) // 6)


@pytest.mark.timeout(0)
@pytest.mark.emulator(latency_ms=10, concurrent_uploads=8)
@pytest.mark.parametrize(("mode", "versions"), [("backup", None), ("mirror", '"keep"')])
def test_reconcile_killed_while_keeping_versions_converges_and_keeps_history(
    tmp_path: Path,
    emulator: EmulatorProcess,
    request: pytest.FixtureRequest,
    mode: str,
    versions: str | None,
) -> None:
    """The crash trials with versions kept (backup mode's default; mirror with "keep"): after
    each restart converges, the whole invariant holds (the versions area is not part of the live
    tree), every upload ever recorded live is live or in the versions area and nothing was
    trashed; at the end `restore --at` moments recorded between trials gives their trees."""
    trials = versions_trials(request.config)
    seed = SEED + (11 if mode == "backup" else 13)
    rng = random.Random(seed)
    local = tmp_path / "local"
    churn = Churn(local, random.Random(seed + 1))
    churn.populate(VERSIONS_FILES, top_dirs=4, sub_dirs=3)
    config = crash_config(tmp_path, emulator.api_url, local, mode=mode, versions=versions)
    state_db = tmp_path / "state.db"
    log = tmp_path / "reconcile.log"
    admin = emulator.admin
    ledger = Ledger()
    moments: list[tuple[int, dict[str, str]]] = []

    partial = 0
    for trial in range(trials + 1):  # trial 0 uploads the tree unharmed: the history starts
        if trial:
            churn.step(rng.randint(30, 80))
        admin.set_knobs(latency_ms=5 if trial == 0 else rng.randint(5, 20))
        if trial:
            before = mutations(admin.counts())
            proc = start_reconcile(config, log)
            wait_for_first_mutation(admin, before, proc, log)
            time.sleep(rng.uniform(0.0, 0.4))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            ledger.saw_journal(state_db, PAIR)  # what it made live before the kill
            partial += bool(journal_intents(state_db)) or bool(
                invariant_problems(admin, local, REMOTE)
            )
            if rng.random() < 0.3:
                churn.step(rng.randint(5, 15))
        reconcile_until_clean(config, log)
        context = f"{mode} trial {trial} (seed {seed})"
        assert_invariant(admin, local, REMOTE, state_db=state_db, context=context)
        ledger.saw_live(remote_tree(admin, REMOTE))
        problems = history_problems(admin, REMOTE, ledger, foreign_kept=mode == "backup")
        assert not problems, f"history broken {context}:\n  " + "\n  ".join(problems[:40])
        trashed = [f for f in admin.tree()["files"] if f["status"] != "active"]
        if mode == "backup":
            assert trashed == [], f"backup mode trashed {len(trashed)} files {context}"
        moments.append((_moment_ns(), {r: m for r, (m, _, _) in local_tree(local).files.items()}))

    for index in sorted({0, len(moments) // 2}):
        at_ns, expected = moments[index]
        at = datetime.fromtimestamp(at_ns / 1e9, UTC).isoformat()
        dest = tmp_path / f"restored-{index}"
        result = run_syncd("restore", "--pair", PAIR, "--at", at, str(dest), config=config)
        assert result.returncode == 0, result.stdout + result.stderr
        got = {r: m for r, (m, _, _) in local_tree(dest).files.items()}
        # Renames and moves are made by id and are not versions: a file renamed since comes
        # back under its later name, so the contents are compared, as a multiset.
        extra = sorted(r for r, m in got.items() if m not in set(expected.values()))
        missing = sorted(r for r, m in expected.items() if m not in set(got.values()))
        assert sorted(got.values()) == sorted(expected.values()), (
            f"restore --at the moment after trial {index} differs: contents extra at "
            f"{extra[:10]}, missing (paths then) {missing[:10]}"
        )
    print(
        f"\nreconcile crash trials keeping versions ({mode}): {trials} kills survived (seed "
        f"{seed}), {partial} left a partial pass, {len(ledger.ever_live)} uploads seen live, "
        f"all live or versions; restore --at checked at 2 moments"
    )
    assert partial >= 1 or trials < 2, f"no kill interrupted a pass ({trials} trials)"


def _moment_ns() -> int:
    """A moment strictly between what was done and what comes next, at the millisecond
    precision of versioned names (the clock is read until it moved on)."""
    start = time.time_ns()
    while time.time_ns() - start < 2_000_000:
        pass
    moment = time.time_ns()
    while time.time_ns() - moment < 2_000_000:
        pass
    return moment


def test_max_delete_hundred_percent_never_refuses() -> None:
    # Seen in a daemon crash trial (seed 20261130, kill 20, before the workload kept its size):
    # "this pass would trash 15 of 14 synced files, more than max_delete (100%)".
    from syncd.config import parse_max_delete
    from syncd.engine.guards import check_deletions

    check_deletions("docs", 15, 14, parse_max_delete("100%"))


def test_invariant_checker_sees_each_kind_of_violation(
    tmp_path: Path, emulator: EmulatorProcess
) -> None:
    """A checker that always passes proves nothing: break the invariant one way at a time."""
    import base64

    local = tmp_path / "local"
    (local / "a").mkdir(parents=True)
    (local / "a" / "x.txt").write_bytes(b"x")
    (local / "y.txt").write_bytes(b"y")
    config = crash_config(tmp_path, emulator.api_url, local)
    state_db = tmp_path / "state.db"
    reconcile_until_clean(config, tmp_path / "log")
    admin = emulator.admin
    assert invariant_problems(admin, local, REMOTE, state_db=state_db) == []

    def problems() -> str:
        return "\n".join(invariant_problems(admin, local, REMOTE, state_db=state_db))

    folders = {f["name"]: f["id"] for f in admin.tree()["folders"] if f["status"] == "active"}
    body = base64.b64encode(b"extra").decode()
    extra = admin.drift("add_file", folder_id=folders["a"], name="extra.txt", content_b64=body)
    assert "remote extra file a/extra.txt" in problems()
    admin.drift("trash_file", file_id=extra["id"])
    twin = admin.drift("add_file", folder_id=folders["a"], name="x.txt", content_b64=body)
    assert "duplicate name on the host" in problems()
    admin.drift("trash_file", file_id=twin["id"])
    orphan = admin.drift("add_file", folder_id=folders["Crash"], name="o.txt", content_b64=body)
    assert "orphan upload" in problems()
    admin.drift("trash_file", file_id=orphan["id"])
    assert problems() == ""
    (local / "y.txt").write_bytes(b"changed")
    assert "content differs: y.txt" in problems()
    (local / "y.txt").write_bytes(b"y")
    assert problems() == ""
    # Same bytes in a new file (another inode): trees agree, the journal no longer does.
    (local / "y.new").write_bytes(b"y")
    os.replace(local / "y.new", local / "y.txt")
    assert "journal: y.txt local identity differs" in problems()
    reconcile_until_clean(config, tmp_path / "log")
    assert problems() == ""
    (local / "b").mkdir()
    assert "missing remotely: dir b" in problems()
