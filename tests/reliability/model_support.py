"""Helpers of the model-based test (tests/reliability/test_model_stateful.py; no tests here).

One emulator serves the whole module (:class:`World`); every hypothesis example gets a fresh
:class:`Example`: its own local root, state database and remote folder path (``M<n>/docs``),
whose top folder is trashed when the example ends so that the invariant's "no orphan uploads
anywhere in the account" holds for the next one.

Passes run in-process through ``reconcile_pair`` (fast); crashes run a real ``syncd reconcile``
subprocess and SIGKILL it once the host has seen a drawn number of mutations plus a drawn delay.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from syncd.config import load_config
from syncd.emulator.testing import EmulatorProcess
from syncd.engine.reconcile import PassOptions, PassResult, reconcile_pair
from syncd.errors import GuardRefused
from syncd.journal.store import Journal
from syncd.remote.client import RemoteClient
from syncd.remote.credentials import Credentials
from syncd.remote.models import AccountPackage
from tests.support.cli import syncd_env, tail
from tests.support.reconcile import pair_config

from .invariants import Ledger, _journal_problems, local_tree, remote_tree
from .test_crash_support import mutations

PAIR = "docs"
# Small pools of names so that local and remote changes collide (overwrites, twins, a file and
# a folder of one name on the host).
FILE_NAMES = ("a.txt", "b.txt", "c", "d.md")
DIR_NAMES = ("p", "q", "r")
MAX_FILES = 10
MAX_DEPTH = 3
CRASH_LATENCY_MS = 20  # slows the killed run a little so kills land between its requests


@dataclass
class Stats:
    examples: int = 0
    steps: int = 0
    local_ops: int = 0
    drifts: int = 0
    passes_checked: int = 0  # completed passes followed by the full invariant check
    incremental_passes: int = 0  # of which on dirty paths only (the daemon's kind)
    guard_refusals: int = 0  # emptied root refused, then confirmed with force_deletes
    crash_runs: int = 0
    kills: int = 0  # runs SIGKILLed while still running
    kills_leaving_intents: int = 0
    restores_checked: int = 0  # `restore --at` a recorded moment, compared with its tree
    restores_exact: int = 0  # of which by path (no rename or move since that moment)
    drift_kinds: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per kind of step

    @contextlib.contextmanager
    def timed(self, kind: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.seconds[kind] = self.seconds.get(kind, 0.0) + time.monotonic() - started

    def line(self) -> str:
        return (
            f"examples {self.examples}, steps {self.steps}, local ops {self.local_ops}, "
            f"remote drifts {self.drifts} {dict(sorted(self.drift_kinds.items()))}, "
            f"passes checked {self.passes_checked} (incremental {self.incremental_passes}), "
            f"crash runs {self.crash_runs} (SIGKILLed mid-run {self.kills}, leaving intents "
            f"{self.kills_leaving_intents}), emptied-root guard refusals {self.guard_refusals}, "
            f"restores --at checked {self.restores_checked} "
            f"(by path {self.restores_exact}); "
            "seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(self.seconds.items()))
        )


# A process that has done the imports of `syncd reconcile` (seconds on a loaded machine) and
# waits for its argv on stdin; then it runs the real CLI entry point, like `python -m syncd`.
_WARM_CLI = (
    "import json, sys\n"
    "import syncd.cli.reconcile\n"
    "from syncd.cli.main import main\n"
    "line = sys.stdin.readline()\n"
    "if line.strip():\n"
    "    main(json.loads(line))\n"
)


@dataclass
class WarmCli:
    proc: subprocess.Popen[bytes]
    log: Path

    def go(self, *argv: str) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(list(argv)) + "\n").encode())
            self.proc.stdin.close()
        except BrokenPipeError:
            self.proc.wait(30)
            raise AssertionError(
                f"the waiting syncd process died before its start (exit {self.proc.returncode})"
                f"\n{tail(self.log)}"
            ) from None

    def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()  # no argv: it exits
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@dataclass
class World:
    """What all examples of the module share."""

    emulator: EmulatorProcess
    base: Path
    stats: Stats = field(default_factory=Stats)
    serial: int = 0
    spare: WarmCli | None = None
    spawned: int = 0

    @property
    def admin(self) -> Any:
        return self.emulator.admin

    def warm_cli(self) -> WarmCli:
        """A ready `syncd` process; the next one starts importing at once, in the background,
        so a crash step costs its pass, not the interpreter's start."""
        ready = self.spare or self._spawn()
        self.spare = self._spawn()
        return ready

    def _spawn(self) -> WarmCli:
        self.spawned += 1
        log = self.base / f"cli-{self.spawned}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-c", _WARM_CLI],
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=syncd_env(),
                cwd=self.base,
            )
        return WarmCli(proc, log)

    def close(self) -> None:
        if self.spare is not None:
            self.spare.close()
            self.spare = None


