"""Scanner over real directories: order, fields, pruning, and every kind of skipped entry."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.local.ignore import IgnoreRules
from syncd.local.scanner import (
    LocalEntry,
    ScanIssue,
    ScannedDir,
    is_empty,
    root_identity,
    scan_dir,
    stat_entry,
    walk,
)
from tests.support.trees import write_tree


def collect(root: Path, **kw: object) -> tuple[list[ScannedDir], list[ScanIssue]]:
    issues: list[ScanIssue] = []
    dirs = list(walk(root, on_issue=issues.append, **kw))  # type: ignore[arg-type]
    return dirs, issues


def names(d: ScannedDir) -> list[str]:
    return [e.name for e in d.entries]


def test_walk_is_depth_first_preorder_with_sorted_entries(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "b/z.txt": b"z",
            "b/a/x": b"xx",
            "a.txt": b"1",
            "B.txt": b"22",
            "é.txt": b"",
            "c/d/e": b"",
        },
    )
    dirs, issues = collect(tmp_path)
    assert issues == []
    assert [d.relpath for d in dirs] == ["", "b", "b/a", "c", "c/d"]
    # Code-point order: uppercase before lowercase, non-ASCII last.
    assert names(dirs[0]) == ["B.txt", "a.txt", "b", "c", "é.txt"]
    assert names(dirs[1]) == ["a", "z.txt"]
    assert all(d.skipped == [] and d.error is None for d in dirs)


def test_entry_fields_come_from_lstat(tmp_path: Path) -> None:
    write_tree(tmp_path, {"f.bin": b"12345", "d/g": b""})
    os.utime(tmp_path / "f.bin", ns=(1_000_000_123, 1_700_000_000_123_456_789))
    top = next(walk(tmp_path))
    d, f = top.entries
    st = os.lstat(tmp_path / "f.bin")
    assert f == LocalEntry("f.bin", "file", 5, 1_700_000_000_123_456_789, st.st_ino, st.st_dev)
    assert d.kind == "dir" and d.size == 0 and d.inode == os.lstat(tmp_path / "d").st_ino


def test_entries_are_frozen_slotted_dataclasses(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    entry = next(walk(tmp_path)).entries[0]
    assert not hasattr(entry, "__dict__")
    with pytest.raises(AttributeError):
        entry.size = 3  # type: ignore[misc]


def test_walk_is_lazy_and_consumer_can_prune(tmp_path: Path) -> None:
    write_tree(tmp_path, {"keep/a": b"", "skip/b": b"", "skip/deeper/c": b""})
    gen = walk(tmp_path)
    assert isinstance(gen, Iterator)
    top = next(gen)
    top.entries = [e for e in top.entries if e.name != "skip"]
    assert [d.relpath for d in gen] == ["keep"]


def test_ignored_directory_is_pruned_and_files_skipped(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "node_modules/x/y.js": b"",
            "a.swp": b"",
            "a.txt": b"",
            "sub/.DS_Store": b"",
            "sub/k": b"",
        },
    )
    rules = IgnoreRules(["node_modules/"])
    dirs, issues = collect(tmp_path, ignore=rules)
    assert [d.relpath for d in dirs] == ["", "sub"]
    assert names(dirs[0]) == ["a.txt", "sub"]
    assert names(dirs[1]) == ["k"]
    assert issues == [] and all(d.skipped == [] for d in dirs)


def test_state_db_inside_root_is_not_listed(tmp_path: Path) -> None:
    write_tree(tmp_path, {"state.db": b"x", "state.db-wal": b"x", "doc.txt": b"x"})
    rules = IgnoreRules.for_root(tmp_path, state_db=tmp_path / "state.db")
    assert names(next(walk(tmp_path, ignore=rules))) == ["doc.txt"]


def test_non_utf8_name_is_reported_and_skipped(tmp_path: Path) -> None:
    bad = os.path.join(os.fsencode(tmp_path), b"caf\xe9.txt")
    with open(bad, "wb") as f:
        f.write(b"x")
    bad_dir = os.path.join(os.fsencode(tmp_path), b"d\xff")
    os.mkdir(bad_dir)
    with open(os.path.join(bad_dir, b"inner"), "wb"):
        pass
    (tmp_path / "ok.txt").write_bytes(b"")
    dirs, issues = collect(tmp_path)
    assert [d.relpath for d in dirs] == [""]  # the undecodable directory is not descended
    assert names(dirs[0]) == ["ok.txt"]
    assert sorted(i.reason for i in issues) == ["not_utf8", "not_utf8"]
    assert {i.relpath for i in issues} == {"caf\\xe9.txt", "d\\xff"}
    assert all(s.reason == "not_utf8" for s in dirs[0].skipped)
    for issue in issues:
        issue.relpath.encode("utf-8")  # printable, loggable


def test_symlinks_are_reported_not_followed_by_default(tmp_path: Path) -> None:
    write_tree(tmp_path, {"real/f": b"x"})
    (tmp_path / "link_dir").symlink_to(tmp_path / "real")
    (tmp_path / "link_file").symlink_to(tmp_path / "real" / "f")
    dirs, issues = collect(tmp_path)
    assert [d.relpath for d in dirs] == ["", "real"]
    assert names(dirs[0]) == ["real"]
    assert [(s.name, s.reason) for s in dirs[0].skipped] == [
        ("link_dir", "symlink"),
        ("link_file", "symlink"),
    ]
    assert {(i.relpath, i.reason) for i in issues} == {
        ("link_dir", "symlink"),
        ("link_file", "symlink"),
    }


def test_follow_symlinks_inside_root_only_and_no_loops(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    write_tree(root, {"real/f": b"abc"})
    write_tree(outside, {"secret": b"s"})
    (root / "in_dir").symlink_to(root / "real")
    (root / "in_file").symlink_to("real/f")
    (root / "out_dir").symlink_to(outside)
    (root / "broken").symlink_to(root / "nowhere")
    (root / "real" / "loop").symlink_to(root)  # root/real/loop -> root: a cycle
    (root / "self").symlink_to("self")  # ELOOP
    dirs, issues = collect(root, follow_symlinks=True)
    by_path = {d.relpath: d for d in dirs}
    assert names(by_path[""]) == ["in_dir", "in_file", "real"]
    in_file = by_path[""].entries[1]
    assert in_file.kind == "file" and in_file.size == 3
    assert names(by_path["in_dir"]) == ["f"]  # followed; its "loop" would cycle: skipped
    assert names(by_path["real"]) == ["f"]
    assert "real/loop" not in by_path and "in_dir/loop" not in by_path
    reasons = {(i.relpath, i.reason) for i in issues}
    assert ("out_dir", "symlink_outside_root") in reasons
    assert ("broken", "symlink_broken") in reasons
    assert ("self", "symlink_outside_root") in reasons or ("self", "symlink_loop") in reasons
    assert ("real/loop", "symlink_loop") in reasons
    assert ("in_dir/loop", "symlink_loop") in reasons
    assert "outside" not in json.dumps([d.relpath for d in dirs])


def test_unsyncable_names_are_reported_but_listed(tmp_path: Path) -> None:
    for d in (" lead", "trail ", "a<b>c", "fine (1)", "x < y"):
        (tmp_path / d).mkdir()
    for f in ("a <b> c.txt", " spaced.txt", "back\\slash.txt", 'quo"te.txt'):
        (tmp_path / f).write_bytes(b"x")
    dirs, issues = collect(tmp_path)
    flagged = {i.relpath for i in issues if i.reason == "unsyncable_name"}
    assert flagged == {" lead", "trail ", "a<b>c", "back\\slash.txt", 'quo"te.txt'}
    assert len(dirs[0].entries) == 9  # listed anyway: the engine decides


def test_vanished_directory_is_silently_skipped(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a/f": b"", "b/g": b"", "c/h": b""})
    issues: list[ScanIssue] = []
    gen = walk(tmp_path, on_issue=issues.append)
    assert next(gen).relpath == ""
    shutil.rmtree(tmp_path / "b")
    assert [d.relpath for d in gen] == ["a", "c"]
    assert issues == []


def test_scan_dir_single_directory(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a/b/f2": b"", "a/b/f1": b"x", "a/b/sub/g": b"", "a/b/x.swp": b""})
    listing = scan_dir(tmp_path, "a/b", ignore=IgnoreRules())
    assert listing is not None
    assert listing.relpath == "a/b"
    assert names(listing) == ["f1", "f2", "sub"]
    root_listing = scan_dir(tmp_path, "")
    assert root_listing is not None and names(root_listing) == ["a"]


def test_scan_dir_returns_none_when_not_a_reachable_directory(tmp_path: Path) -> None:
    write_tree(tmp_path, {"real/sub/f": b"", "file": b""})
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert scan_dir(tmp_path, "missing") is None
    assert scan_dir(tmp_path, "file") is None
    assert scan_dir(tmp_path, "link") is None
    assert scan_dir(tmp_path, "link/sub") is None
    assert scan_dir(tmp_path, "../") is None
    assert scan_dir(tmp_path, "real/../real") is None
    followed = scan_dir(tmp_path, "link/sub", follow_symlinks=True)
    assert followed is not None and names(followed) == ["f"]


def test_stat_entry(tmp_path: Path) -> None:
    write_tree(tmp_path, {"d/f.txt": b"hello"})
    (tmp_path / "lnk").symlink_to(tmp_path / "d" / "f.txt")
    os.mkfifo(tmp_path / "fifo")
    entry = stat_entry(tmp_path, "d/f.txt")
    assert entry is not None and entry.name == "f.txt" and entry.size == 5 and entry.kind == "file"
    d = stat_entry(tmp_path, "d")
    assert d is not None and d.kind == "dir"
    assert stat_entry(tmp_path, "nope") is None
    assert stat_entry(tmp_path, "lnk") is None
    assert stat_entry(tmp_path, "fifo") is None
    followed = stat_entry(tmp_path, "lnk", follow_symlinks=True)
    assert followed is not None and followed.size == 5


def test_root_identity_and_is_empty(tmp_path: Path) -> None:
    ident = root_identity(tmp_path)
    assert ident.dev == os.stat(tmp_path).st_dev
    assert ident.is_mount is False
    assert root_identity("/").is_mount is True
    assert is_empty(tmp_path)
    (tmp_path / ".DS_Store").write_bytes(b"")
    assert not is_empty(tmp_path)
    assert is_empty(tmp_path, IgnoreRules())
    with pytest.raises(FileNotFoundError):
        is_empty(tmp_path / "missing")
    with pytest.raises(FileNotFoundError):
        root_identity(tmp_path / "missing")


def test_missing_root_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        next(walk(tmp_path / "missing"))


def test_the_versions_area_name_is_refused_with_its_fix_even_where_ignored(
    tmp_path: Path,
) -> None:
    write_tree(tmp_path, {".syncd-versions/x.txt": "x", "d/.syncd-versions": "f", "ok.txt": "o"})
    rules = IgnoreRules()  # its `.syncd-*` default would otherwise hide the name silently
    dirs, issues = collect(tmp_path, ignore=rules)
    assert sorted(i.relpath for i in issues) == [".syncd-versions", "d/.syncd-versions"]
    assert all(i.reason == "reserved_name" and "rename it" in i.detail for i in issues)
    assert [s.name for s in dirs[0].skipped] == [".syncd-versions"]
    assert all(".syncd-versions" not in names(d) for d in dirs)


@pytest.mark.parametrize("follow_symlinks", [False, True])
@pytest.mark.parametrize("rel", ["d\x007", "d\x007/f.txt", "a/d\x0012"])
def test_stat_entry_of_a_name_with_nul_is_absent(
    tmp_path: Path, rel: str, follow_symlinks: bool
) -> None:
    """The journal parks a directory row that another takes the name of under ``name\\0id``
    (no local name can hold a NUL). Found by the fault soak: the planner, looking for where a
    directory moved from, stat'ed such a parked path; os.lstat raised ValueError (not OSError)
    and every later pass of the pair failed the same way."""
    (tmp_path / "a").mkdir()
    (tmp_path / "d").mkdir()
    assert stat_entry(tmp_path, rel, follow_symlinks=follow_symlinks) is None
