"""Which local names the host can hold exactly as they are.

Facts (docs/architecture.md, "The host, as it really behaves"; the PHP and httpx sources):

* Every *form field* is cleaned with PHP `trim(strip_tags(value))`. That covers `folder/create`'s
  and `folder/edit`'s `folder_name` and `file/edit`'s `filename`. `trim` removes
  `" \\t\\n\\r\\0\\x0b"` at both ends (not `\\f`, not Unicode spaces). `strip_tags` removes a tag
  that starts at any `<` *not* followed by whitespace (a `<` at the very end counts as a tag
  start too, and an unclosed tag swallows the rest of the name); a lone `>` is kept.
* An *uploaded file's* name comes from the multipart `Content-Disposition` header and is not
  cleaned that way, so `a <b> c.txt` or ` x.txt` upload fine. But:
  - PHP keeps only the part after the last `/` or `\\` of an upload's filename, so a local name
    containing a backslash arrives truncated;
  - httpx encodes `"` as `%22` and control characters (U+0000–U+001F except ESC) as `%XX` in that
    header (the HTML5 form rule) and PHP does not decode them, so such names arrive altered.

So: a directory name is held exactly iff `trim(strip_tags(name)) == name`; a file name is held
exactly on upload iff it has no backslash, double quote or control character — but renaming a
file in place (`file/edit`) applies the form-field cleaning, so a file whose name has tags or
surrounding spaces can be uploaded under its name but cannot be *renamed to* it: re-upload
instead (see `form_name_issue`).
"""

from __future__ import annotations

import re
from typing import Literal

EntryKind = Literal["file", "dir"]

# PHP trim()'s default character list.
PHP_TRIM_CHARS = " \t\n\r\0\x0b"
# C isspace(): what PHP strip_tags accepts after '<' for it not to open a tag.
_C_SPACE = frozenset(" \t\n\r\x0b\x0c")
_CONTROL = frozenset(chr(c) for c in range(0x20))
_UPLOAD_ALTERED = re.compile('[\\\\"\x00-\x1f]')  # any character upload_name_issue objects to


def would_strip_tags_change(name: str) -> bool:
    """True if PHP `strip_tags` would alter `name`: it holds a `<` that opens a tag."""
    start = 0
    while True:
        i = name.find("<", start)
        if i < 0:
            return False
        if i + 1 >= len(name) or name[i + 1] not in _C_SPACE:
            return True
        start = i + 1


def form_name_issue(name: str) -> str | None:
    """Why the host would store `name` differently when it is sent as a form field
    (`folder/create`, `folder/edit`, `file/edit` renames), or None if it is kept as is."""
    if not name:
        return "empty name"
    if would_strip_tags_change(name):
        return "contains '<' opening an HTML tag; the host strips tags from folder names, renames"
    if name != name.strip(PHP_TRIM_CHARS):
        return "leading or trailing whitespace; the host trims folder names and renames"
    return None


def upload_name_issue(name: str) -> str | None:
    """Why an uploaded file named `name` would be stored under another name, or None."""
    if not name:
        return "empty name"
    if _UPLOAD_ALTERED.search(name) is None:
        return None  # the common case, answered by one regex scan (asked for every file)
    if "\\" in name:
        return "contains a backslash; the host keeps only the part after it"
    if '"' in name:
        return "contains a double quote; it is sent as %22 and stored that way"
    if any(c in _CONTROL for c in name):
        return "contains a control character; it is sent %-encoded and stored that way"
    return None


def remote_name_issue(name: str, kind: EntryKind) -> str | None:
    """Why the host cannot hold `name` for an entry of `kind` exactly, or None if it can.

    - `"dir"`: folders are created by `folder/create`, a form field → `form_name_issue`.
    - `"file"`: files are created by upload → `upload_name_issue`. Names with tags or surrounding
      spaces ARE syncable as files. (A rename via `file/edit` to such a name is not exact: check
      `form_name_issue` before choosing a rename over a re-upload.)

    The scanner reports a non-None answer as a `ScanIssue(reason="unsyncable_name")` and still
    lists the entry; the engine decides (skip and record the reason, or accept the mangled remote
    name since identity is by id).
    """
    if kind == "dir":
        return form_name_issue(name)
    return upload_name_issue(name)
