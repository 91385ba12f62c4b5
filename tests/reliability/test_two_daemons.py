"""Two daemons on one account: two machines backing up to the same host account with the same
keys. Every authorize kills the account's other tokens, so each daemon keeps invalidating the
other's token while both are busy. Both must converge, without a refused login, and once one
stops the other must be back to its normal latency: its renewal backoff resets as soon as a
token works again (a counter that never resets made a lone daemon wait ~34 s per change).

CI: ~15 s of changes on both. `-m slow`: ten minutes, or `--soak-seconds N`
(``pytest tests/reliability/test_two_daemons.py -m slow -rP``).
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from syncd.emulator.testing import EmulatorProcess
from tests.support.daemon import DaemonProcess, daemon_config
from tests.support.waiting import wait_for

from .invariants import invariant_problems, remote_tree
from .test_crash_support import Churn

SEED = 77
MACHINES = ("alpha", "beta")
# A lone daemon's change goes out within a quiet period and one upload; this bound only keeps a
# regression (waiting out a stale renewal backoff: tens of seconds) from passing.
LONE_LATENCY_BOUND_S = 10.0


def _machine(tmp_path: Path, api_url: str, name: str) -> tuple[Path, Path, str]:
    """One machine: its own local tree, state database and remote folder; the same keys."""
    work = tmp_path / name
    work.mkdir()
    local = work / "docs"
    remote = f"Machines/{name}"
    config = daemon_config(
        work / "config.toml",
        api_url=api_url,
        state=work / "state.db",
        pairs={"docs": (local, remote)},
        max_delete="100%",
        sync={"workers": 4},
    )
    return local, config, remote


def _latency(admin: object, local: Path, remote: str, name: str, daemon: DaemonProcess) -> float:
    """Seconds from writing a new file to its arrival on the host."""
    path = local / name
    started = time.monotonic()
    path.write_bytes(b"latency probe\n")
    wait_for(
        lambda: name in remote_tree(admin, remote).files,
        LONE_LATENCY_BOUND_S,
        f"{name} on the host",
        daemon.log_tail,
    )
    return time.monotonic() - started


def _own_problems(problems: list[str], admin: object, others: list[str]) -> list[str]:
    """The invariant's problems, less the other machine's files (account-wide, the invariant
    counts every file outside this pair's folder as an orphan upload)."""
    theirs = {
        f"file {f['id']} " for other in others for f in remote_tree(admin, other).files.values()
    }
    return [
        p
        for p in problems
        if not (
            p.startswith("orphan upload: ")
            and p[len("orphan upload: ") :].startswith(tuple(theirs))
        )
    ]


def _wait_converged(
    admin: object, local: Path, remote: str, others: list[str], daemon: DaemonProcess
) -> None:
    last: list[str] = []

    def holds() -> bool:
        problems = invariant_problems(admin, local, remote, state_db=local.parent / "state.db")
        last[:] = _own_problems(problems, admin, others)
        return not last

    wait_for(
        holds,
        180,
        f"{local.parent.name} to converge",
        lambda: "\n".join(last[:30]) + "\n" + daemon.log_tail(),
    )


def two_daemon_soak(tmp_path: Path, emulator: EmulatorProcess, seconds: float) -> None:
    admin = emulator.admin
    rng = random.Random(SEED)
    machines = [_machine(tmp_path, emulator.api_url, name) for name in MACHINES]
    churns = []
    for index, (local, _, _) in enumerate(machines):
        churn = Churn(local, random.Random(SEED + index))
        churn.populate(40, top_dirs=2, sub_dirs=2)
        churns.append(churn)
    daemons = [DaemonProcess(config, config.parent).start(timeout=60) for _, config, _ in machines]
    try:
        alone = _latency(admin, machines[0][0], machines[0][2], "probe-0.txt", daemons[0])
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for churn in churns:
                churn.step(rng.randint(1, 5))
            # Paced changes on both machines: the load is this stream of edits.
            time.sleep(rng.uniform(0.2, 1.5))
        remotes = [remote for _, _, remote in machines]
        for (local, _, remote), daemon in zip(machines, daemons, strict=True):
            others = [other for other in remotes if other != remote]
            _wait_converged(admin, local, remote, others, daemon)
        busy = admin.counts()
        assert daemons[1].stop() == 0, daemons[1].log_tail()
        # The survivor's token was killed by the other's last authorize: one renewal, no backoff.
        admin.reset_counts()
        after = _latency(admin, machines[0][0], machines[0][2], "probe-1.txt", daemons[0])
        lone = admin.counts()
        for daemon in daemons:
            text = daemon.log_text()
            assert "refused the credentials" not in text and "AuthError" not in text, (
                daemon.log_tail()
            )
        assert daemons[0].proc is not None and daemons[0].proc.poll() is None
        assert daemons[0].stop() == 0, daemons[0].log_tail()
    finally:
        for daemon in daemons:
            daemon.close()
    ops = sum(churn.useful_ops for churn in churns)
    print(
        f"\ntwo daemons: {seconds:.0f} s of changes on both; useful ops {ops}; authorize calls "
        f"{busy.get('authorize', 0)} of {sum(v for k, v in busy.items() if k != 'faults')} "
        f"requests; lone latency before {alone:.2f} s, after the other stopped {after:.2f} s "
        f"({lone.get('authorize', 0)} authorize)"
    )
    # Both daemons fought over the token (the test did what it says) and the lone one then
    # needed at most one new token for its change.
    assert busy.get("authorize", 0) > 2, busy
    assert lone.get("authorize", 0) <= 1, lone


@pytest.mark.timeout(300)
def test_two_daemons_on_one_account_converge(tmp_path: Path, emulator: EmulatorProcess) -> None:
    two_daemon_soak(tmp_path, emulator, seconds=15)


@pytest.mark.slow
@pytest.mark.timeout(0)  # as long as --soak-seconds asks; every wait has its deadline
def test_two_daemons_soak(
    tmp_path: Path, emulator: EmulatorProcess, request: pytest.FixtureRequest
) -> None:
    two_daemon_soak(tmp_path, emulator, seconds=request.config.getoption("--soak-seconds") or 600)
