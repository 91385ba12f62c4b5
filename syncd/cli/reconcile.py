"""`syncd reconcile`: one pass over each pair (or one), with a progress bar and a summary."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import click

from syncd.cli.app import App, SyncdCommand, pair_option, pass_app
from syncd.config import Config, MaxDelete, PairConfig
from syncd.engine.executor import Progress
from syncd.engine.ops import Op, Upload
from syncd.engine.reconcile import DeletionsHeld, PassOptions, PassResult, reconcile_pair
from syncd.errors import ExitCode, GuardRefused, UserError
from syncd.journal.lock import AlreadyRunning, StateLock
from syncd.journal.store import Journal
from syncd.remote.client import RemoteClient
from syncd.wiring import cached_package

log = logging.getLogger(__name__)


# 128 + SIGINT, what shells report for a command stopped by Ctrl-C.
EXIT_INTERRUPTED = 130

SUMMARY_ORDER = (
    "uploaded",
    "replaced",
    "moved",
    "renamed",
    "repaired",
    "trashed",
    "versioned",
    "adopted",
    "folders created",
    "skipped",
    "failed",
    "ignored",  # by the ignore rules (built-in, the config's, .syncdignore)
    "not synced",  # unreadable, symlinks, special files, names the host cannot hold
)


@dataclass(frozen=True)
class ReconcileRequest:
    pair: str | None = None
    dry_run: bool = False
    max_delete: MaxDelete | None = None
    force_deletes: bool = False
    accept_new_root: bool = False
    adopt_existing: bool = False
    quiet: bool = False
    list_ignored: bool = False


class RichProgress(Progress):
    """One line on a terminal: ops done of planned, bytes sent of planned, rate and ETA."""

    def __init__(self, label: str) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import Progress as RichBar

        self._bar = RichBar(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[done]}/{task.fields[ops]} ops"),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            transient=True,
        )
        self._label = label
        self._done = 0
        self._lock = threading.Lock()

    def begin(self, ops: list[Op]) -> None:
        total = sum(op.ident.size for op in ops if isinstance(op, Upload))
        self._bar.start()
        self._task = self._bar.add_task(self._label, total=max(total, 1), done=0, ops=len(ops))

    def end(self) -> None:
        self._bar.stop()

    def op_done(self, op: Op, ok: bool) -> None:
        with self._lock:
            self._done += 1
            self._bar.update(self._task, done=self._done)

    def bytes_sent(self, n: int) -> None:
        self._bar.advance(self._task, n)


class LogProgress(Progress):
    """Not a terminal: one log line per op at debug level, nothing on stdout."""

    def op_done(self, op: Op, ok: bool) -> None:
        log.debug("%s %s", "done" if ok else "FAILED", op.describe())


def run_reconcile(config: Config, client: RemoteClient, request: ReconcileRequest) -> int:
    pairs = config.select_pairs(request.pair)
    with contextlib.ExitStack() as stack:
        if not request.dry_run:
            # One writer of a pair's remote folder at a time: not beside a running daemon.
            lock = StateLock(config.state.path)
            try:
                lock.acquire()
            except AlreadyRunning as exc:
                if request.force_deletes:
                    # The daemon reconciles by itself: what it needs is the approval.
                    from syncd.cli.approve import hand_to_daemon

                    return hand_to_daemon(config, pairs, exc.holder_pid)
                raise UserError(f"{exc} (it reconciles by itself; see `syncd status`)") from None
            stack.callback(lock.release)
        return _reconcile_pairs(config, client, request, pairs)


@contextlib.contextmanager
def ctrl_c_cancels(cancel: threading.Event) -> Iterator[None]:
    """The first Ctrl-C (SIGINT) sets ``cancel``: no new operation starts, those in flight
    finish and are recorded, and the summary so far is printed. A second one aborts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def on_sigint(signum: int, frame: Any) -> None:
        if cancel.is_set():
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        cancel.set()
        click.echo(
            "syncd: interrupted — finishing the operations in flight (Ctrl-C again to abort "
            "at once)",
            err=True,
        )

    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _reconcile_pairs(
    config: Config, client: RemoteClient, request: ReconcileRequest, pairs: tuple[PairConfig, ...]
) -> int:
    cancel = threading.Event()
    with ctrl_c_cancels(cancel):
        return _reconcile_each(config, client, request, pairs, cancel)


def _reconcile_each(
    config: Config,
    client: RemoteClient,
    request: ReconcileRequest,
    pairs: tuple[PairConfig, ...],
    cancel: threading.Event,
) -> int:
    worst = ExitCode.OK
    with Journal(config.state.path) as journal:
        package = cached_package(client, journal, config.remote.api_url)
        for pair in pairs:
            options = PassOptions(
                dry_run=request.dry_run,
                max_delete=request.max_delete,
                force_deletes=request.force_deletes,
                accept_new_root=request.accept_new_root,
                adopt_existing=request.adopt_existing,
            )
            tty = sys.stdout.isatty() and not request.dry_run
            progress = RichProgress(f"{pair.name}") if tty else LogProgress()
            try:
                result = reconcile_pair(
                    client,
                    journal,
                    pair,
                    sync=config.sync,
                    state_path=config.state.path,
                    package=package,
                    options=options,
                    progress=progress,
                    cancel=cancel,
                )
            except GuardRefused as exc:
                if isinstance(exc, DeletionsHeld):
                    print_result(exc.result, quiet=request.quiet, list_ignored=request.list_ignored)
                if len(pairs) == 1:
                    raise
                click.echo(f"syncd: error: {exc.message}", err=True)
                worst = ExitCode.GUARD
                continue
            print_result(result, quiet=request.quiet, list_ignored=request.list_ignored)
            if result.refused is not None:  # a dry run a guard would refuse or hold
                worst = ExitCode.GUARD
            if cancel.is_set():
                left = [p.name for p in pairs[pairs.index(pair) + 1 :]]
                click.echo(
                    f"syncd: interrupted: pair {pair.name} stopped after the operations in flight"
                    + (f", pairs not started: {', '.join(left)}" if left else "")
                    + " — run `syncd reconcile` again to finish",
                    err=True,
                )
                return EXIT_INTERRUPTED
            if result.exit_code == ExitCode.FAILED and worst == ExitCode.OK:
                worst = ExitCode.FAILED
    return worst


