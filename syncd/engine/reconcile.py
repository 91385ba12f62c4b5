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
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from syncd.config import MaxDelete, PairConfig, SyncConfig
from syncd.engine import guards, versioning
from syncd.engine.executor import Executor, Outcome, Progress
from syncd.engine.ops import Ref
from syncd.engine.planner import Plan, Planner, PlanSettings
from syncd.engine.sources import LiveSources
from syncd.errors import ExitCode, GuardRefused
from syncd.journal.rows import ACCOUNT_ROOT, Intent, PairRow
from syncd.journal.store import Journal
from syncd.local.ignore import IgnoreRules
from syncd.local.scanner import is_empty
from syncd.remote.client import RemoteClient
from syncd.remote.encrypted import EncryptedClient, refuse_encrypted_listing
from syncd.remote.models import AccountPackage, FolderListing
from syncd.remote.paths import RemoteFolderMissing, SameName, resolve_remote_folder
from syncd.wiring import pair_client, upload_workers

log = logging.getLogger(__name__)

# Past this many planned ops, a pass starts running them while it walks on (bounded memory on
# huge initial syncs). Below it, nothing runs before the whole plan passed the guards.
BATCH_OPS = 20_000


@dataclass
class PassResult:
    pair: str
    dry_run: bool
    plan: Plan
    outcome: Outcome = field(default_factory=Outcome)
    elapsed: float = 0.0
    listings: int = 0
    refused: str | None = None  # a guard's message

    @property
    def exit_code(self) -> int:
        if self.refused is not None:
            return ExitCode.GUARD
        return ExitCode.FAILED if self.outcome.failed else ExitCode.OK


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

    Raises GuardRefused (nothing changed) and client errors that stop the whole pass
    (credentials); per-item failures are in the result."""
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
        journal.finish_run(run_id, verdict, dict(outcome.counts), error=details)
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


def _run_pass(ctx: _PassContext, dirty: Sequence[str] | None) -> PassResult:
    tracked = _count_tracked_if_needed(ctx, dirty)
    device = _check_root(ctx, tracked)
    folder_id = resolve_root_folder(
        ctx.client, ctx.journal, ctx.row, ctx.pair.remote_parts, create=not ctx.dry_run
    )
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
        intents = versioning.before_pass(versioner, ctx.journal, ctx.row.root_dir_id, intents)
    walked = _walk(ctx, settings, executor, folder_id, dirty)
    _check_deletions(ctx, walked.plan, tracked)
    if ctx.dry_run:
        outcome = Outcome()
    else:
        outcome = _execute(executor, walked)
        if versioner is not None:
            versioning.after_pass(versioner, outcome, full=dirty is None, intents=intents)
        _record_pass_state(ctx, intents, device)
    outcome.skipped.extend(walked.not_synced)
    return PassResult(ctx.pair.name, ctx.dry_run, walked.plan, outcome, listings=walked.listings)


def _count_tracked_if_needed(ctx: _PassContext, dirty: Sequence[str] | None) -> int | None:
    """The number of tracked files, or None when no guard needs it yet.

    Counting is O(files) (~10 ms of CPU at 100,000): a partial pass (the daemon's, per event)
    counts only when a guard needs the number (an empty root, deletions)."""
    if dirty is None or _root_empty_or_unreadable(ctx.root, ctx.ignore):
        return ctx.journal.tracked_files(ctx.row.id)
    return None


def _check_root(ctx: _PassContext, tracked: int | None) -> int:
    """Refuse a missing, emptied or remounted root (GuardRefused); returns its device."""
    return guards.check_root(
        ctx.pair.name,
        ctx.root,
        ctx.row,
        tracked or 0,  # not counted only when the root is not empty: the guard then ignores it
        ctx.ignore,
        accept_new_root=ctx.options.accept_new_root,
        allow_empty=ctx.options.force_deletes,
    )


def _plan_settings(
    ctx: _PassContext, intents: Sequence[Intent], tracked: int | None
) -> PlanSettings:
    journal, row = ctx.journal, ctx.row
    return PlanSettings(
        mode=ctx.pair.mode,
        max_upload_size=ctx.package.max_upload_size if ctx.package is not None else 0,
        upload_intents=frozenset(
            (i.folder_id, i.name, i.size)
            for i in intents
            if i.kind == "upload" and i.folder_id is not None and i.name and i.size is not None
        ),
        # Nothing to move from while the journal is empty (asked only when the count is 0).
        detect_moves=tracked is None or tracked > 0 or bool(journal.children(row.root_dir_id)[1]),
        adopt_existing=ctx.options.adopt_existing,
        retire_deleted=ctx.pair.history.keep,
        name_issue=ctx.client.name_issue if isinstance(ctx.client, EncryptedClient) else None,
    )


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
        prefetch_workers=min(ctx.workers, 8) if dirty is None else 0,
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
            plan = planner.plan_dirs(dirs)
    finally:
        sources.close()
    return _Walked(plan, sources.listings, _not_synced(sources), sources.issues_dropped)


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
    return resolve_root_folder(
        ctx.client,
        ctx.journal,
        ctx.row,
        ctx.pair.remote_parts,
        create=not ctx.dry_run,
        lost=True,
    )


def _not_synced(sources: LiveSources) -> list[tuple[str, str]]:
    """Entries the scanner saw but cannot sync (symlinks, unreadable, not UTF-8): reported."""
    return [
        (
            i.relpath,
            f"not synced: {i.reason.replace('_', ' ')}" + (f" ({i.detail})" if i.detail else ""),
        )
        for i in sources.issues
    ]


def _check_deletions(ctx: _PassContext, plan: Plan, tracked: int | None) -> None:
    """Refuse a plan that trashes more than max_delete allows (GuardRefused)."""
    if ctx.options.force_deletes:
        return
    limit = ctx.options.max_delete or ctx.sync.max_delete
    deletions = plan.deletions()
    if deletions and tracked is None:
        tracked = ctx.journal.tracked_files(ctx.row.id)
    guards.check_deletions(
        ctx.pair.name, deletions, tracked or 0, limit, keeps_versions=ctx.pair.history.keep
    )


def _execute(executor: Executor, walked: _Walked) -> Outcome:
    """Run what the walk did not hand out already; the outcome covers the whole pass."""
    outcome = executor.run(walked.plan.ops)
    if walked.not_synced:
        outcome.add("not synced", len(walked.not_synced) + walked.issues_dropped)
    return outcome


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
