"""Versioned names: how a file (or folder) that left the live tree is named in the versions area.

A version keeps its original name and carries the UTC interval it was live, with the extension
last (the host's web site previews by extension)::

    report.pdf  ->  report~v20240102T030405.678Z-20240109T101112.131Z~.pdf
    Makefile    ->  Makefile~v20240102T030405.678Z-20240109T101112.131Z~

Rules, and why:

* **Parsed from the right.** The extension holds no ``~``, so the last ``~`` of a versioned name
  closes the tag, and the tag (fixed format, no ``~`` inside) is what precedes it. Any original
  name parses back exactly, including names that contain ``~`` or something that looks like a
  tag.
* **Survives the host's cleaning.** Versions are renamed with ``file/edit``/``folder/edit``,
  whose ``filename``/``folder_name`` go through PHP ``trim(strip_tags())``
  (docs/architecture.md, "The host"). When the plain form would be altered (a ``<`` opening a
  tag, leading whitespace, control characters), the tag says ``~e`` instead of ``~v`` and the
  stem is percent-encoded (``%``, ``<``, control characters and the characters PHP trims).
* **Within 255 characters.** A stem too long for the tag is shortened and the tag carries the
  first 8 hex digits of the SHA-1 of the full original name (``~v…Z-…Z-1a2b3c4d~``), so a
  shortened version still matches its live file or its siblings by that digest.
* **Sorts by time.** Times are fixed width (UTC, milliseconds), FROM before TO: the versions of
  one name sort oldest first by plain string order.

This module is pure (no I/O) and sits in the lowest import layer.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

VERSIONS_DIR = ".syncd-versions"
"""The versions area: a folder of that name in the pair's remote folder, mirroring its tree."""

MAX_NAME = 255  # characters; the host's name columns (and every local filesystem) stop there
MAX_EXT = 16  # characters after the dot kept as the extension
_PHP_TRIM = " \t\n\r\0\x0b"
_C_SPACE = frozenset(" \t\n\r\x0b\x0c")
_STAMP = r"\d{8}T\d{6}\.\d{3}Z"
_TAG_AT_END = re.compile(rf"~([ve])({_STAMP})-({_STAMP})(?:-([0-9a-f]{{8}}))?~\Z")
_EXT = re.compile(r"\.[A-Za-z0-9_+-]{1,16}\Z")
_ESCAPE = frozenset("%<" + _PHP_TRIM) | frozenset(chr(c) for c in range(0x20)) | {"\x7f"}


@dataclass(frozen=True, slots=True)
class VersionName:
    """A parsed versioned name."""

    original: str  # the name it had in the live tree (shortened when ``name_hash`` is set)
    live_from_ns: int  # UTC, nanoseconds since the epoch (millisecond precision)
    live_to_ns: int
    name_hash: str | None = None  # set when the original was too long and was shortened

    @property
    def shortened(self) -> bool:
        return self.name_hash is not None

    def matches(self, name: str) -> bool:
        """True when ``name`` (a live name) is the original this version was made from."""
        if self.name_hash is None:
            return name == self.original
        return name_digest(name) == self.name_hash


def name_digest(name: str) -> str:
    """The 8 hex digits a shortened version carries of its full original name."""
    return hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def format_stamp(ns: int) -> str:
    """UTC, millisecond precision, fixed width: ``20240102T030405.678Z``."""
    ms = ns // 1_000_000
    moment = datetime.fromtimestamp(ms // 1000, UTC)
    return f"{moment:%Y%m%dT%H%M%S}.{ms % 1000:03d}Z"


def parse_stamp(stamp: str) -> int:
    moment = datetime.strptime(stamp[:15], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    return (int(moment.timestamp()) * 1000 + int(stamp[16:19])) * 1_000_000


def split_ext(name: str, *, is_folder: bool = False) -> tuple[str, str]:
    """(stem, extension) as versioned names keep them: an extension is a final ``.`` and 1 to
    16 letters, digits or ``_+-``, never the whole name (``.bashrc`` has none); folders have
    none."""
    if is_folder:
        return name, ""
    match = _EXT.search(name)
    if match is None or match.start() == 0:
        return name, ""
    return name[: match.start()], name[match.start() :]


def _escape(text: str) -> str:
    return "".join(f"%{ord(c):02X}" if c in _ESCAPE else c for c in text)


def _unescape(text: str) -> str:
    return re.sub(r"%([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), text)


def cleaned_by_host(name: str) -> bool:
    """True when PHP ``trim(strip_tags(name))`` would change ``name`` (the form-field rule of
    ``syncd.local.names``, repeated here because this package sits below it)."""
    if name != name.strip(_PHP_TRIM):
        return True
    start = 0
    while (i := name.find("<", start)) >= 0:
        if i + 1 >= len(name) or name[i + 1] not in _C_SPACE:
            return True
        start = i + 1
    return False


def versioned_name(
    name: str, live_from_ns: int, live_to_ns: int, *, is_folder: bool = False
) -> str:
    """The name a version of ``name`` gets in the versions area (see the module docstring)."""
    if not name:
        raise ValueError("a versioned name needs an original name")
    stem, ext = split_ext(name, is_folder=is_folder)
    stamps = f"{format_stamp(live_from_ns)}-{format_stamp(live_to_ns)}"
    escaped = cleaned_by_host(f"{stem}~v{stamps}~{ext}") or any(
        ord(c) < 0x20 or c == "\x7f" for c in stem
    )
    flag = "e" if escaped else "v"

    def body_of(text: str) -> str:
        return _escape(text) if escaped else text

    tag = f"~{flag}{stamps}~"
    if len(body_of(stem)) + len(tag) + len(ext) <= MAX_NAME:
        return body_of(stem) + tag + ext
    tag = f"~{flag}{stamps}-{name_digest(name)}~"
    budget = MAX_NAME - len(tag) - len(ext)
    cut = stem[:budget]
    while len(body_of(cut)) > budget:
        cut = cut[:-1]
    return body_of(cut) + tag + ext


def parse_versioned_name(versioned: str) -> VersionName | None:
    """The original name and live interval of a versioned name; None when ``versioned`` is not
    one (a foreign file in the versions area)."""
    last = versioned.rfind("~")
    if last < 0:
        return None
    ext = versioned[last + 1 :]
    if ext and _EXT.fullmatch(ext) is None:
        return None
    head = versioned[: last + 1]
    match = _TAG_AT_END.search(head)
    if match is None:
        return None
    body = head[: match.start()]
    if not body:
        return None
    flag, start, end, digest = match.groups()
    stem = _unescape(body) if flag == "e" else body
    try:
        live_from, live_to = parse_stamp(start), parse_stamp(end)
    except ValueError:
        return None
    return VersionName(stem + ext, live_from, live_to, digest)
