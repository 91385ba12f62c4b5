"""Safety beyond the guards, end to end against the real emulator: an unmounted disk, a root
replaced by another, clock jumps, and a pair whose remote folder was trashed or moved on the web
site. Guard refusals go through the `syncd reconcile` subprocess (exit 3, one line); the rest
runs passes in-process (fast), each ending with the invariant of tests/reliability/invariants.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.config import MaxDelete
from syncd.emulator.testing import EmulatorProcess
from syncd.errors import GuardRefused
from tests.reliability.invariants import assert_invariant
from tests.support.cli import run_syncd
from tests.support.mounts import tiny_tmpfs
from tests.support.reconcile import Syncer, mutating_calls, pair_config
from tests.support.trees import write_tree

REMOTE = "Backup/docs"
NS = 1_000_000_000
YEAR_2100 = 4_102_444_800 * NS  # 2100-01-01T00:00:00Z
YEAR_2300 = 10_413_792_000 * NS  # 2300-01-01: beyond int64 nanoseconds (2262), SQLite's INTEGER


def make_tree(root: Path, dirs: int = 3, files: int = 3) -> None:
    """``dirs`` folders of ``files`` files and an inner folder of as many; one top file."""
    tree = {"top.txt": "top\n"}
    for d in range(dirs):
        for i in range(files):
            tree[f"d{d}/f{i}.txt"] = f"dir {d} file {i}\n"
            tree[f"d{d}/inner/g{i}.txt"] = f"inner {d}/{i}\n"
    write_tree(root, tree)


def trashed_ids(emulator: EmulatorProcess) -> set[int]:
    return {f["id"] for f in emulator.admin.tree()["files"] if f["status"] != "active"}


def folder_count(local: Path) -> int:
    return 1 + sum(len(dirnames) for _, dirnames, _ in os.walk(local))


def assert_refused(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln and not ln.startswith("{")]
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("syncd: error: "), line
    assert "nothing was changed" in line or "held, listed by `syncd status`" in line, line
    for word in words:
        assert word in line, line
    return line


def assert_noop(syncer: Syncer, emulator: EmulatorProcess, local: Path) -> None:
    """A second pass changes nothing and costs one listing per folder (and no folder/info)."""
    emulator.admin.reset_counts()
    result = syncer.run()
    assert result.exit_code == 0, result.outcome.failed
    counts = emulator.admin.counts()
    assert mutating_calls(counts) == {}, counts
    assert counts.get("folder/info", 0) == 0, counts
    assert counts.get("folder/listing", 0) == folder_count(local), counts


@pytest.fixture
def pair(tmp_path: Path, emulator: EmulatorProcess) -> Iterator[tuple[Path, Syncer]]:
    local = tmp_path / "local"
    local.mkdir()
    make_tree(local)
    syncer = Syncer(pair_config(tmp_path, emulator.api_url, local, remote=REMOTE))
    try:
        first = syncer.run()
        assert first.exit_code == 0, first.outcome.failed
        yield local, syncer
    finally:
        syncer.close()


def invariant(emulator: EmulatorProcess, local: Path, syncer: Syncer, context: str) -> None:
    state = Path(syncer.config.state.path)
    assert_invariant(emulator.admin, local, REMOTE, state_db=state, context=context)


# ---- 1. a local directory on an unmounted disk -----------------------------------------------
# Refusals go through the CLI once per case (exit 3, one line); the other passes run in-process.


@contextlib.contextmanager
def bind_mount(source: Path, target: Path) -> Iterator[None]:
    subprocess.run(["mount", "--bind", str(source), str(target)], check=True)
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


def assert_nothing_changed(emulator: EmulatorProcess, trashed_before: set[int]) -> None:
    assert mutating_calls(emulator.admin.counts()) == {}
    assert trashed_ids(emulator) == trashed_before


@pytest.mark.parametrize("layout", ["root_is_mountpoint", "root_below_mountpoint"])
def test_unmounted_disk_is_refused_and_remounting_resumes(
    tmp_path: Path, emulator: EmulatorProcess, layout: str
) -> None:
    """The disk (a tmpfs, bind-mounted so it can be "unplugged" and "plugged in" again without
    losing its files) holds the pair's root. Unmounted, the root is the empty directory
    underneath (another device) or missing altogether: refused, nothing trashed."""
    with tiny_tmpfs("4m") as disk:
        mountpoint = tmp_path / "mnt"
        mountpoint.mkdir()
        local = mountpoint if layout == "root_is_mountpoint" else mountpoint / "data"
        stored = disk if layout == "root_is_mountpoint" else disk / "data"
        stored.mkdir(exist_ok=True)
        make_tree(stored, dirs=2, files=2)
        config = pair_config(tmp_path, emulator.api_url, local, remote=REMOTE)
        syncer = Syncer(config)
        try:
            with bind_mount(disk, mountpoint):
                assert syncer.run().exit_code == 0
            # Unplugged: `local` is now the empty directory underneath, or gone.
            assert not any(mountpoint.iterdir())
            emulator.admin.reset_counts()
            before = trashed_ids(emulator)
            result = run_syncd("reconcile", config=config)
            if layout == "root_is_mountpoint":
                line = assert_refused(result, "another filesystem")
                assert "--accept-new-root" in line
            else:
                assert_refused(result, "missing")
            # The dry run is not refused, but says what a guard would refuse (exit 3: a cron
            # job's --dry-run must not look fine).
            dry = syncer.run(dry_run=True)
            assert dry.exit_code == 3 and dry.refused is not None
            with pytest.raises(GuardRefused):
                syncer.run(max_delete=MaxDelete(percent=100.0))
            assert_nothing_changed(emulator, before)
            # Plugged in again: nothing to do.
            with bind_mount(disk, mountpoint):
                assert_noop(syncer, emulator, local)
                invariant(emulator, local, syncer, "after the disk came back")
        finally:
            syncer.close()


def test_unmounted_root_with_leftovers_underneath_is_refused(
    tmp_path: Path, emulator: EmulatorProcess
) -> None:
    """Underneath the mount point lie a few stale files (written while it was unmounted once):
    not empty, so only the device check stands between them and a mass deletion."""
    with tiny_tmpfs("4m") as disk:
        local = tmp_path / "mnt"
        local.mkdir()
        (local / "stale.txt").write_text("written while unmounted\n")
        make_tree(disk, dirs=2, files=2)
        syncer = Syncer(pair_config(tmp_path, emulator.api_url, local, remote=REMOTE))
        try:
            with bind_mount(disk, local):
                assert syncer.run().exit_code == 0
            emulator.admin.reset_counts()
            with pytest.raises(GuardRefused, match="another filesystem"):
                syncer.run()
            with pytest.raises(GuardRefused, match="another filesystem"):
                syncer.run(force_deletes=True)  # deletions allowed, the device still differs
            assert_nothing_changed(emulator, set())
        finally:
            syncer.close()


# ---- 2. a root replaced by an empty one, or by another tree ----------------------------------


def test_root_replaced_by_an_empty_one_is_refused_until_forced(
    pair: tuple[Path, Syncer], emulator: EmulatorProcess
) -> None:
    local, syncer = pair
    tracked = len(emulator.admin.active_paths())
    shutil.rmtree(local)
    local.mkdir()
    emulator.admin.reset_counts()
    config = Path(syncer.config.state.path).parent / "config.toml"
    line = assert_refused(run_syncd("reconcile", config=config), "empty", f"{tracked} files")
    assert "--force-deletes" in line
    dry = syncer.run(dry_run=True)  # never refused: it says what a guard would hold
    assert dry.refused is not None and "empty" in dry.refused and dry.exit_code == 3
    # A bigger max_delete is not enough: the emptied root is its own guard.
    with pytest.raises(GuardRefused, match="empty"):
        syncer.run(max_delete=MaxDelete(percent=100.0))
    assert_nothing_changed(emulator, set())
    # The override does what it says: the remote copy is emptied (into the host's trash).
    forced = syncer.run(force_deletes=True)
    assert forced.exit_code == 0, forced.outcome.failed
    assert emulator.admin.active_paths() == {}
    assert len(trashed_ids(emulator)) == tracked
    invariant(emulator, local, syncer, "after --force-deletes")
    assert_noop(syncer, emulator, local)


def test_root_replaced_by_another_tree_is_refused_until_forced(
    pair: tuple[Path, Syncer], emulator: EmulatorProcess
) -> None:
    local, syncer = pair
    tracked = len(emulator.admin.active_paths())
    shutil.rmtree(local)
    local.mkdir()
    (local / "other").mkdir()
    for i in range(3):
        (local / "other" / f"new{i}.txt").write_text(f"another tree {i}\n")
    emulator.admin.reset_counts()
    config = Path(syncer.config.state.path).parent / "config.toml"
    # (ext4 may hand the new directory an old one's inode: then it plans a move, and counts a
    # folder's files moved out with it; the count can exceed what is tracked.)
    assert_refused(run_syncd("reconcile", config=config), f"of the {tracked} synced", "max_delete")
    dry = syncer.run(dry_run=True)
    assert dry.refused is not None and "max_delete" in dry.refused and dry.exit_code == 3
    # Only the deletions are held: the new tree is uploaded meanwhile.
    calls = mutating_calls(emulator.admin.counts())
    assert "file/delete" not in calls and "folder/delete" not in calls, calls
    assert calls.get("file/upload") == 3, calls
    assert trashed_ids(emulator) == set()
    forced = syncer.run(force_deletes=True)
    assert forced.exit_code == 0, forced.outcome.failed
    assert len(trashed_ids(emulator)) == tracked
    invariant(emulator, local, syncer, "after --force-deletes")
    assert_noop(syncer, emulator, local)


def test_root_on_a_new_disk_with_the_same_files_needs_accept_new_root(
    tmp_path: Path, emulator: EmulatorProcess
) -> None:
    """The documented way to move a pair to another disk: copy the tree over, mount it at the
    old place, run once with --accept-new-root. Nothing is uploaded again or trashed."""
    with tiny_tmpfs("4m") as disk:
        local = tmp_path / "local"
        local.mkdir()
        make_tree(local, dirs=2, files=2)
        syncer = Syncer(pair_config(tmp_path, emulator.api_url, local, remote=REMOTE))
        try:
            assert syncer.run().exit_code == 0
            subprocess.run(["cp", "-a", f"{local}/.", str(disk)], check=True)
            with bind_mount(disk, local):
                emulator.admin.reset_counts()
                with pytest.raises(GuardRefused, match="another filesystem"):
                    syncer.run()
                accepted = syncer.run(accept_new_root=True)
                assert accepted.exit_code == 0, accepted.outcome.failed
                assert mutating_calls(emulator.admin.counts()) == {}
                assert_noop(syncer, emulator, local)  # the new device is recorded
                invariant(emulator, local, syncer, "on the new disk")
        finally:
            syncer.close()


# ---- 3. clock jumps ---------------------------------------------------------------------------


def set_mtime(path: Path, mtime_ns: int) -> int:
    """Set the mtime; returns what the filesystem kept (it may round), or -1 if refused."""
    try:
        os.utime(path, ns=(mtime_ns, mtime_ns))
    except (OSError, OverflowError):
        return -1
    return path.stat().st_mtime_ns


def test_odd_timestamps_sync_once_and_never_again(
    pair: tuple[Path, Syncer], emulator: EmulatorProcess
) -> None:
    local, syncer = pair
    odd = {
        "future.txt": YEAR_2100,
        "far-future.txt": YEAR_2300,
        "epoch.txt": 0,
        "before-epoch.txt": -86_400 * 365 * NS - 1,
        "nanoseconds.txt": 1_700_000_000 * NS + 123_456_789,
    }
    kept: dict[str, int] = {}
    for name, mtime in odd.items():
        path = local / "clock" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"{name} at {mtime}\n")
        kept[name] = set_mtime(path, mtime)
    assert kept["future.txt"] == YEAR_2100
    result = syncer.run()
    assert result.exit_code == 0, result.outcome.failed
    invariant(emulator, local, syncer, "after odd mtimes")
    assert_noop(syncer, emulator, local)


@pytest.mark.parametrize("same_size", [True, False], ids=["same_size", "other_size"])
def test_edit_with_an_earlier_mtime_is_uploaded(
    pair: tuple[Path, Syncer], emulator: EmulatorProcess, same_size: bool
) -> None:
    """The clock was set back: the edit's mtime is earlier than the recorded one."""
    local, syncer = pair
    path = local / "d1" / "f1.txt"
    recorded = path.stat().st_mtime_ns
    old = path.read_text()
    new = old.upper() if same_size else old + "more\n"
    assert new != old and (len(new) == len(old)) == same_size
    path.write_text(new)
    assert set_mtime(path, recorded - 3600 * NS) == recorded - 3600 * NS
    emulator.admin.reset_counts()
    result = syncer.run()
    assert result.exit_code == 0, result.outcome.failed
    assert emulator.admin.counts().get("file/upload") == 1
    invariant(emulator, local, syncer, "after an edit back in time")
    assert_noop(syncer, emulator, local)


