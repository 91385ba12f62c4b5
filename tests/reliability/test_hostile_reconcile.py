"""Hostile input end to end through `syncd reconcile` / `syncd status` (real subprocesses, the
real emulator): odd local trees converge with every skipped item explained, renames that only
change case or Unicode normalisation are renames, and broken roots, state databases and
credentials stop the pass with one line and nothing lost remotely."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syncd.local.names import remote_name_issue
from tests.support.cli import error_line, run_syncd, start_syncd
from tests.support.config import FAIL_FAST, write_config
from tests.support.mounts import remount_read_only, tiny_tmpfs
from tests.support.trees import md5_bytes, md5_file

NFC = unicodedata.normalize("NFC", "café.txt")
NFD = unicodedata.normalize("NFD", "café.txt")
LONGEST = "é" * 126 + "abc"  # 255 bytes
ODD_FILES = [
    "new\nline.txt",
    "tab\there.txt",
    'quote".txt',
    "back\\slash.txt",
    "..evil",
    "...",
    ".. ",
    " leading space.txt",
    "<b>tag.txt",
    NFC,
    NFD,
    "Readme.md",
    "README.md",
    LONGEST,
    "emoji 😀.txt",
]
ODD_DIRS = ["dir\nnewline", " spaced dir ", "<i>tagdir", "plain"]


def expected_remote(root: Path) -> dict[str, str]:
    """What the remote must hold: every regular, non-empty file whose name (and whose folders'
    names) the host can hold, by path and MD5."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        dirnames[:] = [d for d in dirnames if remote_name_issue(d, "dir") is None]
        for name in filenames:
            path = Path(dirpath, name)
            if path.is_symlink() or not path.is_file() or path.stat().st_size == 0:
                continue
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                continue
            if remote_name_issue(name, "file") is None:
                out["/" + (rel_dir / name).as_posix().removeprefix("./")] = md5_file(path)
    return out


def remote_tree(emulator: Any, prefix: str = "/R") -> dict[str, str]:
    return {
        path.removeprefix(prefix): digest
        for path, digest in emulator.admin.active_paths().items()
        if path.startswith(prefix + "/")
    }


@pytest.fixture
def pair(tmp_path: Path, emulator: Any) -> Iterator[tuple[Path, Path]]:
    """(local root, config file) of one pair "p" syncing to /R on the emulator."""
    root = tmp_path / "root"
    root.mkdir()
    config = write_config(
        tmp_path / "config.toml",
        api_url=emulator.api_url,
        pairs={"p": (root, "R")},
        remote=FAIL_FAST,
    )
    yield root, config


def reconcile(tmp_path: Path, config: Path, *args: str) -> Any:
    return run_syncd("--config", str(config), "reconcile", *args, home=tmp_path)


def test_hostile_tree_converges_with_every_skip_explained(
    tmp_path: Path, emulator: Any, pair: tuple[Path, Path]
) -> None:
    root, config = pair
    for i, name in enumerate(ODD_FILES):
        (root / name).write_bytes(f"content {i}".encode())
    for name in ODD_DIRS:
        (root / name).mkdir()
        (root / name / "inner.txt").write_bytes(name.encode())
    (root / "empty.txt").write_bytes(b"")
    os.mkfifo(root / "fifo")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(root / "sock"))
    (root / "loop-a").symlink_to("loop-b")
    (root / "loop-b").symlink_to("loop-a")
    (root / "plain" / "up").symlink_to("..", target_is_directory=True)
    try:
        first = reconcile(tmp_path, config)
        assert first.returncode == 0, first.stderr  # skipped-but-explained is success
        assert "Traceback" not in first.stderr
        expected = expected_remote(root)
        assert remote_tree(emulator) == expected
        assert len(expected) == 12 + 1  # the holdable odd names, plus plain/inner.txt
        assert emulator.admin.duplicates() == []
        for name in ("new\nline.txt", 'quote".txt', "back\\slash.txt", "empty.txt"):
            assert f"skipped {name}: " in first.stdout, name
        for name in (" spaced dir ", "<i>tagdir"):
            assert f"skipped {name}: folder name the host cannot hold" in first.stdout

        uploads = emulator.admin.counts().get("file/upload", 0)
        second = reconcile(tmp_path, config)
        assert second.returncode == 0 and "uploaded 0," in second.stdout, second.stdout
        assert emulator.admin.counts().get("file/upload", 0) == uploads  # nothing twice

        status = run_syncd("--config", str(config), "status", "--json", home=tmp_path)
        assert status.returncode == 0, status.stderr
        problems = {
            p["path"]: p["reason"] for p in json.loads(status.stdout)["pairs"][0]["problems"]
        }
        assert "empty.txt" in problems and "new\nline.txt" in problems
        assert " spaced dir " in problems
        # Local files are never touched by a push.
        assert (root / "new\nline.txt").read_bytes() == b"content 0"
    finally:
        listener.close()


