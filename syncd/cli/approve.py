"""`syncd approve --pair NAME`: carry out the deletions a guard holds for a pair.

What is approved is the held set as `syncd status` shows it (each deletion by its path and
remote id), not deletions found later: those are counted against the guards afresh. Works beside
a running daemon (it carries them out within seconds) and without one (the next `syncd
reconcile` does)."""

from __future__ import annotations

from collections.abc import Sequence

import click

from syncd.cli.app import App, SyncdCommand, pass_app
from syncd.config import Config, PairConfig
from syncd.errors import ExitCode


def approve_pair(config: Config, pair: PairConfig) -> int:
    """Approve what is held for ``pair``; prints it; returns how many deletions."""
    from syncd.journal.approvals import approve_held
    from syncd.journal.reader import JournalReader, SchemaNotCurrent

    path = config.state.path
    if not path.exists():
        click.echo(f"pair {pair.name}: no deletions are held (never synced)")
        return 0
    try:
        JournalReader(path).close()
    except SchemaNotCurrent:
        from syncd.journal.store import Journal

        Journal(path).close()  # upgrades the schema
    held = approve_held(path, pair.name)
    if not held:
        click.echo(f"pair {pair.name}: no deletions are held")
        return 0
    for item in held:
        click.echo(f"  approved {item.describe()}")
    files = sum(h.files for h in held)
    click.echo(f"pair {pair.name}: approved {len(held)} held deletions ({files} files)")
    return len(held)


def hand_to_daemon(config: Config, pairs: Sequence[PairConfig], pid: int | None) -> int:
    """`reconcile --force-deletes` beside a running daemon: approve what it holds."""
    approved = sum(approve_pair(config, pair) for pair in pairs)
    who = f" (pid {pid})" if pid else ""
    if approved:
        click.echo(f"handed to the running daemon{who}: it carries them out at its next pass")
    else:
        click.echo(f"the running daemon{who} syncs these pairs by itself; nothing to approve")
    return int(ExitCode.OK)


@click.command(cls=SyncdCommand)
@click.option("--pair", "pair", metavar="NAME", required=True, help="The pair whose deletions.")
@pass_app
def approve(app: App, pair: str) -> int:
    """Approve the deletions a guard (max_delete, an emptied root) holds for a pair, as
    `syncd status` lists them. A running daemon carries them out within seconds; otherwise
    the next `syncd reconcile` does. Deletions held later need their own approval."""
    from syncd.journal.lock import AlreadyRunning, StateLock

    config = app.load_config(require_credentials=False, require_pairs=True, plain_logging=True)
    (chosen,) = config.select_pairs(pair)
    if not approve_pair(config, chosen):
        return int(ExitCode.OK)
    lock = StateLock(config.state.path)
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        who = f" (pid {exc.holder_pid})" if exc.holder_pid else ""
        click.echo(f"the running daemon{who} carries them out at its next pass (within seconds)")
        return int(ExitCode.OK)
    lock.release()
    click.echo(f"run `syncd reconcile --pair {chosen.name}` to carry them out")
    return int(ExitCode.OK)
