"""Helpers for the engine's integration tests: a config on the emulator, trees, expectations.
(No tests here; imported by test_reconcile*.py and test_guards*.py.)"""

from __future__ import annotations

import os
from pathlib import Path

from syncd.config import Config, load_config
from syncd.emulator.testing import MUTATING_ACTIONS
from syncd.engine.reconcile import PassOptions, PassResult, reconcile_pair
from syncd.journal.store import Journal
from syncd.remote.client import RemoteClient
from tests.support.config import Pair, write_config
from tests.support.trees import md5_file

MUTATING = MUTATING_ACTIONS


def pair_config(
    workdir: Path, api_url: str, local: Path, *, remote: str = "Backup/docs", mode: str = "mirror"
) -> Path:
    """``workdir/config.toml`` with one pair named "docs" and its state beside it; 4 workers and
    a 50 ms quiet period keep the passes of these tests short."""
    return write_config(
        workdir / "config.toml",
        api_url=api_url,
        pairs=[Pair("docs", local, remote, mode)],
        sync={"workers": 4, "quiet_period": 0.05},
    )


def expected_remote(local: Path, prefix: str, *, limit: int | None = None) -> dict[str, str]:
    """`{"/prefix/rel": md5}` for every file the host can hold (not empty, not too large, not
    below a folder name with tags or surrounding spaces)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(local):
        dirnames[:] = [d for d in dirnames if "<" not in d and d == d.strip()]
        for name in filenames:
            path = Path(dirpath) / name
            size = path.stat().st_size
            if size == 0 or (limit is not None and size > limit):
                continue
            rel = path.relative_to(local).as_posix()
            out[f"/{prefix}/{rel}"] = md5_file(path)
    return out


class Syncer:
    """Runs passes in-process (fast) against one emulator, journal and pair."""

    def __init__(self, config_path: Path) -> None:
        self.config: Config = load_config(config_path)
        remote = self.config.remote
        self.client = RemoteClient(remote.api_url, remote.credentials())
        self.journal = Journal(self.config.state.path)
        self.package = self.client.account_package()

    def close(self) -> None:
        self.client.close()
        self.journal.close()

    def run(
        self, progress: object = None, dirty: list[str] | None = None, **options: object
    ) -> PassResult:
        return reconcile_pair(
            self.client,
            self.journal,
            self.config.pair("docs"),
            sync=self.config.sync,
            state_path=self.config.state.path,
            package=self.client.account_package(),
            options=PassOptions(**options),  # type: ignore[arg-type]
            progress=progress,  # type: ignore[arg-type]
            dirty=dirty,
        )


def mutating_calls(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if k in MUTATING and v}


def synced_tree(tmp_path: Path, api_url: str) -> tuple[Path, Path]:
    """A pair of 3 directories x 4 files, reconciled once through `syncd reconcile`: (local
    root, config). The guard tests start from it."""
    from tests.support.cli import run_syncd

    local = tmp_path / "local"
    for d in range(3):
        (local / f"d{d}").mkdir(parents=True)
        for i in range(4):
            (local / f"d{d}" / f"f{i}.txt").write_text(f"{d}/{i}")
    config = pair_config(tmp_path, api_url, local)
    first = run_syncd("reconcile", config=config)
    assert first.returncode == 0, first.stderr
    return local, config
