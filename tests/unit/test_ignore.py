"""Ignore rules: every built-in default, config patterns, .syncdignore, negation, the state DB."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.local.ignore import DEFAULT_PATTERNS, IGNORE_FILE_NAME, IgnoreRules


@pytest.fixture()
def rules() -> IgnoreRules:
    return IgnoreRules()


@pytest.mark.parametrize(
    "relpath",
    [
        "notes.txt.swp",
        ".notes.txt.swp",
        "a/b/.x.swo",
        "a/.x.swx",
        "report.odt~",
        "dir/.#lockfile",
        "#autosave#",
        "deep/er/#autosave.txt#",
        "4913",
        "sub/4913",
        ".doc.txt.kate-swp",
        "movie.mkv.part",
        "setup.exe.crdownload",
        ".DS_Store",
        "photos/.DS_Store",
        "Thumbs.db",
        "x/desktop.ini",
        ".syncd-download-1234",
        "a/.syncd-tmp",
    ],
)
def test_each_default_is_ignored(rules: IgnoreRules, relpath: str) -> None:
    assert rules.matches(relpath, is_dir=False)


@pytest.mark.parametrize(
    "relpath",
    ["notes.txt", "data.tmp", "swp", "a.swp.txt", "49130", "#notclosed", "Thumbs.db.bak", "part"],
)
def test_ordinary_names_are_not_ignored(rules: IgnoreRules, relpath: str) -> None:
    assert not rules.matches(relpath, is_dir=False)


def test_tmp_is_not_a_default() -> None:
    assert "*.tmp" not in DEFAULT_PATTERNS
    assert not IgnoreRules().matches("x.tmp", False)
    assert IgnoreRules(["*.tmp"]).matches("x.tmp", False)


def test_root_is_never_ignored(rules: IgnoreRules) -> None:
    assert not rules.matches("", is_dir=True)


def test_directory_only_pattern_and_everything_beneath() -> None:
    rules = IgnoreRules(["node_modules/"])
    assert rules.matches("node_modules", is_dir=True)
    assert rules.matches("web/node_modules", is_dir=True)
    assert not rules.matches("node_modules", is_dir=False)  # a file of that name is kept
    assert rules.matches("web/node_modules/lodash/index.js", is_dir=False)


def test_anchored_and_path_patterns() -> None:
    rules = IgnoreRules(["/build/", "docs/*.pdf"])
    assert rules.matches("build", True)
    assert not rules.matches("src/build", True)
    assert rules.matches("docs/a.pdf", False)
    assert not rules.matches("docs/x/a.pdf", False)
    assert not rules.matches("a.pdf", False)


def test_negation_reincludes_a_file() -> None:
    rules = IgnoreRules(["*.log", "!important.log"])
    assert rules.matches("debug.log", False)
    assert not rules.matches("important.log", False)
    assert not rules.matches("sub/important.log", False)


def test_negation_can_override_a_default() -> None:
    rules = IgnoreRules(["!keep.swp"])
    assert rules.matches("other.swp", False)
    assert not rules.matches("keep.swp", False)


def test_negation_cannot_reinclude_below_an_ignored_directory() -> None:
    # As in git: once a directory is excluded, nothing below it comes back (the scanner prunes it).
    rules = IgnoreRules(["cache/", "!cache/keep.txt"])
    assert rules.matches("cache/keep.txt", False)
    assert rules.matches("cache/other.txt", False)


def test_later_pattern_wins() -> None:
    rules = IgnoreRules(["!*.bak", "*.bak"])
    assert rules.matches("a.bak", False)


def test_use_defaults_false() -> None:
    rules = IgnoreRules(["*.bak"], use_defaults=False)
    assert not rules.matches("x.swp", False)
    assert rules.matches("x.bak", False)


def test_syncdignore_file_is_read(tmp_path: Path) -> None:
    (tmp_path / IGNORE_FILE_NAME).write_text("# comment\n\n*.iso\n!keep.iso\nbuild/\n")
    rules = IgnoreRules.for_root(tmp_path, ["*.tmp"])
    assert rules.matches("disk.iso", False)
    assert not rules.matches("keep.iso", False)
    assert rules.matches("build", True)
    assert rules.matches("x.tmp", False)
    assert not rules.matches(IGNORE_FILE_NAME, False)  # the rules file itself is synced


def test_syncdignore_overrides_config(tmp_path: Path) -> None:
    (tmp_path / IGNORE_FILE_NAME).write_text("!special.tmp\n")
    rules = IgnoreRules.for_root(tmp_path, ["*.tmp"])
    assert rules.matches("x.tmp", False)
    assert not rules.matches("special.tmp", False)


def test_missing_syncdignore_is_fine(tmp_path: Path) -> None:
    assert not IgnoreRules.for_root(tmp_path).matches("a.txt", False)


def test_state_database_inside_root_is_ignored(tmp_path: Path) -> None:
    db = tmp_path / ".state" / "syncd[1].db"  # glob characters must be taken literally
    rules = IgnoreRules.for_root(tmp_path, state_db=db)
    for suffix in ("", "-wal", "-shm", "-journal"):
        assert rules.matches(f".state/syncd[1].db{suffix}", False)
    assert not rules.matches(".state/syncd1.db", False)
    assert not rules.matches(".state/other.db", False)


def test_state_database_outside_root_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    rules = IgnoreRules.for_root(root, state_db=tmp_path / "state.db")
    assert not rules.matches("state.db", False)


def test_matches_child_equals_matches_for_unignored_parent() -> None:
    rules = IgnoreRules(["*.o", "/top.txt", "a/b/"])
    cases = [("", "x.o", False), ("src", "x.o", False), ("", "top.txt", False)]
    cases += [("sub", "top.txt", False), ("a", "b", True), ("a", "b", False)]
    for parent, name, is_dir in cases:
        relpath = f"{parent}/{name}" if parent else name
        assert rules.matches_child(parent, name, is_dir) == rules.matches(relpath, is_dir)
