"""`syncd status`'s exit code and problem lines, from the status it collected (pure)."""

from __future__ import annotations

from typing import Any

from syncd.cli.status import _when, verdict

COUNTS = {"synced": 3, "synced_bytes": 10, "dirs": 1, "skipped": 1, "failed": 0}


def pair(name: str = "docs", **entry: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": name,
        "counts": dict(COUNTS),
        "last_run": {"kind": "full", "result": "ok", "error": None},
        "problems": [],
    }
    base.update(entry)
    return base


def daemon(alive: bool = True, **fields: Any) -> dict[str, Any]:
    return {"alive": alive, "updated": "2026-12-02T11:50:00Z", "consecutive_failures": 0, **fields}


def test_up_to_date_with_skipped_items_is_0() -> None:
    assert verdict({"pairs": [pair(), pair("b", daemon=daemon())]}) == (0, [])


def test_failures_pending_are_1() -> None:
    failed = pair(counts={**COUNTS, "failed": 2})
    assert verdict({"pairs": [failed]}) == (1, ["pair docs: 2 failed"])
    refused = pair(last_run={"kind": "full", "result": "refused", "error": "root is empty"})
    assert verdict({"pairs": [refused]}) == (1, ["pair docs: last full refused: root is empty"])
    failing = pair(daemon=daemon(consecutive_failures=3, last_error="host unreachable"))
    assert verdict({"pairs": [failing]}) == (
        1,
        ["pair docs: daemon failing (3 passes in a row): host unreachable"],
    )
    assert verdict({"pairs": [{"name": "new", "never_synced": True}]}) == (
        1,
        ["pair new: never synced"],
    )


def test_daemon_down_is_3_and_wins() -> None:
    down = pair(daemon=daemon(alive=False), counts={**COUNTS, "failed": 1})
    code, lines = verdict({"pairs": [pair("a"), down]})
    assert code == 3
    assert lines == [
        "pair docs: daemon not running (last seen 2026-12-02T11:50:00Z)",
        "pair docs: 1 failed",
    ]
    # A pair only ever synced by cron reconciles has no daemon record: never "down".
    assert verdict({"pairs": [pair()]})[0] == 0


def test_times_are_iso_8601_utc() -> None:
    assert _when(1796212200.0) == "2026-12-02T11:50:00Z"
    assert _when(None) is None
