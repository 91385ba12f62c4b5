"""`syncd health`: exit 0 while the daemon is alive and well, 1 otherwise, with one line.

Built for a container's HEALTHCHECK every minute: it reads the config with tomllib and the
journal through the read-only sqlite3 reader (:mod:`syncd.daemon.health`), so it never imports
pydantic, SQLAlchemy, httpx or structlog, and never touches the network."""

from __future__ import annotations

import click

from syncd.cli.app import App, SyncdCommand, pass_app
from syncd.journal.rows import DaemonStatus


@click.command(cls=SyncdCommand)
@click.option(
    "--max-age",
    type=click.FloatRange(min=1),
    default=DaemonStatus.STALE_AFTER,
    show_default=True,
    metavar="SECONDS",
    help="Unhealthy when a pair's daemon record is older (it is rewritten every 60 s).",
)
@pass_app
def health(app: App, max_age: float) -> int:
    """Exit 0 while the daemon runs and keeps up, else 1; one line says why.

    Healthy when every configured pair has a fresh record from a running daemon, none has
    failed five passes in a row and none is stalled (credentials refused, or no progress for
    [daemon] stall_after: deletions held by a guard, passes failing). Only exit codes 0 and 1
    (Docker reserves 2), also for a config error. Cheap: no network, the state database
    read-only."""
    from syncd.daemon.health import run_check

    ok, message = run_check(app.config_path, max_age)
    click.echo(message)
    return 0 if ok else 1