def test_entries_the_scanner_skips_are_reported_as_skipped(
    tmp_path: Path, pair: tuple[Path, Path]
) -> None:
    root, config = pair
    (root / "ok.txt").write_bytes(b"ok")
    (root / os.fsdecode(b"bad-\xff.txt")).write_bytes(b"not backed up")
    (root / "link").symlink_to("ok.txt")
    os.mkfifo(root / "fifo")
    result = reconcile(tmp_path, config)
    assert result.returncode == 0, result.stderr
    assert "skipped bad-\\xff.txt: not synced: not utf8" in result.stdout, result.stdout
    assert "skipped link: not synced: symlink" in result.stdout
    assert "skipped fifo: not synced: special file" in result.stdout


@pytest.mark.parametrize(
    ("before", "after"),
    [("readme.md", "README.md"), (NFC, NFD)],
    ids=["case-only", "nfc-to-nfd"],
)
def test_rename_that_only_changes_case_or_normalisation_is_a_rename(
    tmp_path: Path, emulator: Any, pair: tuple[Path, Path], before: str, after: str
) -> None:
    root, config = pair
    (root / before).write_bytes(b"same bytes")
    assert reconcile(tmp_path, config).returncode == 0
    (file_id,) = [f["id"] for f in emulator.admin.tree()["files"] if f["name"] == before]
    uploads = emulator.admin.counts().get("file/upload", 0)
    (root / before).rename(root / after)
    result = reconcile(tmp_path, config)
    assert result.returncode == 0, result.stderr
    assert emulator.admin.counts().get("file/upload", 0) == uploads  # renamed, not re-uploaded
    assert remote_tree(emulator) == {f"/{after}": md5_bytes(b"same bytes")}
    active = [f for f in emulator.admin.tree()["files"] if f["status"] == "active"]
    assert [(f["id"], f["name"]) for f in active] == [(file_id, after)]


def test_missing_or_emptied_root_is_refused_and_nothing_is_trashed(
    tmp_path: Path, emulator: Any, pair: tuple[Path, Path]
) -> None:
    root, config = pair
    for i in range(5):
        (root / f"f{i}.txt").write_bytes(b"precious %d" % i)
    assert reconcile(tmp_path, config).returncode == 0
    synced = remote_tree(emulator)
    assert len(synced) == 5

    root.rename(tmp_path / "unmounted")  # the disk went away
    result = reconcile(tmp_path, config)
    assert result.returncode == 3, result.stderr
    assert str(root) in error_line(result)
    assert not root.exists()  # never recreated

    root.mkdir()  # an empty mount point in its place
    result = reconcile(tmp_path, config)
    assert result.returncode == 3, result.stderr
    error_line(result)
    assert remote_tree(emulator) == synced
    assert emulator.admin.counts().get("file/delete", 0) == 0


def test_broken_state_database_stops_reconcile_and_status_with_one_line(
    tmp_path: Path, emulator: Any, pair: tuple[Path, Path]
) -> None:
    root, config = pair
    (root / "a.txt").write_bytes(b"a")
    state = tmp_path / "state.db"
    state.write_bytes(b"not a database " * 1000)
    before = md5_file(state)
    for command in ("reconcile", "status"):
        result = run_syncd("--config", str(config), command, home=tmp_path)
        assert result.returncode == 2, result.stderr
        assert "state database" in error_line(result)
    assert md5_file(state) == before  # never replaced by a fresh, empty journal
    assert remote_tree(emulator) == {}  # and nothing was uploaded without a journal


