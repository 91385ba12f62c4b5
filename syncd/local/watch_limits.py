"""inotify limits: how many directories a root needs watched versus what the kernel allows, and
which directories the kernel actually watches.

watchdog 7.x raises only when the *root* watch fails; past `fs.inotify.max_user_watches` the
watches on subdirectories fail silently and whole subtrees go unwatched. So we count first.
Below the limit, watchdog still loses watches when directories move while it registers them
(see `syncd.local.watcher`): `unwatched_directories` compares the tree with the kernel's list.
"""

from __future__ import annotations

import errno
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

MAX_USER_WATCHES = Path("/proc/sys/fs/inotify/max_user_watches")
MAX_USER_INSTANCES = Path("/proc/sys/fs/inotify/max_user_instances")
PROC_FDS = "/proc/self/fd"
PROC_FDINFO = "/proc/self/fdinfo"
# One watch in an inotify fd's fdinfo: "inotify wd:2 ino:22a566 sdev:fe00000 mask:7ce ..."
_FDINFO_WATCH = re.compile(r"^inotify wd:\S+ ino:([0-9a-f]+)", re.MULTILINE)

# Watches are shared by every process of the user (IDEs, other daemons): leave room for them.
WATCH_MARGIN_FRACTION = 0.10
WATCH_MARGIN_MIN = 512

# errnos with which inotify says "limit reached".
LIMIT_ERRNOS = frozenset({errno.ENOSPC, errno.EMFILE})


def read_limit(path: Path) -> int | None:
    """An integer from /proc, or None where there is no such file (not Linux, no procfs)."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def usable_watches(max_user_watches: int) -> int:
    """How many watches one root may use: the limit minus a margin for everyone else."""
    margin = max(WATCH_MARGIN_MIN, int(max_user_watches * WATCH_MARGIN_FRACTION))
    return max(0, max_user_watches - margin)


def default_watch_limit() -> int | None:
    """Usable watches on this machine, or None if inotify limits do not apply here."""
    if not sys.platform.startswith("linux"):
        return None
    limit = read_limit(MAX_USER_WATCHES)
    return None if limit is None else usable_watches(limit)


def count_directories(root: str | os.PathLike[str], stop_after: int | None = None) -> int:
    """Directories under `root`, the root included, symlinks not followed (as watchdog does).
    Stops counting once past `stop_after`: we only need to know that the limit is exceeded."""
    count = 0
    for _ in _directories(os.fspath(root)):
        count += 1
        if stop_after is not None and count > stop_after:
            break
    return count


def unwatched_directories(
    root: str | os.PathLike[str], known_unwatchable: frozenset[int] = frozenset()
) -> dict[int, str] | None:
    """Readable directories under `root` (by inode) that no inotify watch of this process
    covers, as the kernel lists them in /proc/self/fdinfo; None where it cannot be told (not
    Linux, no procfs, no inotify instance). The kernel's list, not watchdog's books: a watch
    watchdog dropped is gone from both, one it never managed to add never appeared in either."""
    watched = watched_inodes()
    if not watched:
        return None
    missing: dict[int, str] = {}
    for path, inode in _directories(os.fspath(root)):
        # (An unreadable directory: inotify could not watch it either.)
        if (
            inode not in watched
            and inode not in known_unwatchable
            and os.access(path, os.R_OK | os.X_OK)
        ):
            missing[inode] = path
    return missing


def watched_inodes() -> set[int]:
    """Inodes watched by this process's inotify instances (empty where none can be read)."""
    inodes: set[int] = set()
    try:
        fds = os.listdir(PROC_FDS)
    except OSError:
        return inodes
    for fd in fds:
        try:
            if os.readlink(f"{PROC_FDS}/{fd}") != "anon_inode:inotify":
                continue
            with open(f"{PROC_FDINFO}/{fd}") as info:
                text = info.read()
        except OSError:
            continue  # closed meanwhile
        inodes.update(int(ino, 16) for ino in _FDINFO_WATCH.findall(text))
    return inodes


def _directories(root: str) -> Iterator[tuple[str, int]]:
    """(path, inode) of `root` and every directory beneath it, symlinks not followed."""
    try:
        root_inode = os.stat(root, follow_symlinks=False).st_ino
    except OSError:
        return
    stack = [(root, root_inode)]
    while stack:
        path, inode = stack.pop()
        yield path, inode
        try:
            with os.scandir(path) as it:
                for entry in it:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append((entry.path, entry.inode()))
                    except OSError:
                        continue
        except OSError:
            continue  # unreadable or vanished: inotify could not watch inside it either


def limit_warning(root: str, reason: str, action: str) -> str:
    """The one warning a user sees, naming the sysctls to raise."""
    watches = read_limit(MAX_USER_WATCHES)
    instances = read_limit(MAX_USER_INSTANCES)
    return (
        f"inotify limit for {root}: {reason}. Current limits: fs.inotify.max_user_watches="
        f"{watches if watches is not None else '?'}, fs.inotify.max_user_instances="
        f"{instances if instances is not None else '?'}. Raise them, e.g. "
        "`sudo sysctl -w fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512` "
        "(persist in /etc/sysctl.d/), then restart syncd. "
        f"{action}"
    )
