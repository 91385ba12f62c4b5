"""Test data for the benchmarks: big trees made once and cached between runs.

``tree(cache, files=100_000, dirs=1_000)`` returns the root of a tree of ``files`` small files
(1-4 KB, seeded random bytes) spread evenly over ``dirs`` directories, two levels deep like a real
project. It is built under ``cache`` the first time and reused afterwards (a marker file written
last says the tree is complete; a half-built tree from an interrupted run is rebuilt).
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

MARKER = ".complete"


def make_tree(
    root: Path, files: int, dirs: int, *, min_size: int = 1024, max_size: int = 4096, seed: int = 1
) -> int:
    """Write the tree into ``root`` (which should be empty); returns the bytes written."""
    rng = random.Random(seed)
    parents = max(1, int(dirs**0.5))
    paths = [root / f"group{d % parents:03}" / f"dir{d:04}" for d in range(dirs)]
    for path in paths:
        path.mkdir(parents=True, exist_ok=True)
    total = 0
    for i in range(files):
        size = rng.randint(min_size, max_size)
        (paths[i % dirs] / f"file{i:06}.bin").write_bytes(rng.randbytes(size))
        total += size
    return total


def tree(cache: Path, *, files: int, dirs: int, min_size: int = 1024, max_size: int = 4096) -> Path:
    """The cached tree for these parameters, built now if missing or incomplete."""
    base = cache / f"tree-{files}f-{dirs}d-{min_size}-{max_size}"
    root = base / "root"
    if (base / MARKER).exists():
        return root
    if base.exists():
        shutil.rmtree(base)
    root.mkdir(parents=True)
    make_tree(root, files, dirs, min_size=min_size, max_size=max_size)
    (base / MARKER).write_text(f"{files} files in {dirs} dirs\n")
    return root


__all__ = ["MARKER", "make_tree", "tree"]