def test_read_only_state_database_stops_reconcile_with_one_line(
    tmp_path: Path, emulator: Any
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.txt").write_bytes(b"a")
    with tiny_tmpfs("1m") as mount:
        config = write_config(
            mount / "config.toml",
            api_url=emulator.api_url,
            pairs={"p": (root, "R")},
            remote=FAIL_FAST,
        )
        assert reconcile(tmp_path, config).returncode == 0
        (root / "b.txt").write_bytes(b"b")
        remount_read_only(mount)
        result = reconcile(tmp_path, config)
        assert result.returncode == 2, result.stderr
        assert "state database" in error_line(result)
        status = run_syncd("--config", str(config), "status", home=tmp_path)
        assert "Traceback" not in status.stderr
    assert remote_tree(emulator) == {
        "/a.txt": md5_bytes(b"a")
    }  # no upload the journal cannot record


def test_credentials_and_host_problems_stop_reconcile_with_one_line(
    tmp_path: Path, emulator: Any, pair: tuple[Path, Path]
) -> None:
    root, config = pair
    (root / "a.txt").write_bytes(b"a")
    good = config.read_text()

    config.write_text(good.replace(good.split('key1 = "')[1][:64], "1" * 64))
    result = reconcile(tmp_path, config)
    assert result.returncode == 2 and "refused the credentials" in error_line(result)
    assert emulator.admin.counts().get("authorize") == 1  # never retried: lockouts

    config.write_text(good)
    emulator.admin.set_knobs(api_access=False)
    result = reconcile(tmp_path, config)
    assert result.returncode == 2 and "no access to the file upload API" in error_line(result)
    emulator.admin.set_knobs(api_access=True)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    config.write_text(good.replace(emulator.api_url, f"http://127.0.0.1:{closed}/api/v2/"))
    result = reconcile(tmp_path, config)
    assert result.returncode == 1 and "no usable answer from the host" in error_line(result)
    assert remote_tree(emulator) == {}
    shutil.rmtree(root)


def grow_tmpfs(mount: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(mount)], check=True)


def test_disk_full_mid_pass_loses_nothing_and_the_next_pass_adopts(
    tmp_path: Path, emulator: Any
) -> None:
    root = tmp_path / "root"
    for d in range(10):
        (root / f"d{d}").mkdir(parents=True)
        for i in range(40):
            name = f"file-{i:04d}-with-a-longish-name.txt"
            (root / f"d{d}" / name).write_bytes(b"%d-%d" % (d, i))
    with tiny_tmpfs("288k") as mount:  # the journal fills it during the pass
        config = write_config(
            mount / "config.toml",
            api_url=emulator.api_url,
            pairs={"p": (root, "R")},
            remote=FAIL_FAST,
        )
        first = reconcile(tmp_path, config)
        assert first.returncode != 0 and "disk is full" in first.stderr
        partial = remote_tree(emulator)
        local = expected_remote(root)
        assert all(local[path] == digest for path, digest in partial.items())
        assert emulator.admin.duplicates() == []

        grow_tmpfs(mount, "8m")  # space is back
        second = reconcile(tmp_path, config)
        assert second.returncode == 0, second.stderr
        assert remote_tree(emulator) == local
        assert emulator.admin.duplicates() == []
        counts = emulator.admin.counts()
        assert counts.get("file/upload") == 400  # every file once, over both passes
        assert counts.get("folder/create") == 11  # /R and its 10 folders, none twice
        integrity = sqlite3.connect(mount / "state.db").execute("PRAGMA integrity_check")
        assert integrity.fetchone() == ("ok",)


def test_disk_full_is_one_clear_line(tmp_path: Path, emulator: Any) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.txt").write_bytes(b"a")
    with tiny_tmpfs("160k") as mount:
        config = write_config(
            mount / "config.toml",
            api_url=emulator.api_url,
            pairs={"p": (root, "R")},
            remote=FAIL_FAST,
        )
        filler = os.open(mount / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            with contextlib.suppress(OSError):
                while os.write(filler, b"\0" * 4096):
                    pass
        finally:
            os.close(filler)
        result = reconcile(tmp_path, config)
        assert result.returncode in (1, 2)
        assert "state database" in error_line(result)


@pytest.mark.emulator(latency_ms=300)
@pytest.mark.parametrize("change", ["rewritten", "vanished"])
def test_file_changing_or_vanishing_while_its_upload_is_in_flight(
    tmp_path: Path, emulator: Any, pair: tuple[Path, Path], change: str
) -> None:
    """The file changes (same size, new bytes) or is deleted after its upload reached the host
    and before the answer came back: the journal must not take the new state as synced."""
    root, config = pair
    doc = root / "doc.txt"
    doc.write_bytes(b"version 1 " * 100)
    (root / "other.txt").write_bytes(b"unrelated")
    proc = start_syncd("reconcile", config=config, capture=True, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while emulator.admin.counts().get("file/upload", 0) < 1:  # an upload has arrived
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        if change == "rewritten":
            doc.write_bytes(b"version 2 " * 100)
        else:
            doc.unlink()
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode in (0, 1), err
    emulator.admin.set_knobs(latency_ms=0)
    second = reconcile(tmp_path, config)
    assert second.returncode == 0, second.stderr
    assert remote_tree(emulator) == expected_remote(root)  # the new state, or its absence
    assert emulator.admin.duplicates() == []
