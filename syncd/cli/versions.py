"""`syncd versions`: what the history holds for a file, or what was removed under a directory
(the listing itself is :mod:`syncd.restore.versions`)."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, TextIO

import click

from syncd.cli.app import App, SyncdCommand, complete_pair_names, pass_app
from syncd.config import Config, PairConfig
from syncd.errors import ExitCode, UserError

if TYPE_CHECKING:  # the listing pulls in the client (httpx): imported when the command runs
    from syncd.restore.versions import VersionListing


def pair_and_path(config: Config, pair_name: str | None, path: str) -> tuple[PairConfig, str]:
    """The pair and the path relative to its root. PATH is a local path inside a pair's
    directory (the pair is found from it), or, with ``--pair`` (or a single pair configured),
    a path relative to the pair's root ("/" or "" for the root itself)."""
    trailing = "/" if path.endswith("/") else ""
    candidates = [config.pair(pair_name)] if pair_name is not None else list(config.pairs)
    if os.path.isabs(path) or (pair_name is None and os.path.lexists(path)):
        local = os.path.realpath(path)
        for pair in candidates:
            root = os.path.realpath(pair.local)
            if local == root or local.startswith(root.rstrip("/") + "/"):
                rel = os.path.relpath(local, root).replace(os.sep, "/")
                return pair, ("" if rel == "." else rel) + trailing
    if len(candidates) != 1:
        names = ", ".join(config.pair_names) or "none defined"
        raise UserError(
            f"{path} is not inside a pair's directory — name the pair with --pair NAME "
            f"(pairs: {names})"
        )
    return candidates[0], path.strip("/") + trailing


def _print(listing: VersionListing, pair: PairConfig, as_json: bool, out: TextIO) -> None:
    if as_json:
        doc = {
            "pair": pair.name,
            "path": listing.path,
            "kind": listing.kind,
            "versions": [e.to_json() for e in listing.entries],
        }
        json.dump(doc, out, ensure_ascii=False, indent=2)
        out.write("\n")
        return
    shown = listing.path or "/"
    if listing.kind == "dir":
        title = f"pair {pair.name}: removed under {shown} ({len(listing.entries)} versions)"
    else:
        title = f"pair {pair.name}: {shown} ({len(listing.entries)} versions)"
    print(title, file=out)
    if listing.entries:
        print(f"  {'FROM (UTC)':<24}  {'TO (UTC)':<24}  {'SIZE':>12}  ID", file=out)
    for e in listing.entries:
        j = e.to_json()
        to = j["to"] or "now"
        size = "?" if e.size is None else str(e.size)
        label = f"{e.path}/" if e.is_folder else e.path
        what = "" if listing.kind == "file" else f"  {label}"
        mark = "" if e.state == "version" else f"  ({e.state})"
        print(
            f"  {j['from'] or '?':<24}  {to:<24}  {size:>12}  id {e.remote_id}{what}{mark}",
            file=out,
        )


@click.command(cls=SyncdCommand)
@click.option(
    "--pair",
    metavar="NAME",
    default=None,
    help="The pair (default: found from PATH).",
    shell_complete=complete_pair_names,
)
@click.option("--json", "as_json", is_flag=True, help="Print the listing as JSON.")
@click.argument("path")
@pass_app
def versions(app: App, pair: str | None, as_json: bool, path: str) -> int:
    """List the versions of a file (validity FROM and TO in UTC, size, remote id; the live copy
    marked current), or, for a directory, everything removed under it. PATH is relative to the
    pair's root, or a local path inside the pair's directory. Works without the journal."""
    from syncd.remote.paths import resolve_remote_folder
    from syncd.restore.journal import known_hashes
    from syncd.restore.versions import VersionFinder

    config = app.load_config()
    chosen, rel = pair_and_path(config, pair, path)
    with app.open_client(config) as plain, known_hashes(config.state.path, chosen.name) as known:
        from syncd.wiring import pair_client

        client = pair_client(plain, chosen)  # an encrypted pair's names, decrypted
        prefer = known.pair.root_folder_id if known is not None else None
        root = resolve_remote_folder(client, chosen.remote_parts, prefer=prefer)
        finder = VersionFinder(
            client,
            root,
            upload_time=known.upload_time if known is not None else None,
            current_id=known.file_id_at if known is not None else None,
        )
        listing = finder.find(rel)
    if listing.kind == "none":
        raise UserError(
            f"pair {chosen.name}: no file or folder {rel.strip('/') or '/'!r} in the live tree "
            "or the history — check the path (relative to the pair's root, names are "
            "case-sensitive)"
        )
    _print(listing, chosen, as_json, click.get_text_stream("stdout"))
    return ExitCode.OK
