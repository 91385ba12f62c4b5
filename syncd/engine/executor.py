"""Runs a plan: ops on a worker pool in dependency order, every outcome in the journal.

Order: an op waits for the op that creates the folder it works in (a :class:`Ref` with ``op``);
trashes wait for every other op (moves out of a directory happen before it is trashed), and
trashes of folders that are not syncd's wait for the other trashes (:func:`_wave`). The rest
runs in parallel. Folder creation holds a lock per (parent, name), so two workers never
make twin folders.

Crash safety: an intent row is written before each remote mutation and cleared in the same
transaction that records the outcome. An upload whose answer was lost is looked for in the
folder listing and adopted (name and size) instead of being sent twice.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from syncd.engine.ops import (
    TRASH,
    AdoptFile,
    AdoptFolder,
    CreateFolder,
    ForgetDir,
    ForgetFile,
    Identity,
    MarkDir,
    MoveFile,
    MoveFolder,
    Op,
    Ref,
    SkipFile,
    TouchFile,
    TrashFile,
    TrashFolder,
    UpdateDir,
    Upload,
)
from syncd.engine.versioning import RETIRE_INTENT, Retired, Versioner
from syncd.journal.rows import (
    FAILED,
    SKIPPED,
    SYNCED,
    FileRow,
    Intent,
    api_folder_id,
    now_to_the_us,
)
from syncd.journal.store import Journal
from syncd.local.hashing import stored_md5_file
from syncd.local.names import form_name_issue
from syncd.local.scanner import clamp_mtime_ns
from syncd.local.timestamps import RACY_NS
from syncd.remote.client import RemoteClient
from syncd.remote.encrypted import sealed_md5_of
from syncd.remote.errors import (
    AuthError,
    HashMismatch,
    NotFound,
    Refused,
    RemoteError,
    UploadOutcomeUnknown,
)

log = logging.getLogger(__name__)

SETTLE_DEADLINE = 30.0  # seconds to wait for a file that changed while it was being sent
CHANGED_RETRIES = 2


@dataclass
class Outcome:
    """What a pass did; ``counts`` keys are the summary's words."""

    counts: dict[str, int] = field(default_factory=dict)
    bytes_uploaded: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    cancelled: bool = False
    # Remote items taken out of the live tree (versioned, trashed, pruned), for the summary.
    retired: list[Retired] = field(default_factory=list)
    # (journal dir id, path below it) to look at again: files gone between the plan and their
    # upload, dirty paths whose directory was gone when the pass looked. A directory above may
    # have moved meanwhile (see :class:`syncd.engine.reconcile.Rechecks`).
    recheck: list[tuple[int, str]] = field(default_factory=list)

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n


class Progress:
    """Receives progress from worker threads (the CLI draws it; the daemon counts it)."""

    def begin(self, ops: list[Op]) -> None: ...
    def end(self) -> None: ...
    def op_started(self, op: Op) -> None: ...
    def op_done(self, op: Op, ok: bool) -> None: ...
    def bytes_sent(self, n: int) -> None: ...


class _Sent(NamedTuple):
    """One version sent (Executor._upload_once)."""

    file_id: int
    md5: bytes | None  # what the host stored; None when an answer was lost and adopted
    nonce: bytes | None  # an encrypted pair's upload: ``md5`` is then its ciphertext's
    pending: int | None  # the intent that the replaced version is to be retired


