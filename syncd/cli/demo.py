"""`syncd emulator` and `syncd demo`: the built-in emulator of the host, and a guided first run
against it."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from syncd.cli.account import show_account
from syncd.cli.app import App, SyncdCommand, pass_app
from syncd.cli.extras import require_emulator_packages

if TYPE_CHECKING:
    from syncd.config import Config
    from syncd.emulator.testing import EmulatorProcess
    from syncd.remote.client import RemoteClient


@click.command(
    cls=click.Command,  # every argument goes to the emulator untouched
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.pass_context
def emulator(ctx: click.Context) -> int:
    """Run the built-in emulator of the host (`syncd emulator --help` for its options)."""
    require_emulator_packages()
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
    from syncd.cli.reconcile import ReconcileRequest, run_reconcile

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


@click.command(cls=SyncdCommand)
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
    require_emulator_packages()
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
