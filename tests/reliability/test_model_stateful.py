"""Model-based test: hypothesis interleaves local changes, remote drift (someone on the web site),
sync passes and crashes (a `syncd reconcile` subprocess SIGKILLed at a drawn moment), and checks
the invariant after every completed pass.

Mirror mode (the main model): after each pass (full, or the daemon's incremental pass on the
paths the model changed, when no drift or crash came since the last full pass) the whole
invariant of tests/reliability/invariants.py holds — remote == local (names and MD5), no
duplicate names, no orphan uploads, the journal consistent with both sides, no intents left.
Backup mode (versions kept, its default): the live tree is the local tree (each local file once
at its path with its MD5; files someone else added are left alone and not counted, as is an
upload or folder a killed run made without recording it that someone renamed or moved since),
syncd trashed nothing. With versions kept (backup, and mirror with `versions = "keep"`) also the
history: every upload seen live (after a pass, or in the journal a killed run left) is live, in
the versions area or trashed by someone else; and at the end `restore --at` the first moment
recorded after a completed pass gives that moment's tree (by path while no rename or move came
since, else by contents: renames are made by id and are not versions). In all modes a pass or
a killed run never changes the local tree.

Each example ends with one more pass and its check (teardown), so a crash at the end is
recovered from too. Quick set in CI: `--model-examples 20` (the default: mirror gets two
thirds, backup and mirror keeping versions a third each);
the long variant: `python3 -m pytest tests/reliability/test_model_stateful.py -n 2 --timeout 0
--model-examples 300` prints what it ran (examples, steps, passes checked, kills, seconds; also
appended to the file named by SYNCD_MODEL_REPORT, since xdist hides -s output). A run stopped
with Ctrl-C (SIGINT) or by a failure still writes its figures so far there.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test

from syncd.emulator.testing import EmulatorProcess

from .invariants import Ledger, history_problems, invariant_problems, local_tree
from .model_support import (
    DIR_NAMES,
    FILE_NAMES,
    MAX_DEPTH,
    MAX_FILES,
    PAIR,
    Example,
    Stats,
    World,
    backup_problems,
    content_b64,
    in_their_folders,
    join,
    local_dirs,
    local_files,
    trash_requests,
)

STEPS = 12
MAX_CRASHES = 2  # per example: each is a subprocess (the costly step)
contents = st.binary(min_size=1, max_size=8)  # never empty: the host refuses zero bytes
any_name = st.sampled_from(FILE_NAMES + DIR_NAMES)

LOCAL_KINDS = ("create", "edit", "rename", "move", "delete", "mkdir", "move_dir", "rmdir")
FILE_DRIFTS = ("trash_file", "rename_file", "move_file", "add_file")
FOLDER_DRIFTS = ("trash_folder", "rename_folder", "move_folder", "add_folder", "trash_root")


class MirrorModel(RuleBasedStateMachine):
    world: ClassVar[World]
    mode: ClassVar[str] = "mirror"
    versions: ClassVar[str | None] = None  # the pair's `versions` (TOML), None: the default

    def __init__(self) -> None:
        super().__init__()
        with self.world.stats.timed("setup"):
            self.ex = Example(self.world, self.mode, self.versions)
        self.ledger = Ledger()  # what was live, what someone else added or trashed
        # (moment, {path: MD5}) right after completed passes, for `restore --at`; forgotten
        # when someone else adds or trashes something (that is not syncd's history to keep).
        self.moments: list[tuple[int, dict[str, str]]] = []
        # Renames and moves are made by id and are not versions: a file renamed after a
        # moment comes back under its later name, so from then on contents are compared.
        self.renamed_after = len(self.moments)
        self.crashes = 0
        self.pending = False  # changes on either side since the last completed pass
        self.dirty: set[str] = set()  # local paths changed since the last completed pass
        self.full_needed = False  # drift or a crash since the last full pass
        self.started = False  # a pass or a crash run has been tried
        self.deletes_before = trash_requests(self.world.admin.counts())
        self.world.stats.examples += 1

    @property
    def root(self) -> Path:
        return self.ex.root

    # -- local changes (the user) ------------------------------------------------------------

    @rule(data=st.data(), count=st.integers(1, 3))
    def local_changes(self, data: st.DataObject, count: int) -> None:
        with self.world.stats.timed("local"):
            for _ in range(count):
                kind = data.draw(st.sampled_from(LOCAL_KINDS), label="local")
                self._local(kind, data)
        self.pending = True
        self.world.stats.steps += 1

    def _local(self, kind: str, data: st.DataObject) -> None:
        files, dirs = local_files(self.root), local_dirs(self.root)
        if kind in ("edit", "rename", "move", "delete") and not files:
            kind = "create"
        if kind in ("move_dir", "rmdir") and len(dirs) == 1:
            kind = "mkdir"
        if kind == "create" and len(files) >= MAX_FILES:
            kind = "edit"
        path = self.root
        if kind == "create":
            parent = data.draw(st.sampled_from(dirs), label="in")
            target = path / join(parent, data.draw(st.sampled_from(FILE_NAMES), label="name"))
            if target.is_dir():
                return
            target.write_bytes(data.draw(contents, label="bytes"))
            touched = [target]
        elif kind == "edit":
            target = path / data.draw(st.sampled_from(files), label="file")
            touched = [target]
            body = data.draw(contents, label="bytes")
            if data.draw(st.booleans(), label="atomic save"):
                temp = self.ex.workdir / "save.tmp"  # outside the root, same filesystem
                temp.write_bytes(body)
                os.replace(temp, target)
            else:
                target.write_bytes(body)
        elif kind in ("rename", "move"):
            source = data.draw(st.sampled_from(files), label="file")
            parent = (
                source.rpartition("/")[0]
                if kind == "rename"
                else data.draw(st.sampled_from(dirs), label="to")
            )
            target = path / join(parent, data.draw(st.sampled_from(FILE_NAMES), label="name"))
            if target.is_dir():
                return
            os.replace(path / source, target)  # over an existing file: it is replaced
            touched = [path / source, target]
        elif kind == "delete":
            target = path / data.draw(st.sampled_from(files), label="file")
            target.unlink()
            touched = [target]
        elif kind == "mkdir":
            parent = data.draw(st.sampled_from(dirs), label="in")
            target = path / join(parent, data.draw(st.sampled_from(DIR_NAMES), label="name"))
            if target.exists() or parent.count("/") + 1 >= MAX_DEPTH:
                return
            target.mkdir()
            touched = [target]
        elif kind == "move_dir":
            source = data.draw(st.sampled_from(dirs[1:]), label="dir")
            targets = [d for d in dirs if d != source and not d.startswith(source + "/")]
            parent = data.draw(st.sampled_from(targets), label="to")
            target = path / join(parent, data.draw(st.sampled_from(DIR_NAMES), label="name"))
            if target.exists() or parent.count("/") + 1 >= MAX_DEPTH:
                return
            os.rename(path / source, target)
            touched = [path / source, target]
        else:
            target = path / data.draw(st.sampled_from(dirs[1:]), label="dir")
            shutil.rmtree(target)
            touched = [target]
        if kind in ("rename", "move", "move_dir"):
            self.renamed_after = len(self.moments)
        # What the watcher would hand the daemon (a move dirties its source and destination).
        self.dirty.update(t.relative_to(self.root).as_posix() for t in touched)
        self.world.stats.local_ops += 1
        self.ex.trace.append(
            f"local {kind} "
            + ", ".join(
                f"{t.relative_to(self.root)}={t.read_bytes()!r}"
                if t.is_file()
                else str(t.relative_to(self.root))
                for t in touched
            )
        )

    # -- remote drift (someone on the web site) -----------------------------------------------

    # What a crash leaves on the host depends on timing, so drift draws the same values
    # whatever the remote tree holds (hypothesis replays and shrinks by those draws).
    @precondition(lambda self: self.started)
    @rule(
        kind=st.sampled_from(FILE_DRIFTS + FOLDER_DRIFTS),
        pick=st.integers(0, 31),
        to=st.integers(0, 31),
        name=any_name,
        body=contents,
    )
    def remote_drift(self, kind: str, pick: int, to: int, name: str, body: bytes) -> None:
        with self.world.stats.timed("drift"):
            done = self._drift(kind, pick, to, name, body)
        if done:
            self.world.stats.drift_kinds[done] += 1
        self.pending = self.full_needed = True
        self.world.stats.steps += 1

    def _drift(self, kind: str, pick: int, to: int, name: str, body: bytes) -> str | None:
        tree = self.ex.remote()
        if tree.root_id is None:
            return None
        files = sorted(tree.files)
        folders = ["", *sorted(tree.folders)]
        folder_id = {"": tree.root_id, **tree.folders}
        if kind in FILE_DRIFTS and kind != "add_file" and not files:
            kind = "add_file"
        if kind.startswith("trash") or (self.mode == "backup" and kind.startswith("add")):
            # What is in the trash is no longer the pair's to restore; a file someone else
            # adds in backup mode stays live, and the host dates it only to the second.
            self.moments.clear()
            self.renamed_after = 0
        elif kind.startswith(("rename", "move")):  # put back by id: names change for a while
            self.renamed_after = len(self.moments)
        if kind == "trash_root":  # the pair's own folder: recreated, everything uploaded again
            self.ledger.trashed_by_someone(self.world.admin, folder_id=tree.root_id)
            self.ex.drift("trash_folder", folder_id=tree.root_id)
            return kind
        if kind in FOLDER_DRIFTS and kind != "add_folder" and len(folders) == 1:
            kind = "add_folder"
        if kind in ("trash_file", "rename_file", "move_file"):
            file_id = tree.files[files[pick % len(files)]]["id"]
            if kind != "trash_file":
                self._taken_over(file_id=file_id)
            if kind == "trash_file":
                self.ledger.trashed_by_someone(self.world.admin, file_id=file_id)
                self.ex.drift(kind, file_id=file_id)
            elif kind == "rename_file":
                self.ex.drift(kind, file_id=file_id, name=name)
            else:
                self.ex.drift(
                    kind, file_id=file_id, folder_id=folder_id[folders[to % len(folders)]]
                )
        elif kind == "add_file":
            parent = folder_id[folders[to % len(folders)]]
            self._taken_over(folder_id=parent)
            added = self.ex.drift(kind, folder_id=parent, name=name, content_b64=content_b64(body))
            self.ledger.foreign.add(int(added["id"]))
        elif kind == "add_folder":
            parent = folder_id[folders[to % len(folders)]]
            added = self.ex.drift(kind, parent_id=parent, name=name)
            self.ledger.foreign_folders.add(int(added["id"]))
        else:
            rel = folders[1 + pick % (len(folders) - 1)]
            if kind != "trash_folder":
                self._taken_over(folder_id=folder_id[rel])
            if kind == "trash_folder":
                self.ledger.trashed_by_someone(self.world.admin, folder_id=folder_id[rel])
                self.ex.drift(kind, folder_id=folder_id[rel])
            elif kind == "rename_folder":
                self.ex.drift(kind, folder_id=folder_id[rel], name=name)
            else:
                targets = [f for f in folders if f != rel and not f.startswith(rel + "/")]
                parent = folder_id[targets[to % len(targets)]]
                self.ex.drift(kind, folder_id=folder_id[rel], parent_id=parent)
        return kind

    def _taken_over(self, *, file_id: int | None = None, folder_id: int | None = None) -> None:
        """An upload or folder syncd made in a killed run before it recorded the answer is
        found again by its name and place; once someone renames or moves it, nothing on the
        host ties it to syncd (listings carry no dates or hashes): in backup mode it is theirs
        from then on, and stays. So is such a folder once someone puts a file in it: the next
        pass removes the folders a crash left only while they are empty, and backup mode
        leaves someone else's file where they put it."""
        if self.mode != "backup":
            return
        with sqlite3.connect(self.ex.state_db) as db:
            if file_id is not None:
                known = db.execute(
                    "SELECT 1 FROM files WHERE file_id = ? UNION SELECT 1 FROM uploads "
                    "WHERE file_id = ?",
                    (file_id, file_id),
                ).fetchone()
                if known is None:
                    self.ledger.foreign.add(file_id)
            elif (
                db.execute("SELECT 1 FROM dirs WHERE folder_id = ?", (folder_id,)).fetchone()
                is None
            ):
                self.ledger.foreign_folders.add(folder_id)

    # -- passes and crashes --------------------------------------------------------------------

    @rule()
    def sync(self) -> None:
        self.ex.trace.append("pass")
        self.started = True
        with self.world.stats.timed("pass"):
            self.ex.run_pass()
        self.passed()
        self.check()
        self.world.stats.steps += 1

    # The daemon's pass on the watcher's dirty paths: it sees no remote drift and the daemon
    # runs a full pass after a crash, so it is checked only when neither happened since the
    # last full pass.
    @precondition(lambda self: self.started and not self.full_needed)
    @rule()
    def incremental_sync(self) -> None:
        self.ex.trace.append(f"incremental pass {sorted(self.dirty)}")
        with self.world.stats.timed("incremental pass"):
            self.ex.run_pass(dirty=sorted(self.dirty))
        self.passed()
        self.check()
        self.world.stats.incremental_passes += 1
        self.world.stats.steps += 1

    def passed(self) -> None:
        self.pending = self.full_needed = False
        self.dirty.clear()

    # A run with nothing to do would only finish: crash when there is work, a few times.
    @precondition(lambda self: self.pending and self.crashes < MAX_CRASHES)
    @rule(after=st.integers(1, 3), delay_ms=st.sampled_from([0, 0, 1, 5, 15]))
    def crash(self, after: int, delay_ms: int) -> None:
        """A `syncd reconcile` subprocess SIGKILLed after ``after`` mutating requests."""
        self.crashes += 1
        # Preconditions must not depend on timing: whether the kill landed or not, the next
        # checked pass is a full one, and a second crash waits for new changes.
        self.started = self.full_needed = True
        self.pending = False
        stats = self.world.stats
        stats.crash_runs += 1
        stats.steps += 1
        with stats.timed("crash"):
            killed = self.ex.crash_run(after, delay_ms)
        self.ex.trace.append(f"crash run after={after} delay_ms={delay_ms} killed={killed}")
        if self.ex.keeps_versions:
            self.ledger.saw_journal(self.ex.state_db, PAIR)  # what it made live before the kill
        if killed:
            stats.kills += 1
            pair = self.ex.journal.pair(PAIR)
            if pair is not None and self.ex.journal.intents(pair.id):
                stats.kills_leaving_intents += 1
        else:
            self.check()  # it finished before the kill: a completed pass

    def check(self) -> None:
        with self.world.stats.timed("check"):
            self._check()

    def _check(self) -> None:
        if self.mode == "mirror":
            problems = invariant_problems(
                self.world.admin,
                self.root,
                self.ex.remote_path,
                state_db=self.ex.state_db,
                pair_name=PAIR,
            )
        else:
            problems = backup_problems(self.ex, self.deletes_before, self.ledger)
        if self.ex.keeps_versions and not problems:
            self.ledger.saw_live(self.ex.remote())
            problems = history_problems(
                self.world.admin,
                self.ex.remote_path,
                self.ledger,
                foreign_kept=self.mode == "backup",
            )
        assert not problems, (
            "invariant broken after a pass:\n  "
            + "\n  ".join(problems[:40])
            + "\nsteps:\n  "
            + "\n  ".join(self.ex.trace)
        )
        self.world.stats.passes_checked += 1
        # Backup mode leaves files someone else added in the live tree, and files in folders
        # of theirs (syncd's moved there too), where `restore --at` finds them as well:
        # moments are compared while the tree holds only syncd's files.
        theirs_live = self.mode == "backup" and (
            bool(self.ledger.foreign) or in_their_folders(self.ex, self.ledger)
        )
        if self.ex.keeps_versions and not theirs_live:
            self.moments.append(
                (_moment(), {r: m for r, (m, _, _) in local_tree(self.root).files.items()})
            )

    def check_restore_at(self) -> None:
        """`restore --at` the first moment recorded (the most history since) gives its tree."""
        if not self.moments:
            return
        at_ns, expected = self.moments[0]
        with self.world.stats.timed("restore --at"):
            got = self.ex.restore_at(at_ns, self.ex.workdir / "restored")
        exact = self.renamed_after == 0  # no rename or move since the first moment
        same = got == expected if exact else sorted(got.values()) == sorted(expected.values())
        assert same, (
            f"restore --at a recorded moment differs:\n  got      {sorted(got.items())}\n  "
            f"expected {sorted(expected.items())}\nsteps:\n  " + "\n  ".join(self.ex.trace)
        )
        self.world.stats.restores_checked += 1
        self.world.stats.restores_exact += exact

    def teardown(self) -> None:
        try:
            self.ex.trace.append("pass (teardown)")
            with self.world.stats.timed("pass"):
                self.ex.run_pass()  # recover from whatever the last steps left
            self.check()
            self.check_restore_at()
        finally:
            with self.world.stats.timed("cleanup"):
                self.ex.close()


