"""Fixtures of the watcher tests: a tmp root watched by the native observer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.local.ignore import IgnoreRules
from syncd.local.watcher import Watcher
from tests.integration.watcher.support import QUIET


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    r.mkdir()
    return r


@pytest.fixture()
def watcher(root: Path) -> Iterator[Watcher]:
    w = Watcher(root, ignore=IgnoreRules(["node_modules/"]), quiet=QUIET).start()
    try:
        yield w
    finally:
        w.stop()
