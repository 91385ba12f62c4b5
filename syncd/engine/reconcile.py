"""One pass over one pair: guards, plan, execute, record. The API the CLI and daemon call.

    result = reconcile_pair(client, journal, pair, sync=config.sync, state_path=config.state.path)

A pass walks the whole tree (the periodic reconcile), or with ``dirty`` only the directories
that hold the daemon's dirty paths (see :func:`dirty_dirs`). Read :func:`_run_pass` top to
bottom for the life of a pass: count what the guards need, check the root, find the remote
root, settle the plan's settings, walk (executing in batches on huge passes), check the
deletions, execute, record.
"""

from __future__ import annotations

import logging
import stat
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from syncd.config import MaxDelete, PairConfig, SyncConfig
from syncd.engine import guards, versioning
from syncd.engine.executor import Executor, Outcome, Progress
from syncd.engine.ops import ForgetDir, ForgetFile, Op, Ref, TrashFile, TrashFolder
from syncd.engine.planner import Plan, Planner, PlanSettings, sent_by_intent
from syncd.engine.sources import LiveSources
from syncd.errors import ExitCode, GuardRefused
from syncd.journal.rows import ACCOUNT_ROOT, HeldDeletion, Intent, PairRow, api_folder_id
from syncd.journal.store import Journal
from syncd.local.hashing import md5_file
from syncd.local.ignore import IgnoreRules
from syncd.local.scanner import is_empty
from syncd.remote.client import RemoteClient
from syncd.remote.downloads import download_to
from syncd.remote.encrypted import EncryptedClient, refuse_encrypted_listing
from syncd.remote.errors import RemoteError
from syncd.remote.models import AccountPackage, FolderListing
from syncd.remote.paths import (
    RemoteFolderMissing,
    SameName,
    folder_path_of,
    resolve_remote_folder,
    uploaded_before,
)
from syncd.wiring import (
    ROOT_LOCATION_MAX_AGE,
    moved_root,
    pair_client,
    root_location_key,
    upload_workers,
)

log = logging.getLogger(__name__)

# Past this many planned ops, a pass starts running them while it walks on (bounded memory on
# huge initial syncs). Below it, nothing runs before the whole plan passed the guards.
BATCH_OPS = 20_000
# A whole-tree pass lists folders ahead of its walk on this many threads at most (fewer when
# `[sync] workers` is lower).
LISTING_THREADS_MAX = 8


@dataclass
class PassResult:
    pair: str
    dry_run: bool
    plan: Plan
    outcome: Outcome = field(default_factory=Outcome)
    elapsed: float = 0.0
    listings: int = 0
    # A guard's message: it held ``held`` (a dry run: it would hold them, or refuse the pass).
    refused: str | None = None
    held: list[HeldDeletion] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (path, why); dirs end in /
    ignored_dropped: int = 0  # ignored past the scanner's cap: counted, not listed

    @property
    def exit_code(self) -> int:
        if self.refused is not None:
            return ExitCode.GUARD
        return ExitCode.FAILED if self.outcome.failed else ExitCode.OK


class DeletionsHeld(GuardRefused):
    """A guard held the pass's deletions back; everything else in it was carried out
    (``result``). Exit code 3, like any guard; the held set waits for `syncd approve`."""

    def __init__(self, result: PassResult) -> None:
        files = sum(h.files for h in result.held)
        super().__init__(
            f"{result.refused}; {len(result.held)} deletions ({files} files) held, listed by "
            "`syncd status`; everything else was synced"
        )
        self.result = result


@dataclass(frozen=True)
class PassOptions:
    dry_run: bool = False
    max_delete: MaxDelete | None = None  # None: the config's
    force_deletes: bool = False
    accept_new_root: bool = False
    adopt_existing: bool = False  # see PlanSettings.adopt_existing
    kind: str = "reconcile"


