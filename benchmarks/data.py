"""Benchmark data: generated trees and their synced state, cached under ``benchmarks/.cache/``.

Everything is keyed by the parameters that made it, so the 100k and 1M trees are generated once
and reused by every run and every case that asks for the same :class:`TreeSpec`:

    spec = TreeSpec(files=100_000, dirs=1_000, min_size=1024, max_size=4096)
    root = tree(cache, spec)                      # the files, read-only for callers
    state = synced_state(cache, spec)             # emulator data dir + journal, built by syncd
    with state.materialise(work) as live:         # private copies, emulator started
        subprocess.run(live.syncd_command("reconcile"), ...)

A tree must never be modified in place: the cached journal records its inodes and mtimes. Cases
that change files (api_economy) copy a tree into their scratch directory first.

Concurrent runs (several engineers on one machine) take a per-entry ``flock`` while building;
an entry is complete when its ``.complete`` marker exists.
"""

from __future__ import annotations

import compileall
import contextlib
import fcntl
import functools
import hashlib
import json
import math
import os
import random
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from syncd.emulator import DEMO_ACCOUNT_ID, DEMO_KEY1, DEMO_KEY2
from syncd.emulator.store import Store, extension_of, keywords_of, short_url_for, sql_now
from syncd.emulator.testing import EmulatorProcess

CACHE_DEFAULT = Path(__file__).resolve().parent / ".cache"
PAIR_NAME = "bench"
REMOTE_FOLDER = "bench"
_MARKER = ".complete"


@dataclass(frozen=True)
class TreeSpec:
    """``files`` files spread evenly over ``dirs`` leaf directories, which are grouped under
    ``ceil(sqrt(dirs))`` parent directories (two levels, like a real project tree). File sizes
    are uniform in ``[min_size, max_size]`` bytes, contents random from ``seed``."""

    files: int
    dirs: int
    min_size: int = 1024
    max_size: int = 4096
    seed: int = 1

    @property
    def key(self) -> str:
        return f"f{self.files}-d{self.dirs}-s{self.min_size}-{self.max_size}-r{self.seed}".replace(
            "--", "-"
        )

    @property
    def groups(self) -> int:
        return max(1, math.isqrt(self.dirs - 1) + 1) if self.dirs > 1 else 1

    def leaf_dirs(self) -> list[str]:
        """Relative paths of the leaf directories, in file order."""
        width = len(str(self.dirs - 1))
        gwidth = len(str(self.groups - 1))
        return [f"g{d % self.groups:0{gwidth}}/d{d:0{width}}" for d in range(self.dirs)]

    def folder_count(self) -> int:
        """Remote folders of the pair, its root folder included."""
        return 1 + self.groups + self.dirs


# The trees the cases share (quick-mode variants are tiny).
NOOP_100K = TreeSpec(files=100_000, dirs=1_000, min_size=1024, max_size=4096)
TINY_1M = TreeSpec(files=1_000_000, dirs=10_000, min_size=8, max_size=64)
TINY_100K = TreeSpec(files=100_000, dirs=1_000, min_size=8, max_size=64)
QUICK_SMALL = TreeSpec(files=500, dirs=10, min_size=1024, max_size=4096)
QUICK_TINY = TreeSpec(files=2_000, dirs=20, min_size=8, max_size=64)


def _file_name(index: int) -> str:
    return f"file{index:07}.txt"


def _contents(spec: TreeSpec) -> Iterator[tuple[str, str, bytes]]:
    """(leaf dir, file name, bytes) for every file, deterministic from the spec."""
    rng = random.Random(spec.seed)
    leaves = spec.leaf_dirs()
    for i in range(spec.files):
        size = rng.randint(spec.min_size, spec.max_size)
        # The index up front keeps tiny files distinct (different MD5s), like real data.
        head = f"{i}\n".encode()
        body = head + rng.randbytes(max(0, size - len(head)))
        yield leaves[i % spec.dirs], _file_name(i), body[:size]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _log(text: str) -> None:
    print(f"    data: {text}", file=sys.stderr, flush=True)


