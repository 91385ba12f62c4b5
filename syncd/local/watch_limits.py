"""inotify limits: how many directories a root needs watched versus what the kernel allows.

watchdog 7.x raises only when the *root* watch fails; past `fs.inotify.max_user_watches` the
watches on subdirectories fail silently and whole subtrees go unwatched. So we count first.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

MAX_USER_WATCHES = Path("/proc/sys/fs/inotify/max_user_watches")
MAX_USER_INSTANCES = Path("/proc/sys/fs/inotify/max_user_instances")

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
    stack = [os.fspath(root)]
    while stack:
        path = stack.pop()
        count += 1
        if stop_after is not None and count > stop_after:
            return count
        try:
            with os.scandir(path) as it:
                for entry in it:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                    except OSError:
                        continue
        except OSError:
            continue  # unreadable or vanished: inotify could not watch inside it either
    return count


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
