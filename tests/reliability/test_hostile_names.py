"""Hostile local trees: odd names, special files, loops, vanishing and changing files, denied
permissions. The scanner reports or skips, never raises (except for an unusable root); uploads
of odd names and of files changing under the client end in a known state.

The same trees end to end through `syncd reconcile`: test_hostile_reconcile.py.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syncd.local import scanner
from syncd.local.names import upload_name_issue
from syncd.local.scanner import (
    NOT_UTF8,
    PERMISSION_DENIED,
    SPECIAL_FILE,
    SYMLINK,
    SYMLINK_LOOP,
    UNSYNCABLE_NAME,
    ScanIssue,
    ScannedDir,
    is_empty,
    scan_dir,
    stat_entry,
    walk,
)
from syncd.remote.client import RemoteClient
from tests.support.trees import md5_bytes

NFC = unicodedata.normalize("NFC", "café.txt")
NFD = unicodedata.normalize("NFD", "café.txt")
LONGEST = "é" * 126 + "abc"  # 255 bytes in UTF-8: the most ext4 allows
NOT_UTF8_NAME = os.fsdecode(b"bad-\xff\xfe.txt")  # surrogate escapes: not valid UTF-8

# Names a user can really have, and the issue the scanner must report (None: listed silently).
ODD_FILES: dict[str, str | None] = {
    "new\nline.txt": UNSYNCABLE_NAME,
    "tab\there.txt": UNSYNCABLE_NAME,
    'quote".txt': UNSYNCABLE_NAME,
    "back\\slash.txt": UNSYNCABLE_NAME,
    "..": None,  # placeholder, removed below: cannot be a file name
    "..evil": None,
    "...": None,
    ".. ": None,
    " leading space.txt": None,
    "<b>tag.txt": None,
    NFC: None,
    NFD: None,
    "Readme.md": None,
    "README.md": None,
    LONGEST: None,
    "emoji 😀.txt": None,
}
del ODD_FILES[".."]


def collect(root: Path, **kw: Any) -> tuple[list[ScannedDir], list[ScanIssue]]:
    issues: list[ScanIssue] = []
    dirs = list(walk(root, on_issue=issues.append, **kw))
    return dirs, issues


def by_path(dirs: list[ScannedDir]) -> dict[str, ScannedDir]:
    return {d.relpath: d for d in dirs}


@pytest.fixture
def hostile_tree(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "root"
    root.mkdir()
    for i, name in enumerate(ODD_FILES):
        (root / name).write_bytes(f"content {i}".encode())
    (root / os.fsencode(NOT_UTF8_NAME).decode("utf-8", "surrogateescape")).write_bytes(b"b")
    os.mkfifo(root / "fifo")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "sock"))
    (root / "loop-a").symlink_to("loop-b")
    (root / "loop-b").symlink_to("loop-a")
    (root / "sub").mkdir()
    (root / "sub" / "up").symlink_to("..", target_is_directory=True)
    (root / "sub" / "self").symlink_to(".", target_is_directory=True)
    (root / "dir\nwith newline").mkdir()
    (root / "dir\nwith newline" / "inner.txt").write_bytes(b"inner")
    (root / " spaced dir ").mkdir()
    try:
        yield root
    finally:
        sock.close()


@pytest.mark.parametrize("follow_symlinks", [False, True])
def test_hostile_tree_scans_without_raising(hostile_tree: Path, follow_symlinks: bool) -> None:
    dirs, issues = collect(hostile_tree, follow_symlinks=follow_symlinks)
    tree = by_path(dirs)
    assert sorted(tree) == ["", " spaced dir ", "dir\nwith newline", "sub"]
    top = tree[""]
    names = [e.name for e in top.entries]
    assert names == sorted(names)  # code-point order, as the merge-join expects
    for name in ODD_FILES:
        assert name in names, name
    assert NFC != NFD and NFC in names and NFD in names  # two files, never merged
    assert "Readme.md" in names and "README.md" in names
    skipped = {s.name: s.reason for s in top.skipped}
    assert skipped[NOT_UTF8_NAME] == NOT_UTF8
    assert skipped["fifo"] == SPECIAL_FILE and skipped["sock"] == SPECIAL_FILE
    expected_link = SYMLINK_LOOP if follow_symlinks else SYMLINK
    assert skipped["loop-a"] == expected_link and skipped["loop-b"] == expected_link
    assert {s.name: s.reason for s in tree["sub"].skipped} == {
        "up": expected_link,
        "self": expected_link,
    }
    # Every skipped entry is also reported; names the host would alter are reported, listed.
    reported = {(i.relpath, i.reason) for i in issues}
    for name, reason in ODD_FILES.items():
        if reason is not None:
            assert (name, reason) in reported, name
    assert ("bad-\\xff\\xfe.txt", NOT_UTF8) in reported  # printable, never raw bytes
    assert (" spaced dir ", UNSYNCABLE_NAME) in reported  # the host trims folder names
    for issue in issues:
        issue.relpath.encode("utf-8")  # every reported path can be logged as UTF-8


def test_scan_dir_and_stat_entry_refuse_escapes_and_odd_paths(hostile_tree: Path) -> None:
    assert scan_dir(hostile_tree, "..") is None
    assert scan_dir(hostile_tree, "sub/..") is None
    assert scan_dir(hostile_tree, "sub/up") is None  # a symlink, not followed
    assert scan_dir(hostile_tree, "loop-a") is None
    assert scan_dir(hostile_tree, "fifo") is None
    assert stat_entry(hostile_tree, "../root/...") is None
    assert stat_entry(hostile_tree, NOT_UTF8_NAME) is None
    assert stat_entry(hostile_tree, "fifo") is None
    assert stat_entry(hostile_tree, "sub/up/...") is None
    entry = stat_entry(hostile_tree, LONGEST)
    assert entry is not None and len(entry.name.encode()) == 255
    assert stat_entry(hostile_tree, "x" * 300) is None  # ENAMETOOLONG is just "absent"
    assert scan_dir(hostile_tree, "x" * 300) is None


def test_entries_vanishing_during_the_scan_are_neither_listed_nor_raised(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "d1").mkdir(parents=True)
    (root / "d2").mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (root / name).write_bytes(b"x")
    (root / "d2" / "keep.txt").write_bytes(b"k")

    class Vanisher:
        """An ignore predicate that deletes entries between readdir and stat."""

        def matches_child(self, parent: str, name: str, is_dir: bool) -> bool:
            path = root / parent / name
            if name == "b.txt":
                path.unlink()
            elif name == "d1":
                path.rmdir()
            return False

    dirs, issues = collect(root, ignore=Vanisher())
    tree = by_path(dirs)
    assert [e.name for e in tree[""].entries] == ["a.txt", "c.txt", "d2"]
    assert tree[""].skipped == [] and issues == []  # gone is gone, not "skipped"
    assert sorted(tree) == ["", "d2"]

    # A directory removed after its parent was listed, before the walk reaches it.
    (root / "d3").mkdir()
    walker = walk(root)
    top = next(walker)
    assert "d2" in [e.name for e in top.entries]
    shutil.rmtree(root / "d2")
    assert [d.relpath for d in walker] == ["d3"]


def test_files_changing_during_the_scan_report_what_was_stat_ed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "grows.log").write_bytes(b"12345")

    class Grower:
        def matches_child(self, parent: str, name: str, is_dir: bool) -> bool:
            with open(root / name, "ab") as handle:
                handle.write(b"more")
            return False

    (top,) = list(walk(root, ignore=Grower()))
    assert top.entries[0].size == 9  # the size at stat time, after the write


def test_root_vanishing_or_being_replaced_by_a_file(tmp_path: Path) -> None:
    root = tmp_path / "root"
    with pytest.raises(FileNotFoundError):
        next(walk(root))
    with pytest.raises(FileNotFoundError):
        is_empty(root)  # a guard must never read "missing" as "empty"
    root.write_bytes(b"not a directory")
    with pytest.raises(NotADirectoryError):
        next(walk(root))
    assert scan_dir(root, "") is None


# ---- permission denied: needs a non-root user; as root the checks run as `nobody` ------------

_AS_NOBODY = """
import json, sys
from syncd.local.scanner import walk, is_empty
out = {}
for name, call in (("walk", lambda: list(walk(sys.argv[1]))), ("is_empty",
                   lambda: is_empty(sys.argv[1]))):
    try:
        call()
        out[name] = "no error"
    except OSError as exc:
        out[name] = type(exc).__name__