def resolve_root_folder(
    client: RemoteClient,
    journal: Journal,
    pair: PairRow,
    parts: Sequence[str],
    *,
    create: bool,
    lost: bool = False,
) -> int | None:
    """The remote folder id of the pair's root, created along its path if missing.

    The stored id is trusted without a request (a no-op pass costs one listing per folder and
    nothing more): a trashed root shows up as its own listing failing ("folder not found"), and
    the pass then calls this again with ``lost`` to look the path up (and create it) afresh. A
    root moved elsewhere on the web site keeps its id and is followed there.
    None only in a dry run whose folder does not exist (any more); a dry run records nothing.
    """
    if pair.root_folder_id is not None and not lost:
        return pair.root_folder_id
    try:
        # Twins (someone else's) are settled by taking the oldest: the pass must go on.
        found = resolve_remote_folder(client, parts, same_name=SameName.OLDEST, create=create)
    except RemoteFolderMissing:
        return None  # a dry run: nothing is created
    folder_id = ACCOUNT_ROOT if found is None else found
    if create:
        with journal.transaction() as tx:
            tx.set_root_folder(pair.root_dir_id, folder_id)
            if pair.root_folder_id is not None and pair.root_folder_id != folder_id:
                tx.forget_version_folders(pair.id)  # its versions area was in the old folder
    return folder_id


class _AnchorLost(Exception):
    def __init__(self, folder_id: int) -> None:
        super().__init__(folder_id)
        self.folder_id = folder_id


class _AnchoredSources(LiveSources):
    """:class:`LiveSources` that stops the walk (raises :class:`_AnchorLost`) when a folder
    the walk starts from (``anchors``: the root, or a partial pass's directories) cannot be
    listed because it no longer exists. Costs nothing when nothing is lost."""

    anchors: frozenset[int] = frozenset()
    # A pair without encryption checks its root's names before anything is written
    # (docs/architecture.md, "Encryption"); an encrypted pair's client checks every listing.
    plain_root: tuple[int, str] | None = None  # (root folder id, pair name)

    def remote_listing(self, folder_id: int) -> FolderListing | None:
        listing = super().remote_listing(folder_id)
        if listing is None and folder_id in self.anchors and folder_id != ACCOUNT_ROOT:
            raise _AnchorLost(folder_id)
        if listing is not None and self.plain_root is not None and folder_id == self.plain_root[0]:
            refuse_encrypted_listing(listing, self.plain_root[1])
        return listing


def reconcile_pair(
    client: RemoteClient,
    journal: Journal,
    pair: PairConfig,
    *,
    sync: SyncConfig,
    state_path: Path | None = None,
    package: AccountPackage | None = None,
    options: PassOptions | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    dirty: Sequence[str] | None = None,
) -> PassResult:
    """Run one pass over ``pair``: the whole tree, or with ``dirty`` (relative paths that
    changed; a directory stands for its subtree) only the directories that hold them.

    Raises GuardRefused (nothing changed), DeletionsHeld (a GuardRefused: the deletions were
    held, the rest done) and client errors that stop the whole pass (credentials); per-item
    failures are in the result. A dry run is never refused for its deletions: the result says
    what a guard would hold (``refused``, ``held``)."""
    options = options or PassOptions()
    started = time.monotonic()
    client = pair_client(client, pair)
    row = journal.ensure_pair(pair.name, str(Path(pair.local)), pair.remote)
    run_id = None if options.dry_run else journal.start_run(row.id, options.kind)
    try:
        ctx = _PassContext.build(
            client,
            journal,
            pair,
            row,
            sync=sync,
            state_path=state_path,
            package=package,
            options=options,
            progress=progress,
            cancel=cancel,
        )
        result = _run_pass(ctx, dirty)
    except GuardRefused as exc:
        if run_id is not None:
            journal.finish_run(run_id, "refused", {}, error=exc.message)
        raise
    except BaseException as exc:
        if run_id is not None:
            journal.finish_run(run_id, "error", {}, error=str(exc)[:500])
        raise
    result.elapsed = time.monotonic() - started
    if run_id is not None:
        outcome = result.outcome
        verdict = "cancelled" if outcome.cancelled else ("failed" if outcome.failed else "ok")
        details = "; ".join(f"{path}: {why}" for path, why in outcome.failed[:20]) or None
        if result.refused is not None:
            verdict, details = "held", result.refused
        journal.finish_run(run_id, verdict, dict(outcome.counts), error=details)
    if result.refused is not None and not options.dry_run:
        raise DeletionsHeld(result)
    return result


