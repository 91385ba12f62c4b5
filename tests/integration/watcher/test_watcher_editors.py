"""Editor saves, slow writers and ignored paths, watched with the native observer.

Every wait polls a condition with a deadline; "exactly one" is checked by letting the watcher go
idle (nothing pending) and then seeing no further change for a few quiet periods.
"""

from __future__ import annotations

import os
from pathlib import Path

from syncd.local.coalesce import Change
from syncd.local.watcher import Watcher
from tests.integration.watcher.support import (
    dirty,
    everything_so_far,
    exactly,
)


def test_ignored_paths_generate_nothing(watcher: Watcher, root: Path) -> None:
    (root / ".DS_Store").write_text("x")
    (root / "notes.txt.swp").write_text("x")
    (root / "download.iso.part").write_text("x")
    (root / "node_modules" / "lib").mkdir(parents=True)
    (root / "node_modules" / "lib" / "index.js").write_text("x")
    os.rename(root / "download.iso.part", root / "download.iso.crdownload")
    (root / ".syncd-tmp-1").write_text("x")
    (root / ".syncd-tmp-1").unlink()
    assert everything_so_far(watcher) == []


def test_vim_style_save_is_one_update(watcher: Watcher, root: Path) -> None:
    target = root / "notes.txt"
    target.write_text("v1")
    everything_so_far(watcher)
    # What vim does with 'writebackup' and backupcopy=no: probe, swap, rename to backup,
    # write the new file, delete the backup.
    (root / ".notes.txt.swp").write_bytes(b"swap")
    (root / "4913").write_text("")
    (root / "4913").unlink()
    os.rename(target, root / "notes.txt~")
    with open(target, "w") as f:
        f.write("v2")
        f.flush()
        os.fsync(f.fileno())
    (root / "notes.txt~").unlink()
    (root / ".notes.txt.swp").unlink()
    exactly(watcher, [dirty("notes.txt")])


def test_temp_file_renamed_over_target_is_one_update(watcher: Watcher, root: Path) -> None:
    target = root / "report.odt"
    target.write_text("v1")
    everything_so_far(watcher)
    tmp = root / "report.odt.tmp-4f2a"  # not an ignored name: the coalescing must handle it
    tmp.write_text("v2")
    os.replace(tmp, target)
    exactly(watcher, [dirty("report.odt")])
    hidden_tmp = root / ".syncd-report"  # our own temp prefix: ignored on the way in
    hidden_tmp.write_text("v3")
    os.replace(hidden_tmp, target)
    exactly(watcher, [dirty("report.odt")])


def test_file_written_slowly_over_3s_is_reported_once_after_close(
    watcher: Watcher, root: Path
) -> None:
    during: list[Change] = []
    with open(root / "slow.bin", "wb") as f:
        for _ in range(30):
            f.write(b"x" * 1000)
            f.flush()
            during.extend(watcher.drain(0.1))  # paces the writer at ~10 writes per second
    assert during == []
    exactly(watcher, [dirty("slow.bin")])
    assert (root / "slow.bin").stat().st_size == 30_000


def test_open_file_with_long_pauses_waits_for_close(watcher: Watcher, root: Path) -> None:
    during: list[Change] = []
    with open(root / "paused.log", "wb") as f:
        for _ in range(3):
            f.write(b"line\n")
            f.flush()
            during.extend(watcher.drain(1.0))  # pauses longer than the quiet period
    assert during == []
    exactly(watcher, [dirty("paused.log")])
