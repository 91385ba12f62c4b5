"""Helpers of the crash and fault-soak tests (no tests here): a seeded churning workload of small
files, their config, `syncd reconcile` as a subprocess, and emulator request tallies."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from syncd.emulator.testing import MUTATING_ACTIONS
from tests.support.cli import start_syncd, tail
from tests.support.config import Pair, write_config
from tests.support.waiting import wait_for

REMOTE = "Crash/docs"
PAIR = "docs"

MUTATING = MUTATING_ACTIONS


def mutations(counts: Mapping[str, int]) -> int:
    return sum(int(counts.get(action, 0)) for action in MUTATING)


def total_requests(counts: Mapping[str, int]) -> int:
    """Every API request the host saw: per action (faulted ones included) plus the 429s."""
    return sum(int(v) for k, v in counts.items() if k != "faults")


def crash_config(
    workdir: Path,
    api_url: str,
    local: Path,
    *,
    workers: int = 8,
    timeout: float = 30.0,
    max_retry_time: float = 30.0,
    quiet_period: float = 0.2,
    reconcile_interval: float = 900,
    mode: str = "mirror",
    versions: str | None = None,
) -> Path:
    """``workdir/config.toml`` for the crash and soak trials: the one pair "docs" at
    :data:`REMOTE`, no delete guard (the churn deletes freely), warnings-only logs (thousands of
    files would flood the log the failure message quotes). ``versions``: the pair's setting as
    TOML (None: the mode's default)."""
    path = write_config(
        workdir / "config.toml",
        api_url=api_url,
        pairs=[Pair(PAIR, local, REMOTE, mode)],
        remote={"timeout": float(timeout), "max_retry_time": float(max_retry_time)},
        sync={
            "workers": workers,
            "max_delete": "100%",
            "quiet_period": float(quiet_period),
            "reconcile_interval": float(reconcile_interval),
        },
        log={"level": "warning"},
    )
    if versions is not None:  # the pair is the config's last table
        with path.open("a", encoding="utf-8") as fh:
            fh.write(f"versions = {versions}\n")
    return path


def start_reconcile(config: Path, log: Path) -> subprocess.Popen[str]:
    return start_syncd("reconcile", config=config, log=log)


def reconcile_until_clean(config: Path, log: Path, *, timeout: float = 90, tries: int = 4) -> int:
    """Run `syncd reconcile` to exit 0 (a pass with failed items, exit 1, is run again); returns
    the number of runs it took. Fails with the log's tail otherwise."""
    deadline = time.monotonic() + timeout
    for attempt in range(1, tries + 1):
        proc = start_reconcile(config, log)
        try:
            code = proc.wait(max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"reconcile still running after {timeout}s\n{tail(log)}") from None
        if code == 0:
            return attempt
        if code != 1:
            raise AssertionError(f"reconcile exited {code}\n{tail(log)}")
    raise AssertionError(f"reconcile did not exit 0 in {tries} runs\n{tail(log)}")


@dataclass
class Churn:
    """A seeded workload of small files. ``tally`` counts the remote operations each change needs
    (what a fault-free, crash-free sync would send): the denominator of requests per op."""

    root: Path
    rng: random.Random
    serial: int = 0
    floor: int = 0  # fewer files than this: deletes become adds
    tally: dict[str, int] = field(default_factory=dict)

    def _note(self, kind: str, ops: int = 1) -> None:
        self.tally[kind] = self.tally.get(kind, 0) + ops

    @property
    def useful_ops(self) -> int:
        return sum(self.tally.values())

    def _content(self) -> bytes:
        # Small, never empty (the host refuses zero bytes), always new (unique serial).
        self.serial += 1
        body = f"{self.serial}:{self.rng.random()}\n".encode()
        return body * self.rng.randint(1, 8)

    def _name(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}{self.serial}"

    def populate(self, files: int, top_dirs: int = 8, sub_dirs: int = 5) -> None:
        dirs = [self.root]
        self.root.mkdir(parents=True, exist_ok=True)
        for t in range(top_dirs):
            top = self.root / f"t{t}"
            top.mkdir()
            self._note("mkdir")
            dirs.append(top)
            for s in range(sub_dirs):
                sub = top / f"s{s}"
                sub.mkdir()
                self._note("mkdir")
                dirs.append(sub)
        self.floor = files * 9 // 10
        for i in range(files):
            (self.rng.choice(dirs) / f"f{i}.txt").write_bytes(self._content())
            self._note("add")

    def _scan(self) -> tuple[list[Path], list[Path]]:
        files: list[Path] = []
        dirs: list[Path] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            base = Path(dirpath)
            dirnames.sort()
            dirs += [base / d for d in dirnames]
            files += [base / f for f in sorted(filenames)]
        return files, dirs

    def step(self, operations: int) -> dict[str, int]:
        """``operations`` random changes: adds, edits, renames, file moves, directory moves and
        renames, new directories, file and directory deletes."""
        files, dirs = self._scan()
        done: dict[str, int] = {}
        kinds = ["add"] * 4 + ["edit"] * 4 + ["rename"] * 3 + ["move"] * 2 + ["delete"] * 3
        kinds += ["dirmove", "mkdir", "rmdir"]
        for _ in range(operations):
            kind = self.rng.choice(kinds)
            if kind in ("delete", "rmdir") and len(files) < self.floor:
                kind = "add"  # keep the tree near its initial size: never drift towards empty
            if kind in ("edit", "rename", "move", "delete") and not files:
                kind = "add"
            if kind in ("dirmove", "rmdir") and not dirs:
                kind = "mkdir"
            parent = self.rng.choice([self.root, *dirs])
            if kind == "add":
                path = parent / f"{self._name('n')}.txt"
                path.write_bytes(self._content())
                files.append(path)
                self._note("add")
            elif kind == "edit":
                self.rng.choice(files).write_bytes(self._content())
                self._note("edit", 2)  # upload the new version, trash the old one
            elif kind in ("rename", "move"):
                source = files.pop(self.rng.randrange(len(files)))
                target_dir = source.parent if kind == "rename" else parent
                target = target_dir / f"{self._name('r')}.txt"
                source.rename(target)
                files.append(target)
                self._note(kind)
            elif kind == "delete":
                files.pop(self.rng.randrange(len(files))).unlink()
                self._note("delete")
            elif kind == "mkdir":
                path = parent / self._name("d")
                path.mkdir()
                dirs.append(path)
                self._note("mkdir")
            elif kind == "dirmove":
                source = self.rng.choice(dirs)
                targets = [self.root, *(d for d in dirs if not d.is_relative_to(source))]
                target = self.rng.choice(targets) / self._name("m")
                source.rename(target)
                self._note("dirmove")
                files, dirs = self._scan()
            elif kind == "rmdir":
                # Prefer small directories: a whole top-level one would empty the workload.
                victim = min(self.rng.sample(dirs, min(3, len(dirs))), key=_size_of)
                if _size_of(victim) > max(5, len(files) // 20):
                    continue  # too big a bite of the workload
                shutil.rmtree(victim)
                self._note("rmdir")
                files, dirs = self._scan()
            done[kind] = done.get(kind, 0) + 1
        return done


def _size_of(path: Path) -> int:
    return sum(len(f) for _, _, f in os.walk(path))


def journal_intents(state_db: Path) -> list[Any]:
    """The intents a killed run left behind (read-only, through the journal's API)."""
    if not state_db.exists():
        return []
    from syncd.journal.store import Journal

    with Journal(state_db) as journal:
        pair = journal.pair(PAIR)
        return journal.intents(pair.id) if pair is not None else []


def wait_for_invariant(
    admin: Any,
    local: Path,
    state_db: Path,
    *,
    timeout: float,
    what: str,
    log_tail: Callable[[], str] = str,
) -> None:
    """Poll the whole invariant (journal included) until it holds; fail with its problems."""
    from .invariants import invariant_problems

    last: list[str] = []

    def holds() -> bool:
        last[:] = invariant_problems(admin, local, REMOTE, state_db=state_db, pair_name=PAIR)
        return not last

    wait_for(holds, timeout, what, lambda: "\n".join(last[:30]) + "\n" + log_tail())


def wait_for_mutations(
    admin: Any, above: int, *, timeout: float, log_tail: Callable[[], str]
) -> None:
    wait_for(
        lambda: mutations(admin.counts()) > above, timeout, "the daemon to send changes", log_tail
    )


def wait_for_first_mutation(
    admin: Any, before: int, proc: subprocess.Popen[str], log: Path, *, timeout: float = 60
) -> None:
    """Until the run ``proc`` sends its first remote mutation (or ends): where a crash trial's
    seeded kill delay starts from. Polled every 10 ms, not with wait_for's growing delays: the
    moment it returns is the start of the kill delay, so it must be close to the mutation."""
    deadline = time.monotonic() + timeout
    while mutations(admin.counts()) <= before and proc.poll() is None:
        assert time.monotonic() < deadline, f"no mutation within {timeout:g} s\n{tail(log)}"
        time.sleep(0.01)