@dataclass(frozen=True)
class _PassContext:
    """What one pass needs and never changes while it runs: the steps below read it, none
    writes it."""

    client: RemoteClient
    journal: Journal
    pair: PairConfig
    row: PairRow  # the journal's row of the pair, as it was when the pass started
    sync: SyncConfig
    options: PassOptions
    package: AccountPackage | None
    progress: Progress | None
    cancel: threading.Event | None
    root: Path
    ignore: IgnoreRules
    workers: int  # upload slots: the config's, capped by the account's package

    @classmethod
    def build(
        cls,
        client: RemoteClient,
        journal: Journal,
        pair: PairConfig,
        row: PairRow,
        *,
        sync: SyncConfig,
        state_path: Path | None,
        package: AccountPackage | None,
        options: PassOptions,
        progress: Progress | None,
        cancel: threading.Event | None,
    ) -> _PassContext:
        root = Path(pair.local)
        return cls(
            client=client,
            journal=journal,
            pair=pair,
            row=row,
            sync=sync,
            options=options,
            package=package,
            progress=progress,
            cancel=cancel,
            root=root,
            ignore=IgnoreRules.for_root(root, pair.ignore, state_db=state_path),
            workers=upload_workers(sync.workers, package),
        )

    @property
    def dry_run(self) -> bool:
        return self.options.dry_run


@dataclass(frozen=True)
class _Walked:
    """What the walk produced: the plan (its ops not yet run, but for batches handed out to
    the executor on a huge pass) and what the scanner saw but cannot sync."""

    plan: Plan
    listings: int
    not_synced: list[tuple[str, str]]  # (relative path, why)
    issues_dropped: int  # issues past the scanner's cap: counted, not listed
    ignored: list[tuple[str, str]]  # (relative path, which rules); a directory's ends in "/"
    ignored_dropped: int
    unseen: list[tuple[int, str]] = field(default_factory=list)  # see Outcome.recheck


def _run_pass(ctx: _PassContext, dirty: Sequence[str] | None) -> PassResult:
    tracked = _count_tracked_if_needed(ctx, dirty)
    try:
        device = _check_root(ctx, tracked)
        root_refusal: str | None = None
    except GuardRefused as exc:
        if not ctx.dry_run:
            raise
        # A dry run is never refused: it shows the plan, and what a guard would refuse.
        root_refusal, device = exc.message, 0
        if not ctx.root.is_dir():
            return PassResult(ctx.pair.name, True, Plan(), refused=root_refusal)
    folder_id = resolve_root_folder(
        ctx.client, ctx.journal, ctx.row, ctx.pair.remote_parts, create=not ctx.dry_run
    )
    if not ctx.dry_run and folder_id is not None and folder_id != ACCOUNT_ROOT:
        _note_root_location(ctx, folder_id, by_path=ctx.row.root_folder_id != folder_id)
    intents = ctx.journal.intents(ctx.row.id)
    settings = _plan_settings(ctx, intents, tracked)
    executor = _executor(ctx)
    if not ctx.dry_run:
        ctx.client.set_upload_concurrency(ctx.workers)
    versioner = versioning.for_pass(
        ctx.client, ctx.journal, ctx.row.id, folder_id, ctx.pair, ctx.dry_run
    )
    executor.versioner = versioner
    if versioner is not None:
        # Versioning moves a crash left in flight are finished first (docs/architecture.md).
        intents = versioning.before_pass(
            versioner, ctx.journal, ctx.row.root_dir_id, intents, settings.not_left_by_crash
        )
    walked = _walk(ctx, settings, executor, folder_id, dirty)
    held = _hold_deletions(ctx, walked.plan, tracked)
    if ctx.dry_run:
        outcome = Outcome()
    else:
        outcome = _execute(executor, walked)
        intents = _sweep_interrupted_folders(executor, outcome, intents)
        if versioner is not None:
            versioning.after_pass(versioner, outcome, full=dirty is None)
        _record_pass_state(ctx, intents, device)
        if held.previous or held.ops:
            ctx.journal.record_held(ctx.row.id, held.ops, held.done, whole_tree=dirty is None)
        _record_left_out(ctx, walked, whole_tree=dirty is None)
        outcome.recheck.extend(walked.unseen)
    outcome.skipped.extend(walked.not_synced)
    if walked.ignored:
        outcome.add("ignored", len(walked.ignored) + walked.ignored_dropped)
    result = PassResult(ctx.pair.name, ctx.dry_run, walked.plan, outcome, listings=walked.listings)
    result.refused, result.held = root_refusal or held.why, held.ops
    result.ignored, result.ignored_dropped = walked.ignored, walked.ignored_dropped
    return result


