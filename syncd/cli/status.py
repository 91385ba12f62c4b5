"""`syncd status`: per pair, the last run, the counts, every skipped or failed path and the
daemon's word. Reads the state database only (read-only, no SQLAlchemy: instant, and safe while
the daemon writes)."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from syncd.cli.app import App, SyncdCommand, pair_option, pass_app
from syncd.daemon.health import pid_alive
from syncd.errors import ExitCode
from syncd.journal.reader import JournalReader, SchemaNotCurrent
from syncd.journal.rows import DaemonStatus

if TYPE_CHECKING:
    from syncd.config import Config


def _when(ts: float | None) -> str | None:
    """ISO 8601 in UTC, to the second: ``2026-12-02T11:50:00Z`` (scripts parse it as is)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# A run that ended this way leaves the pair not in sync.
PROBLEM_RESULTS = frozenset({"failed", "error", "refused"})


def verdict(status: dict[str, Any]) -> tuple[int, list[str]]:
    """The exit code of `syncd status` and one line per problem, from :func:`collect_status`.

    - 3 (daemon down): a pair has a daemon record, but that daemon is not alive (stopped,
      killed, or silent for three heartbeats);
    - 1 (failures pending): a pair has failed items, its last run failed, errored or was
      refused by a guard, a live daemon's last pass failed, or the pair was never synced;
    - 0 (up to date): none of these; skipped items (each with its reason) are allowed.
    The worst code wins."""
    code = ExitCode.OK
    lines: list[str] = []
    for entry in status["pairs"]:
        name = entry["name"]
        daemon = entry.get("daemon")
        if daemon is not None and not daemon["alive"]:
            code = max(code, ExitCode.GUARD)
            lines.append(f"pair {name}: daemon not running (last seen {daemon['updated']})")
        if entry.get("never_synced"):
            code = max(code, ExitCode.FAILED)
            lines.append(f"pair {name}: never synced")
            continue
        failed = entry["counts"]["failed"]
        if failed:
            code = max(code, ExitCode.FAILED)
            lines.append(f"pair {name}: {failed} failed")
        run = entry.get("last_run") or {}
        if run.get("result") in PROBLEM_RESULTS:
            code = max(code, ExitCode.FAILED)
            error = f": {run['error']}" if run.get("error") else ""
            lines.append(f"pair {name}: last {run['kind']} {run['result']}{error}")
        if daemon is not None and daemon["alive"] and daemon.get("consecutive_failures"):
            code = max(code, ExitCode.FAILED)
            lines.append(
                f"pair {name}: daemon failing ({daemon['consecutive_failures']} passes in a "
                f"row): {daemon.get('last_error')}"
            )
    return int(code), lines


@contextlib.contextmanager
def _open_for_reading(path: Path) -> Iterator[Any]:
    """The read-only reader; a journal of an older schema is opened (and upgraded) instead."""
    try:
        reader = JournalReader(path)
    except SchemaNotCurrent:
        from syncd.journal.store import Journal

        with Journal(path) as journal:
            yield journal
        return
    with reader:
        yield reader


def collect_status(config: Config, pair_name: str | None) -> dict[str, Any]:
    pairs = config.select_pairs(pair_name)
    out: dict[str, Any] = {"state": str(config.state.path), "pairs": []}
    if not config.state.path.exists():
        for pair in pairs:
            out["pairs"].append({"name": pair.name, "local": str(pair.local), "never_synced": True})
        return out
    with _open_for_reading(config.state.path) as journal:
        daemon = journal.daemon_status()
        for pair in pairs:
            entry: dict[str, Any] = {
                "name": pair.name,
                "local": str(pair.local),
                "remote": pair.remote,
                "mode": pair.mode,
            }
            row = journal.pair(pair.name)
            if row is None:
                entry["never_synced"] = True
                out["pairs"].append(entry)
                continue
            runs = journal.runs(row.id, limit=1)
            if runs:
                run = runs[0]
                entry["last_run"] = {
                    "kind": run.kind,
                    "started": _when(run.started_at),
                    "ended": _when(run.ended_at),
                    "seconds": round(run.ended_at - run.started_at, 3) if run.ended_at else None,
                    "result": run.result or "running",
                    "counts": run.counts,
                    "error": run.error,
                }
            entry["counts"] = journal.status_counts(row.id)
            entry["problems"] = [
                {"path": p.path, "kind": p.kind, "status": p.status, "reason": p.reason}
                for p in journal.problems(row.id)
            ]
            history = journal.history_counts(row.id)
            if history is not None:
                versions, nbytes, counted_at, _ = history
                entry["history"] = {
                    "versions": versions,
                    "bytes": nbytes,
                    "counted": _when(counted_at),
                }
            if pair.name in daemon:
                entry["daemon"] = _daemon_view(daemon[pair.name])
            out["pairs"].append(entry)
    return out