class BackupModel(MirrorModel):
    """Backup mode keeps versions by default."""

    mode: ClassVar[str] = "backup"


class MirrorKeepModel(MirrorModel):
    versions: ClassVar[str | None] = '"keep"'


def _moment() -> int:
    """A moment strictly after everything done so far and strictly before anything to come,
    at the millisecond precision of versioned names (the clock is read until it moved on)."""
    start = time.time_ns()
    while time.time_ns() - start < 2_000_000:
        pass
    moment = time.time_ns()
    while time.time_ns() - moment < 2_000_000:
        pass
    return moment


# ---- the tests ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with EmulatorProcess() as emulator:
        shared = World(emulator, tmp_path_factory.mktemp("model"))
        try:
            yield shared
        finally:
            shared.close()
        emulator.kill()


def _settings(request: pytest.FixtureRequest, share: float) -> settings:
    examples = int(request.config.getoption("model_examples", default=20))
    return settings(
        max_examples=max(1, int(examples * share)),
        stateful_step_count=STEPS,
        deadline=None,
        # CI explores the same examples every run; SYNCD_MODEL_RANDOM=1 draws fresh ones.
        derandomize=not os.environ.get("SYNCD_MODEL_RANDOM"),
        database=None,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        # A failure after a crash depends on timing, so shrinking replays may not reproduce it:
        # SYNCD_MODEL_NO_SHRINK=1 reports the first failing run (its steps are in the message).
        phases=(
            [Phase.explicit, Phase.generate]
            if os.environ.get("SYNCD_MODEL_NO_SHRINK")
            else list(Phase)
        ),
    )


