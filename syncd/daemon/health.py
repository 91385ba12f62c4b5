"""Whether the daemon is alive and well, for `syncd health` (container health checks,
monitoring scripts); `python -m syncd.daemon.health [--config FILE]` is the same check.

Reads the daemon's status rows from the journal (read-only SQLite through
:class:`~syncd.journal.reader.JournalReader`; no SQLAlchemy, no pydantic, no network): healthy
when every configured pair has a row written by a running daemon within ``max_age`` seconds (the
daemon writes at least once a minute), no pair is stalled (its passes cannot succeed until something
outside changes, such as refused credentials, or it made no progress for ``[daemon] stall_after``:
deletions held by a guard, passes failing) and no pair has failed five passes in a row. One line
says why; the exit code is 0 (healthy) or 1 (unhealthy) only, as Docker's HEALTHCHECK wants
(it reserves 2).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from syncd.errors import UserError
from syncd.journal.errors import JournalError
from syncd.journal.reader import JournalReader
from syncd.journal.rows import DaemonStatus

FAILING_AFTER = 5  # consecutive failed passes


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (owned by anyone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def check(state_db: Path, pairs: list[str], max_age: float) -> tuple[bool, str]:
    if not state_db.exists():
        return False, f"unhealthy: no state database at {state_db}: the daemon has not started"
    try:
        with JournalReader(state_db) as journal:
            status = journal.daemon_status()
    except JournalError as exc:
        return False, f"unhealthy: cannot read {state_db}: {exc}"
    now = time.time()
    problems = []
    for pair in pairs:
        if pair not in status:
            problems.append(f"{pair}: no status from the daemon yet")
            continue
        record = status[pair]
        if not record.running:
            problems.append(f"{pair}: the daemon stopped")
        elif not pid_alive(record.pid):
            problems.append(f"{pair}: the daemon (pid {record.pid}) is gone")
        elif now - record.updated_at > max_age:
            problems.append(f"{pair}: no word from the daemon for {now - record.updated_at:.0f} s")
        elif record.stall_reason:
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.stalled_since or 0))
            problems.append(f"{pair}: {record.stall_reason} since {since} — {record.advice}")
        elif record.consecutive_failures >= FAILING_AFTER:
            problems.append(f"{pair}: failing: {record.last_error}")
    if problems:
        return False, "unhealthy: " + "; ".join(problems)
    return True, f"healthy: {len(pairs)} pairs"


def run_check(config_path: str | os.PathLike[str] | None, max_age: float) -> tuple[bool, str]:
    """The whole health check from a ``--config`` value (None: as every command finds it)."""
    from syncd.config_facts import read_light

    try:
        config = read_light(config_path)
    except UserError as exc:
        return False, f"unhealthy: {exc.message}"
    return check(config.state_path, list(config.pair_names), max_age)


def main(argv: list[str] | None = None) -> int:
    """`python -m syncd.daemon.health`: the check of `syncd health`, kept for existing setups."""
    parser = argparse.ArgumentParser(prog="python -m syncd.daemon.health", description=__doc__)
    parser.add_argument("--config", default=None, help="config file (default: as syncd)")
    parser.add_argument("--max-age", type=float, default=DaemonStatus.STALE_AFTER)
    args = parser.parse_args(argv)
    ok, message = run_check(args.config, args.max_age)
    print(message)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
