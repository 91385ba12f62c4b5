"""`syncd versions`, `syncd restore --path/--version-id` and the history line of `syncd status`,
on one backup history built by real passes against the emulator.

The history (pair "docs", backup mode): a.txt uploaded three times (two versions and the live
copy), sub/c.txt live, gone/x.txt and gone/deep/y.txt removed with their directory (one
versioned folder).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import error_line, run_syncd
from tests.support.reconcile import Syncer, pair_config
from tests.support.restore import add_file, add_folder
from tests.support.trees import md5_bytes, md5_tree

A = [b"a: one\n", b"a: two, longer\n", b"a: three, the newest\n"]
C, X, Y = b"c: live\n", b"x: removed with gone/\n", b"y: deep in gone/\n"


@pytest.fixture
def history(emulator: Any, tmp_path: Path) -> dict[str, Any]:
    local = tmp_path / "docs"
    (local / "sub").mkdir(parents=True)
    (local / "gone" / "deep").mkdir(parents=True)
    config = pair_config(tmp_path, emulator.api_url, local, mode="backup")
    syncer = Syncer(config)
    (local / "sub" / "c.txt").write_bytes(C)
    (local / "gone" / "x.txt").write_bytes(X)
    (local / "gone" / "deep" / "y.txt").write_bytes(Y)
    mtimes = {}
    for data in A:
        (local / "a.txt").write_bytes(data)
        if data == A[-1]:
            shutil.rmtree(local / "gone")
            os.utime(local / "a.txt", ns=(1_600_000_000_000_000_000,) * 2)
            mtimes["a.txt"] = 1_600_000_000_000_000_000
        assert syncer.run().exit_code == 0
    syncer.close()
    return {"config": config, "local": local, "mtimes": mtimes, "tmp": tmp_path}


def _versions(config: Path, *args: str) -> Any:
    result = run_syncd("versions", "--json", *args, config=config)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def _drop_journal(config: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{config.parent / 'state.db'}{suffix}").unlink(missing_ok=True)


def test_versions_of_a_file_and_of_a_directory_with_and_without_the_journal(
    history: dict[str, Any], emulator: Any
) -> None:
    config: Path = history["config"]
    emulator.admin.reset_counts()
    doc = _versions(config, "--pair", "docs", "a.txt")
    # Backup/docs (2 levels), then docs and its versions area: the README's figure.
    calls = {k: v for k, v in emulator.admin.counts().items() if v}
    assert calls == {"authorize": 1, "folder/listing": 2 + 2}
    assert doc["kind"] == "file" and doc["path"] == "a.txt"
    rows = doc["versions"]
    assert [r["state"] for r in rows] == ["version", "version", "current"]
    assert [r["size"] for r in rows] == [len(a) for a in A]
    files = {f["id"]: f for f in emulator.admin.tree()["files"]}
    assert [files[r["id"]]["md5"] for r in rows] == [md5_bytes(a) for a in A]
    # Validity intervals chain: each version is retired once its successor is live (it ends
    # just after the next one begins); all UTC ISO 8601.
    for older, newer in itertools.pairwise(rows):
        assert older["from"] <= newer["from"] <= older["to"]
    assert all(r["from"].endswith("Z") for r in rows) and rows[2]["to"] is None

    # A local path finds its pair by itself.
    by_local = _versions(config, str(history["local"] / "a.txt"))
    assert by_local["versions"] == rows

    # The directory: what was removed under the pair's root, and under gone/.
    root = _versions(config, "--pair", "docs", "/")
    assert root["kind"] == "dir"
    kinds = sorted((r["path"], r["kind"]) for r in root["versions"])
    assert kinds == [("a.txt", "file"), ("a.txt", "file"), ("gone", "folder")]
    gone_row = next(r for r in root["versions"] if r["kind"] == "folder")
    assert gone_row["size"] == len(X) + len(Y)  # every byte it holds, gone/deep/ too
    gone = _versions(config, "--pair", "docs", "gone")
    assert gone["kind"] == "dir"
    assert sorted(r["path"] for r in gone["versions"]) == ["gone", "gone/deep/y.txt", "gone/x.txt"]
    y = _versions(config, "--pair", "docs", "gone/deep/y.txt")["versions"]
    assert len(y) == 1 and y[0]["state"] == "version" and files[y[0]["id"]]["md5"] == md5_bytes(Y)

    # The text form: one line per version, the live copy marked.
    text = run_syncd("versions", "--pair", "docs", "a.txt", config=config)
    assert text.returncode == 0, text.stderr
    assert text.stdout.count("\n") == 5 and "(current)" in text.stdout  # title, header, 3

    _drop_journal(config)
    without = _versions(config, "--pair", "docs", "a.txt")["versions"]
    assert [(r["id"], r["state"], r["to"]) for r in without] == [
        (r["id"], r["state"], r["to"]) for r in rows
    ]
    assert without[2]["from"] == rows[1]["to"]  # the newest version's end, from its name
    assert sorted(r["path"] for r in _versions(config, "--pair", "docs", "gone")["versions"]) == [
        "gone",
        "gone/deep/y.txt",
        "gone/x.txt",
    ]


def test_versions_refuses_unknown_pair_and_path_in_one_line(history: dict[str, Any]) -> None:
    config: Path = history["config"]
    unknown_pair = run_syncd("versions", "--pair", "nope", "a.txt", config=config)
    assert unknown_pair.returncode == 2
    assert "nope" in error_line(unknown_pair)
    nowhere = run_syncd("versions", "--pair", "docs", "never/was.txt", config=config)
    assert nowhere.returncode == 2
    line = error_line(nowhere)
    assert "never/was.txt" in line and "check the path" in line, nowhere.stderr


def test_restore_a_part_and_one_version(history: dict[str, Any], emulator: Any) -> None:
    config: Path = history["config"]
    tmp: Path = history["tmp"]
    # --path: a directory of the live tree, at its own place under DEST.
    dest = tmp / "part"
    emulator.admin.reset_counts()
    result = run_syncd("restore", "--pair", "docs", "--path", "sub", str(dest), config=config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert md5_tree(dest) == {"sub/c.txt": md5_bytes(C)}
    # Backup/docs (2 levels), docs once (to check the path, then to restore), sub: nothing else.
    assert emulator.admin.counts()["folder/listing"] == 2 + 1 + 1
    assert emulator.admin.counts()["file/download"] == 1
    # --path with --at: a removed directory as it was before the last pass.
    rows = _versions(config, "--pair", "docs", "a.txt")["versions"]
    at = rows[1]["from"]  # when the second upload of a.txt became live: gone/ still existed
    dest = tmp / "part-then"
    result = run_syncd(
        "restore", "--pair", "docs", "--path", "gone", "--at", at, str(dest), config=config
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert md5_tree(dest) == {"gone/x.txt": md5_bytes(X), "gone/deep/y.txt": md5_bytes(Y)}
    # --path to a single file, at the moment its first version was live.
    dest = tmp / "file-then"
    result = run_syncd(
        "restore",
        "--pair",
        "docs",
        "--path",
        "a.txt",
        "--at",
        rows[0]["from"],
        str(dest),
        config=config,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert md5_tree(dest) == {"a.txt": md5_bytes(A[0])}
    # A path that is nowhere: one line, nothing written.
    dest = tmp / "nothing"
    result = run_syncd("restore", "--pair", "docs", "--path", "no/such", str(dest), config=config)
    assert result.returncode == 2 and "no/such" in error_line(result)
    assert not dest.exists() or not any(dest.iterdir())

    # --version-id: that version's bytes under the original name.
    dest = tmp / "one"
    result = run_syncd(
        "restore", "--pair", "docs", "--version-id", str(rows[1]["id"]), str(dest), config=config
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert md5_tree(dest) == {"a.txt": md5_bytes(A[1])}
    # A file of another folder is not this pair's version: refused, nothing written.
    other = add_file(emulator.admin, None, "other.txt", b"not in the pair\n")
    dest = tmp / "other"
    result = run_syncd(
        "restore", "--pair", "docs", "--version-id", str(other), str(dest), config=config
    )
    assert result.returncode == 2 and "not in Backup/docs" in error_line(result), result.stderr
    assert not dest.exists() or not any(dest.iterdir())


def test_restore_sets_the_modification_time_the_journal_knows(history: dict[str, Any]) -> None:
    config: Path = history["config"]
    dest = history["tmp"] / "timed"
    result = run_syncd("restore", "--pair", "docs", str(dest), config=config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (dest / "a.txt").stat().st_mtime_ns == history["mtimes"]["a.txt"]
    assert (dest / "sub" / "c.txt").stat().st_mtime_ns == (
        history["local"] / "sub" / "c.txt"
    ).stat().st_mtime_ns


def test_status_shows_what_the_history_holds_without_asking_the_host(
    history: dict[str, Any], emulator: Any
) -> None:
    config: Path = history["config"]
    emulator.admin.reset_counts()
    result = run_syncd("status", "--json", config=config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert emulator.admin.counts() == {} or not any(emulator.admin.counts().values())
    entry = json.loads(result.stdout)["pairs"][0]
    # Two old uploads of a.txt, and gone/ kept whole with its two files.
    assert entry["history"]["versions"] == 4
    assert entry["history"]["bytes"] == len(A[0]) + len(A[1]) + len(X) + len(Y)
    text = run_syncd("status", config=config)
    assert "history: 4 versions" in text.stdout, text.stdout


def test_a_local_entry_named_like_the_versions_area_is_refused_not_synced(
    emulator: Any, tmp_path: Path
) -> None:
    local = tmp_path / "docs"
    (local / ".syncd-versions").mkdir(parents=True)
    (local / ".syncd-versions" / "mine.txt").write_bytes(b"not syncd's\n")
    (local / "sub").mkdir()
    (local / "sub" / ".syncd-versions").write_bytes(b"a file of that name\n")
    (local / "kept.txt").write_bytes(b"synced\n")
    config = pair_config(tmp_path, emulator.api_url, local, mode="backup")
    result = run_syncd("reconcile", "--pair", "docs", config=config)
    assert result.returncode == 0, result.stdout + result.stderr
    for path in (".syncd-versions", "sub/.syncd-versions"):
        line = next(x for x in result.stdout.splitlines() if f"skipped {path}:" in x)
        assert "reserved" in line and "rename it" in line, line
    names = {f["name"] for f in emulator.admin.tree()["files"] if f["status"] == "active"}
    assert names == {"kept.txt"}
    status = json.loads(run_syncd("status", "--json", config=config).stdout)
    assert status["pairs"][0]["last_run"]["counts"]["not synced"] == 2


def test_unattributed_same_name_uploads_the_newest_keeps_the_name_and_the_report_says_so(
    emulator: Any, tmp_path: Path
) -> None:
    backup = add_folder(emulator.admin, None, "Backup")
    folder = add_folder(emulator.admin, backup, "docs")
    ids = [add_file(emulator.admin, folder, "a.txt", f"upload {i}\n".encode()) for i in range(3)]
    config = pair_config(tmp_path, emulator.api_url, tmp_path / "docs", mode="backup")
    dest = tmp_path / "dest"
    result = run_syncd("restore", "--pair", "docs", "--json", str(dest), config=config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (dest / "a.txt").read_bytes() == b"upload 2\n"  # the newest upload (highest id)
    renamed = json.loads(result.stdout)["renamed"]
    assert sorted(r["local"] for r in renamed) == ["a (2).txt", "a (3).txt"]
    for item in renamed:
        assert f"id {ids[2]}, the newest upload, keeps the name" in item["reason"]
        written = int(item["reason"].split(": id ")[1].split()[0])
        assert (dest / item["local"]).read_bytes() == f"upload {ids.index(written)}\n".encode()


def test_restore_after_losing_the_disk_and_the_journal_costs_what_the_readme_says(
    history: dict[str, Any], emulator: Any
) -> None:
    """The README's figures ("Backups and history"): per restore, 1 authorize and 1
    account/package; 1 folder/listing per level of the pair's remote path and per folder
    walked; 2 calls per file downloaded (file/download and the download itself); with --at and
    no journal, 1 file/info per live file that has no version."""
    config: Path = history["config"]
    local: Path = history["local"]
    expected_now = md5_tree(local)
    at = _versions(config, "--pair", "docs", "a.txt")["versions"][1]["from"]
    _drop_journal(config)
    shutil.rmtree(local)

    emulator.admin.reset_counts()
    result = run_syncd("restore", "--pair", "docs", str(local), config=config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert md5_tree(local) == expected_now
    counts = {k: v for k, v in emulator.admin.counts().items() if v}
    # Backup/docs: 2 levels; docs and sub walked; a.txt and sub/c.txt downloaded.
    assert counts == {
        "authorize": 1,
        "account/package": 1,
        "folder/listing": 2 + 2,
        "file/download": 2,
        "download": 2,
    }
    # The journal was rebuilt: the next pass uploads nothing.
    emulator.admin.reset_counts()
    again = run_syncd("reconcile", "--pair", "docs", config=config)
    assert again.returncode == 0, again.stdout + again.stderr
    assert not emulator.admin.counts().get("file/upload")

    _drop_journal(config)
    emulator.admin.reset_counts()
    dest = history["tmp"] / "then"
    result = run_syncd("restore", "--pair", "docs", "--at", at, str(dest), config=config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert md5_tree(dest) == {
        "a.txt": md5_bytes(A[1]),
        "sub/c.txt": md5_bytes(C),
        "gone/x.txt": md5_bytes(X),
        "gone/deep/y.txt": md5_bytes(Y),
    }
    counts = {k: v for k, v in emulator.admin.counts().items() if v}
    # 2 levels; docs, its versions area, sub, the kept gone/ and gone/deep walked; 4 files;
    # sub/c.txt has no version, so its upload date is asked once.
    assert counts == {
        "authorize": 1,
        "account/package": 1,
        "folder/listing": 2 + 5,
        "file/download": 4,
        "download": 4,
        "file/info": 1,
    }


def test_status_counts_follow_a_prune(emulator: Any, tmp_path: Path) -> None:
    local = tmp_path / "docs"
    (local / "old").mkdir(parents=True)
    (local / "old" / "x.txt").write_bytes(X)
    (local / "old" / "y.txt").write_bytes(Y)
    config = pair_config(tmp_path, emulator.api_url, local, mode="backup")
    with config.open("a") as fh:
        fh.write("versions = { keep_last = 1 }\n")
    syncer = Syncer(config)
    for data in A:
        (local / "a.txt").write_bytes(data)
        if data == A[-1]:
            shutil.rmtree(local / "old")
        assert syncer.run(force_deletes=True).exit_code == 0  # old/ is 2 of 3 files
    syncer.close()
    history = json.loads(run_syncd("status", "--json", config=config).stdout)["pairs"][0]
    # Of a.txt's two old uploads the newest is kept; old/ is kept whole with its two files.
    assert history["history"]["versions"] == 1 + 2
    assert history["history"]["bytes"] == len(A[1]) + len(X) + len(Y)
    assert history["history"]["counted"] is not None


def test_versions_of_a_name_too_long_for_its_versioned_form(emulator: Any, tmp_path: Path) -> None:
    """A versioned name that had to be shortened still finds its file (by the name's digest)."""
    from syncd.remote.paths import resolve_remote_folder
    from syncd.restore.versions import VersionFinder

    local = tmp_path / "docs"
    local.mkdir()
    name = "n" * 240 + ".txt"
    config = pair_config(tmp_path, emulator.api_url, local, mode="backup")
    syncer = Syncer(config)
    for data in A[:2]:
        (local / name).write_bytes(data)
        assert syncer.run().exit_code == 0
    root = resolve_remote_folder(syncer.client, ("Backup", "docs"))
    listing = VersionFinder(syncer.client, root).find(name)
    syncer.close()
    assert listing.kind == "file"
    assert [(e.state, e.size) for e in listing.entries] == [
        ("version", len(A[0])),
        ("current", len(A[1])),
    ]
    assert len(listing.entries[0].remote_name) <= 255