def _run(machine: Any, world: World, request: pytest.FixtureRequest, share: float) -> None:
    machine.world = world
    world.stats = Stats()
    started = time.monotonic()
    ended = ""
    try:
        run_state_machine_as_test(machine, settings=_settings(request, share))
    except BaseException as exc:
        ended = f"ended early ({type(exc).__name__}): figures so far"
        raise
    finally:
        # A long run stopped with Ctrl-C (SIGINT) still says how far it got.
        took = time.monotonic() - started
        line = f"{machine.__name__} ({took:.0f} s): {world.stats.line()}"
        line += f" [{ended}]" if ended else ""
        print("\n" + line)
        report = os.environ.get("SYNCD_MODEL_REPORT")  # a file for the figures (xdist hides -s)
        if report:
            with open(report, "a", encoding="utf-8") as out:
                out.write(line + "\n")
    assert world.stats.examples and world.stats.passes_checked


def test_mirror_model(world: World, request: pytest.FixtureRequest) -> None:
    _run(MirrorModel, world, request, 2 / 3)


def test_backup_model(world: World, request: pytest.FixtureRequest) -> None:
    _run(BackupModel, world, request, 1 / 3)


def test_mirror_keeping_versions_model(world: World, request: pytest.FixtureRequest) -> None:
    _run(MirrorKeepModel, world, request, 1 / 3)