def _record_left_out(ctx: _PassContext, walked: _Walked, *, whole_tree: bool) -> None:
    """Keep what the pass left out (ignored, not synced) for `syncd status`; a pass that left
    nothing out and found nothing recorded writes nothing."""
    rows = [(path, "ignored", why) for path, why in walked.ignored]
    rows += [(path, "not synced", why) for path, why in walked.not_synced]
    if rows or (whole_tree and ctx.journal.left_out(ctx.row.id)):
        ctx.journal.record_left_out(ctx.row.id, rows, whole_tree=whole_tree)


def _note_root_location(ctx: _PassContext, folder_id: int, *, by_path: bool) -> None:
    """Keep where the pair's remote root lives in the journal's host cache, for `syncd status`
    (which never calls the host): known for free when the pass found the root by its path,
    else looked up by id at most once per ROOT_LOCATION_MAX_AGE (one folder/info per level).
    A root moved or renamed on the web site is followed by id; this says where it went."""
    api, key = ctx.client.api_url, root_location_key(ctx.pair.name)
    parts = tuple(ctx.pair.remote_parts)
    if by_path:
        ctx.journal.store_host_answer(api, key, {"folder_id": folder_id, "path": list(parts)})
        return
    cached = ctx.journal.cached_host_answer(api, key, ROOT_LOCATION_MAX_AGE)
    if cached is not None and cached.get("folder_id") == folder_id:
        return
    now = folder_path_of(ctx.client, folder_id)
    if now is None:
        return  # gone: the walk finds the root lost and looks it up by its path
    ctx.journal.store_host_answer(api, key, {"folder_id": folder_id, "path": list(now)})
    warning = moved_root(ctx.pair.name, parts, now, folder_id)
    if warning is not None:
        log.warning(warning)


def _count_tracked_if_needed(ctx: _PassContext, dirty: Sequence[str] | None) -> int | None:
    """The number of tracked files, or None when no guard needs it yet.

    Counting is O(files) (~10 ms of CPU at 100,000): a partial pass (the daemon's, per event)
    counts only when a guard needs the number (an empty root, deletions)."""
    if dirty is None or _root_empty_or_unreadable(ctx.root, ctx.ignore):
        return ctx.journal.tracked_files(ctx.row.id)
    return None


def _check_root(ctx: _PassContext, tracked: int | None) -> int:
    """Refuse a missing or remounted root (GuardRefused); returns its device. An emptied root
    is left to :func:`_hold_deletions`."""
    return guards.check_root(
        ctx.pair.name,
        ctx.root,
        ctx.row,
        tracked or 0,  # not counted only when the root is not empty: the guard then ignores it
        ctx.ignore,
        accept_new_root=ctx.options.accept_new_root,
        allow_empty=ctx.options.force_deletes,
        hold_if_empty=True,
    )


def _plan_settings(
    ctx: _PassContext, intents: Sequence[Intent], tracked: int | None
) -> PlanSettings:
    journal, row = ctx.journal, ctx.row
    uploads = {
        (i.folder_id, i.name, i.size): (i.created_ns, i.inode)
        for i in intents
        if i.kind == "upload" and i.folder_id is not None and i.name and i.size is not None
    }
    return PlanSettings(
        mode=ctx.pair.mode,
        max_upload_size=ctx.package.max_upload_size if ctx.package is not None else 0,
        upload_intents=uploads,
        not_left_by_crash=_not_left_by_crash(ctx, uploads),
        # Nothing to move from while the journal is empty (asked only when the count is 0).
        detect_moves=tracked is None or tracked > 0 or bool(journal.children(row.root_dir_id)[1]),
        adopt_existing=ctx.options.adopt_existing,
        retire_deleted=ctx.pair.history.keep,
        name_issue=ctx.client.name_issue if isinstance(ctx.client, EncryptedClient) else None,
    )


