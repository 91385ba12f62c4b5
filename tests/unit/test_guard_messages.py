"""The guards' messages say numbers that make sense and lead with the right advice."""

from __future__ import annotations

from syncd.config import parse_max_delete
from syncd.engine.guards import deletions_refusal, unknown_remote_refusal

HALF = parse_max_delete("50%")


def test_a_count_of_synced_files_is_never_out_of_zero() -> None:
    message = deletions_refusal("docs", 7, 7, 0, HALF)
    assert message is not None
    assert "of 0" not in message and "of the 0" not in message
    assert "7 remote files syncd did not upload" in message


def test_synced_and_untracked_deletions_are_told_apart() -> None:
    message = deletions_refusal("docs", 8, 2, 12, HALF)
    assert message is not None and "6 of the 12 synced files and 2 remote files" in message
    assert "syncd approve --pair docs" in message


def test_within_the_limit_nothing_is_said() -> None:
    assert deletions_refusal("docs", 6, 0, 12, HALF) is None
    assert deletions_refusal("docs", 0, 0, 0, HALF) is None


def test_a_journal_that_knows_nothing_leads_with_adopt_existing() -> None:
    message = unknown_remote_refusal("docs", "Backup/docs", 7, 0)
    assert message is not None
    assert message.index("--adopt-existing") < message.index("--force-deletes")
    assert "knows nothing of the 7 files" in message and "name and size" in message
    assert unknown_remote_refusal("docs", "Backup/docs", 7, 3) is None  # it knows something
    assert unknown_remote_refusal("docs", "Backup/docs", 0, 0) is None  # nothing there
