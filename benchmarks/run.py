"""The benchmark runner: `python3 -m benchmarks [--quick] [--case NAME] [--repeat N] [--out DIR]
[--cores N] [--profile]`.

Discovers ``benchmarks/cases/*.py`` (each exposes ``CASE``), runs each case ``repeat`` times
(``--quick``: once, with the cases' tiny sizes), takes median/min/max per figure, judges the
targets on the medians, prints each figure and each target with its ratio, and writes
``<out>/<stem>.json`` (machine info, the mode, every repetition's figures, summaries, verdicts)
and a short markdown table ``<out>/<stem>.md``; the stem is the date, followed by ``-cores<N>``,
``-profile`` and the selected case names when those options are given, so a partial or pinned
run never overwrites the day's full run. A case that raises is reported as failed with its
error and the run goes on; a missing peer is reported by name. Exit status: 0 when every case
ran (missed targets included), 1 when a case failed, 2 on a usage error.

``--cores N`` pins the measured syncd children to N CPUs (emulators and peers keep all of
them); ``--profile`` records each measured syncd child with py-spy into
``<out>/<stem>-<case>-r<n>-<label>.speedscope.json`` (see benchmarks/launch.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import math
import os
import pkgutil
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks import cases as cases_package
from benchmarks.core import Case, Figures, PeerMissing, RunContext, summarise
from benchmarks.launch import Launch, choose_cpus, find_pyspy, format_cpus, pyspy_version

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = BENCH_DIR / "results"
DEFAULT_CACHE = BENCH_DIR / ".cache"
PEER_VERSION_COMMANDS = {
    "rclone": ["rclone", "version"],
    "syncthing": ["syncthing", "--version"],
    "lsyncd": ["lsyncd", "--version"],
    "md5sum": ["md5sum", "--version"],
}
# Per-request CPU of the client (``syncd.cpu_ms_per_upload``, ``syncd.cpu_ms_per_listing``,
# ``syncd.cpu_us_per_file``): the figures the speed work is judged by, in their own table.
PER_REQUEST_CPU = re.compile(r"^syncd\.cpu_(ms|us)_per_\w+$")


# ------------------------------------------------------------------------------ discovery


def discover() -> tuple[list[Case], list[dict[str, Any]]]:
    """Every case module's CASE, sorted by name; modules that fail to import are failures."""
    found: list[Case] = []
    broken: list[dict[str, Any]] = []
    for module in sorted(pkgutil.iter_modules(cases_package.__path__), key=lambda m: m.name):
        if module.name.startswith("_"):
            continue
        try:
            imported = importlib.import_module(f"{cases_package.__name__}.{module.name}")
            case = imported.CASE
            if not isinstance(case, Case):
                raise TypeError(f"CASE is a {type(case).__name__}, not a Case")
        except Exception as exc:  # one broken module must not stop the run
            broken.append({"name": module.name, "error": f"cannot load: {_one_line(exc)}"})
            continue
        found.append(case)
    return found, broken


# --------------------------------------------------------------------------- machine info


def _version_of(command: list[str]) -> str | None:
    if shutil.which(command[0]) is None:
        return None
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0].strip() if text else None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=BENCH_DIR,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _memory_total_mb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def machine_info() -> dict[str, Any]:
    import syncd

    return {
        "hostname": platform.node(),
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_mb": _memory_total_mb(),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "syncd": getattr(syncd, "__version__", None),
        "git_commit": _git_commit(),
        "peers": {name: _version_of(cmd) for name, cmd in PEER_VERSION_COMMANDS.items()},
    }


# -------------------------------------------------------------------------------- running


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().replace("\n", " | ")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _clean_figures(raw: object, notes: list[str]) -> Figures:
    if not isinstance(raw, dict):
        raise TypeError(f"run() returned {type(raw).__name__}, not a dict of figures")
    figures: Figures = {}
    for name, value in raw.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            notes.append(f"figure {name} dropped: {value!r} is not a finite number")
            continue
        figures[str(name)] = float(value)
    return figures


