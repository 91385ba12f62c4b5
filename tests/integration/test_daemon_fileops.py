"""`syncd run` follows real file operations: after each, remote == local within a deadline.

One emulator and one daemon for the module (the start-up cost is paid once); each test works in
its own subdirectory and checks the whole pair, with no duplicates. Moves are checked through
the emulator's request counts: a moved file or directory is one edit, never a re-upload.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.emulator.testing import EmulatorProcess
from tests.support.daemon import DaemonProcess, daemon_config, wait_converged

REMOTE = "Sync/Root"
DEADLINE = 30.0


class Setup:
    def __init__(self, emulator: EmulatorProcess, daemon: DaemonProcess, root: Path) -> None:
        self.emulator = emulator
        self.daemon = daemon
        self.root = root

    def converge(self, timeout: float = DEADLINE) -> None:
        wait_converged(self.emulator.admin, self.root, REMOTE, self.daemon, timeout=timeout)

    def counts(self) -> dict[str, int]:
        return self.emulator.admin.counts()

    def reset_counts(self) -> None:
        self.emulator.admin.reset_counts()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    work = tmp_path_factory.mktemp("daemon-fileops")
    root = work / "root"
    root.mkdir()
    (root / "seed.txt").write_text("present before the daemon starts\n")
    with EmulatorProcess() as emulator:
        config = daemon_config(
            work / "config.toml",
            api_url=emulator.api_url,
            state=work / "state.db",
            pairs={"root": (root, REMOTE)},
            quiet_period=0.5,
            # The tests delete most of what they just made; the guard is tested elsewhere.
            max_delete="100%",
        )
        daemon = DaemonProcess(config, work)
        try:
            daemon.start()
            s = Setup(emulator, daemon, root)
            s.converge(60)
            yield s
            assert daemon.stop() == 0, daemon.log_tail()
        finally:
            daemon.close()


@pytest.fixture
def area(setup: Setup, request: pytest.FixtureRequest) -> Path:
    path = setup.root / request.node.name.replace("[", "_").replace("]", "")
    path.mkdir()
    return path


def uploads(counts: dict[str, int]) -> int:
    return counts.get("file/upload", 0)


def test_create_append_overwrite_delete(setup: Setup, area: Path) -> None:
    f = area / "notes.txt"
    f.write_text("first line\n")
    setup.converge()
    with f.open("a") as out:
        out.write("appended\n")
    setup.converge()
    f.write_text("overwritten completely\n")
    setup.converge()
    f.unlink()
    setup.converge()


def test_rename_and_move_between_directories_are_edits(setup: Setup, area: Path) -> None:
    (area / "a").mkdir()
    (area / "b").mkdir()
    (area / "a" / "report.txt").write_text("quarterly report\n" * 100)
    setup.converge()
    setup.reset_counts()
    os.rename(area / "a" / "report.txt", area / "a" / "report-final.txt")
    setup.converge()
    os.rename(area / "a" / "report-final.txt", area / "b" / "report-final.txt")
    setup.converge()
    assert uploads(setup.counts()) == 0, setup.counts()


def test_mkdir_p_deep_and_rm_r(setup: Setup, area: Path) -> None:
    deep = area.joinpath(*[f"level{i}" for i in range(12)])
    subprocess.run(["mkdir", "-p", str(deep)], check=True)
    (deep / "leaf.txt").write_text("deep down\n")
    setup.converge()
    tree = area / "tree"
    for i in range(5):
        (tree / f"d{i}").mkdir(parents=True)
        for j in range(4):
            (tree / f"d{i}" / f"f{j}.txt").write_text(f"{i}-{j}\n")
    setup.converge()
    subprocess.run(["rm", "-r", str(tree), str(area / "level0")], check=True)
    setup.converge()


def test_mv_directory_with_200_files_is_one_folder_edit(setup: Setup, area: Path) -> None:
    src = area / "photos"
    src.mkdir()
    for i in range(200):
        (src / f"img{i:03d}.jpg").write_bytes(f"image {i}".encode() * 20)
    (area / "archive").mkdir()
    setup.converge(60)
    setup.reset_counts()
    subprocess.run(["mv", str(src), str(area / "archive" / "photos-2024")], check=True)
    setup.converge()
    counts = setup.counts()
    assert uploads(counts) == 0, counts
    assert counts.get("folder/edit", 0) + counts.get("folder/move", 0) == 1, counts
    assert counts.get("file/edit", 0) + counts.get("file/move", 0) == 0, counts


def test_mv_directory_with_20_subfolders_lists_only_what_changed(setup: Setup, area: Path) -> None:
    src = area / "projects"
    for i in range(20):
        (src / f"p{i:02d}").mkdir(parents=True)
        (src / f"p{i:02d}" / "readme.txt").write_text(f"project {i}\n")
    setup.converge()
    setup.reset_counts()
    os.rename(src, area / "projects-old")
    setup.converge()
    counts = setup.counts()
    assert counts.get("folder/edit", 0) == 1, counts
    # Its parent and the moved folder: the untouched subfolders are not listed.
    assert counts.get("folder/listing", 0) <= 3, counts
    assert uploads(counts) == 0, counts


def test_changes_inside_a_directory_just_moved_are_synced(setup: Setup, area: Path) -> None:
    src = area / "src"
    for i in range(10):
        (src / f"p{i}").mkdir(parents=True)
        (src / f"p{i}" / "readme.txt").write_text(f"project {i}\n")
    setup.converge()
    setup.reset_counts()
    # mv src dst && echo … > dst/p3/new.txt && edit dst/p6/readme.txt, within one quiet period
    os.rename(src, area / "dst")
    (area / "dst" / "p3" / "new.txt").write_text("created right after the move\n")
    (area / "dst" / "p6" / "readme.txt").write_text("edited right after the move, longer\n")
    setup.converge()
    counts = setup.counts()
    assert counts.get("folder/edit", 0) == 1, counts
    assert uploads(counts) == 2, counts


def test_editor_style_save_is_one_update(setup: Setup, area: Path) -> None:
    doc = area / "essay.md"
    doc.write_text("draft 1\n")
    setup.converge()
    setup.reset_counts()
    # vim-like: write the new text to a swap/temp file, rename it over the target.
    tmp = area / ".essay.md.swp"
    tmp.write_text("draft 2, saved by an editor\n")
    os.replace(tmp, doc)
    setup.converge()
    counts = setup.counts()
    assert uploads(counts) == 1, counts
    # Backup-then-write (delete and recreate) ends the same way.
    backup = area / "essay.md~"
    os.rename(doc, backup)
    doc.write_text("draft 3\n")
    backup.unlink()
    setup.converge()


def test_git_checkout_of_another_branch(setup: Setup, area: Path) -> None:
    repo = area / "repo"
    repo.mkdir()

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=repo,
            check=True,
            capture_output=True,
        )

    git("init", "-q", "-b", "main")
    for i in range(10):
        (repo / f"src{i}.py").write_text(f"print({i})\n")
    (repo / "docs").mkdir()
    (repo / "docs" / "index.md").write_text("# main\n")
    git("add", "-A")
    git("commit", "-q", "-m", "main")
    git("checkout", "-q", "-b", "feature")
    for i in range(0, 10, 2):
        (repo / f"src{i}.py").unlink()
    (repo / "feature.py").write_text("feature = True\n")
    (repo / "docs" / "index.md").write_text("# feature branch\n")
    git("add", "-A")
    git("commit", "-q", "-m", "feature")
    git("checkout", "-q", "main")
    setup.converge()
    git("checkout", "-q", "feature")
    setup.converge()


def test_tar_extract(setup: Setup, area: Path, tmp_path: Path) -> None:
    src = tmp_path / "bundle"
    for i in range(6):
        (src / f"pkg{i}" / "lib").mkdir(parents=True)
        (src / f"pkg{i}" / "lib" / "code.py").write_text(f"x = {i}\n" * 50)
        (src / f"pkg{i}" / "README").write_text(f"package {i}\n")
    archive = tmp_path / "bundle.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(src, arcname="bundle")
    subprocess.run(["tar", "-xf", str(archive), "-C", str(area)], check=True)
    setup.converge()


def test_slow_writer_is_uploaded_once_complete(setup: Setup, area: Path) -> None:
    setup.reset_counts()
    target = area / "recording.wav"
    with target.open("wb") as out:
        for chunk in range(12):  # 12 x 0.25 s = 3 s of writing
            out.write(bytes([chunk]) * 4096)
            out.flush()
            time.sleep(0.25)
    setup.converge()
    assert uploads(setup.counts()) == 1, setup.counts()


def test_copy_in_a_directory_from_outside(setup: Setup, area: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "sub").mkdir(parents=True)
    (outside / "sub" / "f.txt").write_text("from outside\n")
    shutil.move(str(outside), str(area / "moved-in"))
    setup.converge()