issues = []
dirs = list(walk(sys.argv[2], on_issue=issues.append))
out["dirs"] = [[d.relpath, [e.name for e in d.entries], [[s.name, s.reason] for s in d.skipped],
               d.error] for d in dirs]
out["issues"] = [[i.relpath, i.reason] for i in issues]
print(json.dumps(out))
"""


def test_permission_denied_root_raises_and_inner_entries_are_skipped() -> None:
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv")
    base = Path(tempfile.mkdtemp(prefix="syncd-hostile-perm-"))
    try:
        base.chmod(0o755)
        locked_root = base / "locked-root"
        locked_root.mkdir(mode=0o700)
        (locked_root / "x").write_bytes(b"x")
        tree = base / "tree"
        (tree / "open").mkdir(parents=True)
        (tree / "open" / "ok.txt").write_bytes(b"o")
        (tree / "deep").mkdir()
        (tree / "deep" / "no-exec").mkdir()
        (tree / "deep" / "no-exec" / "hidden.txt").write_bytes(b"h")
        (tree / "secret.txt").write_bytes(b"s")
        for path in (tree, tree / "open", tree / "deep"):
            path.chmod(0o755)
        (tree / "open" / "ok.txt").chmod(0o644)
        (tree / "secret.txt").chmod(0o600)
        (tree / "deep" / "no-exec").chmod(0o744)  # readable, not searchable by others
        cmd = [sys.executable, "-c", _AS_NOBODY, str(locked_root), str(tree)]
        if os.geteuid() == 0:
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
        else:
            locked_root.chmod(0o000)
            (tree / "secret.txt").chmod(0o000)
            (tree / "deep" / "no-exec").chmod(0o644)
        env = {**os.environ, "PYTHONPATH": str(Path(scanner.__file__).parents[2])}
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60, check=True)
        result = json.loads(done.stdout)
    finally:
        for path in base.rglob("*"):
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o700)
        shutil.rmtree(base)
    assert result["walk"] == "PermissionError"
    assert result["is_empty"] == "PermissionError"  # unreadable is never "empty"
    dirs = {relpath: (names, skipped, error) for relpath, names, skipped, error in result["dirs"]}
    assert dirs[""][0] == ["deep", "open"]
    assert dirs[""][1] == [["secret.txt", PERMISSION_DENIED]]
    assert dirs["deep"][1] == [["no-exec", PERMISSION_DENIED]]
    assert dirs["open"][0] == ["ok.txt"]
    assert sorted(map(tuple, result["issues"])) == [
        ("deep/no-exec", PERMISSION_DENIED),
        ("secret.txt", PERMISSION_DENIED),
    ]


# ---- odd names and changing files through the client, against the emulator --------------------


def test_upload_names_arrive_as_the_scanner_predicts(
    client: RemoteClient, emulator: Any, tmp_path: Path
) -> None:
    """A name `upload_name_issue` calls fine is stored exactly as sent, and every name it flags
    (backslash: PHP keeps what follows it; quote and control characters: sent %-encoded) is
    indeed stored altered."""
    names = [n for n in ODD_FILES if "/" not in n] + ["ok.txt"]
    folder = client.folder_create("odd", None)
    sent: dict[int, str] = {}
    for i, name in enumerate(names):
        source = tmp_path / f"src{i}"
        source.write_bytes(f"body {i}".encode())
        result = client.upload_file(source, folder.id, filename=name)
        assert result.md5 == md5_bytes(f"body {i}".encode())
        sent[result.file_id] = name
    stored = {f.id: f.name for f in client.folder_listing(folder.id).files}
    assert len(stored) == len(names)  # NFC/NFD and case variants stay separate files
    for file_id, name in sent.items():
        if upload_name_issue(name) is None:
            assert stored[file_id] == name, repr(name)
    altered = {name for file_id, name in sent.items() if stored[file_id] != name}
    flagged = {name for name in names if upload_name_issue(name) is not None}
    assert altered == flagged
    assert {"new\nline.txt", "tab\there.txt", 'quote".txt'} <= altered
    assert any("\\" in name for name in altered)


def test_case_only_rename_of_a_remote_file(client: RemoteClient, tmp_path: Path) -> None:
    source = tmp_path / "readme.md"
    source.write_bytes(b"r")
    up = client.upload_file(source, None)
    renamed = client.file_edit(up.file_id, filename="README.md")
    assert renamed.name == "README.md" and renamed.id == up.file_id
    assert [f.name for f in client.folder_listing(None).files] == ["README.md"]


def test_file_vanishing_before_upload_sends_nothing(
    client: RemoteClient, emulator: Any, tmp_path: Path
) -> None:
    client.authorize()
    with pytest.raises(FileNotFoundError):
        client.upload_file(tmp_path / "gone.txt", None)
    assert emulator.admin.counts().get("file/upload", 0) == 0


def test_file_shrinking_during_upload_is_sent_again_whole(
    client: RemoteClient, emulator: Any, tmp_path: Path
) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(3_000_000))  # several of the streamed pieces (1 MiB each)
    final = b"short now"
    shrunk: list[int] = []

    def shrink(sent: int) -> None:
        if not shrunk:
            shrunk.append(sent)
            source.write_bytes(final)

    result = client.upload_file(source, None, progress=shrink)
    assert result.md5 == md5_bytes(final) and result.size == len(final)
    files = [f for f in emulator.admin.tree()["files"] if f["status"] == "active"]
    assert [(f["name"], f["md5"]) for f in files] == [("big.bin", md5_bytes(final))]  # no half file


@pytest.mark.parametrize("change", ["rewrite-same-size", "grow"])
def test_file_changing_during_upload_is_detectable(
    client: RemoteClient, emulator: Any, tmp_path: Path, change: str
) -> None:
    source = tmp_path / "live.bin"
    original = os.urandom(400_000)
    source.write_bytes(original)
    changed: list[bool] = []

    def mutate(sent: int) -> None:
        if changed:
            return
        changed.append(True)
        with open(source, "r+b") as handle:
            if change == "grow":
                handle.seek(0, os.SEEK_END)
                handle.write(b"appended")
            else:
                handle.write(b"\0" * 1000)  # over bytes already sent

    result = client.upload_file(source, None, progress=mutate)
    now = source.read_bytes()
    (stored,) = emulator.admin.tree()["files"]
    # The host holds exactly the bytes that went out (the MD5 check passed), and the caller
    # can see that they are not the file as it is now: re-check after every upload.
    assert stored["md5"] == result.md5 and stored["size"] == result.size == len(original)
    assert result.md5 != md5_bytes(now)