def test_jumps_of_the_clock_alone_upload_nothing_wrong(
    pair: tuple[Path, Syncer], emulator: EmulatorProcess
) -> None:
    """Only the mtime moves (touch to 2100, then back to 1970): the content is the same, so
    nothing may be lost or duplicated; whatever the engine re-sends, the remote stays right."""
    local, syncer = pair
    path = local / "top.txt"
    for mtime in (YEAR_2100, 0, YEAR_2100 + 1):
        set_mtime(path, mtime)
        result = syncer.run()
        assert result.exit_code == 0, result.outcome.failed
        invariant(emulator, local, syncer, f"after mtime {mtime}")
    assert_noop(syncer, emulator, local)


# ---- 4. the pair's remote folder trashed or moved on the web site ----------------------------


def root_folder_id(syncer: Syncer) -> int:
    row = syncer.journal.pair("docs")
    assert row is not None and row.root_folder_id is not None
    return row.root_folder_id


def folder_id_of(emulator: EmulatorProcess, parent_id: int | None, name: str) -> int:
    tree = emulator.admin.tree()["folders"]
    found = [f["id"] for f in tree if f["parent_id"] == parent_id and f["name"] == name]
    assert len(found) == 1, (parent_id, name, found)
    return found[0]


def journal_identity(syncer: Syncer) -> tuple[int, int]:
    """The pair row and how many runs it has: a wiped state db would reset both."""
    row = syncer.journal.pair("docs")
    assert row is not None
    runs = syncer.journal._read("SELECT COUNT(*) FROM runs WHERE pair_id = :p", p=row.id)
    return row.id, int(runs[0][0])


