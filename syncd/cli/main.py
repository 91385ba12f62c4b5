"""The `syncd` command line: a thin shell over the config, the client and the engine.

Each command lives in its own module of this package, named in :data:`COMMANDS` with its
one-line help; the module is imported only when its command runs, so `syncd --help` and the
cheap commands do not pay for the engine's imports. See :mod:`syncd.cli.app` for adding one.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

import click

from syncd import version
from syncd.cli.app import (
    CONFIG_HELP,
    LOG_FORMAT_HELP,
    LOG_FORMATS,
    VERBOSE_HELP,
    App,
    SyncdGroup,
)

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

# name -> (module:attribute, the one-line help `syncd --help` shows without importing it)
COMMANDS: dict[str, tuple[str, str]] = {
    "config": ("syncd.cli.config:config_group", "Inspect the configuration."),
    "login": ("syncd.cli.account:login", "Check the credentials: show the account and its limits."),
    "reconcile": (
        "syncd.cli.reconcile:reconcile",
        "Make each pair's remote folder equal to its local directory, once.",
    ),
    "run": ("syncd.cli.run:run", "Run the daemon in the foreground: watch and sync every pair."),
    "status": ("syncd.cli.status:status", "Per pair: last run, counts, problems, daemon state."),
    "health": ("syncd.cli.health:health", "Exit 0 while the daemon runs and keeps up, else 1."),
    "restore": ("syncd.cli.restore:restore", "Download a remote folder tree into DEST."),
    "versions": (
        "syncd.cli.versions:versions",
        "List a file's versions, or what was removed under a directory.",
    ),
    "verify": ("syncd.cli.verify:verify", "Compare journal, local tree and remote listings."),
    "demo": ("syncd.cli.demo:demo", "Try syncd against the built-in emulator (no account)."),
    "emulator": ("syncd.cli.demo:emulator", "Run the built-in emulator of the host."),
}


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"syncd {version()}")
        ctx.exit()


class LazyGroup(SyncdGroup):
    """Imports a command's module only when that command runs (click's lazy-group recipe);
    the listing in ``--help`` comes from :data:`COMMANDS`."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, attr = COMMANDS[cmd_name][0].split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attr)
        return command

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        """TAB after `syncd `: the names and help from :data:`COMMANDS`, importing no command
        module (click's default imports every command to ask for its help line)."""
        from click.shell_completion import CompletionItem

        items = [
            CompletionItem(name, help=COMMANDS[name][1])
            for name in self.list_commands(ctx)
            if name.startswith(incomplete)
        ]
        # The group's own options (`--config`, `-v`, ...), as click offers them.
        return items + click.Command.shell_complete(self, ctx, incomplete)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help=CONFIG_HELP,
)
@click.option("-v", "--verbose", count=True, help=VERBOSE_HELP)
@click.option("--log-format", type=click.Choice(LOG_FORMATS), default=None, help=LOG_FORMAT_HELP)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, verbose: int, log_format: str | None) -> None:
    """Keep a folder on a YetiShare-style file host identical to a local directory."""
    app = ctx.ensure_object(App)
    app.config_path = config_path
    app.verbose = verbose
    app.log_format = log_format
    # Logging is set up when a command reads its config (App.load_config): `--help` and the
    # read-only commands then never load structlog.


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (`syncd`, `python -m syncd`)."""
    cli.main(args=argv, prog_name="syncd")


__all__ = ["App", "cli", "main"]
