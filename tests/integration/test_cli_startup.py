"""The command line starts fast: importing it, and running its cheap commands, must not load the
heavy libraries that only the syncing commands need (docs/architecture.md, "A fast start").

Each case runs a fresh interpreter (this test process has long imported everything) and lists
the modules it loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from syncd.emulator import DEMO_KEY1, DEMO_KEY2
from syncd.emulator.testing import EmulatorProcess

# What `syncd --help`, `status`, `config check` and `health` must never pay for.
HEAVY = ("httpx", "sqlalchemy", "alembic", "starlette", "uvicorn", "rich", "structlog")


def _loaded_modules(argv: list[str] | None, env: dict[str, str] | None = None) -> set[str]:
    run = "" if argv is None else f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
    code = (
        "import json, sys\nfrom syncd.cli import main\n" + run + "sys.stdout.flush()\n"
        "print('\\nMODULES ' + json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("MODULES "))
    return set(json.loads(line.removeprefix("MODULES ")))


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    path = tmp_path / "config.toml"
    path.write_text(
        "[remote]\n"
        'api_url = "http://127.0.0.1:9/api/v2/"\n'
        f'key1 = "{DEMO_KEY1}"\nkey2 = "{DEMO_KEY2}"\n'
        f'[state]\npath = "{tmp_path / "state.db"}"\n'
        f'[[pairs]]\nname = "docs"\nlocal = "{tmp_path / "docs"}"\nremote = "docs"\n',
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


def test_importing_the_cli_loads_no_heavy_library() -> None:
    loaded = _loaded_modules(None)
    assert not {name for name in (*HEAVY, "pydantic") if name in loaded}


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["status", "--help"],
        ["config", "path"],
        ["status"],
        ["config", "check"],
        ["health"],
        ["config", "example"],
    ],
)
def test_cheap_commands_load_no_heavy_library(argv: list[str], config_file: Path) -> None:
    loaded = _loaded_modules(argv, {"SYNCD_CONFIG": str(config_file)})
    assert "syncd.cli.main" in loaded
    assert not {name for name in HEAVY if name in loaded}


def test_status_reads_a_journal_without_sqlalchemy(config_file: Path, tmp_path: Path) -> None:
    from syncd.journal.store import Journal

    with Journal(tmp_path / "state.db") as journal:  # a current schema, one pair
        journal.ensure_pair("docs", str(tmp_path / "docs"), "docs")
    loaded = _loaded_modules(["status", "--json"], {"SYNCD_CONFIG": str(config_file)})
    assert "syncd.journal.reader" in loaded
    assert not {name for name in HEAVY if name in loaded}


def test_health_reads_the_journal_without_pydantic(config_file: Path, tmp_path: Path) -> None:
    """A container runs `syncd health` every minute: not even the config schema is loaded."""
    from syncd.journal.store import Journal

    with Journal(tmp_path / "state.db") as journal:
        journal.ensure_pair("docs", str(tmp_path / "docs"), "docs")
    loaded = _loaded_modules(["health"], {"SYNCD_CONFIG": str(config_file)})
    assert "syncd.journal.reader" in loaded and "syncd.daemon.health" in loaded
    assert not {name for name in (*HEAVY, "pydantic", "syncd.config") if name in loaded}


def test_an_up_to_date_journal_opens_and_syncs_without_sqlalchemy(tmp_path: Path) -> None:
    """SQLAlchemy (with Alembic) creates and upgrades the schema; reading and writing a journal
    already at head goes through sqlite3 alone, so a pass does not pay SQLAlchemy's import
    (~0.2 CPU-s per command, docs/architecture.md "The journal")."""
    from syncd.journal.store import Journal

    path = tmp_path / "state.db"
    with Journal(path) as journal:  # created at head (this process has SQLAlchemy already)
        journal.ensure_pair("docs", str(tmp_path / "docs"), "docs")
    code = (
        "import json, sys\n"
        "from syncd.journal.store import Journal\n"
        "from syncd.journal.rows import FileRow\n"
        f"with Journal({str(path)!r}) as journal:\n"
        "    pair = journal.pair('docs')\n"
        "    with journal.transaction() as tx:\n"
        "        tx.put_file(FileRow(pair.root_dir_id, 'a.txt', 3, 1, 2))\n"
        "    journal.release_memory()\n"
        "    files, dirs = journal.children(pair.root_dir_id)\n"
        "    print(json.dumps([[f.name for f in files], 'sqlalchemy' in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert json.loads(done.stdout) == [["a.txt"], False]


def test_a_pass_without_encryption_loads_no_cipher_library(
    tmp_path: Path, emulator: EmulatorProcess
) -> None:
    """PyNaCl and cryptography (~20 ms and ~8 MB of a start) are loaded by the first seal, open
    or name cipher, not by importing syncd.crypt: a pair without encryption never needs them
    (docs/architecture.md, "A fast start")."""
    local = tmp_path / "docs"
    local.mkdir()
    (local / "a.txt").write_text("a\n")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[remote]\napi_url = "{emulator.api_url}"\nallow_insecure_http = true\n'
        f'key1 = "{DEMO_KEY1}"\nkey2 = "{DEMO_KEY2}"\n'
        f'[state]\npath = "{tmp_path / "state.db"}"\n'
        f'[[pairs]]\nname = "docs"\nlocal = "{local}"\nremote = "docs"\n',
        encoding="utf-8",
    )
    config.chmod(0o600)
    for _ in range(2):  # an initial sync (uploads), then a no-op pass
        loaded = _loaded_modules(["reconcile", "--config", str(config)])
        assert "syncd.engine.reconcile" in loaded and "syncd.crypt.content" in loaded
        assert not {name for name in ("nacl", "cryptography") if name in loaded}
    assert emulator.admin.active_paths().keys() == {"/docs/a.txt"}