def run_case(
    case: Case,
    *,
    quick: bool,
    repeat: int | None,
    cache: Path,
    launch: Launch | None = None,
    stem: str = "",
) -> dict[str, Any]:
    launch = launch or Launch()
    times = 1 if quick else (repeat or case.repeat)
    print(f"\n== {case.name}: {case.title}  ({times} run{'s' if times != 1 else ''})", flush=True)
    runs: list[Figures] = []
    notes: list[str] = []
    missing: dict[str, str] = {}
    children: list[dict[str, Any]] = []
    profiles: list[str] = []
    error: str | None = None
    started = time.monotonic()
    for index in range(times):
        work = Path(tempfile.mkdtemp(prefix=f"syncd-bench-{case.name}-"))
        run_launch = launch.for_run(case.name, index, stem)
        ctx = RunContext(work=work, cache=cache, quick=quick, repeat_index=index, launch=run_launch)
        t0 = time.monotonic()
        try:
            raw = case.run(ctx)
            figures = _clean_figures(raw, ctx.notes)
            if run_launch.problems:  # a child escaped the pin: its figures are not this mode's
                raise RuntimeError("; ".join(run_launch.problems))
            if launch.cpus is not None and not run_launch.children:
                raise RuntimeError("--cores: the case ran no syncd child through ctx.launch")
            runs.append(figures)
            print(f"   run {index + 1}/{times}: {time.monotonic() - t0:.1f} s", flush=True)
        except PeerMissing as exc:  # a case that let it escape: still a report, not a crash
            ctx.missing(exc.peer, exc.why)
            error = f"peer missing and no syncd figures: {exc}"
        except Exception as exc:  # report it and go on with the next case
            error = _one_line(exc)
            print(f"   run {index + 1}/{times} FAILED: {error}", flush=True)
            traceback.print_exc(file=sys.stderr)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        children += [{"run": index + 1, **child} for child in run_launch.children]
        profiles += [p.name for p in run_launch.profiles]
        for note in ctx.notes:
            if note not in notes:
                notes.append(note)
        missing.update(ctx.missing_peers)
        if error is not None:
            break  # a failing case usually fails again: do not spend the run on it
    summary = summarise(runs)
    medians = {name: stats["median"] for name, stats in summary.items()}
    verdicts = [target.judge(medians) for target in case.targets]
    for verdict, target in zip(verdicts, case.targets, strict=True):
        peer = (target.other or "").split(".", 1)[0]
        if verdict["verdict"] == "no peer" and peer in missing:
            verdict["why"] = f"{peer} missing: {missing[peer]}"
    return {
        "name": case.name,
        "title": case.title,
        "status": "failed" if error is not None else "ok",
        "error": error,
        "repeat": times,
        "seconds": round(time.monotonic() - started, 1),
        "runs": runs,
        "summary": summary,
        "targets": verdicts,
        "missing_peers": missing,
        "notes": notes,
        "syncd_children": children,  # every measured syncd child: label and allowed CPUs
        "profiles": profiles,  # file names, next to the results
    }


# ------------------------------------------------------------------------------- reporting


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value == int(value) and abs(value) < 1e9:
        return str(int(value))
    if abs(value) >= 100:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.3g}" if abs(value) < 10 else f"{value:.2f}"
    return f"{value:.3g}"


def _target_line(verdict: dict[str, Any]) -> str:
    label = verdict["target"]
    if "limit" not in verdict:
        return f"{label}: {verdict['verdict']} ({verdict.get('why', '')})"
    ratio = verdict.get("ratio")
    ratio_text = f", ratio {ratio:g}" if ratio is not None else ""
    return (
        f"{label}: {_fmt(verdict['value'])} vs limit {_fmt(verdict['limit'])}"
        f"{ratio_text} -> {verdict['verdict']}"
    )


def print_case(result: dict[str, Any]) -> None:
    for name, stats in result["summary"].items():
        spread = "" if stats["n"] == 1 else f"  [{_fmt(stats['min'])} .. {_fmt(stats['max'])}]"
        print(f"   {name:<34} {_fmt(stats['median']):>12}{spread}")
    for verdict in result["targets"]:
        print(f"   target  {_target_line(verdict)}")
    for peer, why in result["missing_peers"].items():
        print(f"   peer missing: {peer} ({why})")
    for name in result.get("profiles", []):
        print(f"   profile: {name}")
    if result["error"]:
        print(f"   FAILED: {result['error']}")