def test_trashed_remote_root_is_recreated_and_refilled(
    pair: tuple[Path, Syncer], emulator: EmulatorProcess
) -> None:
    local, syncer = pair
    pair_id, runs = journal_identity(syncer)
    old_root = root_folder_id(syncer)
    emulator.admin.drift("trash_folder", folder_id=old_root)
    # Meanwhile the user deletes one file and edits another locally.
    (local / "d0" / "f0.txt").unlink()
    (local / "d2" / "inner" / "g2.txt").write_text("edited while the remote was in the trash\n")
    trashed_by_the_site = trashed_ids(emulator)
    emulator.admin.reset_counts()
    result = syncer.run()
    assert result.exit_code == 0, result.outcome.failed
    counts = emulator.admin.counts()
    assert counts.get("folder/delete", 0) == 0, counts
    # (The edited file's old version is trashed again: one file/delete of a trashed id.)
    assert counts.get("file/delete", 0) <= 1, counts
    assert trashed_ids(emulator) == trashed_by_the_site
    assert root_folder_id(syncer) != old_root
    assert journal_identity(syncer) == (pair_id, runs + 1)
    invariant(emulator, local, syncer, "after the remote root was trashed")
    assert_noop(syncer, emulator, local)


def test_trashed_remote_root_and_its_parent_are_recreated(
    pair: tuple[Path, Syncer], emulator: EmulatorProcess
) -> None:
    local, syncer = pair
    backup = folder_id_of(emulator, None, "Backup")
    emulator.admin.drift("trash_folder", folder_id=backup)
    result = syncer.run()
    assert result.exit_code == 0, result.outcome.failed
    invariant(emulator, local, syncer, "after Backup/ was trashed")
    assert_noop(syncer, emulator, local)