def _complete(entry: Path) -> dict | None:
    marker = entry / _MARKER
    if marker.exists():
        return json.loads(marker.read_text())
    return None


def _mark_complete(entry: Path, info: dict) -> None:
    tmp = entry / (_MARKER + ".tmp")
    tmp.write_text(json.dumps(info))
    tmp.replace(entry / _MARKER)


# --------------------------------------------------------------------------------------- trees


def make_tree(
    root: Path, files: int, dirs: int, *, min_size: int = 1024, max_size: int = 4096, seed: int = 1
) -> int:
    """Write an uncached tree into ``root`` (which should be empty); returns the bytes written."""
    spec = TreeSpec(files, dirs, min_size, max_size, seed)
    for leaf in spec.leaf_dirs():
        (root / leaf).mkdir(parents=True, exist_ok=True)
    total = 0
    for leaf, name, body in _contents(spec):
        fd = os.open(root / leaf / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, body)
        finally:
            os.close(fd)
        total += len(body)
    return total


def tree(
    cache: Path,
    spec: TreeSpec | None = None,
    *,
    files: int | None = None,
    dirs: int | None = None,
    min_size: int = 1024,
    max_size: int = 4096,
    seed: int = 1,
) -> Path:
    """The cached tree for ``spec`` (or for ``files=``, ``dirs=``, ... given as keywords),
    generated on first use. Callers must not modify it (copy it with :func:`copy_tree`)."""
    if spec is None:
        if files is None or dirs is None:
            raise TypeError("tree() needs a TreeSpec or files= and dirs=")
        spec = TreeSpec(files, dirs, min_size, max_size, seed)
    entry = cache / "trees" / spec.key
    root = entry / "root"
    if _complete(entry) is not None:
        return root
    with _locked(entry):
        if _complete(entry) is not None:
            return root
        shutil.rmtree(entry, ignore_errors=True)
        root.mkdir(parents=True)
        _log(f"generating {spec.files:,} files in {spec.dirs:,} dirs at {root}")
        started = time.monotonic()
        total = make_tree(
            root,
            spec.files,
            spec.dirs,
            min_size=spec.min_size,
            max_size=spec.max_size,
            seed=spec.seed,
        )
        _mark_complete(entry, {"spec": asdict(spec), "bytes": total, "generated": time.time()})
        _log(f"generated in {time.monotonic() - started:.0f} s ({total / 1e6:.0f} MB)")
    return root


def tree_generation(cache: Path, spec: TreeSpec) -> float:
    """When the cached tree was generated (its identity for the states built on it)."""
    info = _complete(cache / "trees" / spec.key)
    return 0.0 if info is None else float(info["generated"])


def copy_tree(source: Path, dest: Path) -> None:
    """A private, modifiable copy (timestamps kept) for cases that change files."""
    subprocess.run(["cp", "-a", str(source), str(dest)], check=True)


# ---------------------------------------------------------------------------- emulator seeding