def _daemon_view(record: DaemonStatus) -> dict[str, Any]:
    """The daemon's own record, with times readable and ``alive`` judged from outside: a daemon
    that was SIGKILLed or lost power still says it is running."""
    view: dict[str, Any] = record.to_json()
    for key in ("last_full_reconcile", "last_pass", "last_error_at", "stalled_since"):
        view[key] = _when(view[key])
    view["updated"] = _when(record.updated_at)
    view["alive"] = record.alive(time.time(), pid_alive(record.pid))
    return view


def _daemon_line(daemon: dict[str, Any]) -> str:
    if not daemon["alive"]:
        return f"  daemon: not running (last seen {daemon['updated']})"
    if daemon.get("up_to_date"):
        state = "up to date"
    else:
        state = (
            f"syncing: {daemon.get('queue_length', 0)} queued, "
            f"{daemon.get('in_flight', 0)} in flight"
        )
    last_full = daemon.get("last_full_reconcile") or "not yet"
    return f"  daemon pid {daemon.get('daemon_pid')}: {state}; last full reconcile {last_full}"


def run_status(config: Config, pair_name: str | None, as_json: bool, quiet: bool = False) -> int:
    status = collect_status(config, pair_name)
    code, problems = verdict(status)
    if as_json:
        status["exit_code"] = code
        status["problem_summary"] = problems
        click.echo(json.dumps(status, indent=2, sort_keys=True))
        return code
    if quiet:
        for line in problems:
            click.echo(line)
        for entry in status["pairs"]:
            for problem in entry.get("problems", ()):
                if problem["status"] == "failed":
                    click.echo(f"  failed  {entry['name']}: {problem['path']}: {problem['reason']}")
        return code
    for entry in status["pairs"]:
        click.echo(f"pair {entry['name']}: {entry.get('local')} -> /{entry.get('remote', '')}")
        if entry.get("never_synced"):
            click.echo("  never synced")
            continue
        run = entry.get("last_run")
        if run:
            counts = ", ".join(f"{k} {v}" for k, v in sorted(run["counts"].items())) or "no changes"
            click.echo(
                f"  last {run['kind']}: {run['result']} at {run['ended'] or run['started']}"
                f" ({counts})"
            )
            if run.get("error"):
                click.echo(f"  last error: {run['error']}")
        c = entry["counts"]
        click.echo(
            f"  {c['synced']} files synced ({c['synced_bytes'] / 1e6:.1f} MB) in {c['dirs']} "
            f"folders, {c['skipped']} skipped, {c['failed']} failed"
        )
        history = entry.get("history")
        if history is not None:
            click.echo(
                f"  history: {history['versions']} versions ({history['bytes'] / 1e6:.1f} MB) "
                "in the versions area"
            )
        daemon = entry.get("daemon")
        if daemon:
            click.echo(_daemon_line(daemon))
            if daemon.get("stall_reason") and daemon["alive"]:
                click.echo(
                    f"  STALLED since {daemon.get('stalled_since')}: {daemon['stall_reason']}"
                    f" — {daemon.get('advice')}"
                )
            if daemon.get("last_error") and daemon["alive"]:
                click.echo(
                    f"  daemon last error ({daemon.get('last_error_at')}): {daemon['last_error']}"
                )
        for problem in entry["problems"]:
            click.echo(f"  {problem['status']:<7} {problem['path']}: {problem['reason']}")
    return code


@click.command(cls=SyncdCommand)
@pair_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option(
    "-q", "--quiet", is_flag=True, help="Print only problems (nothing when up to date): for cron."
)
@pass_app
def status(app: App, pair: str | None, as_json: bool, quiet: bool) -> int:
    """Per pair: the last run, counts, and every skipped or failed path with its reason.
    Reads the state database only (works while the daemon runs).

    Exit 0 up to date, 1 failures pending (failed items, a failed or refused last run, a
    failing daemon, a pair never synced), 3 a pair's daemon is down. Times are ISO 8601 UTC."""
    config = app.load_config(require_credentials=False, require_pairs=True, plain_logging=True)
    return run_status(config, pair, as_json, quiet)
