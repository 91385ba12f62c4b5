"""Which local paths are never synced: gitignore-syntax rules (pathspec) plus built-in defaults.

Sources, in order (later lines win, as in one .gitignore, so users can `!`-negate a default):
built-in defaults, the pair's `ignore` patterns from the config, then `.syncdignore` in the root.
The state database (and its SQLite side files) is excluded by exact path when it lies inside the
root. Paths are relative to the pair root, POSIX separators, no leading slash.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import pathspec

IGNORE_FILE_NAME = ".syncdignore"

# Prefix of our own temporary names (downloads in progress, atomic rewrites).
OWN_TEMP_PREFIX = ".syncd-"

DEFAULT_PATTERNS: tuple[str, ...] = (
    # vim swap files and its write probe; emacs backup/lock/autosave files; kate swap files.
    "*.swp",
    "*.swo",
    "*.swx",
    "*~",
    ".#*",
    "\\#*#",  # escaped: a line starting with '#' is a comment
    "4913",
    ".*.kate-swp",
    # Partial downloads of browsers and download managers. (`*.tmp` is deliberately absent:
    # too many real files end in .tmp; users add it themselves.)
    "*.part",
    "*.crdownload",
    # Operating-system clutter.
    ".DS_Store",
    "Thumbs.db",
    "desktop.ini",
    # Our own temporary files.
    f"{OWN_TEMP_PREFIX}*",
)

# Why a path is ignored, as reports name it (`IgnoreRules.why`).
BUILT_IN = "built-in ignore"
USER_PATTERN = "ignore pattern"
STATE_DATABASE = "syncd's state database"

# SQLite writes these beside the database file.
_SQLITE_SIDE_SUFFIXES = ("", "-wal", "-shm", "-journal")


# Rules compiled by `IgnoreRules.for_root`, by their inputs (immutable once built).
_COMPILED: dict[tuple[object, ...], IgnoreRules] = {}
_COMPILED_MAX = 32


class IgnoreRules:
    """Compiled ignore rules for one pair root.

    `matches(relpath, is_dir)` answers for a path and, unlike raw gitignore matching, also for
    everything beneath an ignored directory (so watcher events inside `node_modules/` are
    ignored even if a later `!` line would re-include a file there: git cannot re-include a file
    whose parent is excluded, and neither can we, because the scanner prunes that directory).
    """

    def __init__(
        self,
        patterns: Iterable[str] = (),
        *,
        use_defaults: bool = True,
        exact_paths: Iterable[str] = (),
    ) -> None:
        lines = [*(DEFAULT_PATTERNS if use_defaults else ()), *patterns]
        self.patterns: tuple[str, ...] = tuple(lines)
        self._use_defaults = use_defaults
        self._spec = pathspec.GitIgnoreSpec.from_lines(lines)
        self._prefilter = _Prefilter.build(self._spec)
        self._exact = frozenset(exact_paths)
        # Directory answers are cached: every file below asks about all its ancestors.
        self._dir_cached = lru_cache(maxsize=4096)(self._dir_ignored)

    @classmethod
    def for_root(
        cls,
        root: str | os.PathLike[str],
        patterns: Iterable[str] = (),
        *,
        state_db: str | os.PathLike[str] | None = None,
        use_defaults: bool = True,
    ) -> IgnoreRules:
        """Rules for a pair: defaults + config `patterns` + `<root>/.syncdignore` (if present),
        plus the state database and its -wal/-shm/-journal files when they lie inside the root."""
        lines = list(patterns)
        lines.extend(read_ignore_file(Path(root) / IGNORE_FILE_NAME))
        exact: list[str] = []
        if state_db is not None:
            rel = _relative_inside(root, state_db)
            if rel is not None:
                exact.extend(rel + suffix for suffix in _SQLITE_SIDE_SUFFIXES)
        # The same rules again (every pass of a daemon; compiling costs ~2 ms): reuse them.
        key = (cls, tuple(lines), tuple(exact), use_defaults)
        rules = _COMPILED.get(key)
        if rules is None:
            rules = cls(lines, use_defaults=use_defaults, exact_paths=exact)
            if len(_COMPILED) >= _COMPILED_MAX:
                _COMPILED.clear()
            _COMPILED[key] = rules
        return rules

    def matches(self, relpath: str, is_dir: bool) -> bool:
        """True if `relpath` (or one of its parent directories) is ignored."""
        if not relpath:
            return False  # the root itself is never ignored
        parent = relpath.rpartition("/")[0]
        if parent and self._dir_cached(parent):
            return True
        return self._self_ignored(relpath, is_dir)

    def matches_child(self, parent_relpath: str, name: str, is_dir: bool) -> bool:
        """`matches` for an entry whose parent is known not to be ignored (the scanner's case:
        it never descends into an ignored directory). Skips the ancestor check."""
        relpath = f"{parent_relpath}/{name}" if parent_relpath else name
        return self._self_ignored(relpath, is_dir)

    def why(self, relpath: str, is_dir: bool) -> str:
        """Why an ignored path is ignored: :data:`BUILT_IN` (a default pattern alone ignores
        it), :data:`USER_PATTERN` (the config's ``ignore`` or ``.syncdignore``) or
        :data:`STATE_DATABASE`. For reports only: not on the scanning fast path."""
        if relpath in self._exact:
            return STATE_DATABASE
        path = relpath + "/" if is_dir else relpath
        if self._use_defaults and _default_spec().match_file(path):
            return BUILT_IN
        return USER_PATTERN

    def _dir_ignored(self, relpath: str) -> bool:
        parent, _, _ = relpath.rpartition("/")
        if parent and self._dir_cached(parent):
            return True
        return self._self_ignored(relpath, True)

    def _self_ignored(self, relpath: str, is_dir: bool) -> bool:
        if relpath in self._exact:
            return True
        path = relpath + "/" if is_dir else relpath
        # Most paths match no pattern at all: the prefilter rules them out cheaply, and only the
        # rest pay for pathspec's ordered last-match-wins evaluation.
        if self._prefilter is not None:
            name = path[path.rfind("/", 0, len(path) - 1) + 1 :]
            if not self._prefilter.may_match(name, path):
                return False
        return self._spec.match_file(path)


class _Prefilter:
    """Rules out, with two regex matches, paths that no pattern (include or `!`exclude) can match.

    Patterns without a slash (the common case: `*.swp`, `node_modules/`) match a path's last
    component, so they are combined into one regex run on the name alone; patterns with a slash
    go into a second regex run on the whole path. A path neither matches is not ignored.
    """

    __slots__ = ("_by_name", "_by_path")

    def __init__(self, by_name: re.Pattern[str] | None, by_path: re.Pattern[str] | None) -> None:
        self._by_name = by_name
        self._by_path = by_path

    @classmethod
    def build(cls, spec: pathspec.PathSpec) -> _Prefilter | None:
        by_name: list[str] = []
        by_path: list[str] = []
        for pattern in spec.patterns:
            if pattern.include is None:
                continue  # comment or blank line
            regex = getattr(pattern, "regex", None)
            if not isinstance(regex, re.Pattern):
                return None  # unknown pattern type: no prefilter, pathspec decides alone
            text = _NAMED_GROUP.sub("(?:", regex.pattern)
            if text.startswith(_ANY_PARENT):
                by_name.append("^" + text[len(_ANY_PARENT) :])
            else:
                by_path.append(text)
        try:
            return cls(_union(by_name), _union(by_path))
        except re.error:
            return None

    def may_match(self, name_or_dir: str, path: str) -> bool:
        if self._by_name is not None and self._by_name.match(name_or_dir) is not None:
            return True
        return self._by_path is not None and self._by_path.match(path) is not None


# pathspec's translation of a slash-less gitignore pattern starts with this.
_ANY_PARENT = "^(?:.+/)?"
_NAMED_GROUP = re.compile(r"\(\?P<[A-Za-z_][A-Za-z0-9_]*>")


def _union(regexes: list[str]) -> re.Pattern[str] | None:
    return re.compile("|".join(f"(?:{r})" for r in regexes)) if regexes else None


@lru_cache(maxsize=1)
def _default_spec() -> pathspec.PathSpec:
    return pathspec.GitIgnoreSpec.from_lines(DEFAULT_PATTERNS)


def read_ignore_file(path: str | os.PathLike[str]) -> list[str]:
    """Lines of a gitignore-syntax file; missing or unreadable means no lines."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()
    except (FileNotFoundError, NotADirectoryError, PermissionError, IsADirectoryError):
        return []


def _relative_inside(root: str | os.PathLike[str], path: str | os.PathLike[str]) -> str | None:
    """POSIX relative path of `path` under `root` (both resolved), or None if outside."""
    real_root = os.path.realpath(root)
    real_path = os.path.realpath(path)
    try:
        if os.path.commonpath([real_root, real_path]) != real_root:
            return None
    except ValueError:
        return None
    rel = os.path.relpath(real_path, real_root)
    if rel == ".":
        return None
    return rel.replace(os.sep, "/")


__all__: Sequence[str] = (
    "BUILT_IN",
    "DEFAULT_PATTERNS",
    "IGNORE_FILE_NAME",
    "OWN_TEMP_PREFIX",
    "IgnoreRules",
    "read_ignore_file",
)
