"""The planner: three trees in, ops out. Pure: every fact comes through :class:`Sources`.

One directory at a time (a merge of the sorted local entries, the journal rows under it and the
one listing of its remote folder), so memory grows with the largest directory and with the
number of *changes*, never with the tree. In push mode local wins: the remote is made to match.

Phases (:meth:`Planner._plan`):

1. walk (:meth:`Planner._walk`): visit the queued directories depth first. What one directory's
   three views settle alone becomes an op at once; the rest is noted for later
   (:class:`_ToResolve`, :class:`_ToFinalize`) with what the listings said about tracked ids
   (:class:`_RemoteFacts`) and which rows and ids are taken (:class:`_Claims`).
2. resolve (:meth:`Planner._resolve`): decisions that needed the queue empty (a new inode under
   a known name: the same file or directory, or another one moved here?). They may queue more
   directories, so walk and resolve alternate until neither has anything left.
3. finalize (:meth:`Planner._finalize`): decisions that needed the whole walk: local moves
   whose remote copy is not the synced one, tracked ids missing from home, every trash.

A partial pass (:meth:`Planner.plan_dirs`, the daemon's dirty paths) visits the directories it
is given, each with its whole subtree or none of it. A directory found moved there is one
``folder/edit``; its visit lists the moved folder itself and descends only towards the dirty
paths below it (reported at its new place, or at its old one before the move), never into the
rest of the moved subtree: a rename costs a few listings, not one per subfolder. A dirty path
naming a subdirectory itself stands for all of it. Where the parent is walked whole (a full
pass, a created folder), so is the moved directory.

Local moves are recognised without a watcher: a new local entry asks the journal for a row with
the same inode (and, for files, size and mtime) whose recorded path no longer holds that inode
(and, for directories, some of whose recorded entries it holds: ext4 reuses freed inodes at once);
such a row is *claimed* and becomes one ``file/edit``/``folder/edit`` by id. Remote drift is
repaired by id the same way: an untracked id in one listing that the journal knows elsewhere was
moved remotely and is put back.

The decision table. Local and remote are each compared with the journal (the synced tree: what
both sides last agreed on); the remote is matched by the id the journal recorded, not by name.

    local             journal        remote (by id)               op
    ----------------  -------------  ---------------------------  ----------------------------
    same              synced         at home, same name and size  nothing
    same, new inode   synced         (as below)                   TouchFile / UpdateDir, then
    same              synced         at home, other name          MoveFile / MoveFolder repair
                                                                  (Upload: name file/edit mangles)
    same              synced         at home, other size          Upload replacing it
    same              synced         in another listed folder     MoveFile / MoveFolder repair
                                                                  (Upload when its size changed)
    same              synced         nowhere                      Upload / CreateFolder again
    changed           synced         any                          Upload replacing it
    new inode, name   synced         any                          resolve: moved here → as new;
                                                                  else a new version (Upload)
    new               row elsewhere  at home, as synced           MoveFile / MoveFolder by id
                      with its inode                              (finalize: Upload + ForgetFile
                      that lost it                                when the copy is gone/changed)
    new               none           untracked, same name (size)  AdoptFolder; AdoptFile with an
                                                                  upload intent / adopt_existing
    new               none           none                         Upload / CreateFolder
    new, not holdable none           any                          SkipFile / MarkDir (reason)
    gone              synced         listed (home or elsewhere)   mirror: TrashFile/TrashFolder;
                                                                  backup: ForgetFile/ForgetDir
    gone              synced         nowhere                      ForgetFile / ForgetDir
    unreadable        any            any                          nothing (never a deletion)
    none              none           untracked extra              mirror: TrashFile/TrashFolder
                                                                  (a folder is listed first: ids
                                                                  of ours inside are put back);
                                                                  backup: nothing
    none              other place    listed, home never handled   mirror: TrashFile/TrashFolder
                                                                  (not when some dir was unread)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from syncd.engine.ops import (
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
from syncd.journal.rows import SKIPPED, SYNCED, DirRow, FileRow
from syncd.local.names import form_name_issue, upload_name_issue
from syncd.local.timestamps import RACY_NS

Mode = Literal["mirror", "backup"]
# How far a visit descends: True into every subdirectory; else only into those on the way to
# these paths (relative to the visited directory; empty: into none).
Descent = Literal[True] | frozenset[str]


class RemoteFile(Protocol):
    """A file row of a folder listing (``syncd.remote.models.RemoteFile`` fits)."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def size(self) -> int: ...


