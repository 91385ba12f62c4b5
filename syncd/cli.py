"""The `syncd` command line: a thin shell over the config, the client and the engine.

Adding a command (e.g. `reconcile`):

    @cli.command()
    @pair_option
    @pass_app
    def reconcile(app: App, pair: str | None) -> int:
        config = app.load_config(require_pairs=True)
        with app.open_client(config) as client:
            ...
        return ExitCode.OK

- One function per command; put its work in the module that owns it (engine, daemon, restore),
  import that module inside the function so `syncd --help` stays fast.
- Raise a :class:`syncd.errors.UserError` subclass (ConfigError, GuardRefused, ...) for anything
  the user can fix: it is printed as one line ``syncd: error: <message>`` with its exit code.
  Client errors (AuthError, NoApiAccess, InsecureURL, ...) escaping ``app.open_client`` are
  translated the same way.
- Return an int exit code (``ExitCode``), or None for 0.
- ``@cli.command()`` makes a :class:`SyncdCommand`: it also accepts ``--config``, ``-v`` and
  ``--log-format`` after the command name, so do not define options with those names.
- Write results to stdout with ``click.echo``; logs go to stderr.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import structlog

from syncd import __version__
from syncd.config import Config, load_config, resolve_config_path
from syncd.errors import ConfigError, ExitCode, UserError, user_error_from_remote
from syncd.logging import LOG_FORMATS, configure_logging, redact_text
from syncd.remote.errors import RemoteError

if TYPE_CHECKING:
    from syncd.emulator.testing import EmulatorProcess
    from syncd.remote import RemoteClient

log = structlog.get_logger(__name__)


# --------------------------------------------------------------------------------------------
# Shared helpers


@dataclass
class App:
    """What the global options decided; handed to every command by ``@pass_app``."""

    config_path: Path | None = None
    verbose: int = 0
    log_format: str | None = None

    def configure_logging(self, config: Config | None = None) -> None:
        """Logging from the command-line flags, then the config's [log] section."""
        level = "debug" if self.verbose else (config.log.level if config else "info")
        fmt = self.log_format or (config.log.format if config else "auto")
        try:
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
    ) -> Config:
        """Read the config (``--config``, ``$SYNCD_CONFIG`` or the default), apply its [log]
        section, then log its warnings (permissions, TLS verification off)."""
        config = load_config(
            path or self.config_path, require_credentials=require_credentials, warn=False
        )
        self.configure_logging(config)
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
        from syncd.remote import RemoteClient

        remote = config.remote
        try:
            client = RemoteClient(
                remote.api_url,
                remote.credentials(),
                allow_insecure_http=remote.allow_insecure_http,
                verify_tls=remote.verify_tls,
                timeout=remote.timeout,
                max_retry_time=(
                    remote.max_retry_time if max_retry_time is None else max_retry_time
                ),
                max_connections=max_connections or max(32, config.sync.workers * 2),
                revoke_on_close=False,  # one-shot: see RemoteClient's docstring
            )
        except RemoteError as exc:
            raise user_error_from_remote(exc, remote.api_url) from None
        try:
            with client:
                yield client
        except RemoteError as exc:
            raise user_error_from_remote(exc, remote.api_url) from None


pass_app = click.make_pass_decorator(App, ensure=True)

pair_option = click.option(
    "--pair", "pair", metavar="NAME", default=None, help="Only this pair (default: all pairs)."
)


def fail(error: UserError) -> None:
    """Print ``syncd: error: <message>`` on stderr and exit with the error's code."""
    click.echo(f"syncd: error: {redact_text(error.message)}", err=True)
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
    app.configure_logging()


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
        except RemoteError as exc:
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


def show_account(client: RemoteClient, api_url: str) -> None:
    """Authorize, then print the account and its package limits (never a key or token)."""
    client.authorize()
    info = client.account_info()
    package = client.account_package()
    level = f", level {info.level_id}" if info.level_id is not None else ""
    status = f", {info.status}" if info.status else ""
    echo_table(
        [
            ("host", api_url),
            ("account", f"{info.username} (id {info.id}{level}{status})"),
            ("package", package.label or "(unnamed)"),
            (
                "max upload size",
                human_size(package.max_upload_size) if package.max_upload_size else "no limit",
            ),
            (
                "concurrent uploads",
                str(package.concurrent_uploads) if package.concurrent_uploads else "not limited",
            ),
            ("can upload", "yes" if package.can_upload else "no"),
            (
                "storage",
                human_size(package.max_storage_bytes) if package.max_storage_bytes else "unlimited",
            ),
        ]
    )


# --------------------------------------------------------------------------------------------
# The group and its global options


