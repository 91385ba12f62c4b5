"""The runner measures syncd as installed: its bytecode is written before any child starts, so
a measured child loads it instead of compiling every module (PYTHONDONTWRITEBYTECODE is set on
some machines, and then nothing else writes it)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from benchmarks import data


def _to_compile(package: Path) -> list[Path]:
    """The modules an interpreter would compile: cached bytecode missing or older."""
    stale = []
    for source in package.rglob("*.py"):
        cached = Path(importlib.util.cache_from_source(str(source)))
        if not cached.exists() or cached.stat().st_mtime < source.stat().st_mtime:
            stale.append(source)
    return stale


def test_the_runner_writes_syncds_bytecode_before_it_measures(tmp_path: Path) -> None:
    package = tmp_path / "syncd"
    shutil.copytree(
        data.PROJECT_ROOT / "syncd", package, ignore=shutil.ignore_patterns("__pycache__")
    )
    assert len(_to_compile(package)) > 50
    data.precompile_syncd(package)
    assert _to_compile(package) == []