# ---- what the model found -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["mirror", "backup"])
@pytest.mark.parametrize("save", ["touch", "atomic"])
def test_same_bytes_saved_again_after_a_remote_trash_are_uploaded(
    world: World, mode: str, save: str
) -> None:
    """Found by the model (long run, 2026-11-23): a synced file trashed on the web site, then
    saved locally with the same bytes (new mtime, or an editor's atomic save), was recorded as
    "unchanged (same MD5)" and never uploaded again: one pass left it missing remotely."""
    example = Example(world, mode)
    try:
        target = example.root / "a.txt"
        target.write_bytes(b"x")
        example.run_pass()
        example.drift("trash_file", file_id=example.remote().files["a.txt"]["id"])
        if save == "atomic":
            (example.workdir / "save.tmp").write_bytes(b"x")
            os.replace(example.workdir / "save.tmp", target)
        else:
            later = target.stat().st_mtime_ns + 10**9
            os.utime(target, ns=(later, later))
        example.run_pass()
        if mode == "mirror":
            problems = invariant_problems(
                world.admin, example.root, example.remote_path, state_db=example.state_db
            )
        else:
            problems = backup_problems(example, trash_requests(world.admin.counts()))
        assert problems == []
    finally:
        example.close()


def test_incremental_pass_records_a_replaced_directory_inode(world: World) -> None:
    """Found by the model (random long run, 2026-11-23): `rmdir q; mkdir q` (a new inode), then
    the daemon's incremental pass on ["q"]: remote right, journal row of q left stale."""
    example = Example(world, "mirror")
    try:
        (example.root / "q").mkdir()
        (example.root / "q" / "a.txt").write_bytes(b"<")
        example.run_pass()
        shutil.rmtree(example.root / "q")
        (example.workdir / "hold").mkdir()  # takes the freed inode: q gets another one
        (example.root / "q").mkdir()
        example.run_pass(dirty=["q"])
        problems = invariant_problems(
            world.admin, example.root, example.remote_path, state_db=example.state_db
        )
        assert problems == []
    finally:
        example.close()


