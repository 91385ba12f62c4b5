"""Pure rules that turn remote names into safe, unique local names for restore.

The host holds any name (drift through the web site, other clients): "../evil", "a/b", "x\\x00y",
two "a.txt" in one folder, "A.txt" beside "a.txt". Restore must never write outside DEST and
never overwrite silently, so every remote name goes through :func:`sanitise_name` (one path
component, no separators, no control characters, never "." or "..") and every folder's entries
through :func:`place_entries` (one local name per entry, collisions renamed `name (2).ext`).
Everything here is pure: no I/O, deterministic for a given listing (a resumed restore picks the
same local names as the interrupted one).
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from syncd.local.markers import TEMP_PREFIX

MAX_NAME_BYTES = 255  # NAME_MAX on Linux, macOS and Windows (in UTF-8 / UTF-16 units)

_WINDOWS_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"COM{i}" for i in range(1, 10)]
    + [f"LPT{i}" for i in range(1, 10)]
)
_WINDOWS_BAD_CHARS = frozenset('<>:"|?*')


@dataclass(frozen=True, slots=True)
class SafeName:
    """A remote name made safe for one local path component.

    ``name`` is None when the entry must be skipped; ``reason`` says why it changed (None when
    the remote name is used as it is).
    """

    name: str | None
    reason: str | None = None


def _is_bad_char(ch: str, windows_rules: bool) -> bool:
    code = ord(ch)
    if ch in "/\\" or code < 0x20 or code == 0x7F:
        return True
    if 0xD800 <= code <= 0xDFFF:  # lone surrogate from JSON: cannot be encoded on disk
        return True
    return windows_rules and ch in _WINDOWS_BAD_CHARS


def _shorten(name: str, max_bytes: int = MAX_NAME_BYTES) -> str:
    """Cut ``name`` to ``max_bytes`` of UTF-8 on a character boundary, keeping a short extension."""
    stem, ext = os.path.splitext(name)
    if len(ext.encode()) > 16:
        stem, ext = name, ""
    budget = max_bytes - len(ext.encode())
    encoded = stem.encode()[:budget]
    return encoded.decode("utf-8", errors="ignore") + ext


def sanitise_name(remote_name: str, *, windows_rules: bool = False) -> SafeName:
    """Map one remote name to one safe local path component (or to a skip).

    Rules, in order: `/`, `\\`, NUL, control characters and lone surrogates become `_` (so
    "../evil" -> ".._evil" and "/abs" -> "_abs"); "." and ".." become "_." and "_.."; our own temp
    prefix gets a leading `_`; with ``windows_rules``, `<>:"|?*`, trailing dots/spaces and
    reserved device names (CON, NUL, COM1, ...) are changed too; names over 255 bytes are
    shortened. An empty name is skipped.
    """
    if remote_name == "":
        return SafeName(None, "empty name")
    reasons: list[str] = []
    chars = [("_" if _is_bad_char(ch, windows_rules) else ch) for ch in remote_name]
    name = "".join(chars)
    if name != remote_name:
        reasons.append("path separator or control character replaced by '_'")
    if name in (".", ".."):
        name = "_" + name
        reasons.append("'.' and '..' are not file names")
    if name.startswith(TEMP_PREFIX):
        name = "_" + name
        reasons.append("name reserved for restore's temporary files")
    if windows_rules:
        stripped = name.rstrip(". ")
        if stripped != name:
            name = stripped + "_" * (len(name) - len(stripped))
            reasons.append("trailing dot or space not allowed on Windows")
        base, dot, rest = name.partition(".")
        if base.rstrip(" ").upper() in _WINDOWS_RESERVED:
            name = base + "_" + dot + rest
            reasons.append("reserved device name on Windows")
    if len(name.encode()) > MAX_NAME_BYTES:
        name = _shorten(name)
        reasons.append(f"longer than {MAX_NAME_BYTES} bytes, shortened")
    return SafeName(name, "; ".join(reasons) or None)


def numbered_name(name: str, n: int, *, is_folder: bool) -> str:
    """The n-th alternative of a taken name: 'a.txt' -> 'a (2).txt', folder 'v1.2' -> 'v1.2 (2)'."""
    stem, ext = os.path.splitext(name)
    if is_folder or ext == ".":
        stem, ext = name, ""  # folders and names like '_..' have no extension to keep
    suffix = f" ({n})"
    candidate = f"{stem}{suffix}{ext}"
    if len(candidate.encode()) > MAX_NAME_BYTES:
        stem = _shorten(stem, MAX_NAME_BYTES - len((suffix + ext).encode()))
        candidate = f"{stem}{suffix}{ext}"
    return candidate


def make_fold(*, case_insensitive: bool, normalization_insensitive: bool) -> Callable[[str], str]:
    """The key under which the destination filesystem considers two names the same file."""

    def fold(name: str) -> str:
        if normalization_insensitive or case_insensitive:
            name = unicodedata.normalize("NFC", name)
        if case_insensitive:
            name = name.casefold()
        return name

    return fold


def identity(name: str) -> str:
    return name


@dataclass(frozen=True, slots=True)
class RemoteEntry:
    """What placement needs to know of one listing row."""

    id: int
    name: str
    is_folder: bool


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one remote entry goes: ``local_name`` None means skipped; ``note`` says why it
    was renamed or skipped (None when the remote name is used unchanged)."""

    entry: RemoteEntry
    local_name: str | None
    note: str | None = None

    @property
    def renamed(self) -> bool:
        return self.local_name is not None and self.local_name != self.entry.name

    @property
    def skipped(self) -> bool:
        return self.local_name is None


