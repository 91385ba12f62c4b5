"""The runner's vocabulary: a case, one repetition's figures, targets, and the summary.

A case is a module in ``benchmarks/cases/`` exposing ``CASE = Case(...)``. Its ``run`` function
does one repetition and returns flat figures named ``<tool>.<metric>`` (``syncd.p50_s``,
``rclone.wall_s``, ``syncthing.files_per_s``). A peer that is not installed is reported with
``ctx.missing("syncthing", "why")`` instead of figures; syncd's own figures are still returned.
The runner repeats each case, takes median/min/max per figure and judges the targets on medians.
"""

from __future__ import annotations

import contextlib
import operator
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.launch import Launch, Watch

Figures = dict[str, float]

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
}


@dataclass(frozen=True)
class Target:
    """``metric op bound``, or ``metric op factor × other`` when ``other`` names a figure."""

    label: str  # as the issue words it: "p50 <= 1.0 s", "files/s >= 1.0 x Syncthing"
    metric: str
    op: str  # "<=", ">=" or "==" (counts: "rename = 1 call")
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
            ratio = value / reference if reference else None
        else:
            assert self.bound is not None
            limit = self.bound
            ratio = value / limit if limit else None  # a count against 0: no ratio
        met = _OPS[self.op](value, limit)
        return {
            "target": self.label,
            "value": value,
            "limit": limit,
            "ratio": None if ratio is None else round(ratio, 3),
            "verdict": "met" if met else "MISSED",
        }


@dataclass
class RunContext:
    """What a case gets: scratch space, the data cache, the mode, and a place for notes."""

    work: Path  # scratch, emptied after the case
    cache: Path  # generated data kept between runs (benchmarks/.cache by default)
    quick: bool  # CI smoke mode: tiny sizes, one repetition, no slow peers required
    repeat_index: int = 0
    # How to start the measured syncd child: pinned to --cores, watched by --profile's py-spy.
    launch: Launch = field(default_factory=Launch)
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


class PeerMissing(Exception):
    """A peer tool is not installed; the message says which and how to get it."""

    def __init__(self, peer: str, why: str) -> None:
        super().__init__(f"{peer}: {why}")
        self.peer = peer
        self.why = why


@dataclass(frozen=True)
class Measured:
    """One child process: wall time from spawn to exit, its own CPU time and peak RSS."""

    returncode: int
    wall_s: float
    cpu_s: float  # user + system of the child (and of its waited-for children)
    peak_rss_mb: float  # ru_maxrss of the child, MiB
    stdout: str
    stderr: str
    cpus: int = 0  # how many CPUs the child was allowed (0: not read)

    def check(self, what: str) -> Measured:
        if self.returncode != 0:
            raise RuntimeError(f"{what} exited {self.returncode}: {self.stderr.strip()[-1500:]}")
        return self


def _vm_hwm_kb(pid: int) -> int:
    """The process's peak resident set (VmHWM) in KiB, 0 once it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def run_measured(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 3600.0,
    stdout_to_devnull: bool = False,
    launch: Launch | None = None,
    label: str = "syncd",
) -> Measured:
    """Run ``command`` and measure it with ``wait4`` (this child's own rusage, not the sum of
    every child this process ever had). Output is collected in temp files, not pipes, so a
    chatty child never blocks. Raises ``TimeoutError`` (after killing it) past ``timeout``.

    ``launch``: the child is a measured syncd run: spawned on the pinned cores of ``--cores``
    and profiled under ``--profile`` (``label`` names it in the report and the profile file).
    Peers are run without it."""
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        with launch.pinned() if launch is not None else contextlib.nullcontext():
            proc = subprocess.Popen(
                list(command),
                stdout=subprocess.DEVNULL if stdout_to_devnull else out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env=dict(env) if env is not None else None,
                cwd=cwd,
            )
        watch = launch.watch(proc.pid, label) if launch is not None else None
        try:
            return _wait_measured(proc, command, started, started + timeout, out, err, watch)
        finally:
            if watch is not None:
                watch.close()


def _wait_measured(
    proc: subprocess.Popen[bytes],
    command: Sequence[str],
    started: float,
    deadline: float,
    out: Any,
    err: Any,
    watch: Watch | None,
) -> Measured:
    """Wait for ``proc`` polling ``wait4`` (its own rusage) and its peak RSS; kill it past
    ``deadline``."""
    # Peak RSS from the child's own /proc VmHWM, read while it runs: the ru_maxrss of wait4
    # starts at the RSS of the process that forked it (the kernel keeps the larger of the old
    # and new mm's high-water marks at exec), so after the runner itself grew, every child
    # reported at least the runner's size.
    hwm_kb = 0
    while True:
        hwm_kb = max(hwm_kb, _vm_hwm_kb(proc.pid))
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            os.wait4(proc.pid, 0)
            proc.returncode = -9
            raise TimeoutError(f"{command[0]} ran past {deadline - started:.0f} s")
        time.sleep(0.002)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    err.seek(0)
    return Measured(
        returncode=proc.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=(hwm_kb or usage.ru_maxrss) / 1024,
        stdout=out.read().decode(errors="replace"),
        stderr=err.read().decode(errors="replace"),
        cpus=len(watch.cpus) if watch is not None and watch.cpus else 0,
    )


_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds a running process has used so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime: fields 14, 15 of proc(5)
