"""`syncd reconcile` and `syncd status`: the work behind the two commands (cli.py stays thin)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import click

from syncd.config import Config, MaxDelete, PairConfig
from syncd.engine.executor import Progress
from syncd.engine.ops import Op, Upload
from syncd.engine.reconcile import PassOptions, PassResult, reconcile_pair
from syncd.errors import ExitCode, GuardRefused, UserError
from syncd.journal.lock import AlreadyRunning, StateLock
from syncd.journal.store import Journal
from syncd.remote.client import RemoteClient
from syncd.remote.models import AccountPackage

log = logging.getLogger(__name__)

PACKAGE_MAX_AGE = 3600.0  # seconds an account/package answer is reused by one-shot commands

SUMMARY_ORDER = (
    "uploaded",
    "replaced",
    "moved",
    "renamed",
    "repaired",
    "trashed",
    "adopted",
    "folders created",
    "skipped",
    "failed",
)


@dataclass(frozen=True)
class ReconcileRequest:
    pair: str | None = None
    dry_run: bool = False
    max_delete: MaxDelete | None = None
    force_deletes: bool = False
    accept_new_root: bool = False
    adopt_existing: bool = False


class RichProgress(Progress):
    """One line on a terminal: ops done of planned, bytes sent of planned, rate and ETA."""

    def __init__(self, label: str) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import Progress as RichBar

        self._bar = RichBar(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[done]}/{task.fields[ops]} ops"),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            transient=True,
        )
        self._label = label
        self._done = 0
        self._lock = threading.Lock()

    def begin(self, ops: list[Op]) -> None:
        total = sum(op.ident.size for op in ops if isinstance(op, Upload))
        self._bar.start()
        self._task = self._bar.add_task(self._label, total=max(total, 1), done=0, ops=len(ops))

    def end(self) -> None:
        self._bar.stop()

    def op_done(self, op: Op, ok: bool) -> None:
        with self._lock:
            self._done += 1
            self._bar.update(self._task, done=self._done)

    def bytes_sent(self, n: int) -> None:
        self._bar.advance(self._task, n)


class LogProgress(Progress):
    """Not a terminal: one log line per op at debug level, nothing on stdout."""

    def op_done(self, op: Op, ok: bool) -> None:
        log.debug("%s %s", "done" if ok else "FAILED", op.describe())


def run_reconcile(config: Config, client: RemoteClient, request: ReconcileRequest) -> int:
    pairs = config.select_pairs(request.pair)
    with contextlib.ExitStack() as stack:
        if not request.dry_run:
            # One writer of a pair's remote folder at a time: not beside a running daemon.
            lock = StateLock(config.state.path)
            try:
                lock.acquire()
            except AlreadyRunning as exc:
                raise UserError(f"{exc} (it reconciles by itself; see `syncd status`)") from None
            stack.callback(lock.release)
        return _reconcile_pairs(config, client, request, pairs)


def _reconcile_pairs(
    config: Config, client: RemoteClient, request: ReconcileRequest, pairs: tuple[PairConfig, ...]
) -> int:
    worst = ExitCode.OK
    with Journal(config.state.path) as journal:
        package = cached_package(client, journal, config.remote.api_url)
        for pair in pairs:
            options = PassOptions(
                dry_run=request.dry_run,
                max_delete=request.max_delete,
                force_deletes=request.force_deletes,
                accept_new_root=request.accept_new_root,
                adopt_existing=request.adopt_existing,
            )
            tty = sys.stdout.isatty() and not request.dry_run
            progress = RichProgress(f"{pair.name}") if tty else LogProgress()
            try:
                result = reconcile_pair(
                    client,
                    journal,
                    pair,
                    sync=config.sync,
                    state_path=config.state.path,
                    package=package,
                    options=options,
                    progress=progress,
                )
            except GuardRefused as exc:
                if len(pairs) == 1:
                    raise
                click.echo(f"syncd: error: {exc.message}", err=True)
                worst = ExitCode.GUARD
                continue
            print_result(result)
            if result.exit_code == ExitCode.FAILED and worst == ExitCode.OK:
                worst = ExitCode.FAILED
    return worst


def cached_package(client: RemoteClient, journal: Journal, api_url: str) -> AccountPackage:
    """The account's package limits, asked of the host at most once an hour (they change when
    the account is upgraded, which is rare; a stale limit only makes the host refuse an upload,
    which is recorded and retried on a later pass)."""
    cached = journal.cached_host_answer(api_url, "account/package", PACKAGE_MAX_AGE)
    if cached is not None:
        return AccountPackage.from_api(cached)
    package = client.account_package()
    journal.store_host_answer(api_url, "account/package", package.raw)
    return package


def print_result(result: PassResult) -> None:
    if result.dry_run:
        click.echo(f"pair {result.pair}: dry run, {len(result.plan.ops)} planned ops:")
        for op in result.plan.ops:
            click.echo(f"  {op.describe()}")
        counts = result.plan.counts()
        line = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing to do"
        click.echo(f"pair {result.pair}: would do: {line}")
        for path, why in result.outcome.skipped:
            click.echo(f"  {path}: {why}")
        return
    counts = result.outcome.counts
    parts = [f"{key} {counts.get(key, 0)}" for key in SUMMARY_ORDER]
    parts += [f"{k} {v}" for k, v in sorted(counts.items()) if k not in SUMMARY_ORDER]
    mb = result.outcome.bytes_uploaded / 1e6
    click.echo(f"pair {result.pair}: {', '.join(parts)} ({result.elapsed:.1f} s, {mb:.1f} MB sent)")
    for path, why in result.outcome.skipped:
        click.echo(f"  skipped {path}: {why}")
    for path, why in result.outcome.failed:
        click.echo(f"  failed  {path}: {why}")
    log.debug(
        "reconcile done",
        extra={"pair": result.pair, "counts": dict(counts), "seconds": result.elapsed},
    )


# -- status ------------------------------------------------------------------------------------


def _when(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def collect_status(config: Config, pair_name: str | None) -> dict[str, Any]:
    pairs = config.select_pairs(pair_name)
    out: dict[str, Any] = {"state": str(config.state.path), "pairs": []}
    if not config.state.path.exists():
        for pair in pairs:
            out["pairs"].append({"name": pair.name, "local": str(pair.local), "never_synced": True})
        return out
    with Journal(config.state.path) as journal:
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
            entry["problems"] = [asdict(p) for p in journal.problems(row.id)]
            if pair.name in daemon:
                updated, state = daemon[pair.name]
                entry["daemon"] = _daemon_view(updated, state)
            out["pairs"].append(entry)
    return out


# The daemon rewrites its record at least once a minute; older than this, it is not running.
_DAEMON_RECORD_STALE_S = 180.0
_DAEMON_TIMES = ("last_full_reconcile", "last_pass", "last_error_at")


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _daemon_view(updated: float, state: dict[str, Any]) -> dict[str, Any]:
    """The daemon's own record, with times readable and ``alive`` judged from outside: a daemon
    that was SIGKILLed or lost power still says ``daemon_running: true``."""
    view = dict(state)
    for key in _DAEMON_TIMES:
        if isinstance(view.get(key), int | float):
            view[key] = _when(view[key])
    view["updated"] = _when(updated)
    view["alive"] = bool(
        state.get("daemon_running")
        and _pid_alive(state.get("daemon_pid"))
        and time.time() - updated < _DAEMON_RECORD_STALE_S
    )
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


def run_status(config: Config, pair_name: str | None, as_json: bool) -> int:
    status = collect_status(config, pair_name)
    if as_json:
        click.echo(json.dumps(status, indent=2, sort_keys=True))
        return ExitCode.OK
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
        daemon = entry.get("daemon")
        if daemon:
            click.echo(_daemon_line(daemon))
            if daemon.get("last_error") and daemon["alive"]:
                click.echo(
                    f"  daemon last error ({daemon.get('last_error_at')}): {daemon['last_error']}"
                )
        for problem in entry["problems"]:
            click.echo(f"  {problem['status']:<7} {problem['path']}: {problem['reason']}")
    return ExitCode.OK
