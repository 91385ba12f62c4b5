"""CI smoke test of the benchmarks: `python3 -m benchmarks --quick --out TMP` as a real subprocess.

Checks that the runner found every case, that each one ran and produced its syncd figures, and
that the JSON and markdown results were written. It asserts no timing and no target verdict:
on a shared CI machine the numbers say nothing; the full run on a quiet machine does.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.run import discover

PROJECT = Path(__file__).resolve().parent.parent
# About a minute on a quiet 2-core machine; generous because the machine may be shared.
RUN_TIMEOUT_S = 540


@pytest.mark.timeout(RUN_TIMEOUT_S + 60)
def test_quick_run_produces_every_case_and_both_reports(tmp_path: Path) -> None:
    cases, broken = discover()
    assert not broken, f"case modules that do not load: {broken}"
    out = tmp_path / "results"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT), env.get("PYTHONPATH")]))
    # Own session: on a timeout the whole group goes (emulators, daemons, peers), no orphans.
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail(f"the quick run took over {RUN_TIMEOUT_S} s:\n{stdout[-4000:]}")
    tail = f"stdout:\n{stdout[-4000:]}\nstderr:\n{stderr[-4000:]}"
    json_files = sorted(out.glob("*.json"))
    md_files = sorted(out.glob("*.md"))
    assert len(json_files) == 1 and len(md_files) == 1, tail
    dt.date.fromisoformat(json_files[0].stem)  # named <YYYY-MM-DD>.json
    report = json.loads(json_files[0].read_text())
    assert report["quick"] is True
    assert report["machine"]["cores"] >= 1 and "peers" in report["machine"]
    by_name = {case["name"]: case for case in report["cases"]}
    assert set(by_name) == {case.name for case in cases}, tail
    for case in cases:
        result = by_name[case.name]
        assert result["status"] == "ok", f"{case.name}: {result['error']}\n{tail}"
        syncd_figures = [name for name in result["summary"] if name.startswith("syncd.")]
        assert syncd_figures, f"{case.name} produced no syncd figures: {result['summary']}"
        # Every target is judged (met, MISSED, or no peer), never silently dropped.
        assert len(result["targets"]) == len(case.targets)
    table = md_files[0].read_text()
    for case in cases:
        assert f"| {case.name} |" in table
    assert proc.returncode == 0, tail
