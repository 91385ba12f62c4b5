"""What every command shares: the global options, the App handed to commands, and turning
user errors into one line and an exit code.

Adding a command (e.g. `reconcile`): write a module in `syncd/cli/` with

    @click.command(cls=SyncdCommand)
    @pair_option
    @pass_app
    def reconcile(app: App, pair: str | None) -> int:
        config = app.load_config(require_pairs=True)
        with app.open_client(config) as client:
            ...
        return ExitCode.OK

and name it, with its one-line help, in :data:`syncd.cli.main.COMMANDS` (the module is imported
only when its command runs, so `syncd --help` stays fast).

- Raise a :class:`syncd.errors.UserError` subclass (ConfigError, GuardRefused, ...) for anything
  the user can fix: it is printed as one line ``syncd: error: <message>`` with its exit code.
  Client errors (AuthError, NoApiAccess, InsecureURL, ...) escaping ``app.open_client`` are
  translated the same way.
- Return an int exit code (``ExitCode``), or None for 0.
- A :class:`SyncdCommand` also accepts ``--config``, ``-v`` and ``--log-format`` after the
  command name, so do not define options with those names.
- Write results to stdout with ``click.echo``; logs go to stderr.
- Keep module-level imports light (click, `syncd.errors`): the config, the client, the journal
  and the engine are imported inside functions.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from syncd.errors import ConfigError, UserError
from syncd.logging import LOG_FORMATS, journal_prefix, redact_text

if TYPE_CHECKING:
    from syncd.config import Config
    from syncd.remote.client import RemoteClient


@dataclass
class App:
    """What the global options decided; handed to every command by ``@pass_app``."""

    config_path: Path | None = None
    verbose: int = 0
    log_format: str | None = None

    def configure_logging(self, config: Config | None = None, *, plain: bool = False) -> None:
        """Logging from the command-line flags, then the config's [log] section. ``plain``:
        one stdlib line per record, for commands that only read and may only warn (`status`,
        `config check`): structlog and rich stay unloaded, so they start in a blink."""
        level = "debug" if self.verbose else (config.log.level if config else "info")
        fmt = self.log_format or (config.log.format if config else "auto")
        from syncd.logging import configure_logging, configure_plain_logging

        try:
            log_file = config.log.file if config else None
            if plain and not self.verbose and log_file is None:
                configure_plain_logging(level, fmt)
                return
            configure_logging(level, fmt, config.log.file if config else None)
        except OSError as exc:  # only the log file can fail to open
            assert config is not None
            raise ConfigError(
                config.source,
                "log.file",
                f"cannot open {config.log.file} ({exc.strerror or exc})",
                "choose a writable path, or remove log.file to log to stderr only",
            ) from None

    def load_config(
        self,
        *,
        require_credentials: bool = True,
        require_pairs: bool = False,
        path: Path | None = None,
        plain_logging: bool = False,
    ) -> Config:
        """Read the config (``--config``, ``$SYNCD_CONFIG`` or the default), apply its [log]
        section, then log its warnings (permissions, TLS verification off)."""
        from syncd.config import load_config

        config = load_config(
            path or self.config_path, require_credentials=require_credentials, warn=False
        )
        self.configure_logging(config, plain=plain_logging)
        config.log_warnings()
        if require_pairs:
            config.require_pairs()
        return config

    @contextlib.contextmanager
    def open_client(
        self,
        config: Config,
        *,
        max_connections: int | None = None,
        max_retry_time: float | None = None,
    ) -> Iterator[RemoteClient]:
        """A RemoteClient for ``config``; closed on exit (the token is left to expire). Client
        errors that escape the block become one-line user errors naming cause and fix.
        ``max_retry_time`` overrides the config's (interactive commands answer sooner)."""
        from syncd.remote.errors import RemoteError
        from syncd.remote.user_errors import user_error_from_remote
        from syncd.wiring import make_client

        remote = config.remote
        try:
            client = make_client(
                config,
                one_shot=True,
                max_connections=max_connections,
                max_retry_time=max_retry_time,
            )
        except RemoteError as exc:
            raise user_error_from_remote(exc, remote.api_url) from None
        try:
            with client:
                yield client
        except RemoteError as exc:
            raise user_error_from_remote(exc, remote.api_url) from None