@click.group(cls=SyncdGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
@click.version_option(__version__, "--version", prog_name="syncd", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, verbose: int, log_format: str | None) -> None:
    """Keep a folder on a YetiShare-style file host identical to a local directory."""
    app = ctx.ensure_object(App)
    app.config_path = config_path
    app.verbose = verbose
    app.log_format = log_format
    app.configure_logging()


# --------------------------------------------------------------------------------------------
# Commands


LOGIN_MAX_RETRY_TIME = 15.0


@cli.command()
@pass_app
def login(app: App) -> int:
    """Check the credentials: authorize and show the account and its package limits."""
    config = app.load_config()
    # Interactive: say within seconds that the host is unreachable, not after minutes.
    retry = min(config.remote.max_retry_time, LOGIN_MAX_RETRY_TIME)
    with app.open_client(config, max_retry_time=retry) as client:
        show_account(client, config.remote.api_url)
    return ExitCode.OK


@cli.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("check")
@pass_app
def config_check(app: App) -> int:
    """Validate the config file and print what it configures (never the secrets)."""
    config = app.load_config()
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
    path, origin = resolve_config_path(app.config_path)
    exists = "" if path.is_file() else " (does not exist)"
    click.echo(f"{path}{exists}  [from {origin}]")
    return ExitCode.OK


@cli.command(
    cls=click.Command,  # every argument goes to the emulator untouched
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.pass_context
def emulator(ctx: click.Context) -> int:
    """Run the built-in emulator of the host (`syncd emulator --help` for its options)."""
    from syncd.emulator.server import main as emulator_main

    return int(emulator_main(list(ctx.args)) or 0)


# ---- demo -----------------------------------------------------------------------------------

DEMO_FILES = {
    "README.txt": "This directory was created by `syncd demo`.\n",
    "notes/todo.md": "# To do\n\n- try syncd\n",
    "notes/ideas <draft>.txt": "A name with <tags> in it: the host strips tags from names.\n",
    "photos/holiday 2024/beach.txt": "(pretend this is a photo)\n" * 50,
    "data/report.csv": "month,files\n" + "".join(f"{m},{m * 10}\n" for m in range(1, 13)),
    "résumé.txt": "Unicode names work too.\n",
}


def write_demo_tree(root: Path) -> list[Path]:
    """A small sample directory for the demo; returns the files written."""
    written = []
    for relative, text in DEMO_FILES.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def write_demo_config(workdir: Path, api_url: str, sample: Path) -> Path:
    """A config pointing at the emulator with its documented demo keys (mode 600)."""
    from syncd.emulator import DEMO_KEY1, DEMO_KEY2

    path = workdir / "config.toml"
    path.write_text(
        "# Written by `syncd demo`: the emulator's public demo keys, not real ones.\n"
        "[remote]\n"
        f'api_url = "{api_url}"\n'
        f'key1 = "{DEMO_KEY1}"\n'
        f'key2 = "{DEMO_KEY2}"\n'
        "\n[state]\n"
        f'path = "{workdir / "state.db"}"\n'
        "\n[[pairs]]\n"
        'name = "demo"\n'
        f'local = "{sample}"\n'
        'remote = "syncd-demo"\n'
        'mode = "mirror"\n',
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


def run_demo_sync(config: Config, client: RemoteClient, emulator: EmulatorProcess) -> int:
    """Sync the demo pair's sample directory to the emulator, twice, and print the remote tree."""
    from syncd.engine.commands import ReconcileRequest, run_reconcile

    pair = config.pair("demo")
    click.echo(f"\nsync: {pair.local} -> /{pair.remote} (mirror)")
    code = run_reconcile(config, client, ReconcileRequest("demo"))
    click.echo("\nremote tree now (name: MD5, read from the emulator):")
    for path, md5 in sorted(emulator.admin.active_paths().items()):
        click.echo(f"  {path}  {md5}")
    emulator.admin.reset_counts()
    click.echo("\nsecond sync (nothing changed, so nothing is sent):")
    code = max(code, run_reconcile(config, client, ReconcileRequest("demo")))
    counts = emulator.admin.counts()
    calls = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if v) or "none"
    click.echo(f"API calls of the second sync: {calls}")

    click.echo("\nnow rename photos/ to pictures/ and edit notes/todo.md, then sync again:")
    (pair.local / "photos").rename(pair.local / "pictures")
    with (pair.local / "notes" / "todo.md").open("a", encoding="utf-8") as todo:
        todo.write("- done: tried syncd\n")
    emulator.admin.reset_counts()
    code = max(code, run_reconcile(config, client, ReconcileRequest("demo")))
    counts = emulator.admin.counts()
    calls = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if v) or "none"
    click.echo(f"API calls: {calls} (the folder moved by id: nothing in it was re-uploaded)")
    return code


@cli.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the demo's files (config, sample directory, state) here instead of a temp dir.",
)
@pass_app
def demo(app: App, workdir: Path | None) -> int:
    """Try syncd without an account: start the built-in emulator, make a sample directory and
    run against it. Your own config is not used."""
    from syncd.emulator.testing import EmulatorProcess

    keep = workdir is not None
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="syncd-demo-")))
        workdir = workdir.expanduser().absolute()
        workdir.mkdir(parents=True, exist_ok=True)

        click.echo("Starting the built-in emulator of the host...")
        emu = stack.enter_context(EmulatorProcess())
        click.echo(f"emulator: {emu.api_url}")

        sample = workdir / "sample"
        files = write_demo_tree(sample)
        click.echo(f"sample directory: {sample} ({len(files)} files)")
        config_file = write_demo_config(workdir, emu.api_url, sample)
        click.echo(f"config: {config_file}\n")

        config = app.load_config(path=config_file)
        with app.open_client(config) as client:
            show_account(client, config.remote.api_url)
            code = run_demo_sync(config, client, emu)
        if keep:
            click.echo(f"\nThe demo files are kept in {workdir}.")
        else:
            click.echo("\nEverything was temporary. Use --workdir DIR to keep the files.")
        return code


