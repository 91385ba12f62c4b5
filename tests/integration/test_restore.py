"""Restore against the real emulator over loopback, into real directories."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from syncd.restore.restorer import Restorer
from tests.support.cli import run_syncd
from tests.support.restore import add_file, add_folder, restore_config, upload_tree
from tests.support.trees import md5_tree, write_tree


def downloads(emulator: Any) -> int:
    return int(emulator.admin.counts().get("file/download", 0))


def leftovers(root: Path) -> list[str]:
    return [p.name for p in root.rglob(".syncd-restore-*")]


def test_restore_on_a_fresh_machine_is_identical_by_md5(
    emulator: Any, client: Any, tmp_path: Path
) -> None:
    """No state database, only credentials: `syncd restore --remote PATH DEST`."""
    src = tmp_path / "src"
    write_tree(
        src,
        {
            "readme.txt": b"hello\n",
            "naïve/résumé ✓.txt": "unicode ✓ ".encode() * 100,
            "日本語/ファイル.txt": b"x" * 3,
            "deep/a/b/c/d.bin": os.urandom(1000),
            "big/multi.bin": os.urandom(5 * 1024 * 1024 + 123),
            "deep/a/sibling.txt": b"sibling",
        },
    )
    backup = client.folder_create("Backup", None)
    docs = client.folder_create("Docs", backup.id)
    upload_tree(client, src, docs.id)
    emulator.admin.reset_counts()

    state = tmp_path / "state" / "state.db"
    config = restore_config(tmp_path / "config.toml", emulator.api_url, state)
    dest = tmp_path / "dest"
    result = run_syncd("restore", "--remote", "Backup/Docs", "--json", str(dest), config=config)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["restored"] == 6
    assert report["renamed"] == report["skipped"] == report["failed"] == []
    assert md5_tree(dest) == md5_tree(src)
    assert leftovers(dest) == []
    assert downloads(emulator) == 6
    assert not state.exists()  # a restore elsewhere leaves no journal behind


def test_second_run_downloads_nothing_and_dry_run_writes_nothing(
    emulator: Any, client: Any, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    write_tree(src, {"a.txt": b"a" * 10, "sub/b.txt": b"b" * 20, "sub/c/d.txt": b"d"})
    folder = client.folder_create("R", None)
    upload_tree(client, src, folder.id)
    config = restore_config(tmp_path / "config.toml", emulator.api_url, tmp_path / "s.db")
    dest = tmp_path / "dest"

    emulator.admin.reset_counts()
    dry = run_syncd("restore", "--remote", "/R/", "--dry-run", str(dest), config=config)
    assert dry.returncode == 0, dry.stderr
    assert "would write sub/c/d.txt (1 bytes)" in dry.stdout
    assert "would restore 3 files" in dry.stdout
    assert not dest.exists()
    assert downloads(emulator) == 0

    first = Restorer(client, str(dest)).run(folder.id, "R")
    assert first.ok and first.restored == 3
    emulator.admin.reset_counts()
    second = Restorer(client, str(dest)).run(folder.id, "R")
    assert second.ok and second.restored == 0 and second.already_present == 3
    assert downloads(emulator) == 0
    assert md5_tree(dest) == md5_tree(src)


def test_a_different_local_file_is_never_overwritten_silently(
    emulator: Any, client: Any, tmp_path: Path
) -> None:
    folder = client.folder_create("W", None)
    add_file(emulator.admin, folder.id, "notes.txt", b"remote version")
    dest = tmp_path / "dest"
    write_tree(dest, {"notes.txt": b"my newer local notes"})

    report = Restorer(client, str(dest)).run(folder.id, "W")
    assert report.ok  # skipped-and-explained is not a failure
    (item,) = report.skipped
    assert item.local_path == "notes.txt" and "--overwrite" in item.reason
    assert (dest / "notes.txt").read_bytes() == b"my newer local notes"

    report = Restorer(client, str(dest), overwrite=True).run(folder.id, "W")
    assert report.ok and report.restored == 1
    assert (dest / "notes.txt").read_bytes() == b"remote version"


HOSTILE = [
    "../evil",
    "a/b",
    "/abs",
    "back\\slash",
    "x\x00y",
    "tab\there",
    "CON",
    "a.txt",
    "a.txt",
    "A.txt",
    "..",
    ".",
    ".syncd-restore-1234.part",
]


def test_hostile_remote_names_stay_inside_dest_and_are_reported(
    emulator: Any, client: Any, tmp_path: Path
) -> None:
    admin = emulator.admin
    root = add_folder(admin, None, "Hostile")
    stored: list[str] = []
    for i, name in enumerate(HOSTILE):
        add_file(admin, root, name, f"content {i}".encode())
        stored.append(name)
    escape = add_folder(admin, root, "../../escape")
    add_file(admin, escape, "inside-escape.txt", b"escape")
    dotdot = add_folder(admin, root, "..")
    add_file(admin, dotdot, "../../../etc/passwd", b"not really")

    outer = tmp_path / "outer"
    dest = outer / "dest"
    report = Restorer(client, str(dest)).run(root, "Hostile")

    # Nothing outside DEST: the only entry of `outer` is DEST itself.
    assert sorted(p.name for p in outer.iterdir()) == ["dest"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outer"]
    restored = md5_tree(dest)
    assert len(restored) == len(HOSTILE) + 2  # every file restored under some safe name
    for path in dest.rglob("*"):
        assert path.resolve().is_relative_to(dest.resolve())

    contents = {rel: (dest / rel).read_bytes() for rel in restored}
    by_content = {v: k for k, v in contents.items()}

    def where(i: int) -> str:
        return by_content[f"content {i}".encode()]

    assert where(0) == ".._evil"
    assert where(1) == "a_b"
    assert where(2) == "_abs"
    assert where(3) == "back_slash"
    assert where(4) == "x_y"
    assert where(5) == "tab_here"
    assert where(6) == "CON"  # harmless on POSIX: kept
    assert where(7) == "a (2).txt"  # the newer of the two duplicates keeps the name
    assert where(8) == "a.txt"
    assert where(9) == "A.txt"  # ext4 is case-sensitive: no clash
    assert where(10) == "_.. (2)"  # the folder '..' took '_..' (folders before files)
    assert where(11) == "_."
    assert where(12) == "_.syncd-restore-1234.part"
    assert by_content[b"escape"] == ".._.._escape/inside-escape.txt"
    assert by_content[b"not really"] == "_../.._.._.._etc_passwd"

    renamed = {item.local_path: item.reason for item in report.renamed}
    assert "duplicate name 'a.txt'" in renamed["a (2).txt"]
    assert "separator" in renamed[".._evil"]
    # Every hostile name but CON, the newer a.txt and A.txt, plus both folders and their file.
    assert len(report.renamed) == 13
    assert report.failed == []
    assert report.ok


def test_symlinks_planted_in_dest_are_never_followed(
    emulator: Any, client: Any, tmp_path: Path
) -> None:
    admin = emulator.admin
    root = add_folder(admin, None, "S")
    sub = add_folder(admin, root, "sub")
    add_file(admin, sub, "payload.txt", b"payload")
    add_file(admin, root, "link.txt", b"would overwrite the target")
    add_file(admin, root, "ok.txt", b"fine")

    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "target.txt"
    target.write_bytes(b"precious")
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "sub").symlink_to(outside, target_is_directory=True)
    (dest / "link.txt").symlink_to(target)

    report = Restorer(client, str(dest)).run(root, "S")
    assert sorted(p.name for p in outside.iterdir()) == ["target.txt"]
    assert target.read_bytes() == b"precious"
    assert (dest / "ok.txt").read_bytes() == b"fine"
    reasons = {item.local_path: item.reason for item in report.skipped}
    assert "symlink" in reasons["link.txt"]
    assert "symlink" in reasons["sub"] or "outside" in reasons["sub"]
    assert report.failed == []


def test_ambiguous_or_missing_remote_path_is_a_clear_usage_error(
    emulator: Any, client: Any, tmp_path: Path
) -> None:
    first = client.folder_create("Twin", None)
    second = add_folder(emulator.admin, None, "Twin")
    add_file(emulator.admin, second, "f.txt", b"in the second twin")
    config = restore_config(tmp_path / "config.toml", emulator.api_url, tmp_path / "s.db")

    result = run_syncd("restore", "--remote", "Twin", str(tmp_path / "d"), config=config)
    assert result.returncode == 2
    assert "ambiguous" in result.stderr and f"ids {first.id}, {second}" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    result = run_syncd("restore", "--remote", "Nope/Deeper", str(tmp_path / "d"), config=config)
    assert result.returncode == 2 and "does not exist" in result.stderr

    result = run_syncd("restore", "--remote-id", str(second), str(tmp_path / "d"), config=config)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "d" / "f.txt").read_bytes() == b"in the second twin"


@pytest.mark.parametrize("missing", ["--pair", "none"])
def test_restore_needs_exactly_one_source(emulator: Any, tmp_path: Path, missing: str) -> None:
    config = restore_config(tmp_path / "config.toml", emulator.api_url, tmp_path / "s.db")
    args = ["--pair", "nosuch"] if missing == "--pair" else []
    result = run_syncd("restore", *args, str(tmp_path / "d"), config=config)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_restore_rides_out_injected_faults(emulator: Any, client: Any, tmp_path: Path) -> None:
    admin = emulator.admin
    root = add_folder(admin, None, "Flaky")
    sub = add_folder(admin, root, "sub")
    for i in range(30):
        add_file(admin, sub if i % 3 else root, f"f{i}.bin", os.urandom(20_000 + i))
    expected = {p.removeprefix("/Flaky/"): md5 for p, md5 in admin.active_paths().items()}
    admin.set_knobs(fault_rate=0.25, fault_kinds=["500", "502", "503", "drop"], fault_seed=7)
    dest = tmp_path / "dest"
    report = Restorer(client, str(dest), workers=4).run(root, "Flaky")
    assert report.ok, report.failed
    assert md5_tree(dest) == expected
    assert admin.counts()["faults"] > 0
    assert leftovers(dest) == []
