"""CI smoke test of the benchmarks: `python3 -m benchmarks --quick --out TMP` as a real subprocess.

Checks that the runner found every case, that each one ran and produced its syncd figures
(the client CPU per request among them), and that the JSON and markdown results were written;
and that `--cores 1` pins every measured syncd child to one CPU and records the mode. It
asserts no timing and no target verdict: on a shared CI machine the numbers say nothing; the
full run on a quiet machine does.
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


# The client CPU per request, first-class figures of these cases (the speed work's yardstick).
PER_REQUEST_CPU = {
    "initial_sync": ["syncd.cpu_ms_per_upload"],
    "bulk_upload": ["syncd.cpu_ms_per_upload"],
    "noop": ["syncd.cpu_ms_per_listing", "syncd.cpu_us_per_file"],
}


def run_benchmarks(out: Path, *args: str, timeout: float = RUN_TIMEOUT_S) -> tuple[int, str]:
    """`python3 -m benchmarks --quick --out OUT ARGS` as a subprocess: (exit status, output)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT), env.get("PYTHONPATH")]))
    # Own session: on a timeout the whole group goes (emulators, daemons, peers), no orphans.
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(out), *args],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail(f"the quick run took over {timeout} s:\n{stdout[-4000:]}")
    return proc.returncode, f"stdout:\n{stdout[-4000:]}\nstderr:\n{stderr[-4000:]}"


@pytest.mark.timeout(RUN_TIMEOUT_S + 60)
def test_quick_run_produces_every_case_and_both_reports(tmp_path: Path) -> None:
    cases, broken = discover()
    assert not broken, f"case modules that do not load: {broken}"
    out = tmp_path / "results"
    returncode, tail = run_benchmarks(out)
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
    assert report["mode"]["cores"] is None and report["mode"]["profile"] is None
    for name, figures in PER_REQUEST_CPU.items():
        for figure in figures:
            stats = by_name[name]["summary"].get(figure)
            assert stats and stats["median"] > 0, f"{name}: no {figure}\n{tail}"
    table = md_files[0].read_text()
    for case in cases:
        assert f"| {case.name} |" in table
    assert "Client CPU per request" in table and "| noop | syncd.cpu_ms_per_listing |" in table
    # The no-op case's second rclone peer ran, or is reported missing by name.
    noop = by_name["noop"]
    assert "rclone_webdav.wall_s" in noop["summary"] or "rclone_webdav" in noop["missing_peers"]
    assert returncode == 0, tail


@pytest.mark.timeout(RUN_TIMEOUT_S + 60)
def test_cores_1_pins_every_measured_syncd_child(tmp_path: Path) -> None:
    """A one-shot child (noop), a daemon (latency) and syncd code run in the runner (hashing):
    each reports its figures and ran on exactly one CPU; the mode is in the results."""
    out = tmp_path / "results"
    chosen = ["hashing", "latency", "noop"]
    returncode, tail = run_benchmarks(out, "--cores", "1", *(f"--case={c}" for c in chosen))
    assert returncode == 0, tail
    (json_file,) = out.glob("*.json")
    assert json_file.stem.endswith("-cores1-hashing-latency-noop"), json_file.name
    report = json.loads(json_file.read_text())
    assert report["mode"]["cores"] == 1 and len(report["mode"]["syncd_cpus"]) == 1
    assert sorted(c["name"] for c in report["cases"]) == chosen
    for case in report["cases"]:
        assert case["status"] == "ok", f"{case['name']}: {case['error']}\n{tail}"
        assert any(name.startswith("syncd") for name in case["summary"]), case["summary"]
        assert case["syncd_children"], f"{case['name']}: no measured syncd child recorded"
        for child in case["syncd_children"]:
            assert child["cpus"] == report["mode"]["syncd_cpus"], child
    assert "--cores 1" in (out / f"{json_file.stem}.md").read_text()