def new_client(api_url: str) -> RemoteClient:
    from syncd.emulator import DEMO_KEY1, DEMO_KEY2

    return RemoteClient(api_url, Credentials(key1=DEMO_KEY1, key2=DEMO_KEY2))


# ---- the local tree ---------------------------------------------------------------------------


def local_snapshot(root: Path) -> dict[str, bytes | None]:
    """Every entry under ``root``: file -> its bytes, directory -> None."""
    out: dict[str, bytes | None] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        rel_dir = base.relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        for name in dirnames:
            out[prefix + name] = None
        for name in filenames:
            out[prefix + name] = (base / name).read_bytes()
    return out


def local_dirs(root: Path) -> list[str]:
    """The root ("") and every directory below it, sorted."""
    return ["", *sorted(rel for rel, body in local_snapshot(root).items() if body is None)]


def local_files(root: Path) -> list[str]:
    return sorted(rel for rel, body in local_snapshot(root).items() if body is not None)


def join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


# ---- one example --------------------------------------------------------------------------------


class Example:
    """One pair under test: a fresh local root, state database and remote folder."""

    def __init__(self, world: World, mode: str, versions: str | None = None) -> None:
        world.serial += 1
        self.world = world
        self.mode = mode
        self.top = f"M{world.serial}"
        self.remote_path = f"{self.top}/docs"
        self.workdir = Path(tempfile.mkdtemp(prefix=f"ex{world.serial}-", dir=world.base))
        self.root = self.workdir / "local"
        self.root.mkdir()
        self.config_path = pair_config(
            self.workdir, world.emulator.api_url, self.root, remote=self.remote_path, mode=mode
        )
        # No deletion limit (the model deletes freely); the emptied-root guard stays on.
        text = self.config_path.read_text(encoding="utf-8")
        self.config_path.write_text(
            text.replace(
                "[sync]\n", '[sync]\nmax_delete = "100%"\nquiet_period = 0.0\n', 1
            ).replace("quiet_period = 0.05\n", ""),
            encoding="utf-8",
        )
        if versions is not None:  # the pair is the config's last table
            with self.config_path.open("a", encoding="utf-8") as fh:
                fh.write(f"versions = {versions}\n")
        self.config = load_config(self.config_path)
        self.keeps_versions = self.config.pair(PAIR).history.keep
        self.state_db = self.config.state.path
        self.journal = Journal(self.state_db)
        # Its own client, renewed after each subprocess run: the subprocess authorizing revokes
        # our token, and a client whose tokens keep dying backs off (as it should with a rival).
        self.client = new_client(world.emulator.api_url)
        self.package: AccountPackage = self.client.account_package()
        self.log = self.workdir / "reconcile.log"
        self.synced = False  # a pass has created the remote folder
        self.trace: list[str] = []  # what happened, for the failure message (replays differ)

    def close(self) -> None:
        self.client.close()
        self.journal.close()
        tree = self.world.admin.tree()
        for folder in tree["folders"]:
            top = folder["parent_id"] is None and folder["name"] == self.top
            if top and folder["status"] == "active":
                self.world.admin.drift("trash_folder", folder_id=folder["id"])
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- passes ------------------------------------------------------------------------------

    def run_pass(self, dirty: list[str] | None = None) -> PassResult:
        """One in-process pass (the whole tree, or ``dirty`` paths as the daemon's incremental
        pass); an emptied root is refused first, then confirmed (as a user
        would with --force-deletes). Fails if it changed the local tree or had failed items."""
        before = local_snapshot(self.root)
        try:
            result = self._reconcile(force=False, dirty=dirty)
        except GuardRefused as exc:
            assert not before, f"guard refused a non-empty root: {exc.message}"
            self.world.stats.guard_refusals += 1
            result = self._reconcile(force=True, dirty=dirty)
        assert local_snapshot(self.root) == before, "a pass changed the local tree"
        assert result.exit_code == 0, f"pass failed items: {result.outcome.failed}"
        self.synced = True
        return result

    def _reconcile(self, *, force: bool, dirty: list[str] | None) -> PassResult:
        return reconcile_pair(
            self.client,
            self.journal,
            self.config.pair(PAIR),
            sync=self.config.sync,
            state_path=self.state_db,
            package=self.package,
            options=PassOptions(
                force_deletes=force, kind="reconcile" if dirty is None else "incremental"
            ),
            dirty=dirty,
        )

    def crash_run(self, after_mutations: int, delay_ms: int) -> bool:
        """`syncd reconcile` as a subprocess, SIGKILLed once the host saw ``after_mutations``
        more mutating requests plus ``delay_ms``. Returns True when it was killed mid-run,
        False when it finished first (then it must have exited 0)."""
        admin = self.world.admin
        before_tree = local_snapshot(self.root)
        argv = ["reconcile", "--config", str(self.config_path)]
        if not before_tree:
            argv.append("--force-deletes")
        cli = self.world.warm_cli()
        proc = cli.proc
        self.log = cli.log
        admin.set_knobs(latency_ms=CRASH_LATENCY_MS)
        try:
            start = mutations(admin.counts())
            cli.go(*argv)
            try:
                deadline = time.monotonic() + 60
                while proc.poll() is None and mutations(admin.counts()) - start < after_mutations:
                    assert time.monotonic() < deadline, f"no progress in 60 s\n{tail(self.log)}"
                    time.sleep(0.002)
                if delay_ms and proc.poll() is None:
                    time.sleep(delay_ms / 1000)  # a drawn moment, not a wait for a condition
                killed = proc.poll() is None
                if killed:
                    proc.send_signal(signal.SIGKILL)
                code = proc.wait(60)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        finally:
            admin.set_knobs(latency_ms=0)
            self.client.close()
            self.client = new_client(self.world.emulator.api_url)
        assert local_snapshot(self.root) == before_tree, "a killed run changed the local tree"
        if killed:
            return True
        assert code == 0, f"syncd reconcile exited {code}\n{tail(self.log)}"
        self.synced = True
        return False

    # -- the remote side ---------------------------------------------------------------------

    def remote(self) -> Any:
        """The mirror's active folders and files (invariants.RemoteTree)."""
        return remote_tree(self.world.admin, self.remote_path)

    def drift(self, op: str, **fields: Any) -> dict[str, Any]:
        self.trace.append(f"drift {op} {fields}")
        result: dict[str, Any] = self.world.admin.drift(op, **fields)
        self.world.stats.drifts += 1
        return result

    def restore_at(self, at_ns: int, dest: Path) -> dict[str, str]:
        """`syncd restore --pair docs --at <moment> DEST` (a real CLI process); {rel: md5}."""
        moment = datetime.fromtimestamp(at_ns / 1e9, UTC).isoformat()
        cli = self.world.warm_cli()
        cli.go(
            "--config", str(self.config_path), "restore", "--pair", PAIR, "--at", moment, str(dest)
        )
        code = cli.proc.wait(120)
        assert code == 0, f"restore --at {moment} exited {code}\n{tail(cli.log)}"
        return {rel: md5 for rel, (md5, _, _) in local_tree(dest).files.items()}


