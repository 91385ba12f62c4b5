"""The command line starts fast: importing it, and running its cheap commands, must not load the
heavy libraries that only the syncing commands need (docs/architecture.md, "A fast start")."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("httpx", "sqlalchemy", "alembic", "starlette", "uvicorn", "rich", "pydantic")


def _modules_after(code: str) -> set[str]:
    # A fresh interpreter: this test process has long imported everything.
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_importing_the_cli_loads_no_heavy_library() -> None:
    loaded = _modules_after("import syncd.cli")
    assert not {name for name in HEAVY if name in loaded}


@pytest.mark.parametrize("argv", [["--help"], ["status", "--help"], ["config", "path"]])
def test_cheap_commands_load_no_heavy_library(argv: list[str], tmp_path) -> None:
    code = (
        "import sys\nfrom syncd.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
    )
    loaded = _modules_after(code)
    assert not {name for name in HEAVY if name in loaded}