@cli.command()
@click.option("--pair", metavar="NAME", default=None, help="Restore this pair's remote folder.")
@click.option("--remote", metavar="PATH", default=None, help="Restore this remote folder path.")
@click.option("--remote-id", type=int, default=None, metavar="ID", help="Restore folder ID.")
@click.option("--dry-run", is_flag=True, help="List what would be written; write nothing.")
@click.option("--overwrite", is_flag=True, help="Replace local files that differ (else skip).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.argument("dest", type=click.Path(file_okay=False))
@pass_app
def restore(
    app: App,
    pair: str | None,
    remote: str | None,
    remote_id: int | None,
    dry_run: bool,
    overwrite: bool,
    as_json: bool,
    dest: str,
) -> int:
    """Download a remote folder tree into DEST: resumable, never writes outside DEST.
    Into a pair's own local root it also rebuilds the journal (disaster recovery)."""
    from syncd.restore_run import RestoreRequest, run_restore

    config = app.load_config()
    request = RestoreRequest(dest, pair, remote, remote_id, dry_run, overwrite, as_json)
    with app.open_client(config) as client:
        return run_restore(config, client, request)


@cli.command()
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
    from syncd.verify_run import VerifyRequest, run_verify

    config = app.load_config(require_pairs=True)
    with app.open_client(config) as client:
        return run_verify(config, client, VerifyRequest(pair, deep, sample, as_json, seed))


@cli.command()
@pass_app
def run(app: App) -> int:
    """Run the daemon in the foreground: watch every pair, push changes within about a second,
    and reconcile fully at start and every [sync] reconcile_interval. SIGTERM/SIGINT stop it
    cleanly, SIGHUP reloads the config."""
    from syncd.daemon import run_daemon

    return run_daemon(lambda: app.load_config(require_pairs=True))


def _max_delete_option(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    from syncd.config import parse_max_delete

    if value is None:
        return None
    try:
        return parse_max_delete(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@cli.command()
@pair_option
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@click.option(
    "--max-delete",
    metavar="N|N%",
    default=None,
    callback=_max_delete_option,
    help="Allow this many trashes in this run (count or percent of synced files).",
)
@click.option("--force-deletes", is_flag=True, help="No deletion limit for this run.")
@click.option(
    "--accept-new-root", is_flag=True, help="The local root moved to another disk on purpose."
)
@click.option(
    "--adopt-existing",
    is_flag=True,
    help="Take remote files with the same name and size as the local ones as already uploaded "
    "(a first sync against a copy made by other means; check it with `syncd verify --deep`).",
)
@pass_app
def reconcile(
    app: App,
    pair: str | None,
    dry_run: bool,
    max_delete: Any,
    force_deletes: bool,
    accept_new_root: bool,
    adopt_existing: bool,
) -> int:
    """Make each pair's remote folder equal to its local directory, once, and print a summary.
    Exit 0 converged, 1 some items failed, 2 usage/config/credentials, 3 a guard refused."""
    from syncd.engine.commands import ReconcileRequest, run_reconcile

    config = app.load_config(require_pairs=True)
    request = ReconcileRequest(
        pair, dry_run, max_delete, force_deletes, accept_new_root, adopt_existing
    )
    with app.open_client(config) as client:
        return run_reconcile(config, client, request)


@cli.command()
@pair_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@pass_app
def status(app: App, pair: str | None, as_json: bool) -> int:
    """Per pair: the last run, counts, and every skipped or failed path with its reason.
    Reads the state database only (works while the daemon runs)."""
    from syncd.engine.commands import run_status

    config = app.load_config(require_credentials=False, require_pairs=True)
    return run_status(config, pair, as_json)


# --------------------------------------------------------------------------------------------
# Commands added by other parts of syncd go above this line (reconcile, status, run, restore,
# verify): one function each, using App.load_config / App.open_client / pair_option.


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (`syncd`, `python -m syncd`)."""
    cli.main(args=argv, prog_name="syncd")
