"""The planner stays pure: importing it in a fresh interpreter loads nothing that does I/O
(HTTP, SQL, the file watcher, the scanner), so its unit tests need none of that either."""

from __future__ import annotations

import subprocess
import sys


def test_planner_imports_nothing_that_does_io() -> None:
    code = (
        "import sys, syncd.engine.planner; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('httpx', 'sqlalchemy', 'sqlite3', 'alembic', 'watchdog') "
        "or m in ('syncd.remote', 'syncd.journal.store', 'syncd.local.scanner')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