def _not_left_by_crash(
    ctx: _PassContext, uploads: dict[tuple[int, str, int], tuple[int, int | None]]
) -> frozenset[int]:
    """Untracked files that match an upload intent (folder, name, size) but are not what the
    interrupted upload left: someone else's file of that name and size. Only after a crash,
    one listing per intent's folder and, per match, one ``file/info`` and at most one download:

    - the host dates it (whole seconds) before the upload began, beyond its clock's slack;
    - or the local file is still the one the intent would have sent (``sent_by_intent``) yet
      the match's bytes are other (downloaded and hashed): someone replaced syncd's copy with
      theirs, or theirs was there a moment before. An identical copy is adopted either way.

    A match that cannot be checked (a download that fails, a local file gone) is judged by its
    date alone, and the pass says what went wrong where it meets the same file again."""
    wanted: dict[int, dict[tuple[str, int], tuple[int, int | None]]] = {}
    for (folder_id, name, size), sent in uploads.items():
        wanted.setdefault(folder_id, {})[(name, size)] = sent
    theirs: set[int] = set()
    for folder_id, sent_here in wanted.items():
        try:
            listing = ctx.client.folder_listing(api_folder_id(folder_id))
        except RemoteError:
            continue  # the pass lists it again, and says what went wrong
        for f in listing.files:
            sent = sent_here.get((f.name, f.size))
            if sent is None or ctx.journal.file_by_file_id(ctx.row.id, f.id) is not None:
                continue
            if uploaded_before(ctx.client, f.id, sent[0]) or _other_bytes(
                ctx, folder_id, f.id, f.name, sent
            ):
                theirs.add(f.id)
    return frozenset(theirs)


def _other_bytes(
    ctx: _PassContext, folder_id: int, file_id: int, name: str, sent: tuple[int, int | None]
) -> bool:
    """Whether remote file ``file_id`` holds other bytes than the local file an upload intent
    (``sent``) for ``name`` in ``folder_id`` would have sent, while that file is unchanged
    since. False when it cannot tell."""
    where = ctx.journal.dir_by_folder_id(ctx.row.id, folder_id)
    rel = None if where is None else ctx.journal.dir_path(where.id)
    if rel is None:
        return False
    path = ctx.root / rel / name
    try:
        st = path.stat(follow_symlinks=ctx.sync.follow_symlinks)
    except OSError:
        return False  # gone or unreadable: nothing to adopt it for, the walk says why
    if not stat.S_ISREG(st.st_mode) or not sent_by_intent(sent, st.st_mtime_ns, st.st_ino):
        return False
    try:
        local_md5 = md5_file(path, follow_symlinks=ctx.sync.follow_symlinks)
        remote_md5 = download_to(ctx.client, file_id).md5
    except (OSError, RemoteError) as exc:
        log.warning(
            "could not compare %s with what an interrupted upload left (%s): judged by its date",
            (Path(rel) / name).as_posix(),
            exc,
        )
        return False
    return remote_md5 != local_md5


def _executor(ctx: _PassContext) -> Executor:
    return Executor(
        ctx.client,
        ctx.journal,
        ctx.row.id,
        ctx.root,
        # Half as many threads again as upload slots: they stat, read and journal the next
        # files while the slots' uploads are in flight, so the slots never sit idle.
        workers=ctx.workers + ctx.workers // 2,
        progress=ctx.progress,
        cancel=ctx.cancel,
        quiet_period=ctx.sync.quiet_period,
    )


def _walk(
    ctx: _PassContext,
    settings: PlanSettings,
    executor: Executor,
    folder_id: int | None,
    dirty: Sequence[str] | None,
) -> _Walked:
    """Plan the pass, starting over when a folder the walk starts from is gone remotely.

    The planner recreates lost folders only below a listed parent, so a lost anchor means a
    whole-tree walk, from a root looked up (or created) by its path when the root itself is
    the one lost. Each happens at most once per pass: the second whole-tree walk does not
    watch the root any more (a root lost again is then planned as an empty remote folder)."""
    retries = 2  # a lost anchor of a partial pass, then a lost root
    while True:
        try:
            return _walk_once(ctx, settings, executor, folder_id, dirty, watch_root=retries > 0)
        except _AnchorLost as lost:
            if lost.folder_id == folder_id:
                folder_id = _find_lost_root(ctx)
                if executor.versioner is not None and folder_id is not None:
                    executor.versioner.root_folder_id = folder_id  # versions go in the new one
            dirty = None
            retries -= 1