def content_b64(body: bytes) -> str:
    return base64.b64encode(body).decode()


def their_folders(example: Example, ledger: Ledger) -> Callable[[int | None], bool]:
    """Whether a folder id is in a folder someone else added (or below one) that syncd has
    not adopted: a folder of theirs under a local directory's name is adopted for it."""
    parents = {f["id"]: f["parent_id"] for f in example.world.admin.tree()["folders"]}
    with sqlite3.connect(example.state_db) as db:
        adopted = {r[0] for r in db.execute("SELECT folder_id FROM dirs WHERE folder_id > 0")}

    def theirs(folder_id: int | None) -> bool:
        while folder_id is not None:
            if folder_id in ledger.foreign_folders and folder_id not in adopted:
                return True
            folder_id = parents.get(folder_id)
        return False

    return theirs


def in_their_folders(example: Example, ledger: Ledger) -> bool:
    """Whether a file lies in a folder of someone else's: one they added, or one of syncd's
    they moved there (backup mode leaves it; `restore` finds it in the live tree)."""
    if not ledger.foreign_folders:
        return False
    theirs = their_folders(example, ledger)
    return any(theirs(f["folder_id"]) for f in example.remote().by_id.values())


def backup_problems(
    example: Example, deletes_before: int, ledger: Ledger | None = None
) -> list[str]:
    """Backup mode's invariant: the live tree is the local tree (each local file exactly once
    at its path with its MD5, each local directory a folder there, nothing else of syncd's);
    files and folders someone else added (``ledger``) are left alone and not counted; syncd
    trashed nothing; no intents are left; the journal agrees with both sides (while no one
    added folders beside syncd's)."""
    world = example.world
    ledger = ledger or Ledger()
    local = local_tree(example.root)
    remote = remote_tree(world.admin, example.remote_path)
    problems: list[str] = []
    if remote.root_id is None:
        return [f"remote folder {example.remote_path!r} does not exist"]
    theirs = their_folders(example, ledger)
    # A file of theirs adopted after a crash for an interrupted upload of the same bytes is
    # syncd's (compared below like any file of syncd's).
    with sqlite3.connect(example.state_db) as db:
        tracked = {r[0] for r in db.execute("SELECT file_id FROM files WHERE file_id > 0")}

    # A folder someone else added is theirs, with whatever is moved into it (syncd uploads
    # what was moved there from the live tree again: it does not walk their folders).
    live: dict[str, list[dict[str, Any]]] = {}
    for f in remote.by_id.values():
        folder = remote.folder_ids.get(f["folder_id"])
        foreign = f["id"] in ledger.foreign and f["id"] not in tracked
        if folder is not None and not foreign and not theirs(f["folder_id"]):
            live.setdefault(join(folder, f["name"]), []).append(f)
    for rel in sorted(local.files.keys() | live.keys()):
        here, there = local.files.get(rel), live.get(rel, [])
        if here is None:
            problems.append(f"remote extra file {rel} (ids {[f['id'] for f in there]})")
        elif len(there) != 1:
            problems.append(f"{rel}: {len(there)} live remote files of syncd's, not 1")
        elif there[0]["md5"] != here[0]:
            problems.append(f"content differs: {rel} local {here[0]} remote {there[0]['md5']}")
    problems += [
        f"missing remotely: dir {rel}" for rel in sorted(local.dirs.keys() - remote.folders.keys())
    ]
    for folder_id, rel in sorted(remote.folder_ids.items(), key=lambda kv: kv[1]):
        if rel and rel not in local.dirs and not theirs(folder_id):
            problems.append(f"remote extra: dir {rel} (id {folder_id})")
    problems += [f"orphan upload: {o}" for o in remote.orphans]
    if not problems and not ledger.foreign_folders:
        problems += _journal_problems(example.state_db, PAIR, local, remote, example.root)
    deletes = trash_requests(world.admin.counts()) - deletes_before
    if deletes:
        problems.append(f"backup mode sent {deletes} trash request(s)")
    pair = example.journal.pair(PAIR)
    if pair is not None and example.journal.intents(pair.id):
        problems.append(f"journal: intents left: {example.journal.intents(pair.id)}")
    return problems


def trash_requests(counts: dict[str, int]) -> int:
    return int(counts.get("file/delete", 0)) + int(counts.get("folder/delete", 0))
