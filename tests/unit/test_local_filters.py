"""`max_size` and `exclude_if_present`: the config's parsing, and the scanner skipping (not
ignoring) what they exclude, so the engine never mistakes it for a deletion."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.config import load_config, parse_size
from syncd.errors import ConfigError
from syncd.local.scanner import (
    EXCLUDED_BY_MARKER,
    OVER_MAX_SIZE,
    LocalFilters,
    ScanIssue,
    scan_dir,
    walk,
)

KEY = "k" * 64


@pytest.mark.parametrize(
    ("text", "size"),
    [("2G", 2 * 1024**3), ("500M", 500 * 1024**2), ("1.5k", 1536), ("10KiB", 10240),
     ("3 MB", 3 * 1024**2), ("4096", 4096), (4096, 4096), ("off", None), (None, None)],
)  # fmt: skip
def test_sizes(text: object, size: int | None) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("bad", ["2X", "-1", "G", 0, True, "1.2.3"])
def test_bad_sizes(bad: object) -> None:
    with pytest.raises(ValueError, match="size"):
        parse_size(bad)


def load(tmp_path: Path, pair_extra: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.toml"
    path.write_text(
        f'[remote]\napi_url = "https://h/api/v2/"\nkey1 = "{KEY}"\nkey2 = "{KEY}"\n'
        f'[[pairs]]\nname = "p"\nlocal = "."\nremote = "R"\n{pair_extra}\n',
        encoding="utf-8",
    )
    path.chmod(0o600)
    return load_config(path, env={}, warn=False)


def test_config_keys(tmp_path: Path) -> None:
    pair = load(tmp_path, 'max_size = "2G"\nexclude_if_present = ["CACHEDIR.TAG", ".nobackup"]')
    pair = pair.pairs[0]
    assert pair.filters == LocalFilters(2 * 1024**3, ("CACHEDIR.TAG", ".nobackup"))
    assert not load(tmp_path, "").pairs[0].filters  # none set: no filtering at all


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('max_size = "huge"', "pairs[0].max_size: 'huge' is not a size — write a size like"),
        ('exclude_if_present = "X"', "pairs[0].exclude_if_present: expected a list of file names"),
        ('exclude_if_present = ["a/b"]', "pairs[0].exclude_if_present: 'a/b' is not a file name"),
    ],
)
def test_config_errors_are_one_line(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, extra)
    assert message in caught.value.message


def test_scanner_skips_marked_dirs_and_large_files_with_reasons(tmp_path: Path) -> None:
    (tmp_path / "cache" / "deep").mkdir(parents=True)
    (tmp_path / "cache" / ".nobackup").touch()
    (tmp_path / "cache" / "deep" / "x").write_text("x")
    (tmp_path / "big").write_bytes(b"b" * 11)
    (tmp_path / "small").write_bytes(b"s" * 10)
    (tmp_path / "ok").mkdir()
    issues: list[ScanIssue] = []
    filters = LocalFilters(max_size=10, exclude_if_present=(".nobackup",))
    listings = list(walk(tmp_path, filters=filters, on_issue=issues.append))
    assert [d.relpath for d in listings] == ["", "ok"]  # never descends into cache/
    top = listings[0]
    assert [e.name for e in top.entries] == ["ok", "small"]
    assert [(s.name, s.reason) for s in top.skipped] == [
        ("big", OVER_MAX_SIZE),
        ("cache", EXCLUDED_BY_MARKER),
    ]
    assert {(i.relpath, i.reason) for i in issues} == {
        ("big", OVER_MAX_SIZE),
        ("cache", EXCLUDED_BY_MARKER),
    }
    # Without filters everything is listed, as before.
    scanned = scan_dir(tmp_path, "")
    assert scanned is not None
    assert [e.name for e in scanned.entries] == ["big", "cache", "ok", "small"]


def test_excluded_ancestor(tmp_path: Path) -> None:
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / "a" / "b" / "CACHEDIR.TAG").touch()
    filters = LocalFilters(exclude_if_present=("CACHEDIR.TAG",))
    assert filters.excluded_ancestor(str(tmp_path), "a/b/c") == "a/b"
    assert filters.excluded_ancestor(str(tmp_path), "a/b") == "a/b"
    assert filters.excluded_ancestor(str(tmp_path), "a") is None
    assert LocalFilters().excluded_ancestor(str(tmp_path), "a/b/c") is None