def test_backup_file_moved_into_someone_elses_folder_is_backed_up_again(world: World) -> None:
    """Found by the model (backup, long run, 2026-12-06): someone adds a folder on the web site
    and moves a backed-up file into it. Backup mode does not walk their folder: the file is
    uploaded again at its path (the live tree stays the local tree, nothing is trashed) and the
    moved copy stays in their folder, left alone."""
    example = Example(world, "backup")
    try:
        (example.root / "b.txt").write_bytes(b"\xba")
        example.run_pass()
        tree = example.remote()
        moved = tree.files["b.txt"]["id"]
        theirs = example.drift("add_folder", parent_id=tree.root_id, name="r")["id"]
        example.drift("move_file", file_id=moved, folder_id=theirs)
        deletes = trash_requests(world.admin.counts())
        example.run_pass()
        ledger = Ledger(foreign_folders={int(theirs)})
        assert backup_problems(example, deletes, ledger) == []
        after = example.remote()
        assert after.files["r/b.txt"]["id"] == moved  # left where they put it
        assert after.files["b.txt"]["id"] != moved
    finally:
        example.close()


def test_backup_someone_elses_folder_of_a_local_directorys_name_is_adopted(world: World) -> None:
    """Found by the model (backup, long run): someone adds folder r on the web site while r is
    also created locally. syncd takes their folder for the local directory (an untracked folder
    of the name is adopted, as in mirror mode) and backs r's files up into it: those are
    syncd's files at their paths, the live tree is the local tree."""
    example = Example(world, "backup")
    try:
        (example.root / "keep.txt").write_bytes(b"\x15")
        example.run_pass()
        tree = example.remote()
        (example.root / "r").mkdir()
        theirs = example.drift("add_folder", parent_id=tree.root_id, name="r")["id"]
        (example.root / "r" / "a.txt").write_bytes(b"\x9cwEA")
        deletes = trash_requests(world.admin.counts())
        example.run_pass()
        ledger = Ledger(foreign_folders={int(theirs)})
        assert backup_problems(example, deletes, ledger) == []
        assert example.remote().folders["r"] == theirs  # adopted, not a second folder r
    finally:
        example.close()