def test_trashed_remote_root_in_a_dry_run_reports_and_changes_nothing(
    pair: tuple[Path, Syncer], emulator: EmulatorProcess
) -> None:
    local, syncer = pair
    old_root = root_folder_id(syncer)
    emulator.admin.drift("trash_folder", folder_id=old_root)
    emulator.admin.reset_counts()
    before = emulator.admin.tree()
    result = syncer.run(dry_run=True)
    assert result.exit_code == 0
    planned = result.plan.counts()
    assert planned.get("upload", 0) == len(list(local.rglob("*.txt"))), planned
    assert not any(key.startswith("trash") for key in planned), planned
    assert mutating_calls(emulator.admin.counts()) == {}
    assert emulator.admin.tree() == before
    assert root_folder_id(syncer) == old_root  # the journal is untouched too
    # The CLI's dry run says the same and exits 0.
    dry = run_syncd(
        "reconcile", "--dry-run", config=syncer.config.state.path.parent / "config.toml"
    )
    assert dry.returncode == 0, dry.stderr
    assert "deleted remotely" in dry.stdout and "trash" not in dry.stdout, dry.stdout
    assert emulator.admin.tree() == before
    # Then the real pass heals it.
    result = syncer.run()
    assert result.exit_code == 0, result.outcome.failed
    invariant(emulator, local, syncer, "after the dry run and the real pass")


