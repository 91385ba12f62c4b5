"""`--cores` and `--profile` on real child processes: the pin reaches the child (and only it),
py-spy's profile is written while the child's own exit status and figures are kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.core import run_measured
from benchmarks.launch import Launch, choose_cpus, cpus_allowed, find_pyspy, parse_cpu_list

CPUS = sorted(os.sched_getaffinity(0))
needs_two_cpus = pytest.mark.skipif(len(CPUS) < 2, reason="pinning needs 2 CPUs to be visible")
needs_pyspy = pytest.mark.skipif(find_pyspy() is None, reason="py-spy not installed")

# A child that burns a little CPU in two threads and reports where its threads may run.
CHILD = """
import os, sys, threading
def spin():
    sum(range(300_000))
t = threading.Thread(target=spin); t.start(); spin(); t.join()
print(sorted(os.sched_getaffinity(0)))
sys.exit(int(sys.argv[1]))
"""


# The profiled child spins for half a second of CPU in each thread: py-spy attaches after the
# spawn, and on a loaded machine (the suite's other worker) the short spin above could end before
# it did, leaving a profile without `spin` (seen with the deploy tests alongside).
PROFILED_CHILD = CHILD.replace(
    "    sum(range(300_000))",
    "    import time\n    while time.thread_time() < 0.5:\n        sum(range(10_000))",
)
assert PROFILED_CHILD != CHILD


def test_parse_cpu_list_reads_the_kernel_format() -> None:
    assert parse_cpu_list("0-2,5") == {0, 1, 2, 5}
    assert parse_cpu_list("3") == {3}
    assert cpus_allowed(os.getpid()) == frozenset(os.sched_getaffinity(0))


def test_choose_cpus_rejects_more_cores_than_the_machine_has() -> None:
    assert choose_cpus(1) == {CPUS[-1]}
    with pytest.raises(ValueError, match="pass a number from 1 to"):
        choose_cpus(len(CPUS) + 1)


@needs_two_cpus
def test_a_pinned_spawn_pins_the_child_and_not_the_runner() -> None:
    launch = Launch(cpus=choose_cpus(1))
    before = os.sched_getaffinity(0)
    result = run_measured([sys.executable, "-c", CHILD, "0"], launch=launch, label="child")
    assert result.check("child").stdout.strip() == str([CPUS[-1]])
    assert result.cpus == 1 and result.cpu_s > 0
    assert os.sched_getaffinity(0) == before  # the runner's thread got its CPUs back
    assert [(c["label"], c["cpus"]) for c in launch.children] == [("child", [CPUS[-1]])]
    assert not launch.problems
    # A child spawned outside the pin (an emulator, a peer) keeps every CPU.
    free = subprocess.run([sys.executable, "-c", CHILD, "0"], capture_output=True, text=True)
    assert free.stdout.strip() == str(CPUS)


@needs_pyspy
def test_profile_is_written_and_the_childs_exit_status_kept(tmp_path: Path) -> None:
    launch = Launch(pyspy=find_pyspy(), profile_dir=tmp_path).for_run("case", 0, "stem")
    result = run_measured([sys.executable, "-c", PROFILED_CHILD, "3"], launch=launch, label="child")
    assert result.returncode == 3  # py-spy attached to it; the child is still what we waited for
    assert launch.profiles == [tmp_path / "stem-case-r1-child.speedscope.json"]
    profile = json.loads(launch.profiles[0].read_text())
    assert profile["profiles"], "no thread was sampled"
    names = {frame["name"] for frame in profile["shared"]["frames"]}
    assert "spin" in names
    assert not launch.problems
