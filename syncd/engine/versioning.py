"""What happens to a remote file (or folder) that leaves a pair's live tree: a version, or the
host's trash.

The planner says *that* a remote file leaves the live tree (an upload replaces it, its local
file or directory was deleted); the executor asks a :class:`Versioner` to retire it. With
versions kept (``versions = "keep"`` or a retention table; backup mode's default) it is moved
**by id** into the pair's versions area, ``<pair folder>/.syncd-versions/<same relative
dir>/``, and renamed to its versioned name (``syncd.history.names``) in the same call: one
``file/edit`` (folder_id and filename together), never a re-upload. A directory removed locally
becomes one versioned *folder*: one ``folder/edit`` that moves and renames it, whatever it
holds.

Times: a version's FROM is when its upload became live. syncd records that for its own uploads
(the journal's ``uploads`` table); for older ones it asks ``file/info``'s ``uploadedDate``
(one call, only for uploads made before this journal knew). TO is when the path's next
content went live (its successor's FROM, carried by the ``retire`` intent through a crash), or
now for a file removed: versions of one path never overlap. A versioned folder's
FROM is the newest upload time of the files it holds, the host asked for those the journal
does not know (every file in it was live from FROM to TO, which is what ``restore --at`` needs
for any moment in that span; a moment before FROM dates each file on its own). Where no time
can be had, FROM is TO: a folder is never dated earlier than its files.

Crash safety: each move is an intent (kind ``version``, target id, area folder id, versioned
name) written before the call and cleared with the journal change; a pass starts by replaying
the intents a crash left (:meth:`Versioner.replay`): a file the journal still tracks was not
retired yet (the new pass decides about it again), any other is moved where the intent says.
Prunes are ``trash`` intents like every other trash. An upload that replaces a version
announces the old one's retirement (kind ``retire``: target id, path, size) in the very
transaction that makes the new upload live, because from that commit on the journal no longer
tracks the old id: a crash before its move would otherwise leave it untracked beside its
successor (a same-name pile in backup mode; an "extra" that mirror mode trashes, losing the
version). Replay retires it. What an upload killed before its answer was recorded left, and
the pass could not adopt, becomes a version at the end of the pass
(:meth:`Versioner.sweep_interrupted_uploads`), or before its folder is kept whole, where it
would lie beside the file it was to replace under the same name.

The versions area's folder ids are kept in the journal (``version_folders``), so a retirement
costs one call; a cached id that no longer exists (the host ignores an unknown ``folder_id`` in
``file/edit``, so the answer's folder is checked) is looked up again.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from syncd.config import PairConfig
from syncd.history.names import VERSIONS_DIR, parse_versioned_name, versioned_name
from syncd.history.retention import Retention, kept
from syncd.journal.rows import Intent, api_folder_id
from syncd.journal.store import Journal, Tx
from syncd.remote.client import RemoteClient
from syncd.remote.errors import NotFound, RemoteError
from syncd.remote.paths import uploaded_ns

if TYPE_CHECKING:
    from syncd.engine.executor import Outcome

log = logging.getLogger(__name__)

VERSION_INTENT = "version"
VERSION_FOLDER_INTENT = "version_folder"
RETIRE_INTENT = "retire"  # a replaced upload still to be retired (target id, path, size)


@dataclass
class Retired:
    """One remote item a pass took out of the live tree, for the pass summary."""

    rel: str
    remote_id: int
    action: str  # "version" | "trash"
    is_folder: bool = False
    versioned: str | None = None


@dataclass
class Versioner:
    """Retires remote items of one pair, by its history policy. Thread-safe."""

    client: RemoteClient
    journal: Journal
    pair_id: int
    root_folder_id: int  # the pair's remote folder (ACCOUNT_ROOT for the account root)
    keep: bool
    retention: Retention | None = None
    now_ns: Callable[[], int] = time.time_ns
    retired: list[Retired] = field(default_factory=list)
    _interrupted: dict[int, dict[tuple[str, int], int]] = field(default_factory=dict)
    _theirs: frozenset[int] = frozenset()
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _area_lock: threading.Lock = field(default_factory=threading.Lock)

    # -- files ---------------------------------------------------------------------------------

    def announce(
        self, tx: Tx, file_id: int, rel: str, size: int | None, *, successor_from: int
    ) -> int:
        """Record, in the transaction that makes its successor live (at ``successor_from``,
        microsecond-aligned ns), that ``file_id`` (live at ``rel`` until then) is to be
        retired; :meth:`retire_file` clears it (``pending``), :meth:`replay` finishes it after
        a crash, with the successor's start as its end (the intent's ``created_ns``)."""
        return tx.add_intent(
            self.pair_id,
            RETIRE_INTENT,
            name=rel,
            size=size,
            target_id=file_id,
            created_at=successor_from / 1e9,
        )

    def retire_file(
        self,
        file_id: int,
        rel: str,
        size: int | None,
        *,
        pending: int | None = None,
        live_to: int | None = None,
    ) -> str:
        """Take ``file_id`` (live at ``rel``) out of the live tree; returns the summary word.
        ``pending``: the intent :meth:`announce` wrote for it, cleared with the outcome.
        ``live_to``: when its successor went live (it held the path until then, not until it
        was moved a moment later: two versions never claim one path at once); else now."""
        if not self.keep:
            self._trash(file_id, pending=pending)
            self._note(Retired(rel, file_id, "trash"))
            return "trashed"
        if live_to is None:
            live_to = self.now_ns()
        live_from = self._live_from(file_id, live_to)
        return self.version_file(file_id, rel, size, live_from, live_to, pending=pending)

    def version_file(
        self,
        file_id: int,
        rel: str,
        size: int | None,
        live_from: int,
        live_to: int,
        *,
        pending: int | None = None,
    ) -> str:
        """Move ``file_id`` into the versions area as the version of ``rel`` that was live
        from ``live_from`` to ``live_to`` (one ``file/edit``)."""
        done = [pending] if pending is not None else []
        parent, _, name = rel.rpartition("/")
        vname = versioned_name(name, min(live_from, live_to), live_to)
        for attempt in range(2):
            area = self.area_folder(parent, fresh=attempt > 0)
            with self.journal.transaction() as tx:
                intent = tx.add_intent(
                    self.pair_id, VERSION_INTENT, folder_id=area, name=vname, target_id=file_id
                )
            try:
                moved = self.client.file_relocate(file_id, api_folder_id(area), filename=vname)
            except NotFound:
                self.journal.clear_intents([intent, *done])
                return "already gone"
            if (moved.folder_id or 0) == area:
                with self.journal.transaction() as tx:
                    tx.forget_upload(self.pair_id, file_id)
                    tx.add_history(self.pair_id, 1, size or moved.size)
                    for intent_id in [intent, *done]:
                        tx.clear_intent(intent_id)
                self._note(Retired(rel, file_id, "version", versioned=moved.name))
                return "versioned"
            self.journal.clear_intents([intent])  # the area folder is gone: look it up again
        raise RemoteError(f"could not move {rel} into the versions area")

    def _live_from(self, file_id: int, fallback: int) -> int:
        known = self._uploaded_at(file_id)
        return known if known is not None else fallback

    # -- folders -------------------------------------------------------------------------------

    def retire_folder(self, folder_id: int, rel: str, dir_id: int) -> str:
        """Take a whole folder out of the live tree: one ``folder/edit`` into the area."""
        if not self.keep:
            with contextlib.suppress(NotFound):
                self._trash_folder(folder_id)
            self._note(Retired(rel, folder_id, "trash", is_folder=True))
            return "trashed"
        if self._interrupted:
            self._sweep_subtree(folder_id, rel, dir_id)
        live_to = self.now_ns()
        files, nbytes, newest = self._subtree_facts(dir_id)
        # No time for some file (the host did not say either): claim nothing before TO, so a
        # restore --at earlier dates each of its files on its own.
        live_from = newest if newest is not None else live_to
        return self.version_folder(folder_id, rel, live_from, live_to, files=files, nbytes=nbytes)

    def version_folder(
        self,
        folder_id: int,
        rel: str,
        live_from: int,
        live_to: int,
        *,
        files: int = 0,
        nbytes: int = 0,
    ) -> str:
        """Move folder ``folder_id`` into the versions area as the version of directory
        ``rel`` live from ``live_from`` to ``live_to``, holding ``files`` files of ``nbytes``
        bytes (one ``folder/edit``)."""
        parent, _, name = rel.rpartition("/")
        vname = versioned_name(name, min(live_from, live_to), live_to, is_folder=True)
        for attempt in range(2):
            area = self.area_folder(parent, fresh=attempt > 0)
            with self.journal.transaction() as tx:
                intent = tx.add_intent(
                    self.pair_id,
                    VERSION_FOLDER_INTENT,
                    folder_id=area,
                    name=vname,
                    target_id=folder_id,
                )
            try:
                moved = self.client.folder_relocate(
                    folder_id, api_folder_id(area), folder_name=vname
                )
            except NotFound:
                self.journal.clear_intents([intent])
                return "already gone"
            if (moved.parent_id or 0) == area:
                with self.journal.transaction() as tx:
                    tx.add_history(self.pair_id, files, nbytes)
                    tx.clear_intent(intent)
                self._note(Retired(rel, folder_id, "version", True, moved.name))
                return "versioned"
            self.journal.clear_intents([intent])
        raise RemoteError(f"could not move {rel}/ into the versions area")

    def _sweep_subtree(self, folder_id: int, rel: str, dir_id: int) -> None:
        """What interrupted uploads left in a folder about to be kept whole becomes versions
        of its own first: kept whole, it would lie beside the file it was to replace under
        the same name, and claim to have been live as long as the folder."""
        stack = [(folder_id, rel, dir_id)]
        while stack:
            here, rel_dir, row_id = stack.pop()
            self._sweep_folder(here, rel_dir)
            _, dirs = self.journal.children(row_id)
            stack.extend(
                (d.folder_id, f"{rel_dir}/{d.name}", d.id) for d in dirs if d.folder_id is not None
            )

    def _subtree_facts(self, dir_id: int) -> tuple[int, int, int | None]:
        """(files, bytes, newest upload time) of a journal subtree. A time the journal does not
        know is asked of the host (``file/info``: uploads made before this journal recorded
        them); None when even that fails for some file, or the subtree holds none."""
        files = nbytes = 0
        newest: int | None = None
        unknown = False
        stack = [dir_id]
        while stack:
            rows, dirs = self.journal.children(stack.pop())
            for row in rows:
                if row.file_id is None:
                    continue
                files += 1
                nbytes += row.remote_size or row.size
                t = self._uploaded_at(row.file_id)
                if t is None:
                    unknown = True
                elif newest is None or t > newest:
                    newest = t
            stack.extend(d.id for d in dirs)
        return files, nbytes, None if unknown else newest

    # -- the area ------------------------------------------------------------------------------

    def area_folder(self, rel_dir: str, *, fresh: bool = False) -> int:
        """The versions area's folder for the pair's directory ``rel_dir`` ("" = the pair's
        root), created along the way; from the journal unless ``fresh``, or unless a cached
        folder on the way is gone (NotFound: looked up afresh once). NotFound when the pair's
        folder itself is gone."""
        if not fresh:
            try:
                return self._area_folder(rel_dir, fresh=False)
            except NotFound:
                pass  # a cached folder of the area is gone (trashed on the web site)
        return self._area_folder(rel_dir, fresh=True)

    def _area_folder(self, rel_dir: str, *, fresh: bool) -> int:
        with self._area_lock:
            if not fresh:
                cached = self.journal.version_folder(self.pair_id, rel_dir)
                if cached is not None:
                    return cached
            parts = [VERSIONS_DIR, *(p for p in rel_dir.split("/") if p)]
            folder = self.root_folder_id
            for depth in range(len(parts)):
                key = "/".join(parts[1 : depth + 1])
                cached = None if fresh else self.journal.version_folder(self.pair_id, key)
                if cached is not None:
                    folder = cached
                    continue
                listing = self.client.folder_listing(api_folder_id(folder))
                found = sorted(f.id for f in listing.folders if f.name == parts[depth])
                if found:
                    folder = found[0]  # twins (a crash between create and record): the oldest
                else:
                    folder = self.client.folder_create(parts[depth], api_folder_id(folder)).id
                self.journal.set_version_folder(self.pair_id, key, folder)
            return folder

    # -- the upgrade of backups made before versions -----------------------------------------

    def sort_piles(self, root_dir_id: int) -> int:
        """Backups made before versions left every replaced upload beside its successor under
        the same name. Once per pair: in each folder the journal tracks, the untracked files
        named like a tracked file become that file's versions (oldest first, each live from its
        ``uploadedDate`` until the next one's); the journal's id stays live. Nothing is
        trashed. One listing per folder, one ``file/info`` and one ``file/edit`` per old
        upload. Returns how many versions were made."""
        made = 0
        stack: list[tuple[int, str, int]] = [(root_dir_id, "", self.root_folder_id)]
        while stack:
            dir_id, rel, folder_id = stack.pop()
            files, dirs = self.journal.children(dir_id)
            stack.extend(
                (d.id, f"{rel}/{d.name}".lstrip("/"), d.folder_id)
                for d in dirs
                if d.folder_id is not None
            )
            try:
                listing = self.client.folder_listing(api_folder_id(folder_id))
            except NotFound:
                continue
            by_name: dict[str, list[int]] = {}
            sizes: dict[int, int] = {}
            for f in listing.files:
                by_name.setdefault(f.name, []).append(f.id)
                sizes[f.id] = f.size
            for row in files:
                if row.file_id is None:
                    continue
                others = [
                    i
                    for i in by_name.get(row.stored_name, [])
                    if i != row.file_id and self.journal.file_by_file_id(self.pair_id, i) is None
                ]
                if not others:
                    continue
                pile = [*sorted(others), row.file_id]  # ids grow with uploads: oldest first
                starts = [self._uploaded_at(i) for i in pile]
                path = f"{rel}/{row.name}".lstrip("/")
                for index, old in enumerate(pile[:-1]):
                    start = starts[index] if starts[index] is not None else 0
                    end = next((t for t in starts[index + 1 :] if t is not None), start)
                    self.version_file(old, path, sizes.get(old), start, max(start, end))
                    made += 1
        self.journal.set_upgraded(self.pair_id)
        return made

    def _uploaded_at(self, file_id: int) -> int | None:
        known = self.journal.upload_time(self.pair_id, file_id)
        if known is not None:
            return known
        return uploaded_ns(self.client, file_id)

    # -- crash recovery ------------------------------------------------------------------------

    def replay(self, intents: list[Intent]) -> list[int]:
        """Finish the versioning moves a crash interrupted; returns the intents handled."""
        handled: list[int] = []
        for intent in intents:
            if intent.kind == RETIRE_INTENT:
                try:
                    self._replay_retire(intent)
                except NotFound:
                    # The pair's folder is gone (trashed on the web site), and the old upload
                    # with it; the walk finds the folder again by its path. Failing here
                    # would fail every pass before that.
                    log.warning(
                        "could not retire %s (id %s): the pair's remote folder is gone",
                        intent.name,
                        intent.target_id,
                    )
                handled.append(intent.id)
                continue
            if intent.kind not in (VERSION_INTENT, VERSION_FOLDER_INTENT):
                continue
            handled.append(intent.id)
            target, area, name = intent.target_id, intent.folder_id, intent.name
            if target is None or area is None or not name:
                continue
            try:
                if intent.kind == VERSION_INTENT:
                    if self.journal.file_by_file_id(self.pair_id, target) is not None:
                        continue  # still live in the journal: this pass decides again
                    self.client.file_relocate(target, api_folder_id(area), filename=name)
                else:
                    if self.journal.dir_by_folder_id(self.pair_id, target) is not None:
                        continue
                    self.client.folder_relocate(target, api_folder_id(area), folder_name=name)
            except NotFound:
                continue
            log.info("finished an interrupted versioning move: %s (id %s)", name, target)
        self.journal.clear_intents(handled)
        return handled

    def _replay_retire(self, intent: Intent) -> None:
        """A replaced upload the crashed pass did not retire: retire it now (its successor
        was recorded in the same transaction as the intent, so the journal no longer tracks
        it, unless a later pass tracks it again)."""
        target, rel = intent.target_id, intent.name
        if target is None or not rel:
            return
        if self.journal.file_by_file_id(self.pair_id, target) is not None:
            return
        word = self.retire_file(target, rel, intent.size, live_to=intent.created_ns)
        log.info("retired a replaced upload a crash left beside its successor: %s (%s)", rel, word)

    def expect_interrupted_uploads(
        self, intents: list[Intent], theirs: frozenset[int] = frozenset()
    ) -> None:
        """Note what uploads a crash interrupted may have left (the pass's ``upload``
        intents), for :meth:`sweep_interrupted_uploads` and for a folder kept whole before
        then. ``theirs``: files the pass found not left by the crash (dated before the upload
        began, or other bytes than the local file's: someone else's), left alone."""
        interrupted: dict[int, dict[tuple[str, int], int]] = {}
        for i in intents:
            if i.kind == "upload" and i.folder_id is not None and i.name and i.size is not None:
                began = i.created_ns
                sent = interrupted.setdefault(i.folder_id, {})
                sent[(i.name, i.size)] = min(began, sent.get((i.name, i.size), began))
        with self._lock:
            self._interrupted, self._theirs = interrupted, theirs

    def sweep_interrupted_uploads(self) -> int:
        """An upload killed after the host stored it, before its answer was recorded, left an
        untracked file. The pass adopts it when the local file is still there with that name
        and size; otherwise (renamed, changed, deleted since) it would stay beside the live
        tree for good in backup mode. With versions kept it becomes a version (live from its
        upload until now: the local file held those bytes then), never trashed. One listing
        per folder such an intent names, so only after a crash. Returns the versions made."""
        if not self.keep:
            return 0
        made = 0
        for folder_id in list(self._interrupted):
            row = self.journal.dir_by_folder_id(self.pair_id, folder_id)
            rel_dir = self.journal.dir_path(row.id) if row is not None else None
            if rel_dir is not None:
                made += self._sweep_folder(folder_id, rel_dir)
        return made

    def _sweep_folder(self, folder_id: int, rel_dir: str) -> int:
        """Version what interrupted uploads left in one folder of the live tree, once."""
        with self._lock:
            sent = self._interrupted.pop(folder_id, None)
        if not sent:
            return 0
        try:
            listing = self.client.folder_listing(api_folder_id(folder_id))
        except NotFound:
            return 0
        made = 0
        for f in listing.files:
            # (name, size) -> when the upload began: it was not live before, whatever
            # file/info's whole second says (a restore --at earlier in that second must not
            # find it).
            began = sent.get((f.name, f.size))
            if began is None:
                continue
            if self.journal.file_by_file_id(self.pair_id, f.id) is not None:
                continue  # adopted, or another file's copy
            if f.id in self._theirs:
                continue  # someone else's (the pass checked): left alone
            rel = f"{rel_dir}/{f.name}".lstrip("/")
            live_to = self.now_ns()
            live_from = max(self._live_from(f.id, live_to), began)
            if self.version_file(f.id, rel, f.size, live_from, live_to) == "versioned":
                made += 1
                log.info("an interrupted upload became a version: %s (id %s)", rel, f.id)
        return made

    # -- retention -----------------------------------------------------------------------------

    def prune(self, *, dry_run: bool = False) -> tuple[int, int, list[Retired]]:
        """Apply the retention policy to the whole versions area (one listing per folder in
        it); returns (versions kept, bytes kept, what was (or would be) pruned)."""
        area = self.journal.version_folder(self.pair_id, "")
        if area is None:
            area = self._find_area()
            if area is None:
                return 0, 0, []
        now = self.now_ns()
        total = nbytes = 0
        pruned: list[Retired] = []
        files_in: dict[tuple[bool, int], int] = {}
        stack: list[tuple[int, str]] = [(area, "")]
        while stack:
            folder_id, rel = stack.pop()
            try:
                listing = self.client.folder_listing(folder_id)
            except NotFound:
                continue
            groups: dict[str, list[tuple[tuple[bool, int], int, int]]] = {}
            for f in listing.files:
                parsed = parse_versioned_name(f.name)
                if parsed is None:
                    continue  # not ours: left alone
                groups.setdefault(parsed.original, []).append(
                    ((False, f.id), parsed.live_to_ns, f.size)
                )
            for sub in listing.folders:
                parsed = parse_versioned_name(sub.name)
                if parsed is None:
                    stack.append((sub.id, f"{rel}/{sub.name}".lstrip("/")))
                else:
                    size = sub.total_size or 0
                    files_in[(True, sub.id)] = max(sub.file_count or 0, 1)
                    groups.setdefault(parsed.original + "/", []).append(
                        ((True, sub.id), parsed.live_to_ns, size)
                    )
            for original, versions in groups.items():
                sizes = {key: size for key, _, size in versions}
                keep = (
                    kept([(k, t) for k, t, _ in versions], self.retention, now)
                    if self.retention is not None
                    else set(sizes)
                )
                for key, size in sizes.items():
                    if key in keep:
                        # A folder kept whole counts its files, as retire_folder counted them
                        # (the listing knows the files directly in it, not deeper ones).
                        total += files_in.get(key, 1)
                        nbytes += size
                        continue
                    is_folder, remote_id = key
                    path = f"{rel}/{original}".lstrip("/")
                    pruned.append(Retired(path, remote_id, "prune", is_folder))
                    if dry_run:
                        continue
                    if is_folder:
                        with contextlib.suppress(NotFound):
                            self._trash_folder(remote_id)
                    else:
                        self._trash(remote_id)
        if not dry_run:
            self.journal.set_history_counts(self.pair_id, total, nbytes)
        return total, nbytes, pruned

    def _find_area(self) -> int | None:
        listing = self.client.folder_listing(api_folder_id(self.root_folder_id))
        found = sorted(f.id for f in listing.folders if f.name == VERSIONS_DIR)
        if not found:
            return None
        self.journal.set_version_folder(self.pair_id, "", found[0])
        return found[0]

    # -- plumbing ------------------------------------------------------------------------------

    def _trash(self, file_id: int, *, pending: int | None = None) -> None:
        with self.journal.transaction() as tx:
            intent = tx.add_intent(self.pair_id, "trash", target_id=file_id)
        with contextlib.suppress(NotFound):
            self.client.file_delete(file_id)
        with self.journal.transaction() as tx:
            tx.forget_upload(self.pair_id, file_id)
            tx.clear_intent(intent)
            if pending is not None:
                tx.clear_intent(pending)

    def _trash_folder(self, folder_id: int) -> None:
        with self.journal.transaction() as tx:
            intent = tx.add_intent(self.pair_id, "trash", target_id=folder_id)
        try:
            self.client.folder_delete(folder_id)
        finally:
            self.journal.clear_intents([intent])

    def _note(self, item: Retired) -> None:
        with self._lock:
            self.retired.append(item)


# -- the pass's two hooks (called by engine.reconcile) -----------------------------------------


def for_pass(
    client: RemoteClient,
    journal: Journal,
    pair_id: int,
    root_folder_id: int | None,
    pair: PairConfig,
    dry_run: bool,
) -> Versioner | None:
    """The pass's versioner (None in a dry run, or while the pair has no remote folder)."""
    if dry_run or root_folder_id is None:
        return None
    policy = pair.history
    return Versioner(
        client, journal, pair_id, root_folder_id, keep=policy.keep, retention=policy.retention
    )