def _walk_once(
    ctx: _PassContext,
    settings: PlanSettings,
    executor: Executor,
    folder_id: int | None,
    dirty: Sequence[str] | None,
    *,
    watch_root: bool,
) -> _Walked:
    """One walk: the whole tree, or the directories of ``dirty``. Raises _AnchorLost."""
    sources = _AnchoredSources(
        ctx.root,
        ctx.journal,
        ctx.row.id,
        ctx.client,
        ignore=ctx.ignore,
        follow_symlinks=ctx.sync.follow_symlinks,
        # A partial pass does not descend into unchanged subfolders: nothing to fetch ahead.
        prefetch_workers=min(ctx.workers, LISTING_THREADS_MAX) if dirty is None else 0,
        filters=ctx.pair.filters,
    )
    root_ref = Ref("", ctx.row.root_dir_id, folder_id)
    try:
        planner = Planner(
            sources,
            settings,
            batch_size=BATCH_OPS,
            on_batch=None if ctx.dry_run else executor.run,
            cancel=ctx.cancel,
        )
        if dirty is None:
            if watch_root and folder_id is not None:
                sources.anchors = frozenset({folder_id})
            if not isinstance(ctx.client, EncryptedClient):
                sources.plain_root = (folder_id or ACCOUNT_ROOT, ctx.pair.name)
            plan = planner.plan_tree(root_ref)
        else:
            dirs = dirty_dirs(ctx.journal, ctx.root, root_ref, dirty)
            sources.anchors = frozenset(r.folder_id for r, _ in dirs if r.folder_id)
            plan = planner.plan_dirs(dirs, dirty)
    finally:
        sources.close()
    ignored = [
        (rel + "/" if is_dir else rel, ctx.ignore.why(rel, is_dir))
        for rel, is_dir in sources.ignored
    ]
    return _Walked(
        plan,
        sources.listings,
        _not_synced(sources),
        sources.issues_dropped,
        ignored,
        sources.ignored_dropped,
        _unseen(plan.unlisted, dirty) if dirty is not None else [],
    )


def _unseen(unlisted: Sequence[Ref], dirty: Sequence[str]) -> list[tuple[int, str]]:
    """Dirty paths below a directory the planner could not list locally (gone when the pass
    looked: it changed nothing there): (its journal dir id, the path below it), for
    :class:`Rechecks`."""
    out: list[tuple[int, str]] = []
    for ref in unlisted:
        if not ref.rel or ref.dir_id is None:
            continue
        prefix = ref.rel + "/"
        out += [(ref.dir_id, p[len(prefix) :]) for p in dirty if p.startswith(prefix)]
    return out


def _find_lost_root(ctx: _PassContext) -> int | None:
    """The pair's remote folder is gone (trashed on the web site): look it up by its path
    (created there unless in a dry run); what it held is uploaded again."""
    log.warning(
        "pair %s: its remote folder is gone (trashed?); looking it up by its path "
        "%r and uploading what it held again%s",
        ctx.pair.name,
        ctx.pair.remote,
        " (dry run: nothing is changed)" if ctx.dry_run else "",
    )
    folder_id = resolve_root_folder(
        ctx.client,
        ctx.journal,
        ctx.row,
        ctx.pair.remote_parts,
        create=not ctx.dry_run,
        lost=True,
    )
    if not ctx.dry_run and folder_id is not None and folder_id != ACCOUNT_ROOT:
        _note_root_location(ctx, folder_id, by_path=True)
    return folder_id


def _not_synced(sources: LiveSources) -> list[tuple[str, str]]:
    """Entries the scanner saw but cannot sync (symlinks, unreadable, not UTF-8): reported."""
    return [
        (
            i.relpath,
            f"not synced: {i.reason.replace('_', ' ')}" + (f" ({i.detail})" if i.detail else ""),
        )
        for i in sources.issues
    ]


@dataclass(frozen=True)
class _Held:
    """What the deletion guards held back of a plan (taken out of its ops), and why."""

    why: str | None
    ops: list[HeldDeletion]
    done: list[tuple[str, str, int]]  # the deletions left in the plan (to be carried out)
    previous: list[HeldDeletion]  # the held set as the pass found it


