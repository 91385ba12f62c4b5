"""`syncd config check|path|example|init`: inspect the configuration, or write a first one."""

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
                f"reconcile every {config.sync.reconcile_interval:g} s"
                + (f" within {window}" if (window := config.sync.full_pass_window) else "")
                + (f", bwlimit {limit}" if (limit := config.sync.bwlimit) else ""),
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


@config_group.command("example")
def config_example() -> int:
    """Print the example config: every option, its default and what it does."""
    from syncd.cli.config_init import example_text

    click.echo(example_text(), nl=False)
    return ExitCode.OK


@config_group.command("init")
@click.option("--api-url", metavar="URL", help="The host's API base URL (ends in /api/v2/).")
@click.option("--key1", metavar="KEY", help="API key 1 [env: SYNCD_KEY1, SYNCD_KEY1_FILE].")
@click.option("--key2", metavar="KEY", help="API key 2 [env: SYNCD_KEY2, SYNCD_KEY2_FILE].")
@click.option("--username", metavar="NAME", help="Username [env: SYNCD_USERNAME].")
@click.option(
    "--password",
    metavar="PASSWORD",
    help="Password [env: SYNCD_PASSWORD; prefer the variable or the prompt: options show in ps].",
)
@click.option("--local", metavar="DIR", help="The local directory of the pair.")
@click.option("--remote", metavar="PATH", help="The pair's remote folder (default: --name).")
@click.option(
    "--mode", type=click.Choice(["mirror", "backup"]), default=None, help="The pair's mode."
)
@click.option("--name", metavar="NAME", help="The pair's name (default: the local dir's name).")
@click.option("--force", is_flag=True, help="Overwrite an existing config file.")
@pass_app
def config_init(app: App, force: bool, **given: str | None) -> int:
    """Write a first config: the host, the credentials and one pair.

    Asks for what the options and SYNCD_* variables do not give (secrets without echo),
    checks the credentials with a real login, then writes a complete, commented config
    (mode 600) to the file `syncd config path` names, or to --config FILE. Refuses to
    overwrite an existing file without --force."""
    from syncd.cli.config_init import run_init

    return run_init(app, given, force=force)
