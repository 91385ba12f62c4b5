"""remote_name_issue: which names the host stores exactly (trim/strip_tags for form fields)."""

from __future__ import annotations

import pytest

from syncd.local.names import (
    form_name_issue,
    remote_name_issue,
    upload_name_issue,
    would_strip_tags_change,
)

FORM_CASES = [
    ("Photos", False),
    ("a b", False),
    ("x < y", False),  # '<' followed by a space is not a tag
    ("a > b", False),  # a lone '>' is kept
    ("a<b>c", True),
    ("<b>", True),
    ("tail<", True),  # '<' at the end opens an unclosed tag
    ("a<!-- c -->", True),
    (" lead", True),
    ("trail ", True),
    ("tab\t", True),
    ("\x0bvt", True),
    ("form\x0cfeed", False),  # PHP trim() does not strip \f; inside, it is just a character
    ("\u00a0nbsp", False),  # nor Unicode spaces
    ("", True),
]


@pytest.mark.parametrize(("name", "changed"), FORM_CASES)
def test_form_name_issue(name: str, changed: bool) -> None:
    assert (form_name_issue(name) is not None) == changed


@pytest.mark.parametrize(("name", "changed"), FORM_CASES)
def test_agrees_with_emulator_cleaning(name: str, changed: bool) -> None:
    sanitize = pytest.importorskip("syncd.emulator.sanitize")
    assert (sanitize.clean_field(name) != name) == changed or name == ""


def test_strip_tags_predicate() -> None:
    assert would_strip_tags_change("<")
    assert not would_strip_tags_change("a <  b")
    assert would_strip_tags_change("a < b <c")


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("a <b> c.txt", True),
        (" spaced.txt ", True),
        ("résumé.pdf", True),
        ("back\\slash", False),
        ('q"uote', False),
        ("new\nline", False),
        ("", False),
    ],
)
def test_upload_name_issue(name: str, ok: bool) -> None:
    assert (upload_name_issue(name) is None) == ok


def test_remote_name_issue_by_kind() -> None:
    assert remote_name_issue("a<b>c.txt", "file") is None
    assert remote_name_issue("a<b>c", "dir") is not None
    assert remote_name_issue(" x", "file") is None
    assert remote_name_issue(" x", "dir") is not None
    assert remote_name_issue("a\\b", "file") is not None
    reason = remote_name_issue("trail ", "dir")
    assert reason is not None and "trim" in reason