def held_key(op: Op) -> tuple[str, str, int]:
    """How a held deletion is named, and approved: the op's kind, path and target id."""
    if isinstance(op, TrashFile):
        target: int | None = op.file_id
    elif isinstance(op, TrashFolder):
        target = op.folder_id
    elif isinstance(op, ForgetFile):
        target = op.file_id
    elif isinstance(op, ForgetDir):
        target = op.dir_id
    else:
        raise TypeError(f"not a deletion: {op.kind}")
    return (op.kind, op.rel, -1 if target is None else target)


def _hold_deletions(ctx: _PassContext, plan: Plan, tracked: int | None) -> _Held:
    """Take out of ``plan`` the deletions a guard holds (too many for max_delete, or any on an
    emptied root) unless approved (`syncd approve`: exactly the held set shown) or forced.

    Holding the deletions holds nothing else: uploads, moves and folder creates go on (no op
    of a plan depends on a trash: trashes run last). An emptied root holds the journal-only
    forgets too (backup mode), so a remounted disk finds its journal intact. A journal that
    knows nothing of a populated remote folder refuses the whole pass (GuardRefused) unless a
    dry run: its uploads would duplicate what is there."""
    previous = ctx.journal.held(ctx.row.id)
    removing = (TrashFile, TrashFolder, ForgetFile, ForgetDir)
    deletions = [op for op in plan.ops if isinstance(op, removing)]
    none = _Held(None, [], [held_key(op) for op in deletions], previous)
    if ctx.options.force_deletes or not deletions:
        return none
    if tracked is None:
        tracked = ctx.journal.tracked_files(ctx.row.id)
    emptied = tracked > 0 and _root_empty_or_unreadable(ctx.root, ctx.ignore)
    approved = {h.key for h in previous if h.approved_at is not None}
    guarded = removing if emptied else (TrashFile, TrashFolder)
    pending = [
        op
        for op in deletions
        if isinstance(op, guarded)
        and held_key(op) not in approved
        and not (isinstance(op, TrashFile) and op.leftover)  # syncd's own stale copy
    ]
    if not pending:
        return none
    if emptied:
        why: str | None = guards.emptied_root(ctx.pair.name, ctx.root, tracked)
    else:
        count = sum(_files(op) for op in pending)
        untracked = sum(
            _files(op)
            for op in pending
            if isinstance(op, TrashFile | TrashFolder) and not op.dir_id
        )
        unknown = None
        if not ctx.options.adopt_existing:  # else the user already took that advice
            unknown = guards.unknown_remote_refusal(
                ctx.pair.name, ctx.pair.remote, untracked, tracked
            )
        limit = ctx.options.max_delete or ctx.sync.max_delete
        why = guards.deletions_refusal(
            ctx.pair.name, count, untracked, tracked, limit, keeps_versions=ctx.pair.history.keep
        )
        if why is not None and unknown is not None:
            if not ctx.dry_run:
                raise GuardRefused(unknown + "; nothing was changed")
            why = unknown
    if why is None:
        return none
    taken = {id(op) for op in pending}
    plan.ops = [op for op in plan.ops if id(op) not in taken]
    now = time.time()
    held = [HeldDeletion(*held_key(op), _files(op), now, why) for op in pending]
    done = [held_key(op) for op in deletions if id(op) not in taken]
    # Info only: the CLI's error line and the daemon's worker (once per held set) tell the user.
    log.info("%s: %d deletions held", why, len(held))
    return _Held(why, held, done, previous)


def _files(op: Op) -> int:
    """Files a deletion removes, for the guard (a folder counts what it holds)."""
    return max(op.files, 1) if isinstance(op, TrashFolder) else 1


def _execute(executor: Executor, walked: _Walked) -> Outcome:
    """Run what the walk did not hand out already; the outcome covers the whole pass."""
    outcome = executor.run(walked.plan.ops)
    if walked.not_synced:
        outcome.add("not synced", len(walked.not_synced) + walked.issues_dropped)
    return outcome