class _Failed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Workers:
    """Threads that run ops handed to them and hand back (op, error) in finishing order.

    Two SimpleQueues instead of a ThreadPoolExecutor and ``wait(FIRST_COMPLETED)``: that pair
    cost a Future, an Event and a lock round over every running future per op, about a fifth
    of the GIL time of a bulk upload of small files. Threads start as work needs them, as a
    pool's do; leaving the block lets them finish what was handed over, then joins them.
    """

    def __init__(self, size: int, run: Callable[[Op], None]) -> None:
        self._size = size
        self._run = run
        self._todo: queue.SimpleQueue[Op | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[tuple[Op, BaseException | None]] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._busy = 0  # handed over and not yet handed back

    def __enter__(self) -> _Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        for _ in self._threads:
            self._todo.put(None)
        for thread in self._threads:
            thread.join()

    def submit(self, op: Op) -> None:
        self._busy += 1
        if len(self._threads) < min(self._busy, self._size):
            thread = threading.Thread(
                target=self._work, name=f"syncd-exec_{len(self._threads)}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        self._todo.put(op)

    def finished(self) -> tuple[Op, BaseException | None]:
        """The next op to finish and what it raised (None: it succeeded). Blocks."""
        result = self._done.get()
        self._busy -= 1
        return result

    def _work(self) -> None:
        while (op := self._todo.get()) is not None:
            try:
                self._run(op)
            except BaseException as exc:  # handed to the scheduler, which decides
                self._done.put((op, exc))
            else:
                self._done.put((op, None))


WAVES = 3


def _wave(op: Op) -> int:
    """When ``op`` may start. 0: as soon as the ops it depends on have run. 1, the trash phase:
    once every op of wave 0 has finished (moves out of a directory come before its trash).
    2, trashing a folder that is not syncd's (untracked): once wave 1 has finished too. A file
    of syncd's that someone moved into such a folder leaves the live tree in wave 1, and where
    versions are kept that is a move into the versions area; trashed with the folder first,
    that version went to the host's trash instead (the model test, seed 20261232)."""
    if op.phase != TRASH:
        return 0
    return 2 if isinstance(op, TrashFolder) and op.dir_id is None else 1


def _moves_above(op: Op, moving: dict[str, MoveFolder]) -> list[Op]:
    """The folder moves of this batch that ``op``, a folder move, must wait for: those of its
    new parent and of that parent's ancestors. The host ignores a move into the folder's own
    subtree (and answers success), so after `mv r/p p; mv r p/r` r may go into p only once p
    has left r. Each waits only for shallower paths: no cycle."""
    if not isinstance(op, MoveFolder) or not op.set_parent:
        return []
    above: list[Op] = []
    rel = op.parent.rel
    while rel:
        found = moving.get(rel)
        if found is not None and found is not op:
            above.append(found)
        rel = rel.rpartition("/")[0]
    return above


class Executor:
    def __init__(
        self,
        client: RemoteClient,
        journal: Journal,
        pair_id: int,
        local_root: Path,
        *,
        workers: int = 4,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
        quiet_period: float = 0.5,
    ) -> None:
        self.client = client
        self.journal = journal
        self.pair_id = pair_id
        self.root = Path(local_root)
        self.workers = max(1, workers)
        self.progress = progress or Progress()
        self.cancel = cancel or threading.Event()
        self.quiet_period = quiet_period
        self.outcome = Outcome()
        self._lock = threading.Lock()
        self._folder_locks: dict[tuple[int | None, str], threading.Lock] = {}
        # Decides what a remote item leaving the live tree becomes (a version, or trash);
        # None: the behaviour from before versions (trash where the op says so).
        self.versioner: Versioner | None = None
        self._retiring: frozenset[int] = frozenset()  # ids the running plan's TrashFiles take

    # -- scheduling -----------------------------------------------------------------------------

    def run(self, ops: list[Op]) -> Outcome:
        self.progress.begin(ops)
        self._retiring = frozenset(op.file_id for op in ops if isinstance(op, TrashFile))
        try:
            return self._run(ops)
        finally:
            self.progress.end()

    def _run(self, ops: list[Op]) -> Outcome:
        """Dependency-counting scheduler: O(ops), whatever the size of the batch. Ops of a
        later wave (:func:`_wave`) are held until every op of the earlier waves has finished."""
        in_plan = {id(op) for op in ops}
        unmet: dict[int, int] = {}
        children: dict[int, list[Op]] = defaultdict(list)
        ready: deque[Op] = deque()
        held: list[list[Op]] = [[] for _ in range(WAVES)]  # by wave; wave 0 is never held
        left = [0] * WAVES  # ops not finished yet, by wave
        moving = {op.rel: op for op in ops if isinstance(op, MoveFolder) and op.set_parent}

        def hand_out(op: Op) -> None:
            wave = _wave(op)
            (held[wave] if wave else ready).append(op)

        for op in ops:
            left[_wave(op)] += 1
            deps = self._deps(op) + _moves_above(op, moving)
            missing = [d for d in deps if id(d) not in in_plan]
            if missing:
                self._fail(op, "not attempted: the folder it goes in was not made")
                left[_wave(op)] -= 1
                continue
            unmet[id(op)] = len(deps)
            for dep in deps:
                children[id(dep)].append(op)
            if not deps:
                hand_out(op)

        def give_up(op: Op, reason: str) -> None:
            """Fail ``op`` and everything waiting on it."""
            todo = [(op, reason)]
            while todo:
                current, why = todo.pop()
                self._fail(current, why)
                left[_wave(current)] -= 1
                for child in children.pop(id(current), []):
                    todo.append((child, "not attempted: the folder it goes in could not be made"))

        in_flight = 0
        with _Workers(self.workers, self._run_one) as pool:
            while True:
                if self.cancel.is_set():
                    self.outcome.cancelled = True
                    ready.clear()
                    for waiting in held:
                        waiting.clear()
                for wave in range(1, WAVES):
                    if held[wave] and not any(left[:wave]):
                        ready.extend(held[wave])
                        held[wave] = []
                while ready and in_flight < self.workers * 2:
                    pool.submit(ready.popleft())
                    in_flight += 1
                if not in_flight:
                    break
                op, error = pool.finished()
                in_flight -= 1
                reason = self._failure(error)
                if reason is not None:
                    give_up(op, reason)
                    continue
                left[_wave(op)] -= 1
                for child in children.pop(id(op), []):
                    unmet[id(child)] -= 1
                    if unmet[id(child)] == 0:
                        hand_out(child)
        return self.outcome

    @staticmethod
    def _failure(error: BaseException | None) -> str | None:
        """Why an op failed (None: it succeeded). Credentials that died stop the whole pass."""
        if error is None:
            return None
        if isinstance(error, _Failed):
            return error.reason
        if isinstance(error, AuthError):
            raise error
        if isinstance(error, RemoteError):
            return str(error)
        if isinstance(error, OSError):
            return f"local error: {error.strerror or error}"
        raise error

    @staticmethod
    def _deps(op: Op) -> list[Op]:
        refs: list[Ref] = []
        parent = getattr(op, "parent", None)
        if isinstance(parent, Ref):
            refs.append(parent)
        # A ref made ready by an earlier batch needs nothing from this one.
        return [r.op for r in refs if r.op is not None and r.op is not op and not r.ready]

    def _fail(self, op: Op, reason: str) -> None:
        log.warning("sync op failed: %s: %s", op.describe(), reason)
        with self._lock:
            self.outcome.failed.append((op.rel, reason))
            self.outcome.add("failed")
        if isinstance(op, Upload) and op.parent.dir_id is not None:
            # Remember the failure for `syncd status`; keep a synced row (old version) as is.
            old = self.journal.get_file(op.parent.dir_id, op.name)
            if old is None or old.status != SYNCED:
                with self.journal.transaction() as tx:
                    tx.put_file(
                        _row(op.parent.dir_id, op.name, op.ident, status=FAILED, why=reason)
                    )
        self.progress.op_done(op, False)

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.outcome.add(key, n)

    # -- one op ---------------------------------------------------------------------------------

    def _run_one(self, op: Op) -> None:
        self.progress.op_started(op)
        handler: Callable[[Op], None] = getattr(self, "_do_" + type(op).__name__)
        handler(op)
        self.progress.op_done(op, True)

    # folders

    def _do_CreateFolder(self, op: CreateFolder) -> None:
        parent_folder = op.parent.folder_id
        key = (parent_folder, op.name)
        with self._lock:
            lock = self._folder_locks.setdefault(key, threading.Lock())
        with lock:
            with self.journal.transaction() as tx:
                intent = tx.add_intent(
                    self.pair_id, "create_folder", folder_id=parent_folder, name=op.name
                )
            try:
                folder = self.client.folder_create(op.name, api_folder_id(parent_folder))
                folder_id, stored = folder.id, folder.name
            except UploadOutcomeUnknown:
                found = self._find_untracked_folder(parent_folder, op.name)
                if found is None:
                    folder = self.client.folder_create(op.name, api_folder_id(parent_folder))
                    found = (folder.id, folder.name)
                folder_id, stored = found
            with self.journal.transaction() as tx:
                assert op.parent.dir_id is not None
                if op.existing_dir_id is not None:
                    tx.move_dir(op.existing_dir_id, op.parent.dir_id, op.name, stored, op.inode)
                    tx.update_dir(op.existing_dir_id, folder_id=folder_id)
                    dir_id = op.existing_dir_id
                else:
                    dir_id = tx.insert_dir(
                        self.pair_id,
                        op.parent.dir_id,
                        op.name,
                        inode=op.inode,
                        folder_id=folder_id,
                        remote_name=stored,
                    )
                tx.clear_intent(intent)
        op.target.dir_id, op.target.folder_id = dir_id, folder_id
        self._count("folders created")

    def _find_untracked_folder(self, parent: int | None, name: str) -> tuple[int, str] | None:
        listing = self.client.folder_listing(api_folder_id(parent))
        for folder in sorted(listing.folders, key=lambda f: -f.id):
            if (
                folder.name == name
                and self.journal.dir_by_folder_id(self.pair_id, folder.id) is None
            ):
                return folder.id, folder.name
        return None

    def sweep_interrupted_folders(self, intents: list[Intent]) -> int:
        """A pass killed after the host made a folder, before the journal recorded it, left an
        untracked folder. The next pass adopts it by name while the local directory is still
        there; renamed or removed since, nothing does, and backup mode leaves folders it does
        not know where they are, so syncd's own would stay beside the live tree for good (the
        crash trials found one). The create's intent says it is syncd's. Still empty, it leaves
        the live tree as a removed directory does: into the versions area where versions are
        kept (live from the create to now; backup mode never trashes), to the trash with
        ``versions = "trash"``. With anything in it (not syncd's doing) it is left and named.
        One listing per parent such an intent names, one per folder found: only after a
        crash. Returns the folders removed; a RemoteError leaves the rest to the next pass."""
        wanted: dict[int | None, dict[str, int]] = {}  # name -> when the create began (ns)
        for i in intents:
            if i.kind == "create_folder" and i.name:
                began = i.created_ns
                names = wanted.setdefault(i.folder_id, {})
                names[i.name] = min(began, names.get(i.name, began))
        removed = 0
        for parent, names in wanted.items():
            row = self.journal.dir_by_folder_id(self.pair_id, parent) if parent else None
            rel_dir = self.journal.dir_path(row.id) if row is not None else None
            if rel_dir is None:
                continue  # a folder the pair no longer has: not beside the live tree
            try:
                listing = self.client.folder_listing(api_folder_id(parent))
            except NotFound:
                continue
            for folder in listing.folders:
                rel = f"{rel_dir}/{folder.name}".lstrip("/")
                if (
                    folder.name not in names
                    or self.journal.dir_by_folder_id(self.pair_id, folder.id) is not None
                    or (self.root / rel).is_dir()  # the next walk of it adopts it
                ):
                    continue
                inside = self.client.folder_listing(folder.id)
                if inside.files or inside.folders:
                    log.warning(
                        "folder %s (id %s) was made by an interrupted pass and is not empty; "
                        "left where it is",
                        rel,
                        folder.id,
                    )
                    continue
                if self.versioner is not None and self.versioner.keep:
                    now = self.versioner.now_ns()
                    self.versioner.version_folder(folder.id, rel, names[folder.name], now)
                else:
                    with contextlib.suppress(NotFound):
                        self.client.folder_delete(folder.id)
                log.info(
                    "removed empty folder %s (id %s) left by an interrupted pass", rel, folder.id
                )
                self._count("empty folders left by a crash removed")
                removed += 1
        return removed

    def _do_AdoptFolder(self, op: AdoptFolder) -> None:
        assert op.parent.dir_id is not None
        with self.journal.transaction() as tx:
            op.target.dir_id = tx.insert_dir(
                self.pair_id,
                op.parent.dir_id,
                op.name,
                inode=op.inode,
                folder_id=op.folder_id,
                remote_name=op.remote_name,
            )
        op.target.folder_id = op.folder_id
        self._count("folders adopted")

    def _do_MoveFolder(self, op: MoveFolder) -> None:
        assert op.parent.dir_id is not None and op.parent.folder_id is not None
        with self.journal.transaction() as tx:
            intent = tx.add_intent(self.pair_id, "edit", target_id=op.folder_id, name=op.name)
        destination = api_folder_id(op.parent.folder_id)
        folder = self.client.folder_relocate(
            op.folder_id, destination, folder_name=op.new_remote_name
        )
        if op.set_parent and (folder.parent_id or None) != (destination or None):
            # The host ignores a parent inside the folder's own subtree and answers success.
            self.journal.clear_intents([intent])
            raise _Failed(
                f"the host left the folder in its old place (asked to move it into folder "
                f"{destination}, which may lie inside it); the next pass plans again"
            )
        with self.journal.transaction() as tx:
            tx.move_dir(op.dir_id, op.parent.dir_id, op.name, folder.name, op.inode)
            tx.clear_intent(intent)
        if op.repair:
            self._count("repaired")
        else:
            self._count("moved" if op.set_parent else "renamed")

    def _do_TrashFolder(self, op: TrashFolder) -> None:
        if self.versioner is not None and op.dir_id is not None:
            word = self.versioner.retire_folder(op.folder_id, op.rel, op.dir_id)
            with self.journal.transaction() as tx:
                tx.delete_dir_tree(op.dir_id)
            self._count(word, max(op.files, 1))
            return
        with self.journal.transaction() as tx:
            intent = tx.add_intent(self.pair_id, "trash", target_id=op.folder_id)
        with contextlib.suppress(NotFound):  # already gone
            self.client.folder_delete(op.folder_id)
        with self.journal.transaction() as tx:
            if op.dir_id is not None:
                tx.delete_dir_tree(op.dir_id)
            tx.clear_intent(intent)
        self._count("trashed", max(op.files, 1) if op.dir_id is not None else 1)

    def _do_ForgetDir(self, op: ForgetDir) -> None:
        with self.journal.transaction() as tx:
            tx.delete_dir_tree(op.dir_id)

    def _do_MarkDir(self, op: MarkDir) -> None:
        assert op.parent.dir_id is not None
        with self.journal.transaction() as tx:
            tx.insert_dir(
                self.pair_id,
                op.parent.dir_id,
                op.name,
                inode=op.inode,
                folder_id=None,
                status=SKIPPED,
                reason=op.reason,
            )
        self._skip(op.rel, op.reason)

    def _do_UpdateDir(self, op: UpdateDir) -> None:
        with self.journal.transaction() as tx:
            tx.update_dir(op.dir_id, inode=op.inode)

    # files

    def _do_Upload(self, op: Upload) -> None:
        assert op.parent.dir_id is not None and op.parent.folder_id is not None
        path = self.root / op.rel
        ident = self._stat(path)
        if ident is None:
            with self._lock:
                self.outcome.add("vanished before upload")
                self.outcome.recheck.append((op.parent.dir_id, op.name))
            return
        old = op.old_row
        hashed_ns = time.time_ns()
        if (
            old is not None
            and old.md5 is not None
            and op.reason == "modified"
            and ident.size == old.size
            and self._holds(path, old.md5, old.nonce)
            and self._racily_clean(path, ident, old.md5, old.nonce, hashed_ns)
        ):
            # Touched, not changed: same bytes as the synced version.
            with self.journal.transaction() as tx:
                tx.put_file(_replace_ident(old, ident))
            self._count("unchanged (same MD5)")
            return
        first, original = op, op.replaces
        old_size = first.old_row.remote_size if first.old_row is not None else None
        pending: int | None = None  # the intent that the replaced version is to be retired
        successor: int | None = None  # the upload that replaced it first
        for attempt in range(CHANGED_RETRIES + 1):
            started_ns = time.time_ns()
            retire = (original, old_size) if attempt == 0 and original is not None else None
            displaced = op.displaces if attempt == 0 else None
            result = self._upload_once(op, path, ident, retire=retire, displaced=displaced)
            if result is None:
                return  # refused: recorded as skipped
            after = self._stat(path)
            changed = after != ident
            if not changed and not self._racily_clean(
                path, ident, result.md5, result.nonce, started_ns
            ):
                changed = True
                log.info("file rewritten within one time stamp tick, sending again: %s", op.rel)
            if attempt == 0:
                pending, successor = result.pending, result.file_id
            if not changed or after is None or attempt == CHANGED_RETRIES:
                break
            # The file changed while it was sent: what the host holds is stale. Wait until it
            # settles, then send it again (the stale copy is trashed by the next upload).
            log.info("file changed during upload, sending again once it settles: %s", op.rel)
            settled = self._wait_settled(path)
            if settled is None:
                break
            ident = settled
            op = _next_version(op, result.file_id)
        if self.versioner is not None and original is not None:
            # The version this upload replaced leaves the live tree: a version, or the trash.
            replaced_at = (
                self.journal.upload_time(self.pair_id, successor) if successor is not None else None
            )
            self._count(
                self.versioner.retire_file(
                    original, op.rel, old_size, pending=pending, live_to=replaced_at
                )
            )
            if op.reason == _STALE and op.replaces is not None:
                self._trash_file(op.replaces)  # our own copy that went stale while sent
        elif op.replaces is not None and op.trash_replaced:
            self._trash_file(op.replaces)
        self._count("replaced" if op.replaces is not None else "uploaded")

    def _holds(self, path: Path, md5: bytes, nonce: bytes | None) -> bool:
        """Whether the file at ``path`` holds the bytes of the upload whose MD5 the host
        stored (``nonce``: the upload was encrypted under it, ``md5`` is its ciphertext's)."""
        stored = stored_md5_file(path, nonce, sealed_md5_of(self.client))
        return stored is not None and bytes.fromhex(stored) == md5

    def _racily_clean(
        self,
        path: Path,
        ident: Identity,
        md5: bytes | None,
        nonce: bytes | None,
        started_ns: int,
    ) -> bool:
        """False when the file may have been rewritten, same size, within the time stamp tick in
        which its upload read it (see RACY_NS): waits for the tick to pass, then compares the
        bytes on disk with the MD5 the host stored."""
        age = started_ns - ident.mtime_ns
        if md5 is None or not -RACY_NS <= age <= RACY_NS:
            return True
        wait_ns = ident.mtime_ns + RACY_NS - time.time_ns()
        if wait_ns > 0:
            time.sleep(wait_ns / 1e9)  # at most 2 x RACY_NS: until the clock is past the tick
        if self._stat(path) != ident:
            return False
        try:
            return self._holds(path, md5, nonce)
        except OSError:
            return False

    def _upload_once(
        self,
        op: Upload,
        path: Path,
        ident: Identity,
        *,
        retire: tuple[int, int | None] | None = None,
        displaced: tuple[int, int | None] | None = None,
    ) -> _Sent | None:
        """Send one version; returns what was sent, or None when the host refused.

        ``retire`` (the id and size of the version this upload replaces) is announced as an
        intent in the transaction that makes the new upload live: from then on the journal no
        longer tracks the old one, so a crash before it is retired must not leave it untracked
        beside its successor (a same-name pile, or an "extra" a mirror would trash). So is
        ``displaced`` (Upload.displaces), whose retirement later in the plan takes it over."""
        assert op.parent.dir_id is not None
        folder = op.parent.folder_id
        with self.journal.transaction() as tx:
            intent = tx.add_intent(
                self.pair_id,
                "upload",
                folder_id=folder,
                name=op.name,
                size=ident.size,
                inode=ident.inode,
            )
        md5: bytes | None
        nonce: bytes | None = None
        try:
            result = self._send(path, folder, op.name)
            if result is None:  # lost answer, adopted from the listing
                found = self._find_untracked_file(folder, op.name, ident.size)
                if found is None:
                    raise _Failed("upload answer lost and the file is not in the folder listing")
                file_id, stored, size, md5 = found[0], found[1], ident.size, None
            else:
                file_id, stored, size = result.file_id, result.name, result.size
                md5 = bytes.fromhex(result.md5) if result.md5 else None
                nonce = result.nonce if md5 is not None else None
                with self._lock:
                    self.outcome.bytes_uploaded += size
        except Refused as exc:
            reason = _refusal_reason(exc)
            with self.journal.transaction() as tx:
                tx.put_file(_row(op.parent.dir_id, op.name, ident, status=SKIPPED, why=reason))
                tx.clear_intent(intent)
            self._skip(op.rel, reason)
            return None
        with self.journal.transaction() as tx:
            tx.put_file(
                FileRow(
                    op.parent.dir_id,
                    op.name,
                    ident.size,
                    ident.mtime_ns,
                    ident.inode,
                    md5,
                    file_id,
                    stored,
                    size,
                    SYNCED,
                    None,
                    nonce,
                )
            )
            # A version's FROM, later; to the microsecond, so the retire intent carries it
            # exactly (Intent.created_ns) as the replaced version's TO.
            went_live = now_to_the_us()
            tx.record_upload(self.pair_id, file_id, went_live)
            pending = None
            if retire is not None and self.versioner is not None:
                pending = self.versioner.announce(
                    tx, retire[0], op.rel, retire[1], successor_from=went_live
                )
            if displaced is not None and self.versioner is not None:
                self.versioner.announce(
                    tx, displaced[0], op.rel, displaced[1], successor_from=went_live
                )
            tx.clear_intent(intent)
        return _Sent(file_id, md5, nonce, pending)

    def _send(self, path: Path, folder: int | None, name: str):  # type: ignore[no-untyped-def]
        """Upload, handling a bad copy (trash it, send once more) and a lost answer (None)."""
        for attempt in range(2):
            try:
                return self.client.upload_file(
                    path,
                    api_folder_id(folder),
                    filename=name,
                    progress=self._byte_counter(),
                )
            except HashMismatch as exc:
                if exc.file_id is not None:
                    self._trash_file(exc.file_id)
                if attempt == 1:
                    raise _Failed(f"the host stored other bytes twice: {exc.message}") from None
            except UploadOutcomeUnknown:
                if self._find_untracked_file(folder, name, path.stat().st_size) is not None:
                    return None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def _byte_counter(self) -> Callable[[int], None]:
        """The client reports bytes sent so far for one upload; progress wants increments."""
        last = 0

        def report(position: int) -> None:
            nonlocal last
            if position > last:
                self.progress.bytes_sent(position - last)
            last = position  # a retry rewinds to 0: count the resent bytes again

        return report

    def _find_untracked_file(
        self, folder: int | None, name: str, size: int
    ) -> tuple[int, str] | None:
        listing = self.client.folder_listing(api_folder_id(folder))
        for f in sorted(listing.files, key=lambda f: -f.id):
            if (
                f.name == name
                and f.size == size
                and self.journal.file_by_file_id(self.pair_id, f.id) is None
            ):
                return f.id, f.name
        return None

    def _wait_settled(self, path: Path) -> Identity | None:
        """Poll until the file's identity holds still for the quiet period (with a deadline)."""
        deadline = time.monotonic() + SETTLE_DEADLINE
        last = self._stat(path)
        while time.monotonic() < deadline and not self.cancel.is_set():
            time.sleep(max(self.quiet_period, 0.05))
            now = self._stat(path)
            if now == last:
                return now
            last = now
        return None

    def _trash_file(self, file_id: int) -> None:
        with self.journal.transaction() as tx:
            intent = tx.add_intent(self.pair_id, "trash", target_id=file_id)
        with contextlib.suppress(NotFound):
            self.client.file_delete(file_id)
        with self.journal.transaction() as tx:
            tx.clear_intent(intent)

    def _do_MoveFile(self, op: MoveFile) -> None:
        assert op.parent.dir_id is not None and op.parent.folder_id is not None
        row = op.row
        assert row.file_id is not None
        with self.journal.transaction() as tx:
            intent = tx.add_intent(self.pair_id, "edit", target_id=row.file_id, name=op.name)
        try:
            result = self.client.file_relocate(
                row.file_id, api_folder_id(op.parent.folder_id), filename=op.new_remote_name
            )
        except NotFound:
            result = None
        gone = result is None or result.status not in ("active", "")
        changed = result is not None and row.remote_size is not None
        changed = changed and result.size != row.remote_size
        expected = op.new_remote_name or row.stored_name
        if not gone and not changed and result is not None and result.name != expected:
            # Renamed remotely too, where this pass did not look: send the name as well.
            if form_name_issue(expected) is None:
                result = self.client.file_edit(row.file_id, filename=expected)
            else:
                changed = True  # file/edit cannot give it back its name: upload it again
        displaced = self._displaced_by(op.parent.dir_id, op.name, row.file_id)
        if gone or changed:
            # Trashed or rewritten remotely since it was synced (its folder was not listed in
            # this pass): the copy is not ours any more, so send the local file instead.
            with self.journal.transaction() as tx:
                tx.delete_file(op.old_dir_id, op.old_name, row.file_id)
                tx.clear_intent(intent)
            upload = Upload(
                op.rel,
                parent=op.parent,
                name=op.name,
                ident=op.ident,
                replaces=row.file_id if changed and not gone else None,
                trash_replaced=op.trash_stale,
                reason="changed remotely" if changed else "deleted remotely",
                displaces=displaced,
            )
            self._do_Upload(upload)
            return
        with self.journal.transaction() as tx:
            tx.delete_file(op.old_dir_id, op.old_name, row.file_id)
            if displaced is not None and self.versioner is not None:
                # Moved over a synced file (`mv d.md a.txt`), whose record this transaction
                # replaces while its retirement runs later in the plan (retirements run
                # last): announced here, so a crash in between cannot leave it untracked
                # beside the moved file; replayed by the next pass if need be.
                displaced_id, displaced_size = displaced
                self.versioner.announce(
                    tx, displaced_id, op.rel, displaced_size, successor_from=now_to_the_us()
                )
            tx.put_file(
                row._replace(
                    dir_id=op.parent.dir_id,
                    name=op.name,
                    size=op.ident.size,
                    mtime_ns=op.ident.mtime_ns,
                    inode=op.ident.inode,
                    remote_name=result.name,
                    status=SYNCED,
                    reason=None,
                )
            )
            tx.clear_intent(intent)
        if op.repair:
            self._count("repaired")
        else:
            self._count("moved" if op.set_folder else "renamed")

    def _displaced_by(self, dir_id: int, name: str, file_id: int) -> tuple[int, int | None] | None:
        """(id, size) of the synced upload at ``name`` in ``dir_id`` that moving ``file_id``
        there replaces, when versions are kept (with versions trashed, an untracked leftover
        is an extra the guard counts: announcing it would trash it past the guard), and when
        this plan retires it: the journal may still hold there an upload that the plan moves
        elsewhere, or one gone from the host (`mv a b; mv c a`), which nothing would take over."""
        if self.versioner is None or not self.versioner.keep:
            return None
        there = self.journal.get_file(dir_id, name)
        if there is None or there.file_id is None or there.file_id == file_id:
            return None
        if there.file_id not in self._retiring:
            return None
        return there.file_id, there.remote_size

    def _announced(self, file_id: int) -> Intent | None:
        """The retire intent a move over ``file_id`` announced (see _do_MoveFile)."""
        return next(
            (
                i
                for i in self.journal.intents(self.pair_id)
                if i.kind == RETIRE_INTENT and i.target_id == file_id
            ),
            None,
        )

    def _do_TrashFile(self, op: TrashFile) -> None:
        if self.versioner is not None and op.dir_id is not None and op.name is not None:
            row = self.journal.get_file(op.dir_id, op.name)
            if row is not None and row.file_id == op.file_id:
                word = self.versioner.retire_file(op.file_id, op.rel, row.remote_size)
            else:  # moved over (the path holds another file now), or gone from the journal
                announced = self._announced(op.file_id) if self.versioner.keep else None
                word = self.versioner.retire_file(
                    op.file_id,
                    op.rel,
                    announced.size if announced is not None else None,
                    pending=announced.id if announced is not None else None,
                    live_to=announced.created_ns if announced is not None else None,
                )
            with self.journal.transaction() as tx:
                tx.delete_file(op.dir_id, op.name, op.file_id)
            self._count(word)
            return
        self._trash_file(op.file_id)
        if op.dir_id is not None and op.name is not None:
            with self.journal.transaction() as tx:
                tx.delete_file(op.dir_id, op.name, op.file_id)
        self._count("trashed")

    def _do_AdoptFile(self, op: AdoptFile) -> None:
        assert op.parent.dir_id is not None
        i = op.ident
        with self.journal.transaction() as tx:
            tx.put_file(
                FileRow(
                    op.parent.dir_id,
                    op.name,
                    i.size,
                    i.mtime_ns,
                    i.inode,
                    None,
                    op.file_id,
                    op.remote_name,
                    op.remote_size,
                )
            )
            if op.ours:
                # Live from now on, for `restore --at`: without this record its time would
                # be file/info's uploadedDate, which the host gives only to the second.
                tx.record_upload(self.pair_id, op.file_id, time.time_ns())
        self._count("adopted")

    def _do_SkipFile(self, op: SkipFile) -> None:
        assert op.parent.dir_id is not None
        with self.journal.transaction() as tx:
            tx.put_file(_row(op.parent.dir_id, op.name, op.ident, status=SKIPPED, why=op.reason))
        self._skip(op.rel, op.reason)

    def _do_TouchFile(self, op: TouchFile) -> None:
        with self.journal.transaction() as tx:
            tx.put_file(op.row)

    def _do_ForgetFile(self, op: ForgetFile) -> None:
        with self.journal.transaction() as tx:
            tx.delete_file(op.dir_id, op.name, op.file_id)

    # helpers

    def _skip(self, rel: str, reason: str) -> None:
        with self._lock:
            self.outcome.skipped.append((rel, reason))
            self.outcome.add("skipped")

    @staticmethod
    def _stat(path: Path) -> Identity | None:
        try:
            st = os.lstat(path)
        except OSError:
            return None
        return Identity(st.st_size, clamp_mtime_ns(st.st_mtime_ns), st.st_ino)


def _row(dir_id: int, name: str, ident: Identity, *, status: int, why: str) -> FileRow:
    return FileRow(dir_id, name, ident.size, ident.mtime_ns, ident.inode, status=status, reason=why)


def _replace_ident(row: FileRow, ident: Identity) -> FileRow:
    return row._replace(size=ident.size, mtime_ns=ident.mtime_ns, inode=ident.inode)


_STALE = "changed during upload"  # an Upload replacing our own stale copy: always trashed


def _next_version(op: Upload, stale_id: int) -> Upload:
    """The same upload again, replacing (and trashing) the stale copy just sent."""
    return Upload(
        op.rel,
        parent=op.parent,
        name=op.name,
        ident=op.ident,
        replaces=stale_id,
        trash_replaced=True,  # our own stale copy, in any mode
        reason=_STALE,
    )


def _refusal_reason(exc: Refused) -> str:
    if exc.kind == Refused.ZERO_BYTE:
        return "empty file: the host refuses zero-byte uploads"
    if exc.kind == Refused.TOO_LARGE:
        return f"above the account's upload limit ({exc.reason})"
    return f"refused by the host: {exc.reason}"
