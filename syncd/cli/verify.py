"""`syncd verify`: the command around :class:`syncd.verify.compare.Verifier` (pairs, remote folder
lookup, journal view, ignore rules, output, exit code)."""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click

from syncd.cli.app import App, SyncdCommand, pair_option, pass_app
from syncd.config import Config, PairConfig
from syncd.errors import ExitCode, UserError
from syncd.local.ignore import IgnoreRules
from syncd.remote.client import RemoteClient
from syncd.remote.paths import RemoteFolderMissing
from syncd.verify.compare import Verifier, VerifyReport
from syncd.verify.versions import check_versions_area
from syncd.wiring import download_workers, find_pair_root, pair_client

if TYPE_CHECKING:
    from syncd.verify.journal_view import JournalTree


@dataclass(frozen=True)
class VerifyRequest:
    pair: str | None = None
    deep: bool = False
    sample: int | None = None
    as_json: bool = False
    seed: int | None = None


def run_verify(
    config: Config, client: RemoteClient, request: VerifyRequest, out: TextIO = sys.stdout
) -> int:
    """Verify one pair or all; exit 0 only when every pair matches on every count."""
    if request.sample is not None and request.sample < 1:
        raise UserError("--sample N needs N >= 1 (or leave it out with --deep to check all files)")
    rng = random.Random(request.seed)
    workers = download_workers(config, client)
    reports = [
        verify_pair(config, client, pair, request, rng=rng, workers=workers)
        for pair in config.select_pairs(request.pair)
    ]
    if request.as_json:
        body = {"ok": all(r.ok for r in reports), "pairs": [r.to_json() for r in reports]}
        json.dump(body, out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        for report in reports:
            for line in report.lines():
                print(line, file=out)
    if any(r.local_root_missing for r in reports):
        # Same code as reconcile's missing-root guard: a script can tell "disk not mounted"
        # from "the trees differ".
        return ExitCode.GUARD
    return ExitCode.OK if all(r.ok for r in reports) else ExitCode.FAILED


def verify_pair(
    config: Config,
    client: RemoteClient,
    pair: PairConfig,
    request: VerifyRequest,
    *,
    rng: random.Random,
    workers: int,
) -> VerifyReport:
    state = Path(config.state.path)
    client = pair_client(client, pair)  # decrypts an encrypted pair's names and files
    rules = IgnoreRules.for_root(pair.local, pair.ignore, state_db=state)
    with _journal_view(config, pair) as journal:
        verifier = Verifier(
            client,
            pair=pair.name,
            local_root=str(pair.local),
            remote_path=pair.remote,
            journal=journal,
            ignored=rules.matches,
            ignored_why=rules.why,
            filters=pair.filters,
            deep=request.deep,
            sample=request.sample,
            workers=workers,
            rng=rng,
            foreign_ok=pair.mode == "backup",
            own_upload=journal.own_upload if journal is not None else None,
        )
        if verifier.local_root_is_missing():
            return verifier.run_local_missing()
        tracked = journal.pair.root_folder_id if journal is not None else None
        try:
            root_id, moved = find_pair_root(client, pair.name, pair.remote_parts, tracked)
        except RemoteFolderMissing:
            return verifier.run_remote_missing()
        report = verifier.run(root_id)
        if moved is not None:
            report.warnings.append(moved)
        check_versions_area(client, verifier.root_listing, report)
        report.differences.sort(key=lambda d: (d.path, d.kind))
        return report


@contextmanager
def _journal_view(config: Config, pair: PairConfig) -> Iterator[JournalTree | None]:
    """The pair's journal rows, when the state database exists (none on a fresh machine)."""
    state = Path(config.state.path)
    if not state.exists():
        yield None
        return
    from syncd.journal.store import Journal  # only when there is a journal
    from syncd.verify.journal_view import JournalTree

    with Journal(state) as journal:
        row = journal.pair(pair.name)
        yield JournalTree(journal, row) if row is not None else None


# -- the command --------------------------------------------------------------------------------


@click.command(cls=SyncdCommand)
@pair_option
@click.option("--deep", is_flag=True, help="Also download remote files and compare MD5s.")
@click.option("--sample", type=int, default=None, metavar="N", help="Deep-check N random files.")
@click.option("--seed", type=int, default=None, hidden=True, help="Seed for --sample.")
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
@pass_app
def verify(
    app: App, pair: str | None, deep: bool, sample: int | None, seed: int | None, as_json: bool
) -> int:
    """Compare journal, local tree and remote listings; exit 0 only when all match."""
    config = app.load_config(require_pairs=True)
    with app.open_client(config) as client:
        return run_verify(config, client, VerifyRequest(pair, deep, sample, as_json, seed))
