"""The watcher's coalescing rules, driven with explicit times (no threads, no filesystem)."""

from __future__ import annotations

from syncd.local.coalesce import OVERFLOW, Change, ChangeCoalescer

Q = 0.5


def dirty(path: str, is_dir: bool = False) -> Change:
    return Change("dirty", path, None, is_dir)


def moved(src: str, dest: str, is_dir: bool = False) -> Change:
    return Change("moved", src, dest, is_dir)


def settle(c: ChangeCoalescer, now: float) -> list[Change]:
    return c.pop_ready(now + 100)


def test_burst_on_one_path_is_one_change_after_quiet() -> None:
    c = ChangeCoalescer(Q)
    for i in range(10):
        c.modified("a.txt", i * 0.1, expect_close=False)
    assert c.pop_ready(0.9 + Q - 0.01) == []
    assert c.pop_ready(0.9 + Q) == [dirty("a.txt")]
    assert len(c) == 0


def test_modified_without_close_waits_for_close_or_timeout() -> None:
    c = ChangeCoalescer(Q, unclosed_timeout=10)
    c.modified("f", 0.0, expect_close=True)
    assert c.pop_ready(5.0) == []
    c.closed("f", 6.0)
    assert c.pop_ready(6.0 + Q) == [dirty("f")]
    c.modified("g", 0.0, expect_close=True)
    assert c.pop_ready(9.9) == []
    assert c.pop_ready(10.0) == [dirty("g")]  # a writer that never closes is not waited forever


def test_created_then_deleted_in_window_is_nothing() -> None:
    c = ChangeCoalescer(Q)
    c.created("4913", False, 0.0)
    c.deleted("4913", False, 0.01)
    assert settle(c, 0) == []


def test_deleted_then_recreated_is_one_dirty() -> None:
    c = ChangeCoalescer(Q)
    c.deleted("f", False, 0.0)
    c.created("f", False, 0.1)
    c.closed("f", 0.2)
    assert settle(c, 0) == [dirty("f")]


def test_temp_file_renamed_over_target_is_one_dirty_target() -> None:
    c = ChangeCoalescer(Q)
    c.created("doc.txt.new", False, 0.0)
    c.modified("doc.txt.new", 0.01, expect_close=True)
    c.closed("doc.txt.new", 0.02)
    c.moved("doc.txt.new", "doc.txt", False, 0.03)
    assert settle(c, 0) == [dirty("doc.txt")]


def test_vim_backup_rename_write_delete() -> None:
    c = ChangeCoalescer(Q)
    c.moved("doc.txt", "doc.txt~", False, 0.0, dest_ignored=True)
    c.created("doc.txt", False, 0.01)
    c.modified("doc.txt", 0.02, expect_close=True)
    c.closed("doc.txt", 0.03)
    assert settle(c, 0) == [dirty("doc.txt")]


def test_backup_name_not_ignored_still_ends_as_target_update() -> None:
    c = ChangeCoalescer(Q)
    c.moved("doc.txt", "doc.txt.bak", False, 0.0)
    c.created("doc.txt", False, 0.01)
    c.closed("doc.txt", 0.02)
    c.deleted("doc.txt.bak", False, 0.03)
    assert settle(c, 0) == [dirty("doc.txt")]


def test_move_chain_collapses_and_move_back_vanishes() -> None:
    c = ChangeCoalescer(Q)
    c.moved("a", "b", False, 0.0)
    c.moved("b", "c", False, 0.1)
    assert settle(c, 0) == [moved("a", "c")]
    c.moved("x", "y", True, 0.0)
    c.moved("y", "x", True, 0.1)
    assert settle(c, 0) == []


def test_swap_through_temporary_name_keeps_sequence() -> None:
    c = ChangeCoalescer(Q)
    c.moved("a", "tmp", False, 0.0)
    c.moved("b", "a", False, 0.1)
    c.moved("tmp", "b", False, 0.2)
    out = settle(c, 0)
    # Applied in order these are valid: a->tmp, b->a, tmp->b.
    assert out == [moved("a", "tmp"), moved("b", "a"), moved("tmp", "b")]


def test_directory_move_absorbs_child_moves_reported_first() -> None:
    # PollingObserver reports children's moves before the directory's.
    c = ChangeCoalescer(Q)
    for i in range(3):
        c.moved(f"d/f{i}", f"e/f{i}", False, 0.0)
    c.moved("d", "e", True, 0.0)
    c.moved("d/f9", "e/f9", False, 0.01)  # and one after it
    assert settle(c, 0) == [moved("d", "e", True)]


