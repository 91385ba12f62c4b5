"""The local tree, one directory at a time.

Pure I/O edge: no engine imports. `walk()` is a depth-first generator of `ScannedDir`s, so memory
grows with the largest directory (plus the names of pending subdirectories along the current
path), never with the whole tree.

Order contract for the engine's merge-join: `ScannedDir.entries` are sorted by `entry_sort_key`,
i.e. by the Python `str` name, which is Unicode code-point order — not locale order, not
case-folded. Sort journal rows and remote listings with the same key before joining (the host's
`folder/listing` order comes from a case-insensitive database collation and does NOT match).
SQLite's default BINARY collation compares UTF-8 bytes, which for valid UTF-8 is the same order,
so `ORDER BY name` on the journal matches (names that are not valid UTF-8 never get this far).

Paths handed out are relative to the root, POSIX separators, "" for the root itself.

Nothing here is fatal except a missing/unreadable *root* (the caller's guard handles that):
problems are collected as `ScanIssue`s through the `on_issue` callback and, for entries that exist
but are skipped, also listed in `ScannedDir.skipped` so the engine never mistakes a skipped entry
for a deleted one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat as stat_mod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Protocol

from syncd.history.names import VERSIONS_DIR
from syncd.local.names import remote_name_issue

EntryKind = Literal["file", "dir"]

# ScanIssue.reason values.
PERMISSION_DENIED = "permission_denied"
NOT_UTF8 = "not_utf8"
SYMLINK = "symlink"  # not followed (the default)
SYMLINK_OUTSIDE_ROOT = "symlink_outside_root"
SYMLINK_LOOP = "symlink_loop"
SYMLINK_BROKEN = "symlink_broken"
SPECIAL_FILE = "special_file"  # FIFO, socket, device
UNSYNCABLE_NAME = "unsyncable_name"  # listed anyway; see names.remote_name_issue
IO_ERROR = "io_error"
EXCLUDED_BY_MARKER = "excluded_by_marker"  # a directory holding an exclude_if_present name
OVER_MAX_SIZE = "over_max_size"  # a file larger than the pair's max_size
RESERVED_NAME = "reserved_name"  # the versions area's name: the remote side holds history there


@dataclass(frozen=True, slots=True)
class LocalFilters:
    """A pair's filters beyond ignore patterns (``max_size``, ``exclude_if_present``).

    What they exclude is *skipped*, not ignored: it is listed in ``ScannedDir.skipped`` with
    its reason, so the engine keeps what it synced before (a directory that gains a marker is
    frozen remotely, never trashed) and the summary says why it is not synced."""

    max_size: int | None = None  # bytes; None: no limit
    exclude_if_present: tuple[str, ...] = ()  # marker names, e.g. ("CACHEDIR.TAG", ".nobackup")

    def __bool__(self) -> bool:
        return self.max_size is not None or bool(self.exclude_if_present)

    def marker_in(self, abspath: str) -> str | None:
        """The first marker name present in the directory ``abspath`` (None: not excluded)."""
        for marker in self.exclude_if_present:
            if os.path.lexists(os.path.join(abspath, marker)):
                return marker
        return None

    def excluded_ancestor(self, root: str, relpath: str) -> str | None:
        """The directory (relpath) at or above ``relpath``, below ``root``, that holds a
        marker: the engine must not plan anything beneath it. None when there is none."""
        if not self.exclude_if_present:
            return None
        parts = [p for p in relpath.strip("/").split("/") if p]
        for depth in range(1, len(parts) + 1):
            rel = "/".join(parts[:depth])
            if self.marker_in(os.path.join(root, rel)) is not None:
                return rel
        return None


class LocalEntry(NamedTuple):
    """One file or directory as stat'ed (symlinks are never entries unless followed).

    A NamedTuple: a pass makes one per entry, and tuples are built several times faster than
    frozen dataclasses."""

    name: str
    kind: EntryKind
    size: int  # 0 for directories
    mtime_ns: int
    inode: int
    dev: int


@dataclass(frozen=True, slots=True)
class ScanIssue:
    """Something the scan skipped or wants the user to know. `relpath` is printable: bytes that
    are not valid UTF-8 appear as backslash escapes (never pass it back to the filesystem)."""

    relpath: str
    reason: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class SkippedEntry:
    """An entry that exists in the directory but is not in `entries` (not counting ignored ones)."""

    name: str  # may hold surrogate escapes when reason == NOT_UTF8
    reason: str
    detail: str = ""


@dataclass(slots=True)
class ScannedDir:
    """One directory's listing.

    `entries` is sorted by name. Like `os.walk(topdown=True)`, the walker descends into the
    "dir" entries still in `entries` after the consumer has handled this item: remove one to
    prune it. `error` is set (and `entries` empty) when the directory could not be listed: treat
    its contents as *unknown*, never as deleted.
    """

    relpath: str
    entries: list[LocalEntry]
    skipped: list[SkippedEntry] = field(default_factory=list)
    error: str | None = None


IgnoredCallback = Callable[[str, bool], None]


class IgnorePredicate(Protocol):
    def matches_child(self, parent_relpath: str, name: str, is_dir: bool) -> bool: ...


IssueCallback = Callable[[ScanIssue], None]


def entry_sort_key(entry: LocalEntry) -> str:
    """The order of `ScannedDir.entries`: the name as a `str` (code-point order)."""
    return entry.name


def walk(
    root: str | os.PathLike[str],
    *,
    ignore: IgnorePredicate | None = None,
    follow_symlinks: bool = False,
    on_issue: IssueCallback | None = None,
    filters: LocalFilters | None = None,
) -> Iterator[ScannedDir]:
    """Yield the root's listing, then each subdirectory's, depth-first, subdirectories in name
    order (pre-order: a directory is yielded before anything beneath it).

    Raises OSError only if the root itself cannot be listed. Ignored directories are pruned.
    With `follow_symlinks=True`, symlinks whose target stays inside the root are listed as the
    kind of their target (and followed if directories), unless that would loop. ``filters``
    skip (with a reason) directories holding a marker and files over the size limit.
    """
    scanner = _Scanner(root, ignore, follow_symlinks, on_issue, filters)
    if follow_symlinks:
        scanner.ancestors.add(_dir_identity(scanner.root))
    top = scanner.scan("", scanner.root, raise_errors=True)
    assert top is not None  # raise_errors: the root either lists or raises
    yield top
    # One frame per directory on the current path: (relpath, abspath, pending subdirs, identity).
    stack = [("", scanner.root, iter(_subdirs(top)), (0, 0))]
    while stack:
        relpath, abspath, pending, ident = stack[-1]
        sub = next(pending, None)
        if sub is None:
            stack.pop()
            scanner.ancestors.discard(ident)
            continue
        name, child_id = sub
        child_rel = f"{relpath}/{name}" if relpath else name
        child_abs = os.path.join(abspath, name)
        if follow_symlinks:
            scanner.ancestors.add(child_id)
        listing = scanner.scan(child_rel, child_abs)
        if listing is not None:
            yield listing
        if listing is None or listing.error is not None:
            scanner.ancestors.discard(child_id)
            continue  # vanished, or unreadable (already reported)
        stack.append((child_rel, child_abs, iter(_subdirs(listing)), child_id))


def scan_dir(
    root: str | os.PathLike[str],
    relpath: str,
    *,
    ignore: IgnorePredicate | None = None,
    follow_symlinks: bool = False,
    on_issue: IssueCallback | None = None,
    filters: LocalFilters | None = None,
    on_ignored: IgnoredCallback | None = None,
) -> ScannedDir | None:
    """List one directory (the daemon re-scans only dirty ones). ``on_ignored`` hears of each
    child the ignore rules leave out (relative path, is a directory), for reports.

    None if it no longer exists as a directory reachable inside the root (missing, a file now,
    or behind a symlink that is not followed). Ignore rules apply to its children; whether
    `relpath` itself is ignored is the caller's question (`IgnoreRules.matches(relpath,
    True)`), and so is whether a directory above it holds an exclude marker
    (`LocalFilters.excluded_ancestor`)."""
    scanner = _Scanner(root, ignore, follow_symlinks, on_issue, filters)
    scanner.on_ignored = on_ignored
    abspath = scanner.resolve(relpath)
    if abspath is None:
        return None
    try:
        st = os.stat(abspath) if follow_symlinks else os.lstat(abspath)
    except OSError:
        return None
    if not stat_mod.S_ISDIR(st.st_mode):
        return None
    if follow_symlinks:
        scanner.ancestors.update(_ancestor_identities(scanner.root, _normalise(relpath)))
    return scanner.scan(_normalise(relpath), abspath)


def stat_entry(
    root: str | os.PathLike[str],
    relpath: str,
    *,
    follow_symlinks: bool = False,
) -> LocalEntry | None:
    """The entry at `relpath` now, or None if it is absent or not something we sync (symlink not
    followed, special file, name not valid UTF-8, outside the root)."""
    scanner = _Scanner(root, None, follow_symlinks, None, None)
    abspath = scanner.resolve(relpath)
    if abspath is None:
        return None
    name = _normalise(relpath).rpartition("/")[2]
    if not name or not _is_utf8(name):
        return None
    try:
        st = os.stat(abspath) if follow_symlinks else os.lstat(abspath)
    except OSError:
        return None
    return _entry_from_stat(name, st)


@dataclass(frozen=True, slots=True)
class RootIdentity:
    """What the engine remembers about a root to notice it was swapped or unmounted."""

    dev: int
    is_mount: bool


def root_identity(root: str | os.PathLike[str]) -> RootIdentity:
    """st_dev of the root and whether it is a mount point. Raises OSError if the root is missing."""
    st = os.stat(root)
    return RootIdentity(dev=st.st_dev, is_mount=os.path.ismount(root))


def is_empty(root: str | os.PathLike[str], ignore: IgnorePredicate | None = None) -> bool:
    """True if the root holds no entries (ignored ones do not count when `ignore` is given).
    Raises OSError if the root cannot be listed: a guard must not read "unreadable" as "empty"."""
    with os.scandir(root) as it:
        for entry in it:
            if ignore is None:
                return False
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if not ignore.matches_child("", entry.name, is_dir):
                return False
    return True


# --- internals ---------------------------------------------------------------------------------


def _subdirs(listing: ScannedDir) -> list[tuple[str, tuple[int, int]]]:
    return [(e.name, (e.dev, e.inode)) for e in listing.entries if e.kind == "dir"]


def _ancestor_identities(root: str, relpath: str) -> list[tuple[int, int]]:
    """Identities of the root and every directory down to `relpath` (for loop checks)."""
    out = [_dir_identity(root)]
    current = root
    for part in relpath.split("/") if relpath else []:
        current = os.path.join(current, part)
        with contextlib.suppress(OSError):
            out.append(_dir_identity(current))
    return out


def _dir_identity(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return (st.st_dev, st.st_ino)


def _normalise(relpath: str) -> str:
    return relpath.strip("/")


def _is_utf8(name: str) -> bool:
    if name.isascii():
        return True
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from surrogateescape: undecodable bytes
        return False
    return True


def _printable(relpath: str) -> str:
    return os.fsencode(relpath).decode("utf-8", "backslashreplace")


# SQLite integers are 64-bit: an mtime past 2262 (or before 1677) in ns is held at the limit.
MTIME_NS_LIMIT = 2**63 - 1


def clamp_mtime_ns(ns: int) -> int:
    return max(-MTIME_NS_LIMIT, min(ns, MTIME_NS_LIMIT))


def _entry_from_stat(name: str, st: os.stat_result) -> LocalEntry | None:
    mode = st.st_mode
    mtime_ns = st.st_mtime_ns
    if not -MTIME_NS_LIMIT <= mtime_ns <= MTIME_NS_LIMIT:
        mtime_ns = clamp_mtime_ns(mtime_ns)
    if stat_mod.S_ISREG(mode):
        return LocalEntry(name, "file", st.st_size, mtime_ns, st.st_ino, st.st_dev)
    if stat_mod.S_ISDIR(mode):
        return LocalEntry(name, "dir", 0, mtime_ns, st.st_ino, st.st_dev)
    return None


def _special_kind(mode: int) -> str:
    if stat_mod.S_ISFIFO(mode):
        return "fifo"
    if stat_mod.S_ISSOCK(mode):
        return "socket"
    if stat_mod.S_ISCHR(mode):
        return "character device"
    if stat_mod.S_ISBLK(mode):
        return "block device"
    return "unknown file type"


def _maybe_unreadable(st: os.stat_result, is_dir: bool) -> bool:
    """Cheap pre-check: only entries not world-readable (and, for directories, world-searchable)
    get an access() call. (ACLs that deny a world-readable file are found when hashing.)"""
    mask = 0o555 if is_dir else 0o444
    return (st.st_mode & mask) != mask


class _Scanner:
    __slots__ = (
        "ancestors",
        "filters",
        "follow_symlinks",
        "ignore",
        "on_ignored",
        "on_issue",
        "real_root",
        "root",
    )

    def __init__(
        self,
        root: str | os.PathLike[str],
        ignore: IgnorePredicate | None,
        follow_symlinks: bool,
        on_issue: IssueCallback | None,
        filters: LocalFilters | None = None,
    ) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self.filters = filters if filters else None
        # Only a walk that follows symlinks asks whether a path resolves inside the root, and
        # realpath lstats every component of the root: once per directory scanned otherwise
        # (~40 ms of a 1,033-folder no-op pass).
        self.real_root = os.path.realpath(self.root) if follow_symlinks else None
        self.ignore = ignore
        self.follow_symlinks = follow_symlinks
        self.on_issue = on_issue
        self.on_ignored: IgnoredCallback | None = None
        # (st_dev, st_ino) of the directory being scanned and all above it, when following
        # symlinks: a link to any of them would make the walk cycle.
        self.ancestors: set[tuple[int, int]] = set()

    def issue(self, relpath: str, reason: str, detail: str = "") -> None:
        if self.on_issue is not None:
            self.on_issue(ScanIssue(_printable(relpath), reason, detail))

    def resolve(self, relpath: str) -> str | None:
        """Absolute path of `relpath` if it is reachable inside the root without following a
        symlink we would not follow; None otherwise."""
        rel = _normalise(relpath)
        if not rel:
            return self.root
        parts = rel.split("/")
        # A NUL is in no local name (the journal parks displaced rows under one, see
        # Tx.displace_dir); os.lstat would raise ValueError, not OSError.
        if any(p in ("", ".", "..") or "\0" in p for p in parts):
            return None
        abspath = os.path.join(self.root, *parts)
        if self.follow_symlinks:
            return abspath if self._inside_root(abspath) else None
        # Every parent component must be a real directory, not a symlink.
        current = self.root
        for part in parts[:-1]:
            current = os.path.join(current, part)
            try:
                if not stat_mod.S_ISDIR(os.lstat(current).st_mode):
                    return None
            except OSError:
                return None
        return abspath

    def _inside_root(self, abspath: str) -> bool:
        assert self.real_root is not None, "only a walk that follows symlinks resolves links"
        real = os.path.realpath(abspath)
        return real == self.real_root or real.startswith(self.real_root.rstrip("/") + "/")

    def scan(self, relpath: str, abspath: str, raise_errors: bool = False) -> ScannedDir | None:
        entries: list[LocalEntry] = []
        skipped: list[SkippedEntry] = []
        try:
            it = os.scandir(abspath)
        except FileNotFoundError:
            if raise_errors:
                raise
            return None
        except NotADirectoryError:
            if raise_errors:
                raise
            return None
        except PermissionError as exc:
            if raise_errors:
                raise
            self.issue(relpath or ".", PERMISSION_DENIED, "directory cannot be listed")
            return ScannedDir(relpath, [], [], error=f"{PERMISSION_DENIED}: {exc.strerror}")
        except OSError as exc:
            if raise_errors:
                raise
            self.issue(relpath or ".", IO_ERROR, exc.strerror or str(exc))
            return ScannedDir(relpath, [], [], error=f"{IO_ERROR}: {exc.strerror}")
        prefix = f"{relpath}/" if relpath else ""
        try:
            with it:
                for de in it:
                    self._one(de, relpath, prefix, entries, skipped)
        except OSError as exc:  # the directory went bad mid-listing (I/O error, removed)
            if exc.errno in (errno.ENOENT, errno.ESTALE):
                return None
            self.issue(relpath or ".", IO_ERROR, exc.strerror or str(exc))
            return ScannedDir(relpath, [], [], error=f"{IO_ERROR}: {exc.strerror}")
        entries.sort(key=entry_sort_key)
        skipped.sort(key=lambda s: s.name)
        return ScannedDir(relpath, entries, skipped)

    def _one(
        self,
        de: os.DirEntry[str],
        relpath: str,
        prefix: str,
        entries: list[LocalEntry],
        skipped: list[SkippedEntry],
    ) -> None:
        name = de.name
        if not _is_utf8(name):
            self.issue(prefix + name, NOT_UTF8, "name is not valid UTF-8")
            skipped.append(SkippedEntry(name, NOT_UTF8))
            return
        if name == VERSIONS_DIR:
            # Remotely that name is the history, never pair content: refused, said once per
            # pass (before the ignore rules, whose `.syncd-*` would hide it silently).
            detail = f"{VERSIONS_DIR} is the name of syncd's versions area; rename it"
            self.issue(prefix + name, RESERVED_NAME, detail)
            skipped.append(SkippedEntry(name, RESERVED_NAME, detail))
            return
        # d_type answers these without a stat, so ignored entries cost no syscall.
        try:
            is_link = de.is_symlink()
        except OSError:
            return  # vanished
        try:
            is_dir = de.is_dir(follow_symlinks=self.follow_symlinks and is_link)
        except OSError:
            is_dir = False  # e.g. a symlink loop (ELOOP): reported by _follow below
        if self.ignore is not None and self.ignore.matches_child(relpath, name, is_dir):
            if self.on_ignored is not None:
                self.on_ignored(prefix + name, is_dir)
            return
        try:
            st = de.stat(follow_symlinks=False)
        except FileNotFoundError:
            return  # vanished during the scan
        except PermissionError:
            self.issue(prefix + name, PERMISSION_DENIED, "cannot be stat'ed")
            skipped.append(SkippedEntry(name, PERMISSION_DENIED))
            return
        except OSError as exc:
            self.issue(prefix + name, IO_ERROR, exc.strerror or str(exc))
            skipped.append(SkippedEntry(name, IO_ERROR, exc.strerror or ""))
            return
        if is_link:
            st_or_none = self._follow(de, prefix + name, skipped)
            if st_or_none is None:
                return
            st = st_or_none
        entry = _entry_from_stat(name, st)
        if entry is None:
            kind = _special_kind(st.st_mode)
            self.issue(prefix + name, SPECIAL_FILE, kind)
            skipped.append(SkippedEntry(name, SPECIAL_FILE, kind))
            return
        is_dir = entry.kind == "dir"
        if (
            _maybe_unreadable(st, is_dir)
            and not os.access(de.path, os.R_OK | (os.X_OK if is_dir else 0))
            and os.path.lexists(de.path)
        ):
            what = "directory cannot be listed" if is_dir else "file cannot be read"
            self.issue(prefix + name, PERMISSION_DENIED, what)
            skipped.append(SkippedEntry(name, PERMISSION_DENIED, what))
            return
        if self.filters is not None and self._filtered(de.path, prefix + name, entry, skipped):
            return
        problem = remote_name_issue(name, entry.kind)
        if problem is not None:
            self.issue(prefix + name, UNSYNCABLE_NAME, problem)
        entries.append(entry)

    def _filtered(
        self, abspath: str, relpath: str, entry: LocalEntry, skipped: list[SkippedEntry]
    ) -> bool:
        """Skip (report, list as skipped) what the pair's filters exclude."""
        filters = self.filters
        assert filters is not None
        if entry.kind == "dir" and filters.exclude_if_present:
            marker = filters.marker_in(abspath)
            if marker is not None:
                detail = f"holds {marker}"
                self.issue(relpath, EXCLUDED_BY_MARKER, detail)
                skipped.append(SkippedEntry(entry.name, EXCLUDED_BY_MARKER, detail))
                return True
        elif (
            entry.kind == "file" and filters.max_size is not None and entry.size > filters.max_size
        ):
            detail = f"{entry.size} bytes, over max_size {filters.max_size}"
            self.issue(relpath, OVER_MAX_SIZE, detail)
            skipped.append(SkippedEntry(entry.name, OVER_MAX_SIZE, detail))
            return True
        return False

    def _follow(
        self, de: os.DirEntry[str], relpath: str, skipped: list[SkippedEntry]
    ) -> os.stat_result | None:
        """stat of a symlink's target if we follow it, else None (reported and skipped)."""
        if not self.follow_symlinks:
            self.issue(relpath, SYMLINK, "symbolic links are not followed")
            skipped.append(SkippedEntry(de.name, SYMLINK))
            return None
        if not self._inside_root(de.path):
            self.issue(relpath, SYMLINK_OUTSIDE_ROOT, "target is outside the root")
            skipped.append(SkippedEntry(de.name, SYMLINK_OUTSIDE_ROOT))
            return None
        try:
            st = de.stat(follow_symlinks=True)
        except FileNotFoundError:
            if os.path.lexists(de.path):
                self.issue(relpath, SYMLINK_BROKEN, "target does not exist")
                skipped.append(SkippedEntry(de.name, SYMLINK_BROKEN))
            return None
        except OSError as exc:
            reason = SYMLINK_LOOP if exc.errno == errno.ELOOP else IO_ERROR
            self.issue(relpath, reason, exc.strerror or str(exc))
            skipped.append(SkippedEntry(de.name, reason))
            return None
        if stat_mod.S_ISDIR(st.st_mode) and (st.st_dev, st.st_ino) in self.ancestors:
            self.issue(relpath, SYMLINK_LOOP, "links to a directory that contains it")
            skipped.append(SkippedEntry(de.name, SYMLINK_LOOP))
            return None
        return st