def place_entries(
    entries: Iterable[RemoteEntry],
    *,
    fold: Callable[[str], str] = identity,
    windows_rules: bool = False,
) -> list[Placement]:
    """Give every entry of one remote folder a distinct, safe local name.

    Files and folders share one namespace. Who keeps a contested name is decided by a stated,
    stable rule: names used unchanged before sanitised ones, folders before files, then the
    older name (its first upload's id), and of exact duplicates the newest upload (higher id).
    The others get `name (2).ext`, `name (3).ext`, ..., never a name another entry of the
    folder claims as it is. Returned in input order.
    """
    items = list(entries)
    safe = [sanitise_name(e.name, windows_rules=windows_rules) for e in items]
    # Of exact same-name duplicates (nothing unique on the host, and nobody can tell which is
    # current), the newest upload (the higher id) keeps the name: the last one written is the
    # likeliest current content. Different names that collide only here: the older one.
    first_id: dict[tuple[str, bool], int] = {}
    for e in items:
        key = (e.name, e.is_folder)
        first_id[key] = min(first_id.get(key, e.id), e.id)
    order = sorted(
        (i for i, s in enumerate(safe) if s.name is not None),
        key=lambda i: (
            safe[i].reason is not None,
            not items[i].is_folder,
            first_id[(items[i].name, items[i].is_folder)],
            -items[i].id,
        ),
    )
    winner: dict[str, int] = {}
    for i in order:
        winner.setdefault(fold(safe[i].name or ""), i)
    used = set(winner)

    result: list[Placement | None] = [None] * len(items)
    for i, s in enumerate(safe):
        if s.name is None:
            result[i] = Placement(items[i], None, f"skipped: {s.reason}")
    for i in order:
        name = safe[i].name or ""
        key = fold(name)
        first = winner[key]
        if first == i:
            result[i] = Placement(items[i], name, safe[i].reason)
            continue
        n = 2
        while fold(candidate := numbered_name(name, n, is_folder=items[i].is_folder)) in used:
            n += 1
        used.add(fold(candidate))
        rival = items[first].name
        if rival == items[i].name:
            # Say which upload got which name: nothing else tells the user which is which.
            why = (
                f"duplicate name {rival!r} in the remote folder: id {items[i].id} is written "
                f"here; id {items[first].id}, the newest upload, keeps the name"
                if items[first].id > items[i].id
                else f"duplicate name {rival!r} in the remote folder: id {items[i].id} is "
                f"written here; id {items[first].id} keeps the name"
            )
        elif safe[first].name == name:
            why = f"same local name as {rival!r}"
        else:
            why = f"same file as {rival!r} on this filesystem (case or Unicode form ignored)"
        note = "; ".join(r for r in (safe[i].reason, why) if r)
        result[i] = Placement(items[i], candidate, note)
    return [p for p in result if p is not None]


def is_inside(root: str, candidate: str) -> bool:
    """True when the absolute ``candidate`` is ``root`` or below it (lexically, no I/O)."""
    root_n = os.path.normpath(root)
    cand_n = os.path.normpath(candidate)
    try:
        return os.path.commonpath([root_n, cand_n]) == root_n
    except ValueError:  # different drives, or mixing absolute and relative
        return False
