"""`syncd reconcile --adopt-existing` (a first sync against a remote copy made by other means) and
the one-shot command's cached package limits, through the real CLI against the emulator."""

from __future__ import annotations

from pathlib import Path

from syncd.emulator.testing import EmulatorProcess
from tests.support.cli import run_syncd
from tests.support.reconcile import expected_remote, mutating_calls, pair_config
from tests.support.trees import write_tree


def _tree(root: Path) -> None:
    write_tree(root, {f"d{i % 3}/f{i:02}.txt": f"file {i}\n" * (i + 1) for i in range(12)})


def _seed_remote(tmp_path: Path, emulator: EmulatorProcess, local: Path, remote: str) -> None:
    """The remote copy, made by another syncd whose state is then thrown away."""
    seeder = tmp_path / "seeder"
    seeder.mkdir()
    config = pair_config(seeder, emulator.api_url, local, remote=remote)
    done = run_syncd("reconcile", config=config)
    assert done.returncode == 0, done.stderr


def test_adopt_existing_takes_matching_remote_files_without_uploading(
    tmp_path: Path, emulator: EmulatorProcess
) -> None:
    local = tmp_path / "local"
    _tree(local)
    _seed_remote(tmp_path, emulator, local, "Adopt/one")
    # Someone changed one local file since the copy was made (a different size: not adopted).
    (local / "d1" / "f01.txt").write_bytes(b"changed since the copy, longer than before\n")
    config = pair_config(tmp_path, emulator.api_url, local, remote="Adopt/one")
    emulator.admin.reset_counts()

    # Its stale remote copy is an untracked extra: trashing it on a first pass is held (the
    # rest goes on: the matching files adopted, the changed one uploaded).
    held = run_syncd("reconcile", "--adopt-existing", config=config)
    assert held.returncode == 3, held.stderr
    assert "max_delete" in held.stderr and "1 deletions (1 files) held" in held.stderr
    assert "adopted 11" in held.stdout, held.stdout
    assert mutating_calls(emulator.admin.counts()) == {"file/upload": 1}

    emulator.admin.reset_counts()
    allowed = run_syncd("reconcile", "--max-delete", "1", config=config)
    assert allowed.returncode == 0, allowed.stderr
    # The changed file's stale untracked copy trashed (mirror mode).
    assert mutating_calls(emulator.admin.counts()) == {"file/delete": 1}
    assert emulator.admin.active_paths() == expected_remote(local, "Adopt/one")
    assert emulator.admin.duplicates() == []

    emulator.admin.reset_counts()
    again = run_syncd("reconcile", config=config)
    assert again.returncode == 0, again.stderr
    assert mutating_calls(emulator.admin.counts()) == {}


def test_without_adopt_existing_the_remote_copy_is_replaced_not_duplicated(
    tmp_path: Path, emulator: EmulatorProcess
) -> None:
    local = tmp_path / "local"
    _tree(local)
    _seed_remote(tmp_path, emulator, local, "Adopt/two")
    config = pair_config(tmp_path, emulator.api_url, local, remote="Adopt/two")
    emulator.admin.reset_counts()

    refused = run_syncd("reconcile", config=config)
    assert refused.returncode == 3, refused.stderr  # would trash 12 files it never uploaded
    assert mutating_calls(emulator.admin.counts()) == {}

    done = run_syncd("reconcile", "--force-deletes", config=config)

    assert done.returncode == 0, done.stderr
    calls = mutating_calls(emulator.admin.counts())
    assert calls == {"file/upload": 12, "file/delete": 12}, calls  # no hash: never trusted
    assert emulator.admin.active_paths() == expected_remote(local, "Adopt/two")
    assert emulator.admin.duplicates() == []


# The emulator's counts are per action, plus these two tallies of answers.
NOT_ACTIONS = {"429", "faults"}


def test_one_shot_reconcile_asks_for_the_package_once_an_hour(
    tmp_path: Path, emulator: EmulatorProcess
) -> None:
    local = tmp_path / "local"
    _tree(local)
    config = pair_config(tmp_path, emulator.api_url, local, remote="Adopt/three")
    first = run_syncd("reconcile", config=config)
    assert first.returncode == 0, first.stderr
    emulator.admin.reset_counts()

    again = run_syncd("reconcile", config=config)

    assert again.returncode == 0, again.stderr
    counts = {k: v for k, v in emulator.admin.counts().items() if v and k not in NOT_ACTIONS}
    # A no-op pass: one listing per folder (root + d0..d2) and the authorize; the token is
    # left to expire rather than revoked (one request less per run).
    assert counts == {"authorize": 1, "folder/listing": 4}, counts
