"""Shell completion (click's `_SYNCD_COMPLETE`), as bash calls it on TAB: a real subprocess per
keypress. Command names come from the lazy command table without importing any command module,
and `--pair` offers the config's pair names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from syncd.cli.main import COMMANDS
from tests.integration.test_cli_startup import HEAVY, _loaded_modules

REPO = Path(__file__).resolve().parents[2]


def complete(words: str, *, shell: str = "bash", env: dict[str, str] | None = None) -> list[str]:
    """What the shell would offer for the command line ``words`` (the cursor at its end)."""
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
    clean.update(
        _SYNCD_COMPLETE=f"{shell}_complete",
        COMP_WORDS=words,
        COMP_CWORD=str(cword),
        PYTHONPATH=str(REPO),
        **(env or {}),
    )
    done = subprocess.run(
        [sys.executable, "-m", "syncd"], capture_output=True, text=True, env=clean, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line]


def test_command_names_and_group_options() -> None:
    assert complete("syncd ") == [f"plain,{name}" for name in sorted(COMMANDS)]
    assert complete("syncd he") == ["plain,health"]
    assert "plain,--config" in complete("syncd --")
    assert complete("syncd config ") == [f"plain,{n}" for n in ("check", "example", "init", "path")]


def test_zsh_gets_the_one_line_help_too() -> None:
    lines = complete("syncd sta", shell="zsh")
    assert lines == ["plain", "status", COMMANDS["status"][1]]


@pytest.mark.parametrize("where", ["before", "after", "env"])
def test_pair_names_come_from_the_config(tmp_path: Path, where: str) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[remote]\napi_url = "http://127.0.0.1:9/api/v2/"\n'
        '[[pairs]]\nname = "docs"\nlocal = "d"\nremote = "D"\n'
        '[[pairs]]\nname = "photos"\nlocal = "p"\nremote = "P"\n'
    )
    words = {
        "before": f"syncd --config {config} status --pair ",
        "after": f"syncd status --config {config} --pair ",
        "env": "syncd status --pair ",
    }[where]
    env = {"SYNCD_CONFIG": str(config)} if where == "env" else None
    assert complete(words, env=env) == ["plain,docs", "plain,photos"]
    assert complete(words + "ph", env=env) == ["plain,photos"]


def test_no_config_offers_no_pair_names(tmp_path: Path) -> None:
    assert complete("syncd status --pair ", env={"SYNCD_CONFIG": str(tmp_path / "no.toml")}) == []


def test_tab_on_command_names_imports_no_command_module() -> None:
    env = {"_SYNCD_COMPLETE": "bash_complete", "COMP_WORDS": "syncd ", "COMP_CWORD": "1"}
    loaded = _loaded_modules([], env)
    command_modules = {spec.split(":")[0] for spec, _ in COMMANDS.values()}
    assert not command_modules & loaded
    assert not {name for name in (*HEAVY, "pydantic") if name in loaded}
