"""`syncd run`: the daemon in the foreground."""

from __future__ import annotations

import click

from syncd.cli.app import App, SyncdCommand, pass_app


@click.command(cls=SyncdCommand)
@pass_app
def run(app: App) -> int:
    """Run the daemon in the foreground: watch every pair, push changes within about a second,
    and reconcile fully at start and every [sync] reconcile_interval. SIGTERM/SIGINT stop it
    cleanly, SIGHUP reloads the config."""
    from syncd.daemon.backend import run_daemon

    return run_daemon(lambda: app.load_config(require_pairs=True))