def seed_emulator_store(
    data_dir: Path, spec: TreeSpec, *, remote_folder: str = REMOTE_FOLDER
) -> None:
    """Write ``spec``'s tree straight into an emulator data dir (before the emulator starts):
    one folder row per directory under ``remote_folder`` at the account root, one file row and
    one inline blob per file, as `file/upload` would have stored them."""
    store = Store(data_dir)  # creates the schema and id sequences
    store.close()
    db = sqlite3.connect(data_dir / "emulator.sqlite3")
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")
        now = sql_now()
        (next_folder,) = db.execute(
            "SELECT seq + 1 FROM sqlite_sequence WHERE name = 'folders'"
        ).fetchone()
        (next_file,) = db.execute(
            "SELECT seq + 1 FROM sqlite_sequence WHERE name = 'files'"
        ).fetchone()
        account = DEMO_ACCOUNT_ID
        folder_ids: dict[str, int] = {}

        def add_folder(parent: int | None, name: str) -> int:
            nonlocal next_folder
            folder_id = next_folder
            next_folder += 1
            db.execute(
                "INSERT INTO folders (id, account_id, parent_id, name, date_added)"
                " VALUES (?, ?, ?, ?, ?)",
                (folder_id, account, parent, name, now),
            )
            return folder_id

        db.execute("BEGIN")
        root_id = add_folder(None, remote_folder)
        for leaf in spec.leaf_dirs():
            group, name = leaf.split("/")
            if group not in folder_ids:
                folder_ids[group] = add_folder(root_id, group)
            folder_ids[leaf] = add_folder(folder_ids[group], name)
        batch_files: list[tuple[object, ...]] = []
        batch_blobs: list[tuple[str, bytes]] = []

        def flush() -> None:
            db.executemany("INSERT INTO inline_blobs (name, data) VALUES (?, ?)", batch_blobs)
            db.executemany(
                "INSERT INTO files (id, account_id, folder_id, name, short_url, file_type,"
                " extension, size, md5, blob, uploaded_ip, uploaded_date, keywords, unique_hash,"
                " delete_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                batch_files,
            )
            batch_files.clear()
            batch_blobs.clear()

        for leaf, name, body in _contents(spec):
            file_id = next_file
            next_file += 1
            blob = "db:" + secrets.token_hex(16)
            batch_blobs.append((blob, body))
            batch_files.append(
                (
                    file_id,
                    account,
                    folder_ids[leaf],
                    name,
                    short_url_for(file_id),
                    "text/plain",
                    extension_of(name),
                    len(body),
                    hashlib.md5(body).hexdigest(),
                    blob,
                    "127.0.0.1",
                    now,
                    keywords_of(name),
                    secrets.token_hex(32),
                    secrets.token_hex(16),
                )
            )
            if len(batch_files) >= 10_000:
                flush()
        flush()
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


# ------------------------------------------------------------------------------ synced states


PROJECT_ROOT = Path(__file__).resolve().parent.parent


def syncd_base_command() -> list[str]:
    """How syncd is started: ``python -m syncd`` from this checkout (run it with
    :func:`syncd_env`; the installed console script may point at another copy)."""
    return [sys.executable, "-m", "syncd"]


@functools.cache
def _write_bytecode(package: Path) -> None:
    """Write the bytecode of a checkout's syncd, as installing it does (pip compiles a package
    when it installs it; a source checkout writes it on first use), once per process. Where
    PYTHONDONTWRITEBYTECODE is set and nothing wrote it, every measured syncd child compiled
    its own modules again: ~0.12 CPU-s a command that no user pays."""
    compileall.compile_dir(package, quiet=1)


def syncd_env() -> dict[str, str]:
    """The environment for a syncd subprocess: this checkout first on PYTHONPATH, its bytecode
    written (every measured syncd child is started with this environment)."""
    _write_bytecode(PROJECT_ROOT / "syncd")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    return env


