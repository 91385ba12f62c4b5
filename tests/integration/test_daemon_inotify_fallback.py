"""Past the inotify watch limit the daemon warns once, naming the sysctl, polls that root, and
still syncs. The limit is made tiny through SYNCD_WATCH_LIMIT (the watcher's watch_limit)."""

from __future__ import annotations

from pathlib import Path

from tests.support.daemon import daemon_config, running_daemon, wait_converged


def test_watch_limit_fallback_warns_and_still_syncs(emulator, tmp_path: Path) -> None:
    root = tmp_path / "root"
    for i in range(5):
        (root / f"dir{i}").mkdir(parents=True)
    config = daemon_config(
        tmp_path / "config.toml",
        api_url=emulator.api_url,
        state=tmp_path / "state.db",
        pairs={"docs": (root, "Docs")},
    )
    with running_daemon(config, tmp_path, env={"SYNCD_WATCH_LIMIT": "2"}) as daemon:
        wait_converged(emulator.admin, root, "Docs", daemon)
        log_text = daemon.log_text()
        assert "fs.inotify.max_user_watches" in log_text, daemon.log_tail()
        assert "polling" in log_text
        assert log_text.count("Falling back to polling") == 1
        # Changes are still noticed (by polling) without waiting for the periodic reconcile.
        (root / "dir3" / "new.txt").write_text("seen by the polling observer\n")
        (root / "dir9").mkdir()
        wait_converged(emulator.admin, root, "Docs", daemon)
        assert daemon.stop() == 0
