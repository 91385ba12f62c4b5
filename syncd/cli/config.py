"""`syncd config check|path`: inspect the configuration."""

from __future__ import annotations

import click

from syncd.cli.app import App, SyncdGroup, echo_table, pass_app
from syncd.errors import ExitCode


@click.group("config", cls=SyncdGroup)
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("check")
@pass_app
def config_check(app: App) -> int:
    """Validate the config file and print what it configures (never the secrets)."""
    config = app.load_config(plain_logging=True)
    remote = config.remote
    auth = "key1/key2" if remote.auth_method == "keys" else "username/password"
    click.echo(f"config ok: {config.source}")
    echo_table(
        [
            ("remote", f"{remote.api_url} (auth: {auth})"),
            ("state", str(config.state.path)),
            (
                "sync",
                f"workers {config.sync.workers}, max_delete {config.sync.max_delete}, "
                f"quiet_period {config.sync.quiet_period:g} s, "
                f"reconcile every {config.sync.reconcile_interval:g} s",
            ),
            ("log", f"{config.log.level}, {config.log.format}, file {config.log.file or '-'}"),
        ]
    )
    if not config.pairs:
        click.echo("pairs: none (add [[pairs]] tables before syncing)")
        return ExitCode.OK
    click.echo(f"pairs: {len(config.pairs)}")
    for pair in config.pairs:
        remote_path = "/" + pair.remote
        ignore = f", {len(pair.ignore)} ignore patterns" if pair.ignore else ""
        missing = "" if pair.local.is_dir() else "  [local directory does not exist]"
        click.echo(f"  {pair.name}: {pair.local} -> {remote_path} ({pair.mode}{ignore}){missing}")
    return ExitCode.OK


@config_group.command("path")
@pass_app
def config_path(app: App) -> int:
    """Print which config file syncd reads, and why."""
    from syncd.config import resolve_config_path

    path, origin = resolve_config_path(app.config_path)
    exists = "" if path.is_file() else " (does not exist)"
    click.echo(f"{path}{exists}  [from {origin}]")
    return ExitCode.OK
