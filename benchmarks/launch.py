"""How the runner starts the syncd child it measures: on which cores, and under which profiler.

``--cores N`` stands in for a small NAS: the measured syncd child (and any process it starts)
runs on N cores only, while the emulator, the peers and the runner keep every core, so the
host's side and the reference tools are not slowed down with it. Pinning is done at spawn: the
thread that spawns the child sets its own CPU affinity to the chosen cores just for the spawn
(:meth:`Launch.pinned`), and a forked child inherits the affinity of the thread that forked it
(sched_setaffinity(2)). That works for every way a case starts syncd, the daemon harness of the
latency and idle cases included, without rewriting their command lines. :meth:`Launch.watch`
then reads the child's ``Cpus_allowed_list`` from /proc, so the report says where each measured
child really ran and the runner fails a case whose child escaped the pin.

``--profile`` attaches py-spy to the measured child right after the spawn (``py-spy record
--pid``): every thread is sampled (cProfile sees only the thread that started it, and syncd
uploads from a pool of workers), the interpreter's start-up included (py-spy attaches within
milliseconds, before the imports are done), and the child stays the process the runner waits
for, so its exit status, wall time, CPU and RSS are still its own. The speedscope file is
written next to the results. Profiled runs pay py-spy's sampling (the child is paused briefly
100 times a second), so their timings are not comparable with unprofiled ones.

A case uses the :class:`Launch` of its :class:`~benchmarks.core.RunContext`::

    with ctx.launch.pinned():
        proc = subprocess.Popen(...)          # or DaemonProcess(...).start(wait_ready=False)
    watch = ctx.launch.watch(proc.pid, "reconcile")
    ...                                       # wait for the child
    watch.close()                             # waits for py-spy to write its file

or simply ``core.run_measured(cmd, launch=ctx.launch, label="reconcile")``, which does the same.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROFILE_RATE_HZ = 100
PYSPY_WRITE_TIMEOUT_S = 120.0  # after the child exits, py-spy writes the file; big profiles take s


def cpus_allowed(pid: int) -> frozenset[int] | None:
    """The CPUs a process may run on (``Cpus_allowed_list`` of /proc/PID/status); None if it
    is gone already."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Cpus_allowed_list:"):
                return parse_cpu_list(line.split(":", 1)[1].strip())
    except OSError:
        return None
    return None


def parse_cpu_list(text: str) -> frozenset[int]:
    """``"0-2,5"`` -> {0, 1, 2, 5} (the kernel's cpu list format)."""
    cpus: set[int] = set()
    for part in filter(None, text.split(",")):
        first, _, last = part.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return frozenset(cpus)


def choose_cpus(cores: int) -> frozenset[int]:
    """The last ``cores`` CPUs the runner may use (CPU 0 usually takes most interrupts).
    Raises ValueError when fewer are available."""
    available = sorted(os.sched_getaffinity(0))
    if not 1 <= cores <= len(available):
        raise ValueError(
            f"--cores {cores}: this machine lets the runner use {len(available)} CPU(s) "
            f"({format_cpus(available)}); pass a number from 1 to {len(available)}"
        )
    return frozenset(available[-cores:])


def format_cpus(cpus: Any) -> str:
    return ",".join(str(c) for c in sorted(cpus))


def find_pyspy() -> str | None:
    """py-spy on PATH, or next to this interpreter (a virtualenv's bin/ not on PATH)."""
    found = shutil.which("py-spy")
    if found:
        return found
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None


def pyspy_version(binary: str) -> str | None:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


