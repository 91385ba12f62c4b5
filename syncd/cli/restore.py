"""`syncd restore`: the command around :class:`syncd.restore.restorer.Restorer` (config,
client, remote folder lookup, journal rebuild for disaster recovery, progress bar, summary,
exit code)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.progress import Progress as RichProgressBar

from syncd.cli.app import App, SyncdCommand, pass_app
from syncd.config import Config, PairConfig
from syncd.errors import ExitCode, UserError
from syncd.history.names import VERSIONS_DIR
from syncd.history.timespec import parse_moment
from syncd.journal.lock import AlreadyRunning, StateLock
from syncd.remote.client import RemoteClient
from syncd.remote.paths import resolve_remote_folder, split_remote_path
from syncd.restore.restorer import Restorer, RestoreReport
from syncd.restore.versions import OneFile
from syncd.wiring import download_workers, pair_client

if TYPE_CHECKING:
    from syncd.restore.journal import JournalHashes, JournalRebuilder


@dataclass(frozen=True)
class RestoreRequest:
    dest: str
    pair: str | None = None
    remote: str | None = None
    remote_id: int | None = None
    dry_run: bool = False
    overwrite: bool = False
    as_json: bool = False
    at: str | None = None  # restore the state as of this moment (ISO 8601 or an age: 3d)
    path: str | None = None  # only this part of the tree (relative to the remote folder)
    version_id: int | None = None  # only this file (a version, by its remote id)


class BarProgress:
    """A rich progress bar on stderr: bytes done of bytes found so far, files done of found."""

    def __init__(self, console: Console) -> None:
        self.bar = RichProgressBar(
            TextColumn("restore {task.fields[files]}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.task: TaskID = self.bar.add_task("restore", total=0, files="0/0 files")
        self.found = 0
        self.done = 0
        self.total = 0

    def discovered(self, files: int, nbytes: int) -> None:
        self.found += files
        self.total += nbytes
        self.bar.update(self.task, total=self.total, files=f"{self.done}/{self.found} files")

    def advanced(self, files: int, nbytes: int) -> None:
        self.done += files
        self.bar.update(self.task, advance=nbytes, files=f"{self.done}/{self.found} files")


def run_restore(
    config: Config,
    client: RemoteClient,
    request: RestoreRequest,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Run one restore; returns the exit code (0 nothing failed, 1 some items failed)."""
    chosen = [x for x in (request.pair, request.remote, request.remote_id) if x is not None]
    if len(chosen) != 1:
        raise UserError(
            "say what to restore: exactly one of --pair NAME, --remote PATH, --remote-id ID"
        )
    pair = config.pair(request.pair) if request.pair is not None else None
    if pair is not None:
        client = pair_client(client, pair)  # decrypts an encrypted pair's names and files
    dest = os.path.abspath(request.dest)
    if os.path.lexists(dest) and not os.path.isdir(dest):
        raise UserError(f"destination {dest} exists and is not a directory — choose another DEST")

    at_ns = _moment(request.at)
    parts = _subpath(request)
    if (
        at_ns is not None
        and pair is not None
        and os.path.realpath(dest) == os.path.realpath(pair.local)
    ):
        raise UserError(
            "restore --at into the pair's own folder would make the past the live tree — "
            "restore into another directory and copy what you need back"
        )
    # Only a whole pair restored into its own folder rebuilds the journal (a part of it would
    # leave the journal describing that part alone).
    whole = not parts and request.version_id is None
    with _journal_hooks(config, pair, dest, request.dry_run, rebuild_ok=whole) as (
        known,
        rebuilder,
    ):
        root_id, label = _root_folder(client, request, pair, known)
        source: Any = client
        if request.version_id is not None:
            source = _one_version(client, request.version_id, root_id, label)
            root_id = OneFile.ROOT
        elif at_ns is not None:
            from syncd.restore.history import HistoryView

            view = HistoryView(
                client,
                root_id,
                at_ns,
                upload_time=known.upload_time if known is not None else None,
                tracked=known.tracks if known is not None else None,
            )
            source, root_id = view, view.root
        if parts:
            source = _only_path(source, root_id, parts, request)
        show_bar = err.isatty() and not request.as_json and not request.dry_run
        bar = BarProgress(Console(file=err)) if show_bar else None
        restorer = Restorer(
            source,
            dest,
            workers=download_workers(config, client),
            dry_run=request.dry_run,
            overwrite=request.overwrite,
            known=known,
            recorder=rebuilder,
            progress=bar,
            on_line=None if request.as_json else lambda line: print(line, file=out),
            hide_at_root=frozenset({VERSIONS_DIR}),
        )
        if bar is not None:
            with bar.bar:
                report = restorer.run(root_id, label)
        else:
            report = restorer.run(root_id, label)
        if rebuilder is not None:
            rebuilder.finish(report.ok)
    _print_report(report, request.as_json, out)
    return ExitCode.OK if report.ok else ExitCode.FAILED


