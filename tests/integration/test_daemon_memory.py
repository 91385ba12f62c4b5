"""The pair worker going idle: nothing of the last pass stays referenced, and the syncer is asked
to hand memory back (journal read pool, heap) once per idle spell, not while work is queued."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from syncd.daemon.backend import limit_malloc_arenas, trim_heap
from syncd.daemon.pair_worker import PairWorker
from tests.support.waiting import wait_for


class BigResult:
    """Stands for a full pass's plan and outcome (large on a big tree)."""

    def __init__(self) -> None:
        self.payload = bytearray(1 << 20)


class RecordingSyncer:
    def __init__(self) -> None:
        self.results: list[weakref.ref[BigResult]] = []
        self.released = 0
        self.passes = 0
        self.gate = threading.Event()
        self.gate.set()

    def full_pass(self, cancel: threading.Event) -> BigResult:
        return self._pass()

    def incremental_pass(self, changes: Sequence[Any], cancel: threading.Event) -> BigResult:
        return self._pass()

    def _pass(self) -> BigResult:
        self.gate.wait(10)
        self.passes += 1
        result = BigResult()
        self.results.append(weakref.ref(result))
        return result

    def release_memory(self) -> None:
        self.released += 1


def test_idle_worker_keeps_nothing_of_its_last_pass_and_releases_memory() -> None:
    syncer = RecordingSyncer()
    worker = PairWorker("p", syncer)
    worker.start()
    try:
        worker.request_full("start-up")
        wait_for(lambda: syncer.released == 1, 10, "memory released after the pass")
        gc.collect()
        assert syncer.results and syncer.results[0]() is None, "the pass result is still held"
        assert worker.snapshot().passes["full"] == 1
    finally:
        worker.stop()
        assert worker.join(10)


def test_release_waits_until_the_queue_is_empty() -> None:
    syncer = RecordingSyncer()
    worker = PairWorker("p", syncer)
    syncer.gate.clear()  # the first pass blocks until more work has been queued
    worker.start()
    try:
        worker.request_full("start-up")
        wait_for(lambda: worker.snapshot().busy == "full", 10, "the first pass running")
        worker.add_changes([object()])  # queued while busy: no release in between
        syncer.gate.set()
        wait_for(lambda: syncer.passes == 2 and syncer.released == 1, 10, "two passes, one release")
        assert syncer.released == 1
    finally:
        worker.stop()
        assert worker.join(10)


def test_heap_helpers_are_safe_to_call() -> None:
    limit_malloc_arenas()
    trim_heap()  # no-ops where glibc is missing; never raise


def test_an_up_to_date_journal_opens_without_alembic(tmp_path: Path) -> None:
    """Alembic (~9 MiB resident) is only imported to create or upgrade the schema."""
    import subprocess
    import sys

    from syncd.journal.db import head_revision
    from syncd.journal.reader import head_from_scripts
    from syncd.journal.store import Journal
    from tests.support.cli import REPO

    assert head_from_scripts() == head_revision()
    state = tmp_path / "state.db"
    Journal(state).close()  # created (and stamped) through Alembic
    probe = (
        "import sys; from pathlib import Path; from syncd.journal.store import Journal; "
        f"Journal(Path({str(state)!r})).close(); print('alembic' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    assert done.stdout.strip() == "False", done.stderr
