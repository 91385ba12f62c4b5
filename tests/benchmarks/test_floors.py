"""The floors (benchmarks/floors.py) make exactly the requests of the pass they stand for, over
both HTTP stacks, against the real emulator: an initial sync's uploads land whole where syncd
would put them, and a no-op floor lists every folder of the pair and stats every local entry,
changing nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from benchmarks import data
from benchmarks.floors import STACKS, run_floor
from syncd.emulator.testing import MUTATING_ACTIONS, EmulatorProcess

DIRS = {"a": 3, "b": 2, "b/c": 2}  # relative directory: files in it


def _tree(root: Path) -> dict[str, str]:
    """The local tree; returns `{"/bench/a/f0.bin": md5}` as the pair's remote should hold it."""
    expected = {}
    for directory, count in DIRS.items():
        (root / directory).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            content = f"{directory} {i}\n".encode() * 40
            (root / directory / f"f{i}.bin").write_bytes(content)
            remote_path = f"/{data.REMOTE_FOLDER}/{directory}/f{i}.bin"
            expected[remote_path] = hashlib.md5(content).hexdigest()
    return expected


@pytest.mark.parametrize("stack", STACKS)
def test_the_upload_floor_uploads_every_file_into_its_folder(tmp_path: Path, stack: str) -> None:
    expected = _tree(tmp_path / "local")
    with EmulatorProcess(data_dir=tmp_path / "emu") as emu:
        config = data.write_config(
            tmp_path / "config.toml",
            api_url=emu.api_url,
            state=tmp_path / "state.db",
            local=tmp_path / "local",
        )
        result = run_floor("upload", stack, config)
        assert emu.admin.active_paths() == expected
        counts = emu.admin.counts()
    assert counts["file/upload"] == len(expected)
    assert counts["folder/create"] == len(DIRS) + 1  # the pair's folder and one per directory
    assert result.stdout.strip() == f"{len(DIRS) + 1} folders, {len(expected)} uploads"


@pytest.mark.parametrize("stack", STACKS)
def test_the_noop_floor_lists_every_folder_of_the_pair_and_changes_nothing(
    tmp_path: Path, stack: str
) -> None:
    expected = _tree(tmp_path / "local")
    with EmulatorProcess(data_dir=tmp_path / "emu") as emu:
        config = data.write_config(
            tmp_path / "config.toml",
            api_url=emu.api_url,
            state=tmp_path / "state" / "state.db",
            local=tmp_path / "local",
        )
        (tmp_path / "state").mkdir()
        run_floor("upload", stack, config)  # the remote side of a synced pair
        emu.admin.reset_counts()
        result = run_floor("noop", stack, config)
        counts = emu.admin.counts()
        assert emu.admin.active_paths() == expected
    folders = len(DIRS) + 1  # the pair's own folder and each directory under it
    assert counts["folder/listing"] == folders + 1  # and the root's, to find the pair's folder
    assert not any(counts.get(action) for action in MUTATING_ACTIONS)
    local_entries = len(expected) + len(DIRS)
    assert result.stdout.strip() == (
        f"{folders + 1} listings, {len(expected)} remote files, {local_entries} local entries"
    )
