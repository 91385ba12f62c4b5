"""The benchmarks' markdown report shows every figure a target is judged on.

Breakdowns (``syncd.noop.folder_listing``: a group, then its part) stay in the JSON only; a
case's own figures are ``syncd.<figure>``. The encryption case named its figures like
breakdowns, and its results file came out with an empty figure table.
"""

from __future__ import annotations

from typing import Any

from benchmarks.run import discover, markdown, recorded_argv


def _report(case_name: str, figures: set[str]) -> dict[str, Any]:
    stats = {"median": 1.0, "min": 1.0, "max": 1.0, "n": 1}
    return {
        "date": "2026-12-06",
        "quick": False,
        "mode": {"cores": None},
        "machine": {
            "cores": 2,
            "cpu": "cpu",
            "load_average_start": [0.0, 0.0, 0.0],
            "python": "3.11",
            "git_commit": "0000000",
            "peers": {},
        },
        "cases": [
            {
                "name": case_name,
                "status": "ok",
                "summary": {name: stats for name in sorted(figures)},
                "targets": [],
                "missing_peers": {},
                "notes": [],
            }
        ],
    }


def test_every_figure_a_target_is_judged_on_is_in_the_figure_table() -> None:
    cases, broken = discover()
    assert not broken
    for case in cases:
        judged = {t.metric for t in case.targets} | {t.other for t in case.targets if t.other}
        syncd_figures = {name for name in judged if name.startswith("syncd.")}
        table = markdown(_report(case.name, syncd_figures))
        for name in syncd_figures:
            assert f"| {case.name} | {name} |" in table, (case.name, name)


def test_a_results_file_keeps_the_command_line_without_this_machines_directories() -> None:
    argv = ["--cores", "1", "--cache", "/srv/cache", "--out=/home/me/results", "--case", "noop"]
    assert recorded_argv(argv) == ["--cores", "1", "--cache", "--out", "--case", "noop"]
