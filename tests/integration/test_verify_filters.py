"""verify knows the pair's filters: what max_size, exclude_if_present and .syncdignore keep out
of the sync is not reported as missing remotely."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.cli import run_syncd
from tests.support.restore import restore_config
from tests.support.trees import write_tree


def test_filtered_files_are_not_missing_remotely(emulator: Any, tmp_path: Path) -> None:
    root = tmp_path / "Docs"
    write_tree(
        root,
        {
            "a.txt": b"a",
            "big.bin": b"x" * 4096,  # over max_size
            "cache/CACHEDIR.TAG": b"Signature: 8a477f597d28d172789f06886806bc55\n",
            "cache/blob.txt": b"cached",
            "sub/keep.txt": b"keep",
            "sub/debug.log": b"log",  # .syncdignore
            ".syncdignore": b"*.log\n",
        },
    )
    state = tmp_path / "state.db"
    config = restore_config(
        tmp_path / "config.toml", emulator.api_url, state, pairs={"docs": (root, "Backup/Docs")}
    )
    text = config.read_text()
    assert text.rstrip().splitlines()[-1].startswith("remote = ")  # [[pairs]] is the last table
    config.write_text(text + 'max_size = "1K"\nexclude_if_present = ["CACHEDIR.TAG"]\n')
    synced = run_syncd("reconcile", "--pair", "docs", config=config)
    assert synced.returncode == 0, synced.stderr
    remote = sorted(f["name"] for f in emulator.admin.tree()["files"])
    assert remote == [".syncdignore", "a.txt", "keep.txt"]

    result = run_syncd("verify", "--json", config=config)
    (pair,) = json.loads(result.stdout)["pairs"]
    assert pair["differences"] == [], pair
    assert result.returncode == 0, result.stdout
    notes = {n["path"]: n["detail"] for n in pair["notes"]}
    assert notes == {
        "big.bin": "4096 bytes, over max_size 1024",
        "cache/": "holds CACHEDIR.TAG (exclude_if_present)",
    }


def test_a_copy_synced_before_the_filter_applied_is_not_a_difference(
    emulator: Any, tmp_path: Path
) -> None:
    """A file that grew past max_size keeps its old remote copy (the engine never trashes it):
    verify notes it instead of reporting a size difference."""
    root = tmp_path / "Docs"
    write_tree(root, {"a.txt": b"a", "grows.bin": b"small"})
    state = tmp_path / "state.db"
    config = restore_config(
        tmp_path / "config.toml", emulator.api_url, state, pairs={"docs": (root, "Backup/Docs")}
    )
    assert run_syncd("reconcile", config=config).returncode == 0
    (root / "grows.bin").write_bytes(b"y" * 4096)
    config.write_text(config.read_text() + 'max_size = "1K"\n')
    assert run_syncd("reconcile", config=config).returncode == 0
    result = run_syncd("verify", "--json", config=config)
    (pair,) = json.loads(result.stdout)["pairs"]
    assert pair["differences"] == [], pair
    assert [n["path"] for n in pair["notes"]] == ["grows.bin"]
    assert result.returncode == 0