def _ignored_summary(result: PassResult) -> str:
    by_why: dict[str, int] = {}
    for _path, why in result.ignored:
        by_why[why] = by_why.get(why, 0) + 1
    parts = [f"{n} by {why}" for why, n in sorted(by_why.items())]
    if result.ignored_dropped:
        parts.append(f"{result.ignored_dropped} more")
    return ", ".join(parts) + " (`--list-ignored` lists them; README: What is not synced)"


def print_result(result: PassResult, *, quiet: bool = False, list_ignored: bool = False) -> None:
    """The pass's summary; ``quiet`` (cron): only a pass with failures is reported, with its
    failed paths (skipped paths are explained in the journal: `syncd status` lists them)."""
    if quiet and not result.dry_run and not result.outcome.failed:
        return
    if result.dry_run:
        click.echo(f"pair {result.pair}: dry run, {len(result.plan.ops)} planned ops:")
        for op in result.plan.ops:
            click.echo(f"  {op.describe()}")
        counts = result.plan.counts()
        line = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing to do"
        click.echo(f"pair {result.pair}: would do: {line}")
        for path, why in result.outcome.skipped:
            click.echo(f"  {path}: {why}")
        if result.ignored:
            click.echo(f"  ignored: {_ignored_summary(result)}")
            for path, why in result.ignored if list_ignored else ():
                click.echo(f"  ignored {path} ({why})")
        if result.held:
            click.echo(f"pair {result.pair}: a guard would hold {len(result.held)} deletions:")
            for held in result.held:
                click.echo(f"  held {held.describe()}")
        if result.refused is not None:
            click.echo(f"pair {result.pair}: a guard would refuse: {result.refused}")
        return
    counts = result.outcome.counts
    parts = [f"{key} {counts.get(key, 0)}" for key in SUMMARY_ORDER]
    parts += [f"{k} {v}" for k, v in sorted(counts.items()) if k not in SUMMARY_ORDER]
    mb = result.outcome.bytes_uploaded / 1e6
    click.echo(f"pair {result.pair}: {', '.join(parts)} ({result.elapsed:.1f} s, {mb:.1f} MB sent)")
    for item in () if quiet else result.outcome.retired:
        slash = "/" if item.is_folder else ""
        kind = "folder id" if item.is_folder else "id"
        where = f" -> {item.versioned}" if item.versioned else ""
        word = {"version": "versioned", "trash": "trashed", "prune": "pruned"}[item.action]
        click.echo(f"  {word} {item.rel}{slash} ({kind} {item.remote_id}){where}")
    for path, why in () if quiet else result.outcome.skipped:
        click.echo(f"  skipped {path}: {why}")
    if result.ignored and not quiet:
        click.echo(f"  ignored: {_ignored_summary(result)}")
        for path, why in result.ignored if list_ignored else ():
            click.echo(f"  ignored {path} ({why})")
    for path, why in result.outcome.failed:
        click.echo(f"  failed  {path}: {why}")
    for held in () if quiet else result.held:
        click.echo(f"  held    {held.describe()}")
    log.debug(
        "reconcile done",
        extra={"pair": result.pair, "counts": dict(counts), "seconds": result.elapsed},
    )


# -- the command --------------------------------------------------------------------------------


def _max_delete_option(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    from syncd.config import parse_max_delete

    if value is None:
        return None
    try:
        return parse_max_delete(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command(cls=SyncdCommand)
@pair_option
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the plan and what a guard would refuse or hold; change nothing (exit 3 if a "
    "guard would).",
)
@click.option(
    "--max-delete",
    metavar="N|N%",
    default=None,
    callback=_max_delete_option,
    help="Allow this many trashes in this run (count or percent of synced files).",
)
@click.option(
    "--force-deletes",
    is_flag=True,
    help="No deletion limit for this run; beside a running daemon: approve the deletions it "
    "holds (as `syncd approve`).",
)
@click.option(
    "--accept-new-root", is_flag=True, help="The local root moved to another disk on purpose."
)
@click.option(
    "--adopt-existing",
    is_flag=True,
    help="Take remote files with the same name and size as the local ones as already uploaded "
    "(a first sync against a copy made by other means; check it with `syncd verify --deep`).",
)
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="Print only problems: failed items, and errors on stderr (for cron).",
)
@click.option(
    "--list-ignored", is_flag=True, help="List every path the ignore rules left out, and why."
)
@pass_app
def reconcile(
    app: App,
    pair: str | None,
    dry_run: bool,
    max_delete: Any,
    force_deletes: bool,
    accept_new_root: bool,
    adopt_existing: bool,
    quiet: bool,
    list_ignored: bool,
) -> int:
    """Make each pair's remote folder equal to its local directory, once, and print a summary.
    Exit 0 converged, 1 some items failed, 2 usage/config/credentials, 3 a guard refused."""
    config = app.load_config(require_pairs=True)
    if quiet and not app.verbose:
        from syncd.logging import quiet_console

        quiet_console()
    request = ReconcileRequest(
        pair,
        dry_run,
        max_delete,
        force_deletes,
        accept_new_root,
        adopt_existing,
        quiet,
        list_ignored,
    )
    with app.open_client(config) as client:
        return run_reconcile(config, client, request)