def markdown(report: dict[str, Any]) -> str:
    machine = report["machine"]
    peers = ", ".join(f"{k} {v or 'missing'}" for k, v in machine["peers"].items())
    lines = [
        f"# Benchmarks {report['date']}{' (quick)' if report['quick'] else ''}",
        "",
        f"{machine['cores']} cores ({machine['cpu']}), load average at start "
        f"{machine['load_average_start']}, at end {report.get('load_average_end')}; "
        f"Python {machine['python']}; commit {machine['git_commit']}; {peers}.",
        "",
        f"Mode: {_mode_text(report['mode'])}.",
        "",
        "| case | target | syncd | limit | ratio | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for case in report["cases"]:
        if case["status"] == "failed" and not case.get("targets"):
            lines.append(f"| {case['name']} | - | - | - | - | FAILED: {case['error']} |")
            continue
        for v in case.get("targets", []):
            ratio = v.get("ratio")
            verdict = v["verdict"] + (f" ({v['why']})" if v.get("why") else "")
            lines.append(
                f"| {case['name']} | {v['target']} | {_fmt(v.get('value'))} | "
                f"{_fmt(v.get('limit'))} | {'-' if ratio is None else f'{ratio:g}'} | {verdict} |"
            )
        if case["status"] == "failed":
            lines.append(f"| {case['name']} | (run) | - | - | - | FAILED: {case['error']} |")
    per_request = [
        (case["name"], name, s)
        for case in report["cases"]
        for name, s in case.get("summary", {}).items()
        if PER_REQUEST_CPU.match(name)
    ]
    if per_request:
        lines += [
            "",
            "Client CPU per request (user+sys of the whole syncd process, start-up included, "
            "over the requests or files of the pass):",
            "",
            "| case | figure | median | min | max | n |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {case} | {name} | {_fmt(s['median'])} | {_fmt(s['min'])} | {_fmt(s['max'])} "
            f"| {int(s['n'])} |"
            for case, name, s in per_request
        ]
    lines += ["", "| case | figure | median | min | max | n |", "|---|---|---|---|---|---|"]
    for case in report["cases"]:
        for name, s in case.get("summary", {}).items():
            if name.count(".") > 1 or PER_REQUEST_CPU.match(name):
                continue  # breakdowns (syncd.noop.folder_listing): in the JSON only
            lines.append(
                f"| {case['name']} | {name} | {_fmt(s['median'])} | {_fmt(s['min'])} | "
                f"{_fmt(s['max'])} | {int(s['n'])} |"
            )
    missing = [(c["name"], p, w) for c in report["cases"] for p, w in c["missing_peers"].items()]
    notes = [(c["name"], n) for c in report["cases"] for n in c["notes"]]
    if missing or notes:
        lines += [""]
        lines += [f"- {name}: peer **{peer}** missing ({why})" for name, peer, why in missing]
        lines += [f"- {name}: {note}" for name, note in notes]
    profiles = [(c["name"], p) for c in report["cases"] for p in c.get("profiles", [])]
    if profiles:
        lines += ["", "Profiles (py-spy, speedscope format; open in https://www.speedscope.app):"]
        lines += ["", *(f"- {name}: `{path}`" for name, path in profiles)]
    return "\n".join(lines) + "\n"


def _mode_text(mode: dict[str, Any]) -> str:
    if mode.get("cores") is None:
        where = "syncd on every CPU the runner may use"
    else:
        where = (
            f"--cores {mode['cores']}: measured syncd children pinned to CPU "
            f"{format_cpus(mode['syncd_cpus'])}, emulators and peers on "
            f"{format_cpus(mode['runner_cpus'])}"
        )
    if mode.get("profile"):
        where += f"; profiled with {mode['profile']} (timings include its sampling)"
    if mode.get("bytecode") == "precompiled":
        where += "; syncd's bytecode written first, as an install does"
    return where


PATH_OPTIONS = ("--cache", "--out")


def recorded_argv(argv: list[str]) -> list[str]:
    """The command line as a results file keeps it: where the cache and the results lived names
    one machine's directories, not the run, so those options' values are left out."""
    kept: list[str] = []
    skip_value = False
    for arg in argv:
        if skip_value:
            skip_value = False
        elif arg in PATH_OPTIONS:
            kept.append(arg)
            skip_value = True
        elif arg.startswith(tuple(option + "=" for option in PATH_OPTIONS)):
            kept.append(arg.split("=", 1)[0])
        else:
            kept.append(arg)
    return kept


def results_stem(date: str, args: argparse.Namespace) -> str:
    """``<date>[-cores<N>][-profile][-<case>...]``: modes and partial runs get their own files."""
    parts = [date]
    if args.cores is not None:
        parts.append(f"cores{args.cores}")
    if args.profile:
        parts.append("profile")
    if args.case:
        parts += sorted(set(args.case))
    return "-".join(parts)


# ------------------------------------------------------------------------------------ main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python3 -m benchmarks", description="Run syncd's benchmarks against their targets."
    )
    parser.add_argument("--quick", action="store_true", help="CI smoke mode: tiny sizes, once")
    parser.add_argument(
        "--case", action="append", metavar="NAME", help="run only this case (repeatable)"
    )
    parser.add_argument("--repeat", type=int, metavar="N", help="repetitions per case")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default {DEFAULT_OUT}")
    parser.add_argument(
        "--cache", type=Path, default=DEFAULT_CACHE, help=f"default {DEFAULT_CACHE}"
    )
    parser.add_argument(
        "--cores",
        type=int,
        metavar="N",
        help="pin the measured syncd children to N CPUs (a small NAS); emulators and peers "
        "keep all",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="record each measured syncd child with py-spy (speedscope files next to the results)",
    )
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    args.syncd_cpus = None
    if args.cores is not None:
        try:
            args.syncd_cpus = choose_cpus(args.cores)
        except ValueError as exc:
            parser.error(str(exc))
    args.pyspy = None
    if args.profile:
        args.pyspy = find_pyspy()
        if args.pyspy is None:
            parser.error("--profile needs py-spy: install it with `pip install py-spy`")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    found, broken = discover()
    if args.list:
        for case in found:
            print(f"{case.name:<18} {case.title}")
        for b in broken:
            print(f"{b['name']:<18} BROKEN: {b['error']}")
        return 0
    if args.case:
        known = {c.name for c in found} | {b["name"] for b in broken}
        unknown = sorted(set(args.case) - known)
        if unknown:
            print(f"unknown case(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
            return 2
        found = [c for c in found if c.name in args.case]
        broken = [b for b in broken if b["name"] in args.case]

    started = dt.datetime.now(dt.UTC)
    date = started.strftime("%Y-%m-%d")
    stem = results_stem(date, args)
    runner_cpus = sorted(os.sched_getaffinity(0))
    report: dict[str, Any] = {
        "date": date,
        "started": started.isoformat(timespec="seconds"),
        "quick": args.quick,
        "argv": recorded_argv(sys.argv[1:] if argv is None else argv),
        "mode": {
            "cores": args.cores,  # None: not pinned
            "syncd_cpus": sorted(args.syncd_cpus) if args.syncd_cpus else runner_cpus,
            "runner_cpus": runner_cpus,  # the emulators', the peers' and the runner's
            "profile": pyspy_version(args.pyspy) if args.pyspy else None,
            "bytecode": "precompiled",  # data.syncd_env writes it: measured as installed
        },
        "machine": machine_info(),
        "cases": [],
    }
    launch = Launch(cpus=args.syncd_cpus, pyspy=args.pyspy, profile_dir=args.out)
    print(
        f"syncd benchmarks{' (quick)' if args.quick else ''}: {len(found)} case(s), "
        f"{report['machine']['cores']} cores, load {report['machine']['load_average_start']}; "
        f"{_mode_text(report['mode'])}",
        flush=True,
    )
    args.cache.mkdir(parents=True, exist_ok=True)
    for b in broken:
        print(f"\n== {b['name']}: FAILED {b['error']}", flush=True)
        report["cases"].append(
            {
                "name": b["name"],
                "title": "",
                "status": "failed",
                "error": b["error"],
                "repeat": 0,
                "runs": [],
                "summary": {},
                "targets": [],
                "missing_peers": {},
                "notes": [],
            }
        )
    for case in found:
        result = run_case(
            case,
            quick=args.quick,
            repeat=args.repeat,
            cache=args.cache,
            launch=launch,
            stem=stem,
        )
        print_case(result)
        report["cases"].append(result)
    report["cases"].sort(key=lambda c: c["name"])
    report["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    report["load_average_end"] = [round(x, 2) for x in os.getloadavg()]

    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / f"{stem}.json"
    md_path = args.out / f"{stem}.md"
    json_path.write_text(json.dumps(report, indent=1, allow_nan=False) + "\n")
    md_path.write_text(markdown(report))
    failed = [c["name"] for c in report["cases"] if c["status"] == "failed"]
    print(f"\nwrote {json_path} and {md_path}")
    if failed:
        print(f"failed case(s): {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