def before_pass(
    versioner: Versioner,
    journal: Journal,
    root_dir_id: int,
    intents: list[Intent],
    theirs: frozenset[int] = frozenset(),
) -> list[Intent]:
    """Finish interrupted versioning moves; note what interrupted uploads may have left
    (``theirs``: what the pass found someone else's); the first time a pair keeps versions,
    sort out the same-name piles older backups left. Returns the intents still to be looked
    at."""
    handled = set(versioner.replay(intents))
    versioner.expect_interrupted_uploads(intents, theirs)
    if versioner.keep:
        counts = journal.history_counts(versioner.pair_id)
        if counts is None or not counts[3]:
            made = versioner.sort_piles(root_dir_id)
            if made:
                log.info("sorted %d older same-name uploads into the versions area", made)
    return [i for i in intents if i.id not in handled]


def after_pass(
    versioner: Versioner,
    outcome: Outcome,
    *,
    full: bool,
) -> None:
    """Sort what interrupted uploads left (:meth:`Versioner.expect_interrupted_uploads`); hand
    what the pass retired to its summary; after a full pass, apply the retention policy (only
    an explicit one: with none, every version is kept)."""
    if not outcome.cancelled:
        try:
            versioner.sweep_interrupted_uploads()
        except RemoteError as exc:
            outcome.failed.append((VERSIONS_DIR, f"sorting interrupted uploads failed: {exc}"))
            outcome.add("failed")
    if full and versioner.keep and versioner.retention is not None and not outcome.cancelled:
        try:
            _, _, pruned = versioner.prune()
        except RemoteError as exc:
            outcome.failed.append((VERSIONS_DIR, f"pruning old versions failed: {exc}"))
            outcome.add("failed")
        else:
            if pruned:
                outcome.add("pruned", len(pruned))
            versioner.retired.extend(pruned)
    outcome.retired.extend(versioner.retired)