def _subpath(request: RestoreRequest) -> tuple[str, ...]:
    """``--path`` as path components; refuses combinations that mean nothing."""
    if request.version_id is not None:
        if request.pair is None:
            raise UserError("--version-id needs --pair NAME (the pair the version belongs to)")
        if request.path is not None or request.at is not None:
            raise UserError("--version-id restores one version as it is: leave out --path and --at")
    if request.path is None:
        return ()
    parts = tuple(p for p in request.path.split("/") if p)
    if not parts or any(p in (".", "..") for p in parts):
        raise UserError(
            f"--path {request.path!r}: give a file or folder relative to the restored folder, "
            "e.g. --path photos/2024"
        )
    return parts


def _only_path(
    source: Any, root_id: int | None, parts: tuple[str, ...], request: RestoreRequest
) -> Any:
    """The source narrowed to ``parts``; refuses a path that is not there (nothing written)."""
    from syncd.restore.versions import PathFilter

    probe = PathFilter(source, root_id, parts)
    frontier: list[int | None] = [root_id]
    for _ in parts:
        frontier = [f.id for fid in frontier for f in probe.folder_listing(fid).folders]
        if probe.found or not frontier:
            break
    if not probe.found:
        when = f" at {request.at}" if request.at is not None else ""
        raise UserError(
            f"--path {'/'.join(parts)}: no such file or folder in the remote tree{when} — "
            "check the path (relative to the restored folder; names are case-sensitive), "
            "or list it with `syncd versions`"
        )
    return probe


def _one_version(client: RemoteClient, file_id: int, root_id: int | None, label: str) -> Any:
    """A one-file source: version ``file_id`` under its original name. The file must lie in
    the pair's remote folder (the live tree or its versions area): one ``folder/info`` per
    level between them."""
    from syncd.remote.errors import NotFound
    from syncd.restore.versions import original_name

    try:
        info = client.file_info(file_id)
    except NotFound:
        raise UserError(
            f"--version-id {file_id}: no such file on the host — list the versions and their "
            "ids with `syncd versions PATH`"
        ) from None
    if info.status not in ("active", ""):
        raise UserError(
            f"--version-id {file_id}: that file is in the host's trash ({info.status}) — "
            "restore it from the trash on the web site first"
        )
    if not _inside(client, info.folder_id, root_id):
        raise UserError(
            f"--version-id {file_id}: that file is not in {label or 'the account root'} — "
            "list the pair's versions and their ids with `syncd versions PATH`"
        )
    return OneFile(client, info._replace(name=original_name(info.name), folder_id=None))


def _inside(client: RemoteClient, folder_id: int | None, root_id: int | None) -> bool:
    """True when remote folder ``folder_id`` is ``root_id`` or below it."""
    for _ in range(256):  # deeper than any real tree; a cycle on the host must not hang us
        if root_id is None or folder_id == root_id:
            return True
        if folder_id is None:
            return False
        folder_id = client.folder_info(folder_id).parent_id
    return False


def _moment(text: str | None) -> int | None:
    if text is None:
        return None
    import time

    try:
        return parse_moment(text, time.time_ns())
    except ValueError as exc:
        raise UserError(f"--at: {exc}") from None


