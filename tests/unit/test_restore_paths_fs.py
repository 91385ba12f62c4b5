"""The filesystem side of restore's path safety, on real directories: symlinks are never
followed, existing files are never replaced unless asked, temp files are ours to clean."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.restore.fs import (
    TempFile,
    UnsafeLocalPath,
    open_root,
    opened_dir,
    probe_fs_traits,
    probe_fs_traits_readonly,
    remove_stale_temp_files,
)


@pytest.fixture
def root_fd(tmp_path: Path) -> Iterator[int]:
    fd = open_root(str(tmp_path / "dest"))
    yield fd
    os.close(fd)


def write(
    root_fd: int, parts: tuple[str, ...], name: str, data: bytes, replace: bool = False
) -> os.stat_result:
    with opened_dir(root_fd, parts, create=True) as dir_fd:
        temp = TempFile(dir_fd)
        try:
            temp.write(data)
            return temp.commit(name, replace=replace)
        finally:
            temp.discard()


def test_writes_land_in_place_with_no_temp_left(tmp_path: Path, root_fd: int) -> None:
    st = write(root_fd, ("a", "b"), "f.txt", b"data")
    path = tmp_path / "dest" / "a" / "b" / "f.txt"
    assert path.read_bytes() == b"data"
    assert os.stat(path).st_ino == st.st_ino and st.st_size == 4
    assert sorted(os.listdir(path.parent)) == ["f.txt"]


def test_symlinked_directory_is_refused(tmp_path: Path, root_fd: int) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "dest" / "sub").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafeLocalPath):
        write(root_fd, ("sub",), "f.txt", b"x")
    with pytest.raises(UnsafeLocalPath):
        write(root_fd, ("sub", "deeper"), "f.txt", b"x")
    assert list(outside.iterdir()) == []


def test_file_where_a_directory_should_be_is_refused(tmp_path: Path, root_fd: int) -> None:
    (tmp_path / "dest" / "plain").write_bytes(b"a file")
    with pytest.raises(UnsafeLocalPath):
        write(root_fd, ("plain",), "f.txt", b"x")


def test_existing_file_or_symlink_is_not_replaced_unless_asked(
    tmp_path: Path, root_fd: int
) -> None:
    dest = tmp_path / "dest"
    (dest / "f.txt").write_bytes(b"mine")
    target = tmp_path / "target"
    target.write_bytes(b"precious")
    (dest / "link").symlink_to(target)
    with pytest.raises(FileExistsError):
        write(root_fd, (), "f.txt", b"theirs")
    assert (dest / "f.txt").read_bytes() == b"mine"
    with pytest.raises(FileExistsError):
        write(root_fd, (), "link", b"theirs", replace=True)  # never over a symlink
    assert target.read_bytes() == b"precious"
    write(root_fd, (), "f.txt", b"theirs", replace=True)
    assert (dest / "f.txt").read_bytes() == b"theirs"
    assert sorted(os.listdir(dest)) == ["f.txt", "link"]


def test_stale_temp_files_are_removed_but_nothing_else(tmp_path: Path, root_fd: int) -> None:
    dest = tmp_path / "dest"
    (dest / ".syncd-restore-0123.part").write_bytes(b"partial")
    (dest / ".syncd-restore-incomplete").write_bytes(b"")
    (dest / "keep.part").write_bytes(b"user file")
    os.mkdir(dest / ".syncd-restore-dir.part")
    assert remove_stale_temp_files(root_fd) == 1
    assert sorted(os.listdir(dest)) == [
        ".syncd-restore-dir.part",
        ".syncd-restore-incomplete",
        "keep.part",
    ]


def test_probe_reports_this_filesystem_and_leaves_nothing(tmp_path: Path) -> None:
    traits = probe_fs_traits(str(tmp_path))
    assert list(tmp_path.iterdir()) == []
    # tmp on Linux is ext4/tmpfs/xfs: case-sensitive; the read-only guess agrees.
    assert traits.case_insensitive is False
    (tmp_path / "Some").mkdir()
    assert probe_fs_traits_readonly(str(tmp_path)).case_insensitive is False
