"""`syncd approve`: mark a pair's held deletions as approved, beside a running daemon.

The daemon is the journal's one writer of sync state; an approval is the user's word, not sync
state: one short UPDATE of the rows the daemon shows, through the standard library's sqlite3
(SQLite serialises it with the daemon's writes). The daemon reads approvals once a second and
carries out exactly the approved rows at its next pass (`syncd reconcile` reads them too).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from syncd.journal import reader
from syncd.journal.errors import JournalError
from syncd.journal.rows import HeldDeletion

BUSY_TIMEOUT = 10.0  # seconds: a pass's write transaction is short


def approve_held(state_db: Path, pair_name: str) -> list[HeldDeletion]:
    """Approve every deletion held for ``pair_name`` now; returns them (empty: none held).
    Deletions held after this call are not approved: the user approves what they saw."""
    try:
        conn = sqlite3.connect(str(state_db), timeout=BUSY_TIMEOUT, isolation_level=None)
    except sqlite3.Error as exc:
        raise JournalError(f"cannot open the state database {state_db}: {exc}") from None
    try:
        conn.execute("BEGIN IMMEDIATE")
        read = reader.read_on(conn)
        row = reader.pair(read, pair_name)
        if row is None:
            conn.execute("ROLLBACK")
            return []
        conn.execute(
            "UPDATE held_deletions SET approved_at = :now WHERE pair_id = :p "
            "AND approved_at IS NULL",
            {"now": time.time(), "p": row.id},
        )
        held = reader.held(read, row.id)
        conn.execute("COMMIT")
        return held
    except sqlite3.Error as exc:
        raise JournalError(f"cannot write the approval to {state_db}: {exc}") from None
    finally:
        conn.close()