pass_app = click.make_pass_decorator(App, ensure=True)


def complete_pair_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """TAB after `--pair`: the config's pair names, read with tomllib only (no schema)."""
    from syncd.config_facts import read_light

    app = ctx.find_object(App)  # `--config` after the command name lands here
    explicit = app.config_path if app is not None else None
    for context in (ctx, *_parents(ctx)):
        explicit = explicit or context.params.get("config_path")
    try:
        names = read_light(explicit).pair_names
    except UserError:
        return []
    return [name for name in names if name.startswith(incomplete)]


def _parents(ctx: click.Context) -> Iterator[click.Context]:
    parent = ctx.parent
    while parent is not None:
        yield parent
        parent = parent.parent


pair_option = click.option(
    "--pair",
    "pair",
    metavar="NAME",
    default=None,
    help="Only this pair (default: all pairs).",
    shell_complete=complete_pair_names,
)


def fail(error: UserError) -> None:
    """Print ``syncd: error: <message>`` on stderr and exit with the error's code (with the
    error priority ``<3>`` in front when stderr goes to systemd's journal)."""
    prefix = journal_prefix(logging.ERROR)
    click.echo(f"{prefix}syncd: error: {redact_text(error.message)}", err=True)
    sys.exit(int(error.exit_code))


CONFIG_HELP = "Config file (default: $SYNCD_CONFIG, else the user config dir's syncd/config.toml)."
VERBOSE_HELP = "Debug logging (also from httpx, watchdog...)."
LOG_FORMAT_HELP = (
    "Log format on stderr (default: the config's, else auto = console on a TTY, else JSON)."
)


def _late_global_option(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """`syncd run --config FILE -v` means the same as `syncd --config FILE -v run`."""
    if value is None or value == 0:
        return
    app = ctx.ensure_object(App)
    if param.name == "config_path":
        app.config_path = value
        return
    if param.name == "verbose":
        app.verbose += value
    elif param.name == "log_format":
        app.log_format = value


def late_global_options() -> list[click.Option]:
    """The group's options, accepted after the command name as well."""
    common: dict[str, Any] = {"expose_value": False, "callback": _late_global_option}
    return [
        click.Option(
            ["--config", "config_path"],
            type=click.Path(dir_okay=False, path_type=Path),
            metavar="FILE",
            help=CONFIG_HELP,
            **common,
        ),
        click.Option(["-v", "--verbose"], count=True, help=VERBOSE_HELP, **common),
        click.Option(
            ["--log-format"], type=click.Choice(LOG_FORMATS), help=LOG_FORMAT_HELP, **common
        ),
    ]


class SyncdCommand(click.Command):
    """Every command also takes --config, -v and --log-format after its name."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        taken = {opt for param in self.params for opt in getattr(param, "opts", ())}
        self.params.extend(
            option for option in late_global_options() if not taken.intersection(option.opts)
        )


class SyncdGroup(click.Group):
    """Turns UserErrors and client errors into one line + exit code; int returns into codes."""

    command_class = SyncdCommand
    group_class = type  # subgroups (`syncd config ...`) behave the same

    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
        except UserError as exc:
            fail(exc)
        except Exception as exc:
            from syncd.remote.errors import RemoteError

            if not isinstance(exc, RemoteError):
                raise
            from syncd.remote.user_errors import user_error_from_remote

            fail(user_error_from_remote(exc))
        if isinstance(result, int) and not isinstance(result, bool) and result != 0:
            ctx.exit(int(result))
        return result


def human_size(size: int) -> str:
    """1536 -> '1.5 KiB'; exact bytes below 1 KiB."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        value /= 1024
        if value < 1024 or unit == "PiB":
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def echo_table(rows: list[tuple[str, str]]) -> None:
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        click.echo(f"{label + ':':<{width + 1}} {value}")