@dataclass
class Watch:
    """One measured syncd child: where it may run, and the profiler attached to it (if any)."""

    launch: Launch
    pid: int
    label: str
    cpus: frozenset[int] | None
    spy: subprocess.Popen[bytes] | None = None
    spy_log: Any = None  # the temporary file py-spy's messages go to
    path: Path | None = None

    def close(self) -> Path | None:
        """Call after the child has exited: waits for py-spy to write its file (py-spy stops
        by itself once the process it samples is gone). Returns the profile's path, if any."""
        if self.spy is None:
            return None
        try:
            try:
                self.spy.wait(timeout=PYSPY_WRITE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.spy.kill()
                self.spy.wait(timeout=10)
            self.spy_log.seek(0)
            messages = self.spy_log.read().decode(errors="replace").strip()
        finally:
            self.spy_log.close()
            self.spy = None
        if self.path is None or not self.path.exists():
            tail = " | ".join(messages.splitlines()[-3:])
            self.launch.problems.append(f"py-spy wrote no profile of {self.label}: {tail}")
            return None
        self.launch.profiles.append(self.path)
        return self.path


@dataclass
class Launch:
    """The runner's settings for measured syncd children, and what it saw of them in one
    repetition of one case (``for_run`` makes that per-repetition copy)."""

    cpus: frozenset[int] | None = None  # pin measured children here; None: no pinning
    pyspy: str | None = None  # py-spy binary: profile measured children
    profile_dir: Path | None = None
    profile_prefix: str = "profile"  # "<results stem>-<case>-r<n>"
    children: list[dict[str, Any]] = field(default_factory=list)
    profiles: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def for_run(self, case: str, index: int, stem: str) -> Launch:
        return Launch(
            cpus=self.cpus,
            pyspy=self.pyspy,
            profile_dir=self.profile_dir,
            profile_prefix=f"{stem}-{case}-r{index + 1}",
        )

    @contextlib.contextmanager
    def pinned(self) -> Iterator[None]:
        """Run the body (a spawn, or syncd code run in this thread) on the pinned CPUs only.
        Only the calling thread is pinned, and only for the body: a child forked in it keeps
        the pin, the runner's other threads and later children (emulators, peers) do not."""
        if self.cpus is None:
            yield
            return
        before = os.sched_getaffinity(0)
        os.sched_setaffinity(0, self.cpus)
        try:
            yield
        finally:
            os.sched_setaffinity(0, before)

    def record_in_process(self, label: str) -> None:
        """Note syncd code run inside the runner's own (pinned) thread, e.g. md5_file."""
        seen = {"label": label, "pid": os.getpid(), "cpus": sorted(os.sched_getaffinity(0))}
        if seen not in self.children:
            self.children.append(seen)

    def watch(self, pid: int, label: str) -> Watch:
        """Right after spawning a measured child: record where it may run and, when profiling,
        attach py-spy to it."""
        cpus = cpus_allowed(pid)
        self.children.append(
            {"label": label, "pid": pid, "cpus": None if cpus is None else sorted(cpus)}
        )
        if cpus is not None and self.cpus is not None and cpus != self.cpus:
            self.problems.append(
                f"{label} ran on CPUs {format_cpus(cpus)}, not the pinned {format_cpus(self.cpus)}"
            )
        watch = Watch(self, pid, label, cpus)
        if self.pyspy is None or self.profile_dir is None:
            return watch
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        path = self._profile_path(label)
        log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by Watch.close(), after py-spy
        spy = subprocess.Popen(
            [
                self.pyspy,
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(PROFILE_RATE_HZ),
                "--format",
                "speedscope",
                "--output",
                str(path),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        watch.spy, watch.spy_log, watch.path = spy, log, path
        return watch

    def _profile_path(self, label: str) -> Path:
        assert self.profile_dir is not None
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in label) or "syncd"
        path = self.profile_dir / f"{self.profile_prefix}-{safe}.speedscope.json"
        n = 2
        while path.exists() or path in self.profiles:
            path = self.profile_dir / f"{self.profile_prefix}-{safe}-{n}.speedscope.json"
            n += 1
        return path


def start_daemon(daemon: Any, launch: Launch, label: str, timeout: float = 30.0) -> Watch:
    """Start a ``tests.support.daemon.DaemonProcess`` pinned, watch it, and wait for
    its READY=1 (what ``start()`` itself would wait for) with a deadline."""
    with launch.pinned():
        daemon.start(wait_ready=False)
    watch = launch.watch(daemon.pid, label)
    deadline = time.monotonic() + timeout
    while not daemon.notify.seen("READY=1"):
        if daemon.proc.poll() is not None:
            raise RuntimeError("the daemon exited during start-up\n" + daemon.log_tail())
        if time.monotonic() > deadline:
            raise RuntimeError(f"no READY=1 in {timeout:.0f} s\n" + daemon.log_tail())
        time.sleep(0.01)
    return watch
