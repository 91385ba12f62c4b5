"""`syncd verify`: the command around :class:`syncd.verify.Verifier` (pairs, remote folder
lookup, journal view, ignore rules, output, exit code)."""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

import pathspec

from syncd.config import Config, PairConfig
from syncd.errors import ExitCode, UserError
from syncd.remote.client import RemoteClient
from syncd.restore_remote import RemoteFolderMissing, resolve_remote_folder, worker_count
from syncd.verify import JournalView, Verifier, VerifyReport


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
    workers = worker_count(config, client)
    reports: list[VerifyReport] = []
    for pair in config.select_pairs(request.pair):
        journal = _journal_view(config, pair)
        verifier = Verifier(
            client,
            pair=pair.name,
            local_root=str(pair.local),
            remote_path=pair.remote,
            journal=journal,
            ignored=ignore_matcher(pair.ignore),
            deep=request.deep,
            sample=request.sample,
            workers=workers,
            rng=rng,
        )
        root_id = getattr(journal, "root_folder_id", None)
        if root_id is None:
            try:
                root_id = resolve_remote_folder(client, pair.remote_parts)
            except RemoteFolderMissing:
                reports.append(verifier.run_remote_missing())
                continue
        reports.append(verifier.run(root_id))
    if request.as_json:
        body = {"ok": all(r.ok for r in reports), "pairs": [r.to_json() for r in reports]}
        json.dump(body, out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        for report in reports:
            for line in report.lines():
                print(line, file=out)
    return ExitCode.OK if all(r.ok for r in reports) else ExitCode.FAILED


def ignore_matcher(patterns: tuple[str, ...]) -> Callable[[str, bool], bool]:
    """The pair's gitignore-style patterns as a predicate on ('a/b.txt', is_dir)."""
    if not patterns:
        return lambda _rel, _is_dir: False
    spec = pathspec.GitIgnoreSpec.from_lines(patterns)
    return lambda rel, is_dir: spec.match_file(rel + "/" if is_dir else rel)


def _journal_view(config: Config, pair: PairConfig) -> JournalView | None:
    """The pair's journal rows, when the state database exists (none on a fresh machine)."""
    return None