def test_backup_restore_at_merges_someone_elses_folder_of_the_same_name(world: World) -> None:
    """Found by the model (backup, seed 20261301): someone renames synced folder r to p on the
    web site (syncd puts the name back by id), moves r/a.txt out of it and adds a folder r of
    their own beside it (syncd moves a.txt back into its r). The live tree then holds two
    folders named r, theirs empty; `restore --at` took one folder per name, theirs, and gave
    back no r/a.txt. A path's live folders are merged, as its versioned folders are."""
    example = Example(world, "backup")
    try:
        (example.root / "r").mkdir()
        (example.root / "b.txt").write_bytes(b"e")
        (example.root / "r" / "a.txt").write_bytes(b"\x00")
        example.run_pass()
        tree = example.remote()
        ours, moved = tree.folders["r"], tree.files["r/a.txt"]["id"]
        example.drift("rename_folder", folder_id=ours, name="p")
        (example.root / "p").mkdir()
        example.run_pass()
        example.drift("move_file", file_id=moved, folder_id=tree.root_id)
        theirs = example.drift("add_folder", parent_id=tree.root_id, name="r")["id"]
        example.run_pass()
        folders = world.admin.tree()["folders"]
        named_r = {f["id"] for f in folders if f["name"] == "r" and f["parent_id"] == tree.root_id}
        assert named_r == {ours, int(theirs)}
        moment = _moment()
        example.run_pass()
        got = example.restore_at(moment, example.workdir / "restored")
        assert got == {r: m for r, (m, _, _) in local_tree(example.root).files.items()}
    finally:
        example.close()