def test_pending_edits_follow_a_moved_directory() -> None:
    c = ChangeCoalescer(Q)
    c.modified("d/f", 0.0, expect_close=False)
    c.moved("d", "e", True, 0.1)
    assert settle(c, 0) == [moved("d", "e", True), dirty("e/f")]


def test_new_directory_covers_its_subtree_and_waits_for_writers() -> None:
    c = ChangeCoalescer(Q, unclosed_timeout=10)
    c.created("new", True, 0.0)
    c.created("new/sub", True, 0.01)
    c.created("new/sub/f", False, 0.02)
    c.modified("new/sub/f", 0.03, expect_close=True)
    assert c.pop_ready(2.0) == []  # f still open
    c.closed("new/sub/f", 3.0)
    assert c.pop_ready(3.0 + Q) == [dirty("new", True)]


def test_new_directory_moved_is_dirty_destination() -> None:
    c = ChangeCoalescer(Q)
    c.created("tmpdir", True, 0.0)
    c.created("tmpdir/f", False, 0.01)
    c.moved("tmpdir", "final", True, 0.02)
    assert settle(c, 0) == [dirty("final", True)]


def test_moves_to_and_from_ignored_names() -> None:
    c = ChangeCoalescer(Q)
    c.moved("a.part", "a.iso", False, 0.0, src_ignored=True)
    c.moved("b", "b.swp", False, 0.0, dest_ignored=True)
    c.moved("x.swp", "y.swp", False, 0.0, src_ignored=True, dest_ignored=True)
    assert settle(c, 0) == [dirty("a.iso"), dirty("b")]


def test_moves_come_before_dirty_paths_and_overflow_first() -> None:
    c = ChangeCoalescer(Q)
    c.modified("z", 0.0, expect_close=False)
    c.moved("a", "b", False, 0.0)
    c.overflow()
    assert c.next_due() == 0.0
    assert settle(c, 0) == [OVERFLOW, moved("a", "b"), dirty("z")]


def test_next_due() -> None:
    c = ChangeCoalescer(Q)
    assert c.next_due() is None
    c.created("f", False, 1.0)
    assert c.next_due() == 1.0 + Q


def test_edits_beneath_a_moved_directory_wait_for_the_move() -> None:
    # The edit is older than the move: on its own it would be due first, but handed out first it
    # names a path (e/f) the consumer cannot know yet, and the move applied after it would put
    # the directory's old content over what the edit synced.
    c = ChangeCoalescer(Q)
    c.modified("d/f", 0.0, expect_close=False)
    c.moved("d", "e", True, 0.4)
    assert c.pop_ready(0.0 + Q) == []
    assert c.next_due() == 0.4 + Q
    assert c.pop_ready(0.4 + Q) == [moved("d", "e", True), dirty("e/f")]


def test_a_new_directory_waits_for_a_move_into_it() -> None:
    c = ChangeCoalescer(Q)
    c.created("n", True, 0.0)
    c.moved("old/f", "n/f", False, 0.4)
    assert c.pop_ready(0.0 + Q) == []
    assert c.pop_ready(0.4 + Q) == [moved("old/f", "n/f"), dirty("n", True)]


def test_a_path_waits_for_every_earlier_move_it_is_part_of() -> None:
    # Moves leave in the order they happened; one held back by a later chained event holds back
    # the dirty paths it touches, not unrelated ones.
    c = ChangeCoalescer(Q)
    c.moved("a", "b", True, 0.0)
    c.modified("b/f", 0.1, expect_close=False)
    c.modified("z", 0.1, expect_close=False)
    c.moved("b", "c", True, 0.6)  # chained: one move a -> c, last event 0.6
    assert c.pop_ready(0.1 + Q) == [dirty("z")]
    assert c.pop_ready(0.6 + Q) == [moved("a", "c", True), dirty("c/f")]


def test_a_path_made_before_an_overflow_is_no_longer_unheard_of() -> None:
    # The full pass the overflow asks for may upload it: its removal must be reported then.
    c = ChangeCoalescer(Q)
    c.created("tmp", False, 0.0)
    c.overflow()
    assert c.pop_ready(0.0) == [OVERFLOW]
    c.deleted("tmp", False, 0.1)
    assert c.pop_ready(0.1 + Q) == [dirty("tmp")]