@pytest.mark.parametrize("partial", [False, True], ids=["full_pass", "dirty_pass"])
def test_trashed_remote_subfolder_is_recreated(
    pair: tuple[Path, Syncer], emulator: EmulatorProcess, partial: bool
) -> None:
    local, syncer = pair
    d1 = folder_id_of(emulator, root_folder_id(syncer), "d1")
    emulator.admin.drift("trash_folder", folder_id=d1)
    trashed_by_the_site = trashed_ids(emulator)
    (local / "d1" / "inner" / "new.txt").write_text("new in a folder trashed remotely\n")
    emulator.admin.reset_counts()
    before = emulator.admin.tree()
    dry = syncer.run(dry_run=True)
    assert dry.exit_code == 0 and dry.plan.counts().get("create_folder") == 2, dry.plan.counts()
    assert mutating_calls(emulator.admin.counts()) == {}
    assert emulator.admin.tree() == before
    result = syncer.run(dirty=["d1/inner/new.txt"]) if partial else syncer.run()
    assert result.exit_code == 0, result.outcome.failed
    assert trashed_ids(emulator) == trashed_by_the_site
    invariant(emulator, local, syncer, "after d1 was trashed")
    assert_noop(syncer, emulator, local)


def test_trashed_remote_root_seen_by_a_dirty_pass(
    pair: tuple[Path, Syncer], emulator: EmulatorProcess
) -> None:
    """The daemon's partial passes go through the same root handling."""
    local, syncer = pair
    emulator.admin.drift("trash_folder", folder_id=root_folder_id(syncer))
    trashed_by_the_site = trashed_ids(emulator)
    (local / "d2" / "inner" / "g0.txt").write_text("edited after the trash\n")
    result = syncer.run(dirty=["d2/inner/g0.txt"])
    assert result.exit_code == 0, result.outcome.failed
    assert trashed_ids(emulator) == trashed_by_the_site
    invariant(emulator, local, syncer, "after a dirty pass on a trashed root")
    assert_noop(syncer, emulator, local)


def test_remote_root_moved_on_the_web_site_is_followed_by_id(
    pair: tuple[Path, Syncer], emulator: EmulatorProcess
) -> None:
    """Someone moved the pair's folder elsewhere (here: to the account root, renamed). A pass
    cannot see that without an extra request per pass; it keeps syncing into the folder by id
    wherever it now is: nothing uploaded twice, nothing trashed, no second copy at the old
    path (docs/contracts.md, "Pair root guard order")."""
    local, syncer = pair
    root = root_folder_id(syncer)
    emulator.admin.drift("move_folder", folder_id=root, parent_id=0)
    emulator.admin.drift("rename_folder", folder_id=root, name="moved-docs")
    (local / "added.txt").write_text("added after the move\n")
    emulator.admin.reset_counts()
    result = syncer.run()
    assert result.exit_code == 0, result.outcome.failed
    counts = emulator.admin.counts()
    assert mutating_calls(counts) == {"file/upload": 1}, counts
    assert root_folder_id(syncer) == root
    # The invariant holds with the folder where it now is; nothing is left at the old path.
    state = Path(syncer.config.state.path)
    assert_invariant(emulator.admin, local, "moved-docs", state_db=state, context="moved")
    assert not any(p.startswith("/Backup/") for p in emulator.admin.active_paths())
    assert_noop(syncer, emulator, local)
    # Pointing the config at the new path re-resolves the root to the same folder: no-op.
    config = state.parent / "config.toml"
    pair_config(state.parent, emulator.api_url, local, remote="moved-docs")
    repointed = Syncer(config)
    try:
        emulator.admin.reset_counts()
        assert repointed.run().exit_code == 0  # one more listing: the path is looked up
        assert mutating_calls(emulator.admin.counts()) == {}
        assert_noop(repointed, emulator, local)
        assert root_folder_id(repointed) == root
    finally:
        repointed.close()
