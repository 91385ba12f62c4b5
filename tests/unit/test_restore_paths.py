"""Path safety of restore: remote names never escape DEST and never collide silently."""

from __future__ import annotations

import os
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.restore.paths import (
    MAX_NAME_BYTES,
    TEMP_PREFIX,
    RemoteEntry,
    is_inside,
    make_fold,
    numbered_name,
    place_entries,
    sanitise_name,
)

CASE_FOLD = make_fold(case_insensitive=True, normalization_insensitive=True)


@pytest.mark.parametrize(
    ("remote", "local"),
    [
        ("plain.txt", "plain.txt"),
        ("../evil", ".._evil"),
        ("a/b", "a_b"),
        ("/abs", "_abs"),
        ("back\\slash", "back_slash"),
        ("x\x00y", "x_y"),
        ("bell\x07\x1f\x7f", "bell___"),
        (".", "_."),
        ("..", "_.."),
        ("...", "..."),
        ("CON", "CON"),  # harmless on POSIX
        ("naïve café.txt", "naïve café.txt"),
        ("\ud800lone", "_lone"),
        (TEMP_PREFIX + "x.part", "_" + TEMP_PREFIX + "x.part"),
    ],
)
def test_sanitise_name(remote: str, local: str) -> None:
    safe = sanitise_name(remote)
    assert safe.name == local
    assert (safe.reason is None) == (remote == local)


@pytest.mark.parametrize(
    ("remote", "local"),
    [
        ("CON", "CON_"),
        ("con.txt", "con_.txt"),
        ("LPT1", "LPT1_"),
        ("trailing. ", "trailing__"),
        ('what?<>:"|*', "what_______"),
        ("CONSOLE", "CONSOLE"),
    ],
)
def test_sanitise_name_windows_rules(remote: str, local: str) -> None:
    assert sanitise_name(remote, windows_rules=True).name == local


def test_empty_name_is_skipped() -> None:
    safe = sanitise_name("")
    assert safe.name is None
    assert safe.reason == "empty name"


def test_long_name_is_shortened_keeping_extension_on_char_boundary() -> None:
    name = "é" * 200 + ".txt"  # 404 bytes
    safe = sanitise_name(name)
    assert safe.name is not None
    assert len(safe.name.encode()) <= MAX_NAME_BYTES
    assert safe.name.endswith(".txt")
    assert "shortened" in (safe.reason or "")


def test_numbered_name() -> None:
    assert numbered_name("a.txt", 2, is_folder=False) == "a (2).txt"
    assert numbered_name(".bashrc", 3, is_folder=False) == ".bashrc (3)"
    assert numbered_name("v1.2", 2, is_folder=True) == "v1.2 (2)"
    long = "x" * 250 + ".txt"
    assert len(numbered_name(long, 12, is_folder=False).encode()) <= MAX_NAME_BYTES


def test_duplicates_the_newest_upload_keeps_the_name() -> None:
    entries = [RemoteEntry(9, "a.txt", False), RemoteEntry(4, "a.txt", False)]
    placed = place_entries(entries)
    assert [p.local_name for p in placed] == ["a.txt", "a (2).txt"]
    assert "duplicate name" in (placed[1].note or "")
    assert placed[0].note is None and not placed[0].renamed


def test_case_collision_only_on_case_insensitive_fs() -> None:
    entries = [RemoteEntry(1, "a.txt", False), RemoteEntry(2, "A.txt", False)]
    assert [p.local_name for p in place_entries(entries)] == ["a.txt", "A.txt"]
    placed = place_entries(entries, fold=CASE_FOLD)
    assert [p.local_name for p in placed] == ["a.txt", "A (2).txt"]
    assert "case" in (placed[1].note or "")


def test_unicode_forms_collide_on_normalizing_fs() -> None:
    nfc = unicodedata.normalize("NFC", "é.txt")
    nfd = unicodedata.normalize("NFD", "é.txt")
    entries = [RemoteEntry(1, nfc, False), RemoteEntry(2, nfd, False)]
    assert len({p.local_name for p in place_entries(entries)}) == 2
    fold = make_fold(case_insensitive=False, normalization_insensitive=True)
    placed = place_entries(entries, fold=fold)
    assert placed[1].local_name == unicodedata.normalize("NFD", "é (2).txt")


def test_unchanged_name_beats_sanitised_one_and_numbers_skip_real_names() -> None:
    entries = [
        RemoteEntry(1, "a/b", False),  # sanitises to a_b, would take it by id
        RemoteEntry(2, "a_b", False),  # but the real a_b keeps its name
        RemoteEntry(3, "a_b (2)", False),  # a real remote name the numbering must not reuse
    ]
    placed = {p.entry.id: p for p in place_entries(entries)}
    assert placed[2].local_name == "a_b"
    assert placed[3].local_name == "a_b (2)"
    assert placed[1].local_name == "a_b (3)"
    assert "separator" in (placed[1].note or "") and "same local name" in (placed[1].note or "")


def test_folder_beats_file_of_same_name() -> None:
    entries = [RemoteEntry(1, "docs", False), RemoteEntry(50, "docs", True)]
    placed = {p.entry.is_folder: p for p in place_entries(entries)}
    assert placed[True].local_name == "docs"
    assert placed[False].local_name == "docs (2)"


def test_skipped_entries_are_reported() -> None:
    (placed,) = place_entries([RemoteEntry(1, "", False)])
    assert placed.skipped and placed.note == "skipped: empty name"


def test_is_inside() -> None:
    assert is_inside("/dest", "/dest")
    assert is_inside("/dest", "/dest/a/../b")
    assert not is_inside("/dest", "/dest/../etc")
    assert not is_inside("/dest", "/destination")
    assert not is_inside("/dest", "relative")


names = st.lists(
    st.sampled_from([*"aAbB./\\\x00\x01 é\u0301", "..", "/..", "(2)"]), max_size=8
).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(names, st.booleans()), max_size=12), st.booleans())
def test_placements_are_safe_unique_and_deterministic(
    raw: list[tuple[str, bool]], case_insensitive: bool
) -> None:
    fold = make_fold(case_insensitive=case_insensitive, normalization_insensitive=case_insensitive)
    entries = [RemoteEntry(i, name, is_dir) for i, (name, is_dir) in enumerate(raw)]
    placed = place_entries(entries, fold=fold)
    assert [p.entry for p in placed] == entries
    local = [p.local_name for p in placed if p.local_name is not None]
    assert len({fold(n) for n in local}) == len(local)  # never two entries on one local file
    for p in placed:
        if p.local_name is None:
            assert p.entry.name == "" and p.note
            continue
        name = p.local_name  # one safe path component: it cannot leave DEST
        assert name not in ("", ".", "..") and not set(name) & {"/", "\\", "\x00"}
        assert os.path.dirname(os.path.join("/dest", name)) == "/dest"
        assert (p.note is None) == (p.local_name == p.entry.name)
    assert place_entries(list(reversed(entries)), fold=fold) == list(reversed(placed))