def _sweep_interrupted_folders(
    executor: Executor, outcome: Outcome, intents: list[Intent]
) -> list[Intent]:
    """Remove the empty folders a crash left untracked (Executor.sweep_interrupted_folders);
    returns the intents this pass settles: a failed sweep keeps its own for the next pass."""
    if outcome.cancelled or not any(i.kind == "create_folder" for i in intents):
        return intents
    try:
        executor.sweep_interrupted_folders(intents)
    except RemoteError as exc:
        outcome.failed.append(("/", f"looking for folders a crash left failed: {exc}"))
        outcome.add("failed")
        return [i for i in intents if i.kind != "create_folder"]
    return intents


def _record_pass_state(ctx: _PassContext, intents: Sequence[Intent], device: int) -> None:
    """The intents this pass started from are settled; remember the root's device."""
    ctx.journal.clear_intents([i.id for i in intents])
    if ctx.row.device != device:
        ctx.journal.set_device(ctx.row.id, device)


def _root_empty_or_unreadable(root: Path, ignore: IgnoreRules) -> bool:
    try:
        return is_empty(root, ignore)
    except OSError:
        return True  # check_root explains it


def _inode(path: Path) -> int | None:
    try:
        return path.lstat().st_ino
    except OSError:
        return None


class Rechecks:
    """Paths a partial pass could not settle, looked at again by the next partial passes at
    their directory's path in the journal of then: files planned for upload that were gone when
    their upload came, and dirty paths whose directory was gone when the pass looked.

    Such a path is gone because it was deleted (a deletion event follows) or because a
    directory above it moved after the watcher reported the path (a move event follows). The
    move's pass edits the folder by id and walks the moved subtree only towards its dirty
    paths, so without this the file would wait for the next full pass. The move's pass finds
    the directory still under its old path in the journal and treats that path as reported
    before the move (see the planner's partial passes); a pass before it visits a directory
    that is not there and changes nothing.
    An entry is done once a pass looked at it with its directory present locally, or when the
    journal no longer knows the directory (its deletion was synced)."""

    def __init__(self) -> None:
        self._pending: dict[tuple[int, str], None] = {}

    def paths(self, journal: Journal, root: Path) -> list[str]:
        """The dirty paths to add to the next partial pass."""
        out: list[str] = []
        for key in list(self._pending):
            dir_id, name = key
            rel = journal.dir_path(dir_id)
            if rel is None:
                del self._pending[key]
                continue
            out.append(f"{rel}/{name}" if rel else name)
            if (root / rel).is_dir():
                del self._pending[key]  # this pass sees the directory where it is now
        return out

    def after(self, outcome: Outcome, *, whole_tree: bool = False) -> None:
        """Take a pass's outcome; a full pass looked at everything."""
        if whole_tree:
            self._pending.clear()
        self._pending.update(dict.fromkeys(outcome.recheck))


def dirty_dirs(
    journal: Journal, root: Path, root_ref: Ref, dirty: Sequence[str]
) -> list[tuple[Ref, bool]]:
    """The directories a partial pass must plan: a known directory that changed is planned
    with its subtree; anything else through its nearest known ancestor, without descending
    into that ancestor's unchanged subdirectories."""
    chosen: dict[int, tuple[Ref, bool]] = {}
    for raw in dirty:
        parts = [p for p in raw.strip("/").split("/") if p and p != "."]
        chain = [root_ref]  # the known directories along the path
        inode: int | None = None  # the journal's inode of chain[-1]
        for name in parts:
            parent_id = chain[-1].dir_id
            row = journal.child_dir(parent_id, name) if parent_id is not None else None
            if row is None or row.folder_id is None:
                break
            chain.append(Ref("/".join(parts[: len(chain)]), row.id, row.folder_id))
            inode = row.inode
        whole = len(chain) == len(parts) + 1 and (root / chain[-1].rel).is_dir()
        if len(chain) == len(parts) + 1 and not whole and len(chain) > 1:
            chain.pop()  # a known directory that is gone: its parent notices the deletion
        elif whole and len(chain) > 1 and _inode(root / chain[-1].rel) != inode:
            # Another directory under a known name (rmdir; mkdir, or a move over it): only
            # its parent's walk decides what it is (moved here, or new) and records its inode.
            chain.pop()
        ref = chain[-1]
        assert ref.dir_id is not None
        previous = chosen.get(ref.dir_id)
        chosen[ref.dir_id] = (ref, whole or (previous is not None and previous[1]))
    return list(chosen.values())
