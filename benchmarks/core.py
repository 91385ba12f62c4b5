"""The runner's vocabulary: a case, one repetition's figures, targets, and the summary.

A case is a module in ``benchmarks/cases/`` exposing ``CASE = Case(...)``. Its ``run`` function
does one repetition and returns flat figures named ``<tool>.<metric>`` (``syncd.p50_s``,
``rclone.wall_s``, ``syncthing.files_per_s``). A peer that is not installed is reported with
``ctx.missing("syncthing", "why")`` instead of figures; syncd's own figures are still returned.
The runner repeats each case, takes median/min/max per figure and judges the targets on medians.
"""

from __future__ import annotations

import operator
import shutil
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Figures = dict[str, float]

_OPS: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, ">=": operator.ge}


@dataclass(frozen=True)
class Target:
    """``metric op bound``, or ``metric op factor × other`` when ``other`` names a figure."""

    label: str  # as the issue words it: "p50 <= 1.0 s", "files/s >= 1.0 x Syncthing"
    metric: str
    op: str  # "<=" or ">="
    bound: float | None = None
    other: str | None = None  # a figure (usually a peer's) the bound is relative to
    factor: float = 1.0

    def judge(self, medians: Figures) -> dict[str, Any]:
        value = medians.get(self.metric)
        if value is None:
            return {"target": self.label, "verdict": "missing", "why": f"no {self.metric}"}
        if self.other is not None:
            reference = medians.get(self.other)
            if reference is None:
                return {
                    "target": self.label,
                    "value": value,
                    "verdict": "no peer",
                    "why": f"no {self.other} (peer missing)",
                }
            limit = self.factor * reference
            ratio = value / reference if reference else float("inf")
        else:
            assert self.bound is not None
            limit = self.bound
            ratio = value / limit if limit else float("inf")
        met = _OPS[self.op](value, limit)
        return {
            "target": self.label,
            "value": value,
            "limit": limit,
            "ratio": round(ratio, 3),
            "verdict": "met" if met else "MISSED",
        }


@dataclass
class RunContext:
    """What a case gets: scratch space, the data cache, the mode, and a place for notes."""

    work: Path  # scratch, emptied after the case
    cache: Path  # generated data kept between runs (benchmarks/.cache by default)
    quick: bool  # CI smoke mode: tiny sizes, one repetition, no slow peers required
    repeat_index: int = 0
    notes: list[str] = field(default_factory=list)
    missing_peers: dict[str, str] = field(default_factory=dict)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)
        print(f"    note: {text}", file=sys.stderr, flush=True)

    def missing(self, peer: str, why: str) -> None:
        self.missing_peers[peer] = why

    @staticmethod
    def which(program: str) -> str | None:
        return shutil.which(program)


@dataclass(frozen=True)
class Case:
    name: str
    title: str  # one line: what is measured
    run: Callable[[RunContext], Figures]
    targets: tuple[Target, ...] = ()
    repeat: int = 3  # repetitions in a full run (quick mode: 1)


def summarise(runs: list[Figures]) -> dict[str, dict[str, float]]:
    """Per figure: median, min, max over the repetitions that produced it."""
    names = sorted({name for run in runs for name in run})
    summary: dict[str, dict[str, float]] = {}
    for name in names:
        values = [run[name] for run in runs if name in run]
        summary[name] = {
            "median": statistics.median(values),
            "min": min(values),
            "max": max(values),
            "n": len(values),
        }
    return summary