def write_config(
    path: Path, *, api_url: str, state: Path, local: Path, workers: int = 8, extra: str = ""
) -> Path:
    path.write_text(
        "[remote]\n"
        f'api_url = "{api_url}"\n'
        f'key1 = "{DEMO_KEY1}"\n'
        f'key2 = "{DEMO_KEY2}"\n'
        "[state]\n"
        f'path = "{state}"\n'
        "[sync]\n"
        f"workers = {workers}\n"
        'max_delete = "100%"\n'
        "[log]\n"
        'level = "warning"\n'
        f"{extra}"
        "[[pairs]]\n"
        f'name = "{PAIR_NAME}"\n'
        f'local = "{local}"\n'
        f'remote = "{REMOTE_FOLDER}"\n'
        'mode = "mirror"\n',
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


def adopt_flag_available() -> bool:
    """Whether `syncd reconcile --adopt-existing` exists (being added by the lead)."""
    out = subprocess.run(
        [*syncd_base_command(), "reconcile", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env=syncd_env(),
    )
    return "--adopt-existing" in out.stdout


@dataclass
class LiveState:
    """A private copy of a synced state with its emulator running."""

    work: Path
    local: Path
    state_db: Path
    config: Path
    emulator: EmulatorProcess

    def syncd_command(self, *args: str) -> list[str]:
        return [*syncd_base_command(), *args, "--config", str(self.config)]

    def journal_bytes(self) -> int:
        return sum(
            p.stat().st_size
            for p in self.state_db.parent.glob(self.state_db.name + "*")
            if p.is_file() and not p.name.endswith(".lock")
        )


@dataclass(frozen=True)
class SyncedState:
    """A cached (tree, emulator data dir, journal) triple in which syncd has nothing to do."""

    spec: TreeSpec
    local: Path
    emulator_dir: Path
    state_db: Path
    info: dict

    @contextlib.contextmanager
    def materialise(self, work: Path, **knobs: object) -> Iterator[LiveState]:
        """Copy the emulator dir and the journal into ``work`` (the tree stays shared and
        read-only), start the emulator on the copy and write a config for the pair."""
        work.mkdir(parents=True, exist_ok=True)
        emu_dir = work / "emulator"
        shutil.copytree(self.emulator_dir, emu_dir)
        state = work / "state" / "state.db"
        state.parent.mkdir()
        for p in self.state_db.parent.glob(self.state_db.name + "*"):
            if p.is_file() and not p.name.endswith(".lock"):
                shutil.copy2(p, state.parent / p.name)
        with EmulatorProcess(data_dir=emu_dir, **knobs) as emu:  # type: ignore[arg-type]
            config = write_config(
                work / "config.toml", api_url=emu.api_url, state=state, local=self.local
            )
            yield LiveState(work, self.local, state, config, emu)


def synced_state(cache: Path, spec: TreeSpec, *, method: str = "auto") -> SyncedState:
    """The synced state of ``spec``'s cached tree, built once by syncd itself.

    method "sync": a normal initial `syncd reconcile` from an empty remote (every file uploaded).
    method "adopt": the emulator store is seeded directly, then `syncd reconcile
    --adopt-existing` builds the journal (no uploads). "auto": adopt above 200,000 files when
    the flag exists, else sync."""
    local = tree(cache, spec)
    generation = tree_generation(cache, spec)
    if method == "auto":
        method = "adopt" if spec.files > 200_000 and adopt_flag_available() else "sync"
    entry = cache / "synced" / f"{spec.key}-{method}"
    state = SyncedState(
        spec, local, entry / "emulator", entry / "state" / "state.db", _complete(entry) or {}
    )
    if state.info.get("tree_generated") == generation:
        return state
    with _locked(entry):
        info = _complete(entry)
        if info is not None and info.get("tree_generated") == generation:
            return SyncedState(spec, local, state.emulator_dir, state.state_db, info)
        shutil.rmtree(entry, ignore_errors=True)
        entry.mkdir(parents=True)
        state.state_db.parent.mkdir()
        state.emulator_dir.mkdir()
        if method == "adopt":
            _log(f"seeding the emulator store with {spec.files:,} files")
            t0 = time.monotonic()
            seed_emulator_store(state.emulator_dir, spec)
            _log(f"seeded in {time.monotonic() - t0:.0f} s")
            args = ["reconcile", "--adopt-existing"]
        elif method == "sync":
            args = ["reconcile"]
        else:
            raise ValueError(f"unknown method {method!r}")
        with EmulatorProcess(data_dir=state.emulator_dir) as emu:
            config = write_config(
                entry / "config.toml", api_url=emu.api_url, state=state.state_db, local=local
            )
            _log(f"building the journal: syncd {' '.join(args)} over {spec.files:,} files")
            t0 = time.monotonic()
            done = subprocess.run(
                [*syncd_base_command(), *args, "--config", str(config)],
                capture_output=True,
                text=True,
                env=syncd_env(),
            )
            elapsed = time.monotonic() - t0
            if done.returncode != 0:
                raise RuntimeError(
                    f"building the synced state failed (exit {done.returncode}): "
                    f"{done.stderr.strip()[-1500:]}"
                )
            counts = emu.admin.counts()
        _log(f"journal built in {elapsed:.0f} s")
        info = {
            "spec": asdict(spec),
            "method": method,
            "tree_generated": generation,
            "build_s": round(elapsed, 1),
            "build_counts": {k: v for k, v in counts.items() if v},
        }
        _mark_complete(entry, info)
    return SyncedState(spec, local, state.emulator_dir, state.state_db, info)