def _root_folder(
    client: RemoteClient,
    request: RestoreRequest,
    pair: PairConfig | None,
    known: JournalHashes | None,
) -> tuple[int | None, str]:
    """The remote folder to restore. For a pair, the folder its journal tracks (by id), else
    the one at its path (the journal's id decides between twin folders of one name)."""
    if request.remote_id is not None:
        return request.remote_id, f"#{request.remote_id}"
    if pair is not None:
        # The folder the journal tracks, wherever it lives now (moved on the web site).
        from syncd.wiring import find_pair_root

        parts = pair.remote_parts
        tracked = known.pair.root_folder_id if known is not None else None
        folder_id, moved = find_pair_root(client, pair.name, parts, tracked)
        if moved is not None:
            click.echo(f"syncd: warning: {moved}", err=True)
        return folder_id, "/".join(parts)
    parts = split_remote_path(request.remote or "")
    return resolve_remote_folder(client, parts), "/".join(parts)


@contextmanager
def _journal_hooks(
    config: Config, pair: PairConfig | None, dest: str, dry_run: bool, *, rebuild_ok: bool = True
) -> Iterator[tuple[JournalHashes | None, JournalRebuilder | None]]:
    """Journal seams: MD5s the journal knows (resume checks), and, for a restore into the pair's
    own root (disaster recovery), a rebuilder that records what is restored. A restore of a
    pair elsewhere, or on a machine without a state database, leaves no journal behind."""
    state = Path(config.state.path)
    into_root = pair is not None and os.path.realpath(dest) == os.path.realpath(pair.local)
    rebuild = into_root and not dry_run and rebuild_ok
    if pair is None or not (rebuild or state.exists()):
        yield None, None
        return
    # Imported here: the journal (and the schema upgrade it may run) a plain restore never needs.
    from syncd.journal.store import Journal
    from syncd.restore.journal import JournalHashes, JournalRebuilder

    with contextlib.ExitStack() as stack:
        if rebuild:
            try:
                stack.enter_context(StateLock(state))
            except AlreadyRunning as exc:
                raise UserError(
                    f"{exc} — a restore into the pair's own folder rebuilds its journal"
                ) from None
        journal = stack.enter_context(Journal(state))
        row = journal.ensure_pair(pair.name, str(pair.local), pair.remote) if rebuild else None
        row = row or journal.pair(pair.name)
        known = JournalHashes(journal, row) if row is not None else None
        rebuilder = JournalRebuilder(journal, row, dest) if rebuild and row is not None else None
        if rebuilder is not None:
            rebuilder.start()
        yield known, rebuilder


def _print_report(report: RestoreReport, as_json: bool, out: TextIO) -> None:
    if as_json:
        json.dump(report.to_json(), out, ensure_ascii=False, indent=2)
        out.write("\n")
        return
    for line in report.summary_lines():
        print(line, file=out)


# -- the command --------------------------------------------------------------------------------


@click.command(cls=SyncdCommand)
@click.option("--pair", metavar="NAME", default=None, help="Restore this pair's remote folder.")
@click.option("--remote", metavar="PATH", default=None, help="Restore this remote folder path.")
@click.option("--remote-id", type=int, default=None, metavar="ID", help="Restore folder ID.")
@click.option("--dry-run", is_flag=True, help="List what would be written; write nothing.")
@click.option("--overwrite", is_flag=True, help="Replace local files that differ (else skip).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--at",
    metavar="TIME",
    default=None,
    help="Restore the state as of TIME (ISO 8601, or an age such as 3d, 12h) from the live "
    "tree and the versions area.",
)
@click.option(
    "--path",
    "subpath",
    metavar="SUBPATH",
    default=None,
    help="Restore only this file or folder (relative to the restored folder), at its place "
    "under DEST.",
)
@click.option(
    "--version-id",
    type=int,
    default=None,
    metavar="ID",
    help="Restore only this version of a file (an id `syncd versions` lists), under its "
    "original name in DEST.",
)
@click.argument("dest", type=click.Path(file_okay=False))
@pass_app
def restore(
    app: App,
    pair: str | None,
    remote: str | None,
    remote_id: int | None,
    dry_run: bool,
    overwrite: bool,
    as_json: bool,
    at: str | None,
    subpath: str | None,
    version_id: int | None,
    dest: str,
) -> int:
    """Download a remote folder tree into DEST: resumable, never writes outside DEST.
    Into a pair's own local root it also rebuilds the journal (disaster recovery)."""
    config = app.load_config()
    request = RestoreRequest(
        dest, pair, remote, remote_id, dry_run, overwrite, as_json, at, subpath, version_id
    )
    with app.open_client(config) as client:
        return run_restore(config, client, request)
