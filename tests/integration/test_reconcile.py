"""`syncd reconcile` against the real emulator over loopback, on real directories."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.config import MaxDelete
from syncd.emulator.testing import EmulatorProcess
from syncd.engine import versioning
from syncd.engine.executor import Executor, Progress
from syncd.engine.ops import MoveFile, MoveFolder, Op, TrashFile
from syncd.engine.reconcile import PassResult
from syncd.history.names import parse_versioned_name
from syncd.journal.rows import PairRow
from tests.support.cli import run_syncd
from tests.support.reconcile import Syncer, expected_remote, mutating_calls, pair_config
from tests.support.trees import md5_file, write_tree

LIMIT = 4_000_000  # the package's max_upload_size for these tests


def make_tree(root: Path) -> None:
    """Names the host refuses or sanitises, a deep path, an empty file, one file over the
    upload limit and a folder whose name has surrounding spaces."""
    files: dict[str, bytes | str] = {
        "readme.txt": b"hello\n",
        "with space/notes file.md": b"# notes\n" * 10,
        "ünïcödé/日本語.txt": b"unicode" * 3,
        "tags/report <b>bold</b>.txt": b"a name with tags\n",
        "deep/a/b/c/d/e/f/g/leaf.txt": b"deep\n",
        "empty.txt": b"",
        "media/big.bin": os.urandom(3_000_000),
        "media/too big.bin": os.urandom(LIMIT + 1),
    }
    for i in range(20):
        files[f"projects/alpha/file{i:02}.txt"] = f"alpha {i}\n".encode() * (i + 1)
    for i in range(6):
        files[f"old/stuff{i}.txt"] = f"old {i}\n".encode()
    files[" spaced dir/inside.txt"] = "not synced: the folder name has spaces"
    write_tree(root, files)


@pytest.fixture
def world(
    tmp_path: Path, emulator: EmulatorProcess
) -> Iterator[tuple[Syncer, Path, EmulatorProcess]]:
    emulator.admin.set_knobs(max_upload_size=LIMIT)
    local = tmp_path / "local"
    make_tree(local)
    syncer = Syncer(pair_config(tmp_path, emulator.api_url, local))
    yield syncer, local, emulator
    syncer.close()


def test_initial_sync_then_a_second_pass_makes_no_mutating_call(world) -> None:
    syncer, local, emu = world
    result = syncer.run()
    assert result.exit_code == 0, result.outcome.failed
    assert emu.admin.active_paths() == expected_remote(local, "Backup/docs", limit=LIMIT)
    assert emu.admin.duplicates() == []
    skipped = dict(result.outcome.skipped)
    assert "zero-byte" in skipped["empty.txt"]
    assert "upload limit" in skipped["media/too big.bin"]
    assert "spaces" in skipped[" spaced dir"] or "whitespace" in skipped[" spaced dir"]

    emu.admin.reset_counts()
    again = syncer.run()
    assert again.exit_code == 0
    assert again.plan.ops == []
    assert mutating_calls(emu.admin.counts()) == {}


def test_local_changes_cost_one_edit_per_move_or_rename_and_no_upload(world) -> None:
    syncer, local, emu = world
    syncer.run()
    (local / "readme.txt").write_bytes(b"hello, modified\n")  # modify
    (local / "with space/notes file.md").rename(local / "with space/renamed notes.md")
    (local / "deep/a/b/c/d/e/f/g/leaf.txt").rename(local / "deep/a/b/leaf renamed.txt")
    (local / "archive").mkdir()
    (local / "projects/alpha").rename(local / "archive/alpha moved")  # 20 files
    (local / "old/stuff0.txt").unlink()
    (local / "old/stuff1.txt").unlink()
    shutil.rmtree(local / "ünïcödé")
    emu.admin.reset_counts()
    result = syncer.run()
    assert result.exit_code == 0, result.outcome.failed
    assert emu.admin.active_paths() == expected_remote(local, "Backup/docs", limit=LIMIT)
    assert emu.admin.duplicates() == []
    calls = mutating_calls(emu.admin.counts())
    assert calls == {
        "folder/create": 1,  # archive
        "folder/edit": 1,  # the directory of 20 files: one call, nothing re-uploaded
        "file/edit": 2,  # two renames
        "file/upload": 1,  # the modified file
        "file/delete": 3,  # its old version + two deleted files
        "folder/delete": 1,  # the deleted directory
    }
    emu.admin.reset_counts()
    assert syncer.run().plan.ops == []
    assert mutating_calls(emu.admin.counts()) == {}


def _file_id(emu: EmulatorProcess, name: str) -> int:
    return next(
        f["id"] for f in emu.admin.tree()["files"] if f["name"] == name and f["status"] == "active"
    )


def _folder_id(emu: EmulatorProcess, name: str) -> int:
    return next(
        f["id"]
        for f in emu.admin.tree()["folders"]
        if f["name"] == name and f["status"] == "active"
    )


def test_remote_drift_is_repaired_in_mirror_mode(world) -> None:
    syncer, local, emu = world
    syncer.run()
    admin = emu.admin
    admin.drift("trash_file", file_id=_file_id(emu, "stuff2.txt"))
    admin.drift("rename_file", file_id=_file_id(emu, "stuff3.txt"), name="renamed by someone")
    admin.drift("modify_file", file_id=_file_id(emu, "stuff4.txt"), content_b64="QUJDREVGR0hJSktM")
    admin.drift(
        "move_file", file_id=_file_id(emu, "stuff5.txt"), folder_id=_folder_id(emu, "with space")
    )
    admin.drift("rename_folder", folder_id=_folder_id(emu, "media"), name="media-renamed")
    admin.drift(
        "add_file", folder_id=_folder_id(emu, "old"), name="foreign.txt", content_b64="eA=="
    )
    admin.drift("add_folder", parent_id=_folder_id(emu, "deep"), name="foreign folder")
    admin.reset_counts()
    result = syncer.run()
    assert result.exit_code == 0, result.outcome.failed
    assert admin.active_paths() == expected_remote(local, "Backup/docs", limit=LIMIT)
    assert admin.duplicates() == []
    calls = mutating_calls(admin.counts())
    assert calls["file/upload"] == 2  # the trashed file and the modified one (not the rest)
    assert calls["folder/edit"] == 1 and calls["file/edit"] == 2  # put back by id
    assert syncer.run().plan.ops == []


def test_backup_mode_keeps_foreign_and_deleted_files(
    tmp_path: Path, emulator: EmulatorProcess
) -> None:
    local = tmp_path / "local"
    (local / "d").mkdir(parents=True)
    for i in range(4):
        (local / "d" / f"f{i}.txt").write_text(f"file {i}")
    syncer = Syncer(pair_config(tmp_path, emulator.api_url, local, mode="backup"))
    try:
        syncer.run()
        folder = _folder_id(emulator, "d")
        emulator.admin.drift("add_file", folder_id=folder, name="foreign.txt", content_b64="eA==")
        (local / "d" / "f0.txt").unlink()
        (local / "d" / "f1.txt").write_text("changed content")
        result = syncer.run()
        assert result.exit_code == 0
        paths = emulator.admin.active_paths()
        assert "/Backup/docs/d/foreign.txt" in paths  # not syncd's: left where it is
        # Deleted and replaced locally: out of the live tree, kept as versions.
        assert "/Backup/docs/d/f0.txt" not in paths
        versions = sorted(p for p in paths if p.startswith("/Backup/docs/.syncd-versions/d/"))
        assert [p.rsplit("/", 1)[1].split("~")[0] for p in versions] == ["f0", "f1"]
        assert emulator.admin.counts().get("file/delete", 0) == 0
        assert emulator.admin.counts().get("folder/delete", 0) == 0
        assert syncer.run().plan.ops == []
    finally:
        syncer.close()


def test_directory_removed_then_another_made_is_versioned_whole_under_its_own_path(
    tmp_path: Path, emulator: EmulatorProcess
) -> None:
    """`rm -r d1; mkdir d3` on ext4 gives d3 d1's inode (every time, seen here). That once read
    as d1 moved to d3: its files left one by one and kept versions recorded them under d3/.
    Whether or not the inode comes back, d1 leaves whole, as d1, in one call."""
    local = tmp_path / "local"
    (local / "d1").mkdir(parents=True)
    for i in range(4):
        (local / "d1" / f"f{i}.txt").write_text(f"file {i}")
        (local / f"keep{i}.txt").write_text(f"kept {i}")  # under max_delete's 50 %
    (local / "keep.txt").write_text("kept")
    syncer = Syncer(pair_config(tmp_path, emulator.api_url, local, mode="backup"))
    try:
        syncer.run()
        shutil.rmtree(local / "d1")
        (local / "d3").mkdir()
        (local / "d3" / "x.txt").write_text("x")
        emulator.admin.reset_counts()
        assert syncer.run().exit_code == 0
        paths = emulator.admin.active_paths()
        area = "/Backup/docs/.syncd-versions/"
        assert sorted(p for p in paths if p.startswith(area + "d3/")) == []
        assert len([p for p in paths if p.startswith(area + "d1")]) == 4, paths
        assert "/Backup/docs/d3/x.txt" in paths
        calls = mutating_calls(emulator.admin.counts())
        assert calls.get("folder/edit") == 1 and "file/edit" not in calls, calls
        assert syncer.run().plan.ops == []
    finally:
        syncer.close()


def test_cli_reconcile_dry_run_then_real_run_and_status(
    tmp_path: Path, emulator: EmulatorProcess
) -> None:
    local = tmp_path / "local"
    (local / "sub").mkdir(parents=True)
    (local / "sub" / "a.txt").write_text("a")
    (local / "empty").write_text("")
    config = pair_config(tmp_path, emulator.api_url, local)
    dry = run_syncd("reconcile", "--dry-run", config=config)
    assert dry.returncode == 0, dry.stderr
    assert "upload" in dry.stdout and "sub/a.txt" in dry.stdout
    assert mutating_calls(emulator.admin.counts()) == {}
    real = run_syncd("reconcile", config=config)
    assert real.returncode == 0, real.stderr
    assert "uploaded 1" in real.stdout and "skipped 1" in real.stdout
    status = run_syncd("status", "--json", config=config)
    assert status.returncode == 0, status.stderr
    (pair,) = json.loads(status.stdout)["pairs"]
    assert pair["last_run"]["result"] == "ok"
    assert pair["counts"]["synced"] == 1
    assert [(p["path"], p["status"]) for p in pair["problems"]] == [("empty", "skipped")]
    text = run_syncd("status", config=config)
    assert "skipped empty: empty file" in " ".join(text.stdout.split())


def test_file_changed_while_uploading_is_sent_again(
    tmp_path: Path, emulator: EmulatorProcess
) -> None:
    from syncd.engine.executor import Progress

    local = tmp_path / "local"
    local.mkdir()
    target = local / "growing.bin"
    target.write_bytes(os.urandom(2_000_000))

    class RewriteDuringUpload(Progress):
        done = False

        def bytes_sent(self, n: int) -> None:
            if not self.done:  # the writer is still at work while the first bytes go out
                self.done = True
                target.write_bytes(os.urandom(2_500_000))

    syncer = Syncer(pair_config(tmp_path, emulator.api_url, local))
    try:
        result = syncer.run(progress=RewriteDuringUpload())
        assert result.exit_code == 0, result.outcome.failed
        assert emulator.admin.active_paths() == expected_remote(local, "Backup/docs")
        assert emulator.admin.counts()["file/upload"] == 2
        assert syncer.run().plan.ops == []
    finally:
        syncer.close()


def test_status_reads_while_another_process_holds_the_write_lock(
    tmp_path: Path, emulator: EmulatorProcess
) -> None:
    import sqlite3

    local = tmp_path / "local"
    local.mkdir()
    (local / "a.txt").write_text("a")
    config = pair_config(tmp_path, emulator.api_url, local)
    assert run_syncd("reconcile", config=config).returncode == 0
    writer = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process mid-transaction (the daemon)
    writer.execute("UPDATE runs SET result = 'ok'")
    try:
        status = run_syncd("status", "--json", config=config, timeout=20)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["pairs"][0]["counts"]["synced"] == 1


def _one_file_synced(tmp_path: Path, api_url: str, mode: str) -> Iterator[tuple[Path, Syncer]]:
    local = tmp_path / "local"
    local.mkdir()
    (local / "first.txt").write_text("first")
    syncer = Syncer(pair_config(tmp_path, api_url, local, mode=mode))
    try:
        assert syncer.run().exit_code == 0
        yield local, syncer
    finally:
        syncer.close()


@pytest.fixture
def one_file_synced(tmp_path: Path, emulator: EmulatorProcess) -> Iterator[tuple[Path, Syncer]]:
    """A pair of one file, synced: (local root, its syncer)."""
    yield from _one_file_synced(tmp_path, emulator.api_url, "mirror")


@pytest.fixture
def one_file_backed_up(tmp_path: Path, emulator: EmulatorProcess) -> Iterator[tuple[Path, Syncer]]:
    """The same in backup mode (versions kept)."""
    yield from _one_file_synced(tmp_path, emulator.api_url, "backup")


def interrupted_upload(syncer: Syncer, path: Path, data: bytes) -> PairRow:
    """A crash between the host storing an upload and the journal recording it: the intent is
    written, the file (in the pair's root, last written well before its upload began) is on the
    host, the outcome never reached the journal. Returns the pair's row."""
    path.write_bytes(data)
    written = time.time() - 60
    os.utime(path, (written, written))
    pair = syncer.journal.pair("docs")
    assert pair is not None
    folder = pair.root_folder_id
    with syncer.journal.transaction() as tx:
        tx.add_intent(
            pair.id,
            "upload",
            folder_id=folder,
            name=path.name,
            size=len(data),
            inode=path.stat().st_ino,
        )
    syncer.client.upload_file(path, folder, filename=path.name)
    return pair


def _sent_again_not_adopted(
    result: PassResult, syncer: Syncer, pair: PairRow, local: Path, emulator: EmulatorProcess
) -> None:
    """The local file was uploaded, nothing adopted; the remote is the local tree with no
    duplicate name; no intent is left and the next pass has nothing to do."""
    assert result.outcome.counts.get("adopted", 0) == 0, result.outcome.counts
    assert emulator.admin.active_paths() == expected_remote(local, "Backup/docs")
    assert emulator.admin.duplicates() == []
    assert syncer.journal.intents(pair.id) == []
    assert syncer.run().plan.ops == []


def _killed_before_upload(
    syncer: Syncer,
    emulator: EmulatorProcess,
    path: Path,
    theirs: bytes,
    *,
    after_theirs: float,
) -> tuple[PairRow, int]:
    """Someone adds their file ``path.name`` holding ``theirs`` to the pair's root; a killed
    pass leaves an upload intent for the local ``path`` (last written a minute before)
    ``after_theirs`` seconds later, before its upload reached the host. Returns the pair's
    row and their file's id."""
    pair = syncer.journal.pair("docs")
    assert pair is not None
    added = emulator.admin.drift(
        "add_file",
        folder_id=pair.root_folder_id,
        name=path.name,
        content_b64=base64.b64encode(theirs).decode(),
    )
    written = time.time() - 60
    os.utime(path, (written, written))
    with syncer.journal.transaction() as tx:
        tx.add_intent(
            pair.id,
            "upload",
            folder_id=pair.root_folder_id,
            name=path.name,
            size=path.stat().st_size,
            created_at=time.time() + after_theirs,
            inode=path.stat().st_ino,
        )
    return pair, int(added["id"])


def test_upload_interrupted_after_the_host_stored_it_is_adopted_not_sent_twice(
    one_file_synced: tuple[Path, Syncer], emulator: EmulatorProcess
) -> None:
    local, syncer = one_file_synced
    pair = interrupted_upload(syncer, local / "second.bin", os.urandom(50_000))
    emulator.admin.reset_counts()
    result = syncer.run()
    assert result.outcome.counts.get("adopted") == 1
    assert emulator.admin.counts().get("file/upload", 0) == 0
    assert emulator.admin.active_paths() == expected_remote(local, "Backup/docs")
    assert syncer.journal.intents(pair.id) == []
    assert syncer.run().plan.ops == []


def test_upload_interrupted_then_file_rewritten_with_the_same_size_is_sent_again(
    one_file_synced: tuple[Path, Syncer], emulator: EmulatorProcess
) -> None:
    """Found by the model test: a pass killed after the host stored an upload, then the file
    rewritten with other bytes of the same size before the next pass. Name and size still match
    what the interrupted upload left, but its bytes are the old ones: adopting it would record
    stale content as synced for good. The file changed after the upload began, so it is sent
    again, and the stale copy (syncd's own) does not stay beside it."""
    local, syncer = one_file_synced
    pair = interrupted_upload(syncer, local / "b.txt", b"\xbe\xe0")
    (local / "b.txt").write_bytes(b"\x00\x00")  # after the crash, before the next pass
    _sent_again_not_adopted(syncer.run(), syncer, pair, local, emulator)


def test_upload_interrupted_then_another_file_of_its_size_renamed_onto_it_is_sent(
    one_file_synced: tuple[Path, Syncer], emulator: EmulatorProcess
) -> None:
    """Found by the model test (backup and mirror keeping versions, seed 20261215): b.txt's
    upload interrupted after the host stored it; then `mv b.txt c; mv a.txt b.txt`, a.txt as
    large as b.txt, not yet synced, and last written before the upload began. Name, size and
    an mtime before the intent all matched, and b's old bytes were adopted as the new b.txt.
    The intent now names the file it sent by inode."""
    local, syncer = one_file_synced
    other = local / "a.txt"
    other.write_bytes(b"\x11\x22")
    written = time.time() - 120
    os.utime(other, (written, written))
    pair = interrupted_upload(syncer, local / "b.txt", b"\xbe\xe0")
    os.rename(local / "b.txt", local / "c")
    os.rename(other, local / "b.txt")
    # The stale copy is syncd's own: trashed without the guard's confirmation.
    _sent_again_not_adopted(syncer.run(), syncer, pair, local, emulator)


def test_upload_interrupted_before_it_reached_the_host_does_not_adopt_someone_elses_file(
    one_file_synced: tuple[Path, Syncer], emulator: EmulatorProcess
) -> None:
    """Found by the model test (mirror, seed 20261216): someone adds `c` on the web site; a
    local `c` of the same size is written, and a pass is killed after its upload intent, before
    the upload reached the host. Name and size matched, and their file was adopted as the local
    `c`. The host dates their upload (file/info, whole seconds) before the intent began: it is
    not what the crash left, so the local file is uploaded (and theirs, an extra in mirror
    mode, trashed once confirmed: the guard counts it as not syncd's)."""
    local, syncer = one_file_synced
    (local / "c").write_bytes(b"\x00")
    pair, _ = _killed_before_upload(syncer, emulator, local / "c", b"/", after_theirs=5)
    _sent_again_not_adopted(syncer.run(force_deletes=True), syncer, pair, local, emulator)


def _backed_up_beside_theirs(
    syncer: Syncer, emulator: EmulatorProcess, local: Path, pair: PairRow, theirs: int
) -> None:
    """Backup mode after the pass: their `c` (b"/") neither adopted nor moved, still live
    beside syncd's upload of the local `c`; no intent left, nothing more to do."""
    live = {
        f["id"]: (f["name"], f["md5"])
        for f in emulator.admin.tree()["files"]
        if f["folder_id"] == pair.root_folder_id and f["status"] == "active"
    }
    assert live.pop(theirs) == ("c", hashlib.md5(b"/").hexdigest())
    assert sorted(live.values()) == [
        ("c", md5_file(local / "c")),
        ("first.txt", md5_file(local / "first.txt")),
    ]
    assert syncer.journal.intents(pair.id) == []
    assert syncer.run().plan.ops == []


def _upload_of(emulator: EmulatorProcess, folder_id: int, name: str) -> int:
    """The id of the one active file ``name`` in folder ``folder_id``."""
    (found,) = [
        f["id"]
        for f in emulator.admin.tree()["files"]
        if f["folder_id"] == folder_id and f["name"] == name and f["status"] == "active"
    ]
    return int(found)


def test_interrupted_upload_replaced_on_the_web_site_by_other_bytes_is_not_adopted(
    one_file_synced: tuple[Path, Syncer], emulator: EmulatorProcess
) -> None:
    """Found by the model test (mirror, seed 20261218): a pass killed after the host stored
    an upload; then someone trashed that copy on the web site and added a file of their own
    with the same name and size. It is dated after the intent, so only its bytes tell it from
    what the crash left: adopting it recorded other content as synced for good. The candidate
    is downloaded and compared with the local file before it is adopted."""
    local, syncer = one_file_synced
    pair = interrupted_upload(syncer, local / "b.bin", os.urandom(2_000))
    assert pair.root_folder_id is not None
    ours = _upload_of(emulator, pair.root_folder_id, "b.bin")
    emulator.admin.drift("trash_file", file_id=ours)
    emulator.admin.drift(
        "add_file",
        folder_id=pair.root_folder_id,
        name="b.bin",
        content_b64=base64.b64encode(os.urandom(2_000)).decode(),
    )
    _sent_again_not_adopted(syncer.run(force_deletes=True), syncer, pair, local, emulator)


@pytest.mark.parametrize("after_theirs", [5, 0], ids=["dated-before", "within-the-slack"])
def test_backup_upload_interrupted_before_it_reached_the_host_leaves_someone_elses_file(
    one_file_backed_up: tuple[Path, Syncer], emulator: EmulatorProcess, after_theirs: float
) -> None:
    """The same in backup mode, where versions are kept: their `c` is neither adopted nor
    taken for the crash's leftover and moved into the versions area; it stays where it is.

    Found by the model test (backup, seed 20261219) for a file of theirs added a moment before
    the intent (``within-the-slack``): its date cannot tell it from what the crash left, since
    the host's clock may be that far behind; its bytes can, and they are not the local file's."""
    local, syncer = one_file_backed_up
    (local / "c").write_bytes(b"\x00")
    pair, theirs = _killed_before_upload(
        syncer, emulator, local / "c", b"/", after_theirs=after_theirs
    )
    result = syncer.run()
    assert result.exit_code == 0
    assert result.outcome.counts.get("adopted", 0) == 0, result.outcome.counts
    _backed_up_beside_theirs(syncer, emulator, local, pair, theirs)


def test_someone_elses_identical_file_dated_just_before_the_intent_is_adopted(
    one_file_synced: tuple[Path, Syncer], emulator: EmulatorProcess
) -> None:
    """The same with their `c` byte for byte the local `c`: nothing tells it from what the
    crash could have left, and nothing needs to. It is adopted, as `--adopt-existing` would,
    and nothing is sent twice."""
    local, syncer = one_file_synced
    (local / "c").write_bytes(b"/")
    pair, _ = _killed_before_upload(syncer, emulator, local / "c", b"/", after_theirs=0)
    emulator.admin.reset_counts()
    result = syncer.run()
    assert result.outcome.counts.get("adopted") == 1, result.outcome.counts
    assert emulator.admin.counts().get("file/upload", 0) == 0
    assert emulator.admin.active_paths() == expected_remote(local, "Backup/docs")
    assert syncer.journal.intents(pair.id) == []
    assert syncer.run().plan.ops == []


def _synced_beside_a_txt(
    local: Path, syncer: Syncer, a_txt: bytes, other: str, other_bytes: bytes
) -> tuple[PairRow, int]:
    """a.txt and one other file written into the pair's root and synced; returns the pair's
    row and a.txt's upload id."""
    (local / "a.txt").write_bytes(a_txt)
    (local / other).write_bytes(other_bytes)
    assert syncer.run().exit_code == 0
    pair = syncer.journal.pair("docs")
    assert pair is not None
    row = syncer.journal.get_file(pair.root_dir_id, "a.txt")
    assert row is not None and row.file_id is not None
    return pair, row.file_id


class _StopAfterMoves(Progress):
    """Stops a plan once its moves have run: the trash phase (retirements) never starts, as
    when a pass is killed right after its moves."""

    def __init__(self, cancel: threading.Event) -> None:
        self.cancel = cancel

    def op_done(self, op: Op, ok: bool) -> None:
        if isinstance(op, MoveFile):
            self.cancel.set()


def _renamed_over_and_killed(
    local: Path, syncer: Syncer, *, moved_copy_trashed: bool = False
) -> tuple[PairRow, int]:
    """`mv d.md a.txt` over a synced a.txt, and a pass killed right after its move (the plan
    stopped before its trash phase). ``moved_copy_trashed``: d.md's upload is trashed on the
    web site after the pass planned the move, so the move finds it gone and uploads a.txt
    instead. Returns the pair's row and a.txt's old upload's id."""
    pair, old = _synced_beside_a_txt(local, syncer, b"\x87\xd4C\xe5#\xfa:\xd8", "d.md", b"@\n")
    os.rename(local / "d.md", local / "a.txt")
    plan = syncer.run(dry_run=True).plan.ops
    (move,) = [op for op in plan if isinstance(op, MoveFile)]
    assert [op.file_id for op in plan if isinstance(op, TrashFile)] == [old]
    if moved_copy_trashed:
        syncer.client.file_delete(move.row.file_id)  # type: ignore[arg-type]
    cancel = threading.Event()
    executor = Executor(
        syncer.client,
        syncer.journal,
        pair.id,
        local,
        workers=1,
        progress=_StopAfterMoves(cancel),
        cancel=cancel,
    )
    executor.versioner = versioning.for_pass(
        syncer.client,
        syncer.journal,
        pair.id,
        pair.root_folder_id,
        syncer.config.pair("docs"),
        False,
    )
    outcome = executor.run(plan)
    assert outcome.cancelled and not outcome.failed
    return pair, old


@pytest.mark.parametrize("moved_copy_trashed", [False, True], ids=["moved", "uploaded instead"])
def test_backup_file_renamed_over_another_then_killed_before_its_retire_keeps_it(
    one_file_backed_up: tuple[Path, Syncer], emulator: EmulatorProcess, moved_copy_trashed: bool
) -> None:
    """Found by the model test (backup and mirror keeping versions, seed 20261221): `mv d.md
    a.txt` over a synced a.txt is one `file/edit` of d.md's upload, then (trashes and
    retirements run last) a.txt's old upload leaves the live tree. The move's journal record
    took the path from the old upload; a kill before its retirement left it untracked beside
    the moved file for good (backup: two live a.txt; mirror keeping versions: trashed as an
    extra). The move now announces the retirement in the same transaction. [uploaded instead]:
    d.md's copy was trashed on the web site meanwhile, so the move uploads a.txt; its record
    takes the path from the old upload just the same."""
    local, syncer = one_file_backed_up
    pair, old = _renamed_over_and_killed(local, syncer, moved_copy_trashed=moved_copy_trashed)
    assert syncer.run().exit_code == 0
    live = sorted(
        (f["name"], f["md5"])
        for f in emulator.admin.tree()["files"]
        if f["folder_id"] == pair.root_folder_id and f["status"] == "active"
    )
    assert live == [
        ("a.txt", md5_file(local / "a.txt")),
        ("first.txt", md5_file(local / "first.txt")),
    ]
    (version,) = [f for f in emulator.admin.tree()["files"] if f["id"] == old]
    assert version["status"] == "active" and parse_versioned_name(version["name"]) is not None
    assert syncer.journal.intents(pair.id) == []
    assert syncer.run().plan.ops == []


def test_backup_rename_chain_onto_a_name_whose_copy_was_trashed_leaves_no_intent(
    one_file_backed_up: tuple[Path, Syncer], emulator: EmulatorProcess
) -> None:
    """Found by the model test (backup, seed 20261271): `mv a.txt b.txt; mv c a.txt` after
    someone trashed a.txt's upload on the web site. a.txt's old upload is neither displaced nor
    retired by this plan (it moved, and is gone), yet the move of c onto a.txt announced its
    retirement, since the journal still held it at a.txt; no retirement took the intent over,
    and the pass ended with it left. Only an upload the plan retires is announced now."""
    local, syncer = one_file_backed_up
    pair, gone = _synced_beside_a_txt(local, syncer, b"\x99", "c", b"\x00h7M\x93")
    emulator.admin.drift("trash_file", file_id=gone)
    os.rename(local / "a.txt", local / "b.txt")
    os.rename(local / "c", local / "a.txt")
    result = syncer.run()
    assert result.exit_code == 0, result.outcome.failed
    assert syncer.journal.intents(pair.id) == []
    live = sorted(
        (f["name"], f["md5"])
        for f in emulator.admin.tree()["files"]
        if f["folder_id"] == pair.root_folder_id and f["status"] == "active"
    )
    assert live == sorted(
        (name, md5_file(local / name)) for name in ("a.txt", "b.txt", "first.txt")
    )
    assert syncer.run().plan.ops == []


def test_retirement_left_by_a_kill_then_the_pairs_folder_trashed_does_not_stall_the_pair(
    one_file_backed_up: tuple[Path, Syncer], emulator: EmulatorProcess
) -> None:
    """Found by the model test (backup, seed 20261222): a kill leaves a retire intent, then
    someone trashes the pair's folder on the web site. Every later pass failed at its start:
    the retirement's replay looked for the versions area under the trashed folder, before the
    walk finds the pair's folder again by its path. The old upload went to the trash with its
    folder; the pass goes on and uploads the tree into the new folder."""
    local, syncer = one_file_backed_up
    pair, _ = _renamed_over_and_killed(local, syncer)
    emulator.admin.drift("trash_folder", folder_id=pair.root_folder_id)
    assert syncer.run().exit_code == 0
    assert emulator.admin.active_paths() == expected_remote(local, "Backup/docs")
    assert syncer.journal.intents(pair.id) == []
    assert syncer.run().plan.ops == []


def test_partial_pass_over_dirty_paths_lists_only_their_directories(
    tmp_path: Path, emulator: EmulatorProcess
) -> None:
    local = tmp_path / "local"
    for d in ("a", "b", "c/deep"):
        (local / d).mkdir(parents=True)
        for i in range(3):
            (local / d / f"f{i}.txt").write_text(f"{d} {i}")
    syncer = Syncer(pair_config(tmp_path, emulator.api_url, local))
    try:
        syncer.run()
        (local / "a" / "f0.txt").write_text("changed in a")
        (local / "a" / "f1.txt").rename(local / "b" / "moved.txt")
        (local / "new").mkdir()
        (local / "new" / "n.txt").write_text("new")
        emulator.admin.reset_counts()
        result = syncer.run(dirty=["a/f0.txt", "a/f1.txt", "b/moved.txt", "new"])
        assert result.exit_code == 0, result.outcome.failed
        calls = emulator.admin.counts()
        # root (for the new directory), a and b: not c, not c/deep
        assert calls["folder/listing"] == 3
        assert mutating_calls(calls) == {
            "file/upload": 2,  # the changed file and new/n.txt
            "file/delete": 1,  # the changed file's old version
            "file/edit": 1,  # the move from a to b
            "folder/create": 1,
        }
        assert emulator.admin.active_paths() == expected_remote(local, "Backup/docs")
        assert syncer.run().plan.ops == []
    finally:
        syncer.close()


def test_partial_pass_sees_a_deleted_directory_from_its_parent(
    tmp_path: Path, emulator: EmulatorProcess
) -> None:
    local = tmp_path / "local"
    for d in ("keep", "gone/inner"):
        (local / d).mkdir(parents=True)
        for i in range(3):
            (local / d / f"f{i}.txt").write_text(f"{d} {i}")
    syncer = Syncer(pair_config(tmp_path, emulator.api_url, local))
    try:
        syncer.run()
        shutil.rmtree(local / "gone")
        emulator.admin.reset_counts()
        result = syncer.run(dirty=["gone"], max_delete=MaxDelete(percent=100))
        assert result.exit_code == 0
        assert mutating_calls(emulator.admin.counts()) == {"folder/delete": 1}
        assert emulator.admin.active_paths() == expected_remote(local, "Backup/docs")
    finally:
        syncer.close()


def test_symlinks_and_unreadable_entries_are_reported_not_synced(
    tmp_path: Path, emulator: EmulatorProcess
) -> None:
    local = tmp_path / "local"
    local.mkdir()
    (local / "real.txt").write_text("real")
    (local / "link.txt").symlink_to(local / "real.txt")
    syncer = Syncer(pair_config(tmp_path, emulator.api_url, local))
    try:
        result = syncer.run()
        assert result.exit_code == 0
        reasons = dict(result.outcome.skipped)
        assert "symlink" in reasons["link.txt"]
        assert emulator.admin.active_paths() == {
            "/Backup/docs/real.txt": md5_file(local / "real.txt")
        }
    finally:
        syncer.close()


def test_interrupted_upload_made_a_version_claims_no_time_before_the_upload_began(
    tmp_path: Path, emulator: EmulatorProcess
) -> None:
    """Found by the model test (backup): an interrupted upload that nothing adopts (its file
    renamed before the next pass) becomes a version. Dated by file/info alone, to the whole
    second, it claimed to be live from the start of that second, before its upload began, and
    `restore --at` a moment recorded earlier in that second gave it."""
    local = tmp_path / "local"
    local.mkdir()
    (local / "first.txt").write_text("first")
    syncer = Syncer(pair_config(tmp_path, emulator.api_url, local, mode="backup"))
    try:
        syncer.run()
        pair = interrupted_upload(syncer, local / "b.txt", b"interrupted")
        (intent,) = syncer.journal.intents(pair.id)
        (local / "b.txt").rename(local / "a.txt")
        assert syncer.run().exit_code == 0
        versions = [
            parsed
            for p in emulator.admin.active_paths()
            if p.startswith("/Backup/docs/.syncd-versions/")
            and (parsed := parse_versioned_name(p.rsplit("/", 1)[1])) is not None
        ]
        assert [v.original for v in versions] == ["b.txt"]
        began_ms = int(intent.created_at * 1e9) // 1_000_000 * 1_000_000  # names carry ms
        assert versions[0].live_from_ns >= began_ms, versions
    finally:
        syncer.close()


def test_a_replaced_version_ends_when_its_successor_went_live(
    tmp_path: Path, emulator: EmulatorProcess
) -> None:
    """A version's TO is when the path's next content took over, not when the old upload was
    moved into the area a moment later: otherwise both claim the path for that moment, and a
    `restore --at` then (say, at a version's FROM as `syncd versions` prints it) could only
    restore one of them as the name and the other beside it."""
    local = tmp_path / "local"
    local.mkdir()
    syncer = Syncer(pair_config(tmp_path, emulator.api_url, local, mode="backup"))
    try:
        for content in (b"one", b"two", b"three"):
            (local / "a.txt").write_bytes(content)
            assert syncer.run().exit_code == 0
        versions = sorted(
            (parsed.live_from_ns, parsed.live_to_ns)
            for p in emulator.admin.active_paths()
            if p.startswith("/Backup/docs/.syncd-versions/")
            and (parsed := parse_versioned_name(p.rsplit("/", 1)[1])) is not None
        )
        (_, first_to), (second_from, second_to) = versions
        assert first_to == second_from
        pair = syncer.journal.pair("docs")
        assert pair is not None
        live_row = syncer.journal.children(pair.root_dir_id)[0][0]
        assert live_row.file_id is not None
        live_from = syncer.journal.upload_time(pair.id, live_row.file_id)
        assert live_from is not None and second_to == live_from // 1_000_000 * 1_000_000
    finally:
        syncer.close()


def _swapped_nesting(tmp_path: Path, api_url: str) -> tuple[Path, Syncer, MoveFolder, MoveFolder]:
    """r/p synced, then `mv r/p p; mv r p/r`: (local root, syncer, the move of p to the root,
    the move of r into p), the moves as the planner makes them."""
    local = tmp_path / "local"
    (local / "r" / "p").mkdir(parents=True)
    (local / "r" / "d.md").write_bytes(b"d")
    syncer = Syncer(pair_config(tmp_path, api_url, local))
    assert syncer.run().exit_code == 0
    os.rename(local / "r" / "p", local / "p")
    os.rename(local / "r", local / "p" / "r")
    plan = syncer.run(dry_run=True).plan
    p_out, r_in = (op for op in plan.ops if isinstance(op, MoveFolder))
    assert (p_out.rel, r_in.rel) == ("p", "p/r")
    return local, syncer, p_out, r_in


def test_a_folder_moved_into_one_that_leaves_it_waits_for_that_move(
    tmp_path: Path, emulator: EmulatorProcess
) -> None:
    """Found by the model test (mirror keeping versions, after a crash): `mv r/p p; mv r p/r`.
    The host ignores a folder move into the folder's own subtree (and answers success), so r
    may go into p only once p has left r. Both moves were handed to the workers at once; after
    a crash the token renewals reordered them, the move of r was ignored, and the journal
    recorded a tree the host did not have. Run here on one worker, r's move handed out first."""
    local, syncer, p_out, r_in = _swapped_nesting(tmp_path, emulator.api_url)
    try:
        pair = syncer.journal.pair("docs")
        assert pair is not None
        executor = Executor(syncer.client, syncer.journal, pair.id, local, workers=1)
        outcome = executor.run([r_in, p_out])
        assert not outcome.failed, outcome.failed
        assert emulator.admin.active_paths() == {
            "/Backup/docs/p/r/d.md": md5_file(local / "p" / "r" / "d.md")
        }
        assert syncer.run().outcome.counts == {}
    finally:
        syncer.close()


def test_a_folder_move_the_host_ignores_fails_and_is_not_recorded(
    tmp_path: Path, emulator: EmulatorProcess
) -> None:
    """The same move of r into p while p is still inside r, alone: the host answers success
    and leaves r where it was. The op fails (the next pass plans again from the listings)
    instead of recording r under p."""
    local, syncer, _, r_in = _swapped_nesting(tmp_path, emulator.api_url)
    try:
        pair = syncer.journal.pair("docs")
        assert pair is not None
        outcome = Executor(syncer.client, syncer.journal, pair.id, local).run([r_in])
        assert [rel for rel, _ in outcome.failed] == ["p/r"], outcome.failed
        r_row = syncer.journal.dir_by_folder_id(pair.id, r_in.folder_id)
        assert r_row is not None and r_row.parent_id == pair.root_dir_id  # still where it is
        assert syncer.run().exit_code == 0
        assert emulator.admin.active_paths() == {
            "/Backup/docs/p/r/d.md": md5_file(local / "p" / "r" / "d.md")
        }
    finally:
        syncer.close()
