"""The host goes away for ~20 s while files change; the daemon keeps running and catches up.

The emulator process is stopped (connection refused), files change, and it comes back on the
same port with the same data: the daemon must converge without being restarted.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.support.daemon import daemon_config, running_daemon, wait_converged
from tests.support.waiting import wait_for

OUTAGE_SECONDS = 20.0


def test_host_down_for_20s_then_back(emulator, tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "keep").mkdir(parents=True)
    (root / "keep" / "a.txt").write_text("before the outage\n")
    (root / "gone.txt").write_text("deleted during the outage\n")
    config = daemon_config(
        tmp_path / "config.toml",
        api_url=emulator.api_url,
        state=tmp_path / "state.db",
        pairs={"docs": (root, "Docs")},
    )
    with running_daemon(config, tmp_path) as daemon:
        wait_converged(emulator.admin, root, "Docs", daemon)
        emulator.stop()
        down_since = time.monotonic()
        # Change things while the host is unreachable: the passes fail and are retried.
        (root / "new.txt").write_text("written during the outage\n")
        (root / "keep" / "a.txt").write_text("changed during the outage\n")
        (root / "gone.txt").unlink()
        (root / "fresh" / "deep").mkdir(parents=True)
        (root / "fresh" / "deep" / "b.txt").write_text("b\n")
        # Stay down for the outage, watching the daemon survive it (no sleep that hopes:
        # this is the length of the outage the test is about).
        while time.monotonic() - down_since < OUTAGE_SECONDS:
            assert daemon.proc is not None and daemon.proc.poll() is None, daemon.log_tail()
            time.sleep(0.5)
        emulator.restart()
        wait_converged(emulator.admin, root, "Docs", daemon, timeout=60)
        # Recovering from failed incremental passes is followed by one full pass, which
        # repairs whatever the failures left outside the dirty paths.
        wait_for(
            lambda: "full reconcile (catch-up after failed passes)" in daemon.log_text(),
            30,
            "a full pass after the failed ones",
            daemon.log_tail,
        )
        assert daemon.proc is not None and daemon.proc.poll() is None
        assert daemon.stop() == 0