class RemoteFolder(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def file_count(self) -> int | None: ...


class FolderListing(Protocol):
    """One ``folder/listing`` answer (``syncd.remote.models.FolderListing`` fits)."""

    @property
    def folders(self) -> Sequence[RemoteFolder]: ...
    @property
    def files(self) -> Sequence[RemoteFile]: ...


@dataclass(frozen=True)
class _EmptyListing:
    folders: tuple[RemoteFolder, ...] = ()
    files: tuple[RemoteFile, ...] = ()


# The planner imports nothing that does I/O (not even the remote package: it would pull httpx).
EMPTY_LISTING: FolderListing = _EmptyListing()


class Cancel(Protocol):
    def is_set(self) -> bool: ...


class LocalEntryLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...  # "file" | "dir"
    @property
    def size(self) -> int: ...
    @property
    def mtime_ns(self) -> int: ...
    @property
    def inode(self) -> int: ...


@dataclass(frozen=True, slots=True)
class LocalDir:
    """One directory's local listing. ``unknown`` names exist but are not synced (unreadable,
    not UTF-8, symlinks): never mistake them for deletions."""

    entries: Sequence[LocalEntryLike]
    unknown: frozenset[str] = frozenset()


class Sources(Protocol):
    """Read-only access to the three trees (the reconciler implements it with real I/O)."""

    def local_dir(self, rel: str) -> LocalDir | None:
        """None: the directory cannot be listed (gone, unreadable): its contents are unknown."""

    def local_entry(self, rel: str) -> LocalEntryLike | None:
        """The entry at a path now (lstat), for move detection."""

    def journal_children(self, dir_id: int) -> tuple[Sequence[FileRow], Sequence[DirRow]]: ...

    def remote_listing(self, folder_id: int) -> FolderListing | None:
        """None: the folder does not exist (any more)."""

    def files_by_inode(self, inode: int) -> Sequence[FileRow]: ...

    def dirs_by_inode(self, inode: int) -> Sequence[DirRow]: ...

    def file_by_remote_id(self, file_id: int) -> FileRow | None: ...

    def dir_by_folder_id(self, folder_id: int) -> DirRow | None: ...

    def dir_path(self, dir_id: int) -> str | None: ...

    def subtree_files(self, dir_id: int) -> int: ...


def sent_by_intent(sent: tuple[int, int | None], mtime_ns: int, inode: int) -> bool:
    """Whether an upload intent (when the upload began, the inode it sent or None) can have
    sent the local file as it is now: last written before the upload began (by the mtime
    tick's margin), and the same inode: another file of that size renamed onto the name since
    (`mv a.txt b.txt`) is not what it sent."""
    began, sent_inode = sent
    return mtime_ns < began - RACY_NS and sent_inode in (None, inode)


@dataclass(frozen=True)
class PlanSettings:
    mode: Mode = "mirror"
    max_upload_size: int = 0  # bytes; 0 = no limit
    # Uploads a crash may have left on the host: (folder_id, name, size) -> (when the upload
    # began (ns), the inode it sent or None). Only that file, last written before then, can
    # be what it sent.
    upload_intents: Mapping[tuple[int, str, int], tuple[int, int | None]] = field(
        default_factory=dict
    )
    # Untracked files that match an upload intent but are not what the crash left (the host
    # dates them before the upload began, or their bytes are not the local file's): someone
    # else's; never adopted for the intent nor trashed as its leftover.
    not_left_by_crash: frozenset[int] = frozenset()
    detect_moves: bool = True  # False when the journal is empty (nothing to move from)
    # Adopt an untracked remote file with the local file's name and size instead of uploading
    # it (a first sync against a copy made by other means; opt-in: listings carry no hash).
    adopt_existing: bool = False
    # A tracked file or directory deleted locally leaves the remote live tree (a TrashFile /
    # TrashFolder the executor turns into a version or a trash) in backup mode too; False:
    # backup mode only forgets it (mirror mode always removes it).
    retire_deleted: bool = False
    # An extra reason a name cannot be stored, (name, is_dir) -> reason or None: an encrypted
    # pair's names whose encrypted form is longer than the host holds.
    name_issue: Callable[[str, bool], str | None] | None = None


@dataclass
class Plan:
    ops: list[Op] = field(default_factory=list)
    dirs_visited: int = 0
    files_seen: int = 0
    ops_handed_out: int = 0  # ops already given to ``on_batch`` (no longer in ``ops``)
    cancelled: bool = False  # the walk was stopped: ``ops`` is empty, nothing was decided
    # Directories visited that could not be listed locally (gone, unreadable): nothing was
    # decided below them.
    unlisted: list[Ref] = field(default_factory=list)

    @property
    def mutating(self) -> list[Op]:
        return [op for op in self.ops if op.mutating]

    def deletions(self) -> int:
        """Remote files (and folders) this plan trashes, for the max_delete guard."""
        total = 0
        for op in self.ops:
            if isinstance(op, TrashFile):
                total += 1
            elif isinstance(op, TrashFolder):
                total += max(op.files, 1)
        # An upload that replaces an old version trashes it too, but loses nothing: not counted.
        return total

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for op in self.ops:
            key = op.describe().split()[0]
            out[key] = out.get(key, 0) + 1
        return out


def join(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


def ident_of(entry: LocalEntryLike) -> Identity:
    return Identity(entry.size, entry.mtime_ns, entry.inode)


def same_content(entry: LocalEntryLike, row: FileRow) -> bool:
    """rsync's quick check: same size and mtime means same content."""
    return entry.size == row.size and entry.mtime_ns == row.mtime_ns


@dataclass(eq=False)
class _Visit:
    ref: Ref
    has_journal: bool  # False: a folder we are creating; nothing recorded below it
    listing_known: bool  # False: remote folder new or lost; its listing is empty
    parent: Ref | None = None
    name: str = ""
    inode: int | None = None
    recurse: Descent = True
    listing: FolderListing | None = None  # fetched already (a moved folder, checked first)


@dataclass(frozen=True, slots=True)
class _LocalMove:
    """A local file move the walk found (``source``: the claimed journal row it came from)."""

    ref: Ref  # the directory it is in now
    entry: LocalEntryLike
    source: FileRow
    rel: str
    from_rel: str
    set_folder: bool  # another directory (else only renamed)


@dataclass(eq=False)
class _WalkState:
    queue: list[_Visit] = field(default_factory=list)  # directories to visit (a stack)
    saw_unknown: bool = False  # some directory could not be listed locally, or a partial pass


@dataclass(eq=False)
class _Claims:
    """Journal rows and tracked remote ids this plan has decided about already. The sets grow
    with changes only, never with the tree."""

    files: set[tuple[int, str]] = field(default_factory=set)  # taken: moved away or replaced
    moved_files: set[tuple[int, str]] = field(default_factory=set)  # moved away: never trashed
    dirs: set[int] = field(default_factory=set)  # moved elsewhere by this plan
    bound_dirs: set[int] = field(default_factory=set)  # decided as "the same dir" at their place
    file_ids: set[int] = field(default_factory=set)  # tracked file ids some op or check took
    folder_ids: set[int] = field(default_factory=set)  # tracked folder ids in use by this plan


@dataclass(eq=False)
class _RemoteFacts:
    """What the listings said about tracked ids, for the decisions that need the whole walk."""

    relocated_files: dict[int, RemoteFile] = field(default_factory=dict)  # seen in another folder
    relocated_folders: dict[int, RemoteFolder] = field(default_factory=dict)
    absent_ids: set[int] = field(default_factory=set)  # not in their home folder's listing
    changed_ids: set[int] = field(default_factory=set)  # remote size is not the synced one
    renamed_ids: set[int] = field(default_factory=set)  # remote name is not the synced one


@dataclass(eq=False)
class _ToResolve:
    """Decisions that wait until the queue is empty (a later directory may claim the row):
    resolving them may queue more directories."""

    renewed_files: list[tuple[_Visit, LocalEntryLike, FileRow]] = field(default_factory=list)
    renewed_dirs: list[tuple[_Visit, LocalEntryLike, DirRow]] = field(default_factory=list)
    missing_dirs: list[tuple[str, Ref, DirRow, LocalEntryLike]] = field(default_factory=list)


@dataclass(eq=False)
class _ToFinalize:
    """Decisions that wait until the walk is over: every trash is among them."""

    missing_files: list[tuple[str, Ref, FileRow, LocalEntryLike]] = field(default_factory=list)
    vanished_files: list[tuple[str, FileRow, bool]] = field(default_factory=list)  # bool: listed
    vanished_dirs: list[tuple[str, DirRow]] = field(default_factory=list)
    extra_files: list[tuple[str, RemoteFile]] = field(default_factory=list)
    extra_folders: list[tuple[str, RemoteFolder]] = field(default_factory=list)
    moves: list[_LocalMove] = field(default_factory=list)  # local file moves, in walk order


class Planner:
    """Plans one pass over one pair: :meth:`plan_tree` (the whole tree) or :meth:`plan_dirs`
    (a partial pass). One planner plans once."""

    def __init__(
        self,
        sources: Sources,
        settings: PlanSettings,
        *,
        batch_size: int = 0,
        on_batch: Callable[[list[Op]], None] | None = None,
        cancel: Cancel | None = None,
    ) -> None:
        """``on_batch``: for huge passes (an initial sync of millions of files), hand out the
        ops planned so far whenever there are ``batch_size`` of them, so they can run before
        the walk ends and memory stays bounded. Only ops that trash nothing are handed out
        early: every trash, and every local file move (an edit only once the remote copy is
        known to be the synced one), is decided after the walk (:meth:`_finalize`), in the
        last batch."""
        self.src = sources
        self.s = settings
        self.plan = Plan()
        self._batch_size = batch_size
        self._on_batch = on_batch
        self._cancel = cancel
        self._walk_state = _WalkState()
        self._claims = _Claims()
        self._facts = _RemoteFacts()
        self._to_resolve = _ToResolve()
        self._to_finalize = _ToFinalize()
        self._dirty: tuple[str, ...] = ()  # a partial pass's dirty paths, normalised

    # -- entry points ---------------------------------------------------------------------------

    def plan_tree(self, root: Ref) -> Plan:
        """The whole tree under ``root`` (``root.folder_id`` None: the remote folder is new)."""
        known = root.folder_id is not None
        self._walk_state.queue.append(_Visit(root, has_journal=True, listing_known=known))
        return self._plan()

    def plan_dirs(self, dirs: Sequence[tuple[Ref, bool]], dirty: Sequence[str] = ()) -> Plan:
        """A partial pass (the daemon's dirty paths): each directory, with its subtree when
        the flag says so. ``dirty``: the paths that changed (relative to the pair's root);
        a directory moved into a visited one is walked only towards them. Remote ids found
        in unvisited places are never trashed here."""
        # Not every directory is visited: a tracked id listed in an unvisited place proves
        # nothing about its home, so the walk counts as having seen unknown parts.
        self._walk_state.saw_unknown = True
        self._dirty = tuple(_normalised(p) for p in dirty)
        # A directory walked whole visits everything beneath it: visited once more on its own,
        # a directory's files would be planned twice (two uploads under one name).
        wholes = [ref.rel for ref, whole in dirs if whole]
        for ref, whole in dirs:
            if any(_strictly_within(ref.rel, top) for top in wholes):
                continue
            known = ref.folder_id is not None
            recurse: Descent = True if whole else frozenset()
            self._walk_state.queue.append(_Visit(ref, True, known, recurse=recurse))
        return self._plan()

    def _plan(self) -> Plan:
        """walk → resolve → walk … until nothing is queued, then finalize."""
        while self._walk():
            if not self._resolve():
                break
        self._finalize()
        return self.plan

    # -- phase 1: the walk ----------------------------------------------------------------------

    def _walk(self) -> bool:
        """Visit the queued directories, depth first, until none is left. False: cancelled.

        The queue is a stack: it holds the unvisited siblings along one path, so its length
        grows with depth times fan-out, never with the tree."""
        queue = self._walk_state.queue
        while queue:
            if self._cancel is not None and self._cancel.is_set():
                queue.clear()
                self.plan.cancelled = True
                return False
            self._visit(queue.pop())
            if self._on_batch is not None and len(self.plan.ops) >= self._batch_size:
                self._hand_out()
        return True

    def _hand_out(self) -> None:
        """Give the ops planned so far to ``on_batch``.

        Relies on: no op emitted during the walk or the resolve rounds trashes anything
        remotely (TrashFile and TrashFolder come from :meth:`_finalize` only; an Upload's old
        version is trashed only once the new one is verified), so running them early loses
        nothing, whatever the rest of the walk finds."""
        assert self._on_batch is not None
        batch, self.plan.ops = self.plan.ops, []
        self.plan.ops_handed_out += len(batch)
        self._on_batch(batch)

    def _visit(self, visit: _Visit) -> None:
        """One directory: its three views side by side, files first, then subdirectories."""
        ref = visit.ref
        local = self.src.local_dir(ref.rel)
        if local is None:
            # Contents unknown (gone, unreadable): change nothing below. Its journal rows are
            # not seen, so no tracked id listed elsewhere may be called orphaned afterwards.
            self._walk_state.saw_unknown = True
            self.plan.unlisted.append(ref)
            return
        self.plan.dirs_visited += 1
        if visit.has_journal and ref.dir_id is not None:
            jfiles, jdirs = self.src.journal_children(ref.dir_id)
        else:
            jfiles, jdirs = (), ()
        listing = EMPTY_LISTING
        if visit.listing is not None:
            listing, visit.listing = visit.listing, None
        elif visit.listing_known and ref.folder_id is not None:
            got = self.src.remote_listing(ref.folder_id)
            if got is None:
                self._folder_lost(visit)
            else:
                listing = got
        self._files(visit, local, jfiles, listing)
        self._dirs(visit, local, jdirs, listing)

    # -- files of one directory -----------------------------------------------------------------

    def _files(
        self,
        visit: _Visit,
        local: LocalDir,
        jfiles: Sequence[FileRow],
        listing: FolderListing,
    ) -> None:
        ref = visit.ref
        lfiles = {e.name: e for e in local.entries if e.kind == "file"}
        jrows = {r.name: r for r in jfiles}
        remote = {f.id: f for f in listing.files}
        tracked_ids = {r.file_id for r in jfiles if r.file_id is not None}
        untracked = [f for f in listing.files if f.id not in tracked_ids]
        self._note_home_drift(jfiles, tracked_ids, remote)
        self.plan.files_seen += len(lfiles)
        for name in sorted(lfiles.keys() | jrows.keys()):
            entry = lfiles.get(name)
            row = jrows.get(name)
            if row is not None and (row.dir_id, row.name) in self._claims.files:
                row = None  # moved away by an op planned earlier in this pass
            if name in local.unknown and entry is None:
                continue  # exists but unreadable/unsyncable now: not a deletion
            if entry is not None and row is not None:
                if (
                    row.status == SYNCED
                    and entry.size == row.size
                    and entry.mtime_ns == row.mtime_ns
                    and entry.inode == row.inode
                ):
                    # A quiet tree's common case, decided inline (no-op passes are mostly this):
                    # unchanged here, listed at home under its name and size.
                    found = remote.get(row.file_id)  # type: ignore[arg-type]
                    if (
                        found is not None
                        and found.name == row.stored_name
                        and (row.remote_size is None or found.size == row.remote_size)
                    ):
                        continue
                self._file_both(visit, entry, row, remote, untracked)
            elif entry is not None:
                self._file_new(visit, entry, untracked, replacing=None)
            elif row is not None:
                self._file_gone(ref, row, row.file_id in remote if row.file_id else False)
        for extra in untracked:
            self._remote_extra_file(ref, extra)

    def _note_home_drift(
        self, jfiles: Sequence[FileRow], tracked_ids: set[int], remote: dict[int, RemoteFile]
    ) -> None:
        """What this listing says about the directory's tracked ids, for the decisions after
        the walk (a moved file whose copy is gone or changed is uploaded, not edited)."""
        self._facts.absent_ids.update(i for i in tracked_ids if i not in remote)
        for r in jfiles:
            if r.file_id in remote:
                if r.remote_size is not None and remote[r.file_id].size != r.remote_size:
                    self._facts.changed_ids.add(r.file_id)
                if remote[r.file_id].name != r.stored_name:
                    self._facts.renamed_ids.add(r.file_id)

    def _file_both(
        self,
        visit: _Visit,
        entry: LocalEntryLike,
        row: FileRow,
        remote: dict[int, RemoteFile],
        untracked: list[RemoteFile],
    ) -> None:
        ref = visit.ref
        rel = join(ref.rel, entry.name)
        if row.status != SYNCED or row.file_id is None:
            if row.status == SKIPPED and same_content(entry, row) and row.inode == entry.inode:
                return  # refused before for a reason that still holds
            self._file_new(visit, entry, untracked, replacing=row)
            return
        if same_content(entry, row):
            if entry.inode != row.inode:
                # Bound to its place: a copy elsewhere with the old inode (cp -p, then the
                # original moved) must not claim it as moved. (With the same inode nothing
                # can: a move source must have left its place.) Sets grow with changes only.
                self._claims.files.add((row.dir_id, row.name))
                self._emit(TouchFile(rel, row=_with_ident(row, entry)))
            self._check_remote_file(ref, entry, row, remote)
            return
        found = remote.get(row.file_id)
        if (
            found is None
            or found.name != row.stored_name
            or (row.remote_size is not None and found.size != row.remote_size)
        ):
            # Its remote copy is not the synced one (trashed, moved, renamed or changed there):
            # same bytes here are no reason to skip the upload (the executor's MD5 shortcut).
            row = row._replace(md5=None, nonce=None)
        if entry.inode == row.inode:  # modified in place
            self._file_new(visit, entry, untracked, replacing=row, look_for_move=False)
            return
        # Another file under this name (editor save, swap): decide once moves are known.
        self._to_resolve.renewed_files.append((visit, entry, row))

    def _check_remote_file(
        self, ref: Ref, entry: LocalEntryLike, row: FileRow, remote: dict[int, RemoteFile]
    ) -> None:
        assert row.file_id is not None
        rel = join(ref.rel, entry.name)
        found = remote.get(row.file_id)
        if found is None:
            self._to_finalize.missing_files.append((rel, ref, row, entry))
            return
        # Listed at home, so it cannot be a relocated id elsewhere: nothing to remember.
        if row.remote_size is not None and found.size != row.remote_size:
            self._upload(ref, entry, replacing=row, reason="changed remotely")
        elif found.name != row.stored_name:
            self._put_back_file(ref, entry, row, set_folder=False, rel=rel)

    def _put_back_file(
        self, ref: Ref, entry: LocalEntryLike, row: FileRow, *, set_folder: bool, rel: str
    ) -> None:
        assert row.file_id is not None
        if form_name_issue(row.stored_name) is not None:
            # file/edit would mangle the name: a fresh upload is the only exact repair.
            self._upload(ref, entry, replacing=row, reason="renamed remotely")
            return
        self._emit(
            MoveFile(
                rel,
                old_dir_id=row.dir_id,
                old_name=row.name,
                row=row,
                parent=ref,
                name=row.name,
                ident=ident_of(entry),
                new_remote_name=row.stored_name,
                set_folder=set_folder,
                repair=True,
            )
        )

    def _file_new(
        self,
        visit: _Visit,
        entry: LocalEntryLike,
        untracked: list[RemoteFile],
        *,
        replacing: FileRow | None,
        look_for_move: bool = True,
    ) -> None:
        ref = visit.ref
        rel = join(ref.rel, entry.name)
        source = self._file_move_source(entry, exclude=replacing) if look_for_move else None
        if source is not None:
            if replacing is not None and replacing.file_id is not None:
                self._file_gone(ref, replacing, True)  # a later move may still claim it
            self._move_file(ref, entry, source)
            return
        if replacing is not None:
            # Its remote copy is replaced or trashed here: no later move may claim it.
            self._claims.files.add((replacing.dir_id, replacing.name))
        reason = self._unholdable(entry)
        if reason is not None:
            if replacing is not None and replacing.file_id is not None:
                self._file_gone(ref, replacing, True)  # the old version is stale now
            self._emit(
                SkipFile(rel, parent=ref, name=entry.name, ident=ident_of(entry), reason=reason)
            )
            return
        extra = self._adoptable_file(ref, entry, untracked)
        if extra is not None:
            untracked.remove(extra)
            self._emit(
                AdoptFile(
                    rel,
                    parent=ref,
                    name=entry.name,
                    ident=ident_of(entry),
                    file_id=extra.id,
                    remote_name=extra.name,
                    remote_size=extra.size,
                    ours=self._interrupted_upload_of(ref, entry),
                )
            )
            if replacing is not None and replacing.file_id is not None:
                self._file_gone(ref, replacing, True)
            return
        if replacing is not None and replacing.file_id is not None:
            self._claims.file_ids.add(replacing.file_id)
            self._upload(ref, entry, replacing=replacing, reason="modified")
        else:
            self._upload(ref, entry, replacing=None, reason="retry" if replacing else "new")

    def _interrupted_upload_of(self, ref: Ref, entry: LocalEntryLike) -> bool:
        """Whether an upload intent (a crash's leftover) can have sent ``entry`` as it is now:
        same folder, name and size, and the file last written before that upload began (by the
        mtime tick's margin). A file rewritten since with other bytes of the same size would
        otherwise adopt the stale copy and be recorded as synced for good."""
        if ref.folder_id is None:
            return False
        sent = self.s.upload_intents.get((ref.folder_id, entry.name, entry.size))
        return sent is not None and sent_by_intent(sent, entry.mtime_ns, entry.inode)

    def _adoptable_file(
        self, ref: Ref, entry: LocalEntryLike, untracked: list[RemoteFile]
    ) -> RemoteFile | None:
        """An untracked remote file to adopt instead of uploading ``entry``: same name and
        size, and either an interrupted upload of ours left it (an intent) or the user asked
        to adopt what is there. Listings carry no hash, so nothing else qualifies."""
        if ref.folder_id is None or not (
            self.s.adopt_existing or self._interrupted_upload_of(ref, entry)
        ):
            return None
        for extra in untracked:
            if (
                extra.name == entry.name
                and extra.size == entry.size
                and self.src.file_by_remote_id(extra.id) is None  # not another file's copy
                and (self.s.adopt_existing or extra.id not in self.s.not_left_by_crash)
            ):
                return extra
        return None

    def _unholdable(self, entry: LocalEntryLike) -> str | None:
        if entry.size == 0:
            return "empty file: the host refuses zero-byte uploads"
        if self.s.max_upload_size and entry.size > self.s.max_upload_size:
            return (
                f"{entry.size} bytes is above the account's upload limit "
                f"of {self.s.max_upload_size} bytes"
            )
        issue = upload_name_issue(entry.name)
        if issue is None and self.s.name_issue is not None:
            issue = self.s.name_issue(entry.name, False)
        if issue is not None:
            return f"name the host cannot hold: {issue}"
        return None

    def _upload(
        self, ref: Ref, entry: LocalEntryLike, *, replacing: FileRow | None, reason: str
    ) -> None:
        self._emit(
            Upload(
                join(ref.rel, entry.name),
                parent=ref,
                name=entry.name,
                ident=ident_of(entry),
                replaces=replacing.file_id if replacing is not None else None,
                trash_replaced=self.s.mode == "mirror",
                old_row=replacing,
                reason=reason,
            )
        )

    def _file_move_source(
        self, entry: LocalEntryLike, exclude: FileRow | None = None
    ) -> FileRow | None:
        if not self.s.detect_moves:
            return None
        for row in self.src.files_by_inode(entry.inode):
            if (
                row.size != entry.size
                or row.mtime_ns != entry.mtime_ns
                or row.status != SYNCED
                or row.file_id is None
                or (row.dir_id, row.name) in self._claims.files
                or (
                    exclude is not None and (row.dir_id, row.name) == (exclude.dir_id, exclude.name)
                )
            ):
                continue
            base = self.src.dir_path(row.dir_id)
            if base is None:
                continue
            now = self.src.local_entry(join(base, row.name))
            if now is not None and now.kind == "file" and now.inode == row.inode:
                continue  # still there: a hard link or a copy, not a move
            return row
        return None

    def _move_file(self, ref: Ref, entry: LocalEntryLike, source: FileRow) -> None:
        """Claim ``source`` for ``entry``; the op is decided after the walk
        (:meth:`_decide_moves`): whether its remote copy is still the synced one is known only
        once every listing was seen."""
        assert source.file_id is not None
        self._claims.files.add((source.dir_id, source.name))
        self._claims.moved_files.add((source.dir_id, source.name))
        self._claims.file_ids.add(source.file_id)
        base = self.src.dir_path(source.dir_id) or ""
        self._to_finalize.moves.append(
            _LocalMove(
                ref,
                entry,
                source,
                rel=join(ref.rel, entry.name),
                from_rel=join(base, source.name),
                # Now, not at finalize: a batch run meanwhile fills in the ids of new folders.
                set_folder=ref.dir_id != source.dir_id,
            )
        )

    def _file_gone(self, ref: Ref, row: FileRow, listed: bool) -> None:
        rel = join(ref.rel, row.name)
        if row.file_id is None:
            self._emit(ForgetFile(rel, dir_id=row.dir_id, name=row.name, file_id=None))
            return
        self._claims.file_ids.add(row.file_id)
        self._to_finalize.vanished_files.append((rel, row, listed))

    def _remote_extra_file(self, ref: Ref, extra: RemoteFile) -> None:
        if not (self.s.detect_moves and self._tracked_elsewhere(extra)):
            self._to_finalize.extra_files.append((join(ref.rel, extra.name), extra))

    def _tracked_elsewhere(self, extra: RemoteFile) -> bool:
        """Is this untracked-here file one the journal knows elsewhere (moved on the host)?"""
        owner = self.src.file_by_remote_id(extra.id)
        if owner is None:
            return False
        self._facts.relocated_files[extra.id] = extra
        if owner.remote_size is not None and owner.remote_size != extra.size:
            self._facts.changed_ids.add(extra.id)
        if owner.stored_name != extra.name:
            self._facts.renamed_ids.add(extra.id)
        return True

    # -- subdirectories of one directory --------------------------------------------------------

    def _dirs(
        self,
        visit: _Visit,
        local: LocalDir,
        jdirs: Sequence[DirRow],
        listing: FolderListing,
    ) -> None:
        ref = visit.ref
        ldirs = {e.name: e for e in local.entries if e.kind == "dir"}
        jrows = {r.name: r for r in jdirs}
        remote = {f.id: f for f in listing.folders}
        tracked = {r.folder_id for r in jdirs if r.folder_id is not None}
        untracked = [f for f in listing.folders if f.id not in tracked]
        routes = _routes(visit.recurse)
        for name in sorted(ldirs.keys() | jrows.keys()):
            entry = ldirs.get(name)
            row = jrows.get(name)
            if row is not None and row.id in self._claims.dirs:
                row = None
            if name in local.unknown and entry is None:
                continue
            if entry is not None and row is not None:
                if row.status == SKIPPED or row.folder_id is None:
                    if form_name_issue(name) is None:  # now syncable (should not happen)
                        self._dir_new(visit, entry, untracked)
                    continue
                if entry.inode != row.inode and self.s.detect_moves:
                    self._to_resolve.renewed_dirs.append((visit, entry, row))
                    continue
                descend = True if routes is None else routes.get(name)
                self._dir_same(ref, entry, row, remote, descend=descend)
            elif entry is not None:
                self._dir_new(visit, entry, untracked)
            elif row is not None:
                self._dir_gone(ref, row)
        for extra in untracked:
            if self.s.detect_moves and self.src.dir_by_folder_id(extra.id) is not None:
                self._facts.relocated_folders[extra.id] = extra
            else:
                self._to_finalize.extra_folders.append((join(ref.rel, extra.name), extra))
                if self.s.mode == "mirror" and self.s.detect_moves:
                    self._look_inside_extra_folder(extra)

    def _look_inside_extra_folder(self, extra: RemoteFolder) -> None:
        """A folder someone else made is trashed in mirror mode; what of ours was moved into it
        is put back by id first (trashes run after every other op of their batch), not trashed
        with it and uploaded again. One listing per such folder (their own are rare)."""
        listing = self.src.remote_listing(extra.id)
        if listing is None:
            return
        for file in listing.files:
            self._tracked_elsewhere(file)
        for folder in listing.folders:
            if self.src.dir_by_folder_id(folder.id) is not None:
                self._facts.relocated_folders[folder.id] = folder

    def _dir_same(
        self,
        ref: Ref,
        entry: LocalEntryLike,
        row: DirRow,
        remote: dict[int, RemoteFolder],
        *,
        descend: Descent | None = True,
    ) -> None:
        """``descend``: how its visit descends (None: it is not visited)."""
        rel = join(ref.rel, entry.name)
        assert row.folder_id is not None
        if entry.inode != row.inode:
            self._emit(UpdateDir(rel, dir_id=row.id, inode=entry.inode))
        found = remote.get(row.folder_id)
        if found is None:
            self._to_resolve.missing_dirs.append((rel, ref, row, entry))
            return
        child = Ref(rel, row.id, row.folder_id)
        visit = None
        if descend is not None:
            visit = _Visit(child, True, True, ref, entry.name, entry.inode, recurse=descend)
        if found.name != row.stored_name and (visit is None or self._listed_before_moving(visit)):
            self._emit(
                MoveFolder(
                    rel,
                    dir_id=row.id,
                    folder_id=row.folder_id,
                    parent=ref,
                    name=row.name,
                    inode=entry.inode,
                    new_remote_name=row.stored_name,
                    set_parent=False,
                    repair=True,
                )
            )
        if visit is not None:
            self._walk_state.queue.append(visit)

    def _dir_new(self, visit: _Visit, entry: LocalEntryLike, untracked: list[RemoteFolder]) -> None:
        """A local directory the journal does not hold here: a name the host cannot hold,
        moved here (by inode), an untracked remote folder of its name, or new."""
        ref = visit.ref
        rel = join(ref.rel, entry.name)
        issue = form_name_issue(entry.name)
        if issue is None and self.s.name_issue is not None:
            issue = self.s.name_issue(entry.name, True)
        if issue is not None:
            self._emit(
                MarkDir(
                    rel,
                    parent=ref,
                    name=entry.name,
                    inode=entry.inode,
                    reason=f"folder name the host cannot hold: {issue}",
                )
            )
            return
        source = self._dir_move_source(entry, rel)
        if source is not None:
            self._move_dir(visit, entry, source)
        else:
            self._adopt_or_create_dir(ref, entry, untracked)

    def _move_dir(self, parent: _Visit, entry: LocalEntryLike, source: DirRow) -> None:
        """``source`` moved here: one folder/edit by id, its subtree walked at its new place
        as far as ``parent`` descends (in a partial pass: towards the dirty paths only)."""
        ref = parent.ref
        rel = join(ref.rel, entry.name)
        assert source.folder_id is not None
        self._claims.dirs.add(source.id)
        self._claims.folder_ids.add(source.folder_id)
        from_rel = self.src.dir_path(source.id) or ""
        child = Ref(rel, source.id, source.folder_id)
        recurse: Descent = True
        if parent.recurse is not True:
            # A change inside it is reported at its new place, or at its old one when the
            # event came before the move. (If its folder is gone remotely, every subfolder
            # is missing from the empty listing and created again whatever this says.)
            recurse = _below(self._dirty, rel)
            if from_rel:
                recurse |= _below(self._dirty, from_rel)
        moved = _Visit(child, True, True, ref, entry.name, entry.inode, recurse=recurse)
        if not self._listed_before_moving(moved):
            self._walk_state.queue.append(moved)
            return
        self._emit(
            MoveFolder(
                rel,
                dir_id=source.id,
                folder_id=source.folder_id,
                parent=ref,
                name=entry.name,
                inode=entry.inode,
                # Always the name: the folder may have been renamed on the host too (its
                # old parent's listing may come later or never), and folder/edit sends
                # name and parent in one call anyway.
                new_remote_name=entry.name,
                set_parent=ref.dir_id != source.parent_id,
                from_rel=from_rel,
            )
        )
        self._walk_state.queue.append(moved)

    def _adopt_or_create_dir(
        self, ref: Ref, entry: LocalEntryLike, untracked: list[RemoteFolder]
    ) -> None:
        """Use an untracked remote folder of the name (consumed from ``untracked``), or create
        one; its subtree is walked with nothing recorded below it."""
        rel = join(ref.rel, entry.name)
        for extra in untracked:
            # Not a folder the journal tracks elsewhere (moved here on the host): its own row
            # decides about it (put back, or trashed as deleted locally).
            if extra.name == entry.name and self.src.dir_by_folder_id(extra.id) is None:
                untracked.remove(extra)
                target = Ref(rel, None, extra.id)
                op = AdoptFolder(
                    rel,
                    parent=ref,
                    name=entry.name,
                    inode=entry.inode,
                    folder_id=extra.id,
                    remote_name=extra.name,
                    target=target,
                )
                target.op = op
                self._emit(op)
                self._walk_state.queue.append(_Visit(target, has_journal=False, listing_known=True))
                return
        target = Ref(rel, None, None)
        op = CreateFolder(rel, parent=ref, name=entry.name, inode=entry.inode, target=target)
        target.op = op
        self._emit(op)
        self._walk_state.queue.append(_Visit(target, has_journal=False, listing_known=False))

    def _dir_move_source(self, entry: LocalEntryLike, rel: str) -> DirRow | None:
        """The synced directory ``entry`` (new at ``rel``) is, moved: one with its inode whose
        recorded path lost it, and whose entries came along (:meth:`_brought_along`)."""
        if not self.s.detect_moves:
            return None
        for row in self.src.dirs_by_inode(entry.inode):
            if (
                row.parent_id is None
                or row.status != SYNCED
                or row.folder_id is None
                or row.id in self._claims.dirs
                or row.id in self._claims.bound_dirs
            ):
                continue
            path = self.src.dir_path(row.id)
            if path is None:
                continue
            now = self.src.local_entry(path)
            if now is not None and now.kind == "dir" and now.inode == row.inode:
                continue
            if not self._brought_along(row, rel):
                continue
            return row
        return None

    def _brought_along(self, row: DirRow, rel: str) -> bool:
        """An inode alone does not make a directory moved: ext4 gives a removed directory's
        inode to the next directory made (``rm -r d1; mkdir d3`` gave d3 d1's inode every time
        here), and its files' inodes to the next files. A moved directory holds some of what
        the journal recorded in it: an entry of the same name (an editor's save swaps the
        inode, not the name), a file by inode, size and mtime (as a file move is found), a
        directory by inode. One holding none of it is new, and the removed one leaves whole
        instead of file by file under the new one's name. With nothing recorded in it, or its
        listing unknown, either reading gives one tree."""
        files, dirs = self.src.journal_children(row.id)
        if not files and not dirs:
            return True
        local = self.src.local_dir(rel)
        if local is None:
            return True
        by_inode = {e.inode: e for e in local.entries}
        names = {e.name for e in local.entries}
        for f in files:
            same = by_inode.get(f.inode)
            if f.name in names or (same is not None and same_content(same, f)):
                return True
        return any(d.name in names or d.inode in by_inode for d in dirs)

    def _dir_gone(self, ref: Ref, row: DirRow) -> None:
        self._to_finalize.vanished_dirs.append((join(ref.rel, row.name), row))

    def _listed_before_moving(self, visit: _Visit) -> bool:
        """List a folder before an op moves it; False when it is gone from the host, and then
        it is created again in its place instead (folder/edit would fail, and a huge pass may
        hand the edit out before the folder's visit). The listing waits in ``visit``."""
        assert visit.ref.folder_id is not None
        visit.listing = self.src.remote_listing(visit.ref.folder_id)
        if visit.listing is None:
            visit.listing_known = False
            self._folder_lost(visit)
            return False
        return True

    def _folder_lost(self, visit: _Visit) -> None:
        """A folder we were going to use (moved here, or never checked) is gone remotely:
        create it again in its place; what it held is uploaded again."""
        ref = visit.ref
        if visit.parent is None or ref.dir_id is None:
            return  # the pair's root: the reconciler resolves it before planning
        # No MoveFolder of it was emitted: every op that moves a folder lists it first
        # (:meth:`_listed_before_moving`), so the choice between moving and creating it
        # again is made once.
        op = CreateFolder(
            ref.rel,
            parent=visit.parent,
            name=visit.name,
            inode=visit.inode,
            target=ref,
            existing_dir_id=ref.dir_id,
        )
        ref.folder_id = None
        ref.op = op
        self._emit(op)

    # -- phase 2: resolve -----------------------------------------------------------------------

    def _resolve(self) -> bool:
        """Decisions that needed every queued directory seen; True when they queued more.

        Holds here: the queue is empty, so every move source the walk so far could find is
        claimed (:class:`_Claims`). Later rounds only walk directories these decisions queued."""
        self._resolve_renewed_dirs()
        self._resolve_renewed_files()
        self._resolve_missing_dirs()  # after the renewed dirs: they may add to it
        return bool(self._walk_state.queue)

    def _resolve_renewed_dirs(self) -> None:
        """A directory with a new inode under a known name: moved here, or the same one?"""
        renewed_dirs, self._to_resolve.renewed_dirs = self._to_resolve.renewed_dirs, []
        for visit, entry, row in renewed_dirs:
            if row.id in self._claims.dirs:  # the old directory moved elsewhere
                self._dir_gone(visit.ref, row)
                self._dir_new(visit, entry, [])
            else:  # the same directory with a new inode
                self._claims.bound_dirs.add(row.id)
                self._dir_same_unlisted(visit.ref, entry, row)

    def _resolve_renewed_files(self) -> None:
        """A file with a new inode under a known name (editor save, swap): a new version, or
        a file moved here (its old row moved away: nothing to replace)."""
        renewed_files, self._to_resolve.renewed_files = self._to_resolve.renewed_files, []
        for visit, entry, row in renewed_files:
            if (row.dir_id, row.name) in self._claims.moved_files:
                self._file_new(visit, entry, [], replacing=None)
            else:
                self._file_new(visit, entry, [], replacing=row)

    def _resolve_missing_dirs(self) -> None:
        """A tracked folder not in its parent's listing: moved on the host (an untracked id
        in a listing the walk saw) is put back; otherwise it was trashed: created again."""
        missing_dirs, self._to_resolve.missing_dirs = self._to_resolve.missing_dirs, []
        for rel, parent, row, entry in missing_dirs:
            assert row.folder_id is not None
            if row.folder_id in self._facts.relocated_folders:
                self._claims.folder_ids.add(row.folder_id)
                child = Ref(rel, row.id, row.folder_id)
                visit = _Visit(child, True, True, parent, row.name, entry.inode)
                if self._listed_before_moving(visit):
                    self._emit(
                        MoveFolder(
                            rel,
                            dir_id=row.id,
                            folder_id=row.folder_id,
                            parent=parent,
                            name=row.name,
                            inode=entry.inode,
                            new_remote_name=row.stored_name,
                            set_parent=True,
                            repair=True,
                        )
                    )
                self._walk_state.queue.append(visit)
            else:  # trashed remotely: create it again, upload what it held
                target = Ref(rel, row.id, None)
                op = CreateFolder(
                    rel,
                    parent=parent,
                    name=row.name,
                    inode=entry.inode,
                    target=target,
                    existing_dir_id=row.id,
                )
                target.op = op
                self._emit(op)
                self._walk_state.queue.append(
                    _Visit(target, True, False, parent, row.name, entry.inode)
                )

    def _dir_same_unlisted(self, ref: Ref, entry: LocalEntryLike, row: DirRow) -> None:
        """:meth:`_dir_same` for a directory whose parent listing is no longer at hand."""
        assert row.folder_id is not None
        listing = self.src.remote_listing(ref.folder_id) if ref.folder_id is not None else None
        remote = {f.id: f for f in listing.folders} if listing is not None else {}
        self._dir_same(ref, entry, row, remote)

    # -- phase 3: finalize ----------------------------------------------------------------------

    def _finalize(self) -> None:
        """Decisions that needed the whole walk, every trash among them.

        Holds here: the queue is empty and no resolve round is pending, so every visited
        directory's listing was seen: a tracked id in neither its home listing nor another
        (:class:`_RemoteFacts`) is gone from the host, and a journal row nobody claimed
        (:class:`_Claims`) vanished locally. Unvisited parts (``saw_unknown``) prove nothing."""
        if self.plan.cancelled:  # an unfinished walk decides nothing
            self.plan.ops = []
            return
        self._decide_moves()
        self._heal_missing_files()
        self._settle_vanished_files()
        self._settle_vanished_dirs()
        if self.s.mode == "mirror":
            self._trash_remote_extras()

    def _heal_missing_files(self) -> None:
        """Unchanged here, not in its home listing: moved on the host (put back, or uploaded
        again when changed there), or trashed there (uploaded again)."""
        for rel, parent, row, entry in self._to_finalize.missing_files:
            assert row.file_id is not None
            moved = self._facts.relocated_files.get(row.file_id)
            if moved is not None:
                self._claims.file_ids.add(row.file_id)
                if row.remote_size is not None and moved.size != row.remote_size:
                    self._upload(parent, entry, replacing=row, reason="changed remotely")
                else:
                    self._put_back_file(parent, entry, row, set_folder=True, rel=rel)
            else:  # trashed remotely: heal it
                self._upload(parent, entry, replacing=None, reason="deleted remotely")
                # the journal row keeps the old id until the upload records the new one

    def _settle_vanished_files(self) -> None:
        """Gone here and not moved: trashed remotely when still there (mirror), else only
        forgotten."""
        mirror = self.s.mode == "mirror"
        for rel, row, listed in self._to_finalize.vanished_files:
            if (row.dir_id, row.name) in self._claims.moved_files:
                continue
            alive = listed or row.file_id in self._facts.relocated_files
            if (mirror or self.s.retire_deleted) and alive and row.file_id is not None:
                self._emit(TrashFile(rel, file_id=row.file_id, dir_id=row.dir_id, name=row.name))
            else:
                self._emit(ForgetFile(rel, dir_id=row.dir_id, name=row.name, file_id=row.file_id))

    def _settle_vanished_dirs(self) -> None:
        """Gone here, neither moved nor the same directory under a new inode: its folder is
        trashed with everything in it (mirror), else the subtree is only forgotten."""
        mirror = self.s.mode == "mirror"
        for rel, row in self._to_finalize.vanished_dirs:
            if row.id in self._claims.dirs or row.id in self._claims.bound_dirs:
                continue
            if (
                (mirror or self.s.retire_deleted)
                and row.folder_id is not None
                and row.status == SYNCED
            ):
                self._claims.folder_ids.add(row.folder_id)
                files = self.src.subtree_files(row.id)
                self._emit(TrashFolder(rel, folder_id=row.folder_id, dir_id=row.id, files=files))
            else:
                self._emit(ForgetDir(rel, dir_id=row.id))

    def _trash_remote_extras(self) -> None:
        """Mirror mode: what the host holds and the local tree does not is trashed."""
        # Tracked ids seen elsewhere whose journal home no op took care of: their home is gone
        # (or replaced), so they are extras now, unless part of the local tree was unreadable.
        relocated = {} if self._walk_state.saw_unknown else self._facts.relocated_files
        relocated_folders = {} if self._walk_state.saw_unknown else self._facts.relocated_folders
        for file_id, extra in relocated.items():
            if file_id not in self._claims.file_ids:  # its journal home was never visited
                self._emit(TrashFile(extra.name, file_id=file_id, dir_id=None, name=None))
        for rel, extra in self._to_finalize.extra_files:
            leftover = (
                extra.folder_id,
                extra.name,
                extra.size,
            ) in self.s.upload_intents and extra.id not in self.s.not_left_by_crash
            self._emit(TrashFile(rel, file_id=extra.id, dir_id=None, name=None, leftover=leftover))
        for folder_id, folder in relocated_folders.items():
            if folder_id not in self._claims.folder_ids:  # replaced by a new folder of ours
                self._emit(TrashFolder(folder.name, folder_id=folder_id, dir_id=None))
        for rel, folder in self._to_finalize.extra_folders:
            self._emit(
                TrashFolder(rel, folder_id=folder.id, dir_id=None, files=folder.file_count or 0)
            )

    def _decide_moves(self) -> None:
        """Each local file move becomes one ``file/edit`` by id, unless an edit cannot make
        the remote copy what was synced: then the local file is uploaded and the old row
        forgotten (the old copy, if still there, is replaced by the upload).

        Holds here: every listing was seen, so an id absent from its home listing and
        listed nowhere else is gone from the host, and ``changed_ids``/``renamed_ids`` hold
        every drift the walk could see. (What it could not see, the executor's MoveFile
        checks in the edit's answer.)"""
        for move in self._to_finalize.moves:
            self._decide_move(move)

    def _decide_move(self, move: _LocalMove) -> None:
        entry, source = move.entry, move.source
        file_id = source.file_id
        assert file_id is not None
        renamed_here = entry.name != source.stored_name
        too_long = self.s.name_issue is not None and self.s.name_issue(entry.name, False)
        if renamed_here and (form_name_issue(entry.name) is not None or too_long):
            # file/edit would store another name: upload under the exact name instead.
            self._upload(
                move.ref, entry, replacing=source, reason="moved to a name only upload keeps"
            )
            self._forget_move_source(move)
            return
        facts = self._facts
        gone = file_id in facts.absent_ids and file_id not in facts.relocated_files
        # Renamed on the host as well: the edit must send the name too.
        renamed_there = not renamed_here and file_id in facts.renamed_ids
        if (
            gone
            or file_id in facts.changed_ids
            or (renamed_there and form_name_issue(entry.name) is not None)
        ):
            self._emit(
                Upload(
                    move.rel,
                    parent=move.ref,
                    name=entry.name,
                    ident=ident_of(entry),
                    replaces=None if gone else file_id,
                    trash_replaced=self.s.mode == "mirror",
                    reason="deleted remotely" if gone else "changed remotely",
                )
            )
            self._forget_move_source(move)
            return
        self._emit(
            MoveFile(
                move.rel,
                old_dir_id=source.dir_id,
                old_name=source.name,
                row=source,
                parent=move.ref,
                name=entry.name,
                ident=ident_of(entry),
                new_remote_name=entry.name if renamed_here or renamed_there else None,
                set_folder=move.set_folder,
                from_rel=move.from_rel,
                trash_stale=self.s.mode == "mirror",
            )
        )

    def _forget_move_source(self, move: _LocalMove) -> None:
        source = move.source
        self._emit(
            ForgetFile(
                move.from_rel, dir_id=source.dir_id, name=source.name, file_id=source.file_id
            )
        )

    def _emit(self, op: Op) -> None:
        self.plan.ops.append(op)


def _normalised(path: str) -> str:
    return "/".join(p for p in path.split("/") if p and p != ".")


def _strictly_within(rel: str, top: str) -> bool:
    """Is the directory ``rel`` beneath the directory ``top`` ('' is the root)?"""
    return rel != top and (not top or rel.startswith(top + "/"))


def _below(paths: Sequence[str], rel: str) -> frozenset[str]:
    """The ``paths`` strictly below the directory ``rel``, relative to it."""
    prefix = rel + "/" if rel else ""
    return frozenset(p[len(prefix) :] for p in paths if p.startswith(prefix) and p != prefix)


def _routes(recurse: Descent) -> dict[str, Descent] | None:
    """Per subdirectory name, how far a visit with ``recurse`` descends into it (None: into
    every one as a whole; a name not in the dict: not at all). A path naming the subdirectory
    itself stands for all of it."""
    if recurse is True:
        return None
    below: dict[str, set[str]] = {}
    whole: set[str] = set()
    for path in recurse:
        head, _, tail = path.partition("/")
        if tail:
            below.setdefault(head, set()).add(tail)
        else:
            whole.add(head)
    routes: dict[str, Descent] = {name: frozenset(tails) for name, tails in below.items()}
    for name in whole:
        routes[name] = True
    return routes


def _with_ident(row: FileRow, entry: LocalEntryLike) -> FileRow:
    return FileRow(
        row.dir_id,
        row.name,
        entry.size,
        entry.mtime_ns,
        entry.inode,
        row.md5,
        row.file_id,
        row.remote_name,
        row.remote_size,
        row.status,
        row.reason,
        row.nonce,
    )


def plan_pair(sources: Sources, root: Ref, settings: PlanSettings) -> Plan:
    """Plan one full pass over a pair whose root directory is ``root``."""
    return Planner(sources, settings).plan_tree(root)
