"""The benchmarks measure syncd as installed: the environment every measured syncd child is
started with comes with the checkout's bytecode written, so a child loads it instead of
compiling every module (PYTHONDONTWRITEBYTECODE is set on some machines, and then nothing else
writes it)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from benchmarks import data


def _to_compile(package: Path) -> list[Path]:
    """The modules an interpreter would compile: cached bytecode missing or older."""
    stale = []
    for source in package.rglob("*.py"):
        cached = Path(importlib.util.cache_from_source(str(source)))
        if not cached.exists() or cached.stat().st_mtime < source.stat().st_mtime:
            stale.append(source)
    return stale


def test_a_syncd_childs_environment_comes_with_the_bytecode_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "syncd"
    shutil.copytree(
        data.PROJECT_ROOT / "syncd", package, ignore=shutil.ignore_patterns("__pycache__")
    )
    assert len(_to_compile(package)) > 50
    monkeypatch.setattr(data, "PROJECT_ROOT", tmp_path)
    env = data.syncd_env()
    assert env["PYTHONPATH"].split(":")[0] == str(tmp_path)
    assert _to_compile(package) == []
