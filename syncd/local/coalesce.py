"""Turns a stream of filesystem events into `Change`s once each path has been quiet for a while.

No threads and no watchdog here: the watcher feeds it events (already filtered by the ignore rules
and made relative to the root) under its lock, and asks `pop_ready(now)` for what is due. Time is
passed in, so the rules are deterministic.

Rules, and why:

* A path becomes due `quiet` seconds after its *last* event, so a burst (cp, tar -x, git
  checkout) ends as one change per path.
* A file modified without a following close (`IN_CLOSE_WRITE`, where the platform reports closes)
  is still being written: it waits for the close, or for `unclosed_timeout` without any event
  (a writer that keeps the file open for hours must not block it forever).
* A dirty *directory* stands for its whole subtree (it appeared or disappeared), so pending paths
  beneath it merge into it and it is due only when all of them would be.
* A path created and removed (or renamed away) inside one quiet window was never reported, so it
  costs nothing: that is the editor's temporary file. An overflow handed out in between ends
  that: the full pass it asks for may have reported the path.
* A move inside the root is kept as one `moved` change (a directory's children are not reported:
  they moved with it). Chains a→b→c collapse to a→c; a→b→a vanishes. A move whose source was
  itself created inside the window becomes a `dirty` destination (temp file renamed over the
  target: one update of the target). Moves to an ignored name are deletions of the source; moves
  from an ignored name are new destinations.
* Ready moves are handed out before ready dirty paths, in the order they happened.
* A dirty path waits for every pending move whose source or destination lies on it, above it or
  beneath it, even when its own quiet period is over: an edit made before its directory moved is
  older than the move, but handed out first it names a path the consumer cannot know yet, and
  the move applied after it would put the old content back over it (the 5-minute fault soak lost
  a moved subtree's edits this way; tests/integration/test_watcher_stress.py replays such churn).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

ChangeKind = Literal["dirty", "moved", "overflow"]


@dataclass(frozen=True, slots=True)
class Change:
    """One unit of work for the daemon, relative to the pair root (POSIX separators).

    - `dirty`: look at `path` again. If it is a directory now, rescan its whole subtree (it
      appeared, or things beneath it changed); if it is gone, it and everything beneath it were
      deleted; if it is a file, compare it with the journal. `is_dir` is the last kind events
      reported (a hint only: stat the path).
    - `moved`: `path` was renamed/moved to `dest` inside the root (one `file/edit` or
      `folder/edit` by id). Apply it before the dirty paths of the same batch. If the journal does
      not know `path` (events missed, or it never synced), treat it as `dirty` `dest`. `dest`'s
      parent may be new: create it first.
    - `overflow`: events were lost (kernel queue overflow, observer restarted, handler error):
      only a full reconcile is safe. `path` is "".
    """

    kind: ChangeKind
    path: str
    dest: str | None = None
    is_dir: bool = False


OVERFLOW = Change("overflow", "")


@dataclass(slots=True)
class _Pending:
    is_dir: bool
    last_event: float
    created: bool  # the path did not exist when this window opened
    open_write: bool  # modified since the last close
    # Descendants folded into this (directory) entry that are still open for writing.
    open_children: set[str] = field(default_factory=set)

    @property
    def writing(self) -> bool:
        return self.open_write or bool(self.open_children)


@dataclass(slots=True)
class _Move:
    src: str
    dest: str
    is_dir: bool
    last_event: float


def _never(path: str) -> bool:
    return False


def _under(path: str, parent: str) -> bool:
    return path.startswith(parent + "/")


def _parents(path: str) -> list[str]:
    """'a/b/c' -> ['a/b', 'a'] (nearest first)."""
    out = []
    while "/" in path:
        path = path.rpartition("/")[0]
        out.append(path)
    return out


class ChangeCoalescer:
    """Not thread-safe: the owner serialises calls."""

    def __init__(self, quiet: float = 0.5, unclosed_timeout: float = 10.0) -> None:
        self.quiet = quiet
        self.unclosed_timeout = unclosed_timeout
        self._pending: dict[str, _Pending] = {}
        self._moves: list[_Move] = []
        self._overflow = False

    # -- events -----------------------------------------------------------------------------

    def created(self, path: str, is_dir: bool, now: float) -> None:
        self._touch(path, is_dir, now, created=True, open_write=False)

    def deleted(self, path: str, is_dir: bool, now: float) -> None:
        for m in self._moves:
            if m.dest == path:
                # Renamed, then the new name deleted (an editor's backup): the source is gone.
                self._moves.remove(m)
                self._touch(m.src, m.is_dir, now, created=False, open_write=False)
                src_entry = self._pending.get(m.src)
                if src_entry is not None:
                    src_entry.created = False  # the remote knows it under this name
                return
        entry = self._pending.get(path)
        if entry is not None and entry.created and self._covering(path) is None:
            # Born and gone inside one window: nobody ever heard of it.
            del self._pending[path]
            if entry.is_dir or is_dir:
                self._drop_beneath(path)
            return
        self._touch(path, is_dir, now, created=False, open_write=False)

    def modified(self, path: str, now: float, *, expect_close: bool) -> None:
        """Content written; `expect_close` where the platform reports closes (inotify)."""
        self._touch(path, False, now, created=False, open_write=expect_close)

    def closed(self, path: str, now: float) -> None:
        """A writer closed the file (IN_CLOSE_WRITE): its content is final for now."""
        self._touch(path, False, now, created=False, open_write=False)

    def attrib(self, path: str, now: float) -> None:
        """Metadata changed (e.g. mtime set by `touch -d`, `cp -p`)."""
        self._touch(path, False, now, created=False, open_write=None)

    def moved(
        self,
        src: str,
        dest: str,
        is_dir: bool,
        now: float,
        *,
        src_ignored: bool = False,
        dest_ignored: bool = False,
    ) -> None:
        if src_ignored and dest_ignored:
            return
        if dest_ignored:  # renamed to a name we do not sync (vim: file -> file~): gone
            self.deleted(src, is_dir, now)
            return
        if src_ignored:  # a temp/ignored name renamed to a real one: the destination changed
            self._touch(dest, is_dir, now, created=False, open_write=False)
            return
        if self._implied_by_pending_dir_move(src, dest):
            return  # a child "moving" along with its directory (polling reports those)
        covering = self._covering(src)
        src_entry = self._pending.get(src)
        src_is_new = (src_entry is not None and src_entry.created) or (
            covering is not None and self._pending[covering].created
        )
        if src_is_new:
            # Never reported, so the remote does not have it: the destination is simply dirty.
            open_write = False
            if src_entry is not None:
                del self._pending[src]
                open_write = src_entry.writing
            self._rekey_beneath(src, dest, now)
            self._touch(dest, is_dir, now, created=False, open_write=open_write)
            return
        # A real move of something the remote may know.
        self._record_move(src, dest, is_dir, now)
        if is_dir:
            self._rekey_beneath(src, dest, now)
        if src_entry is not None:  # unreported edits travel with it
            del self._pending[src]
            self._touch(dest, is_dir, now, created=False, open_write=src_entry.writing)

    def overflow(self) -> None:
        self._overflow = True

    # -- output -----------------------------------------------------------------------------

    def next_due(self) -> float | None:
        """Monotonic time at which something may become ready, None if nothing is pending."""
        if self._overflow:
            return 0.0
        held = self._held_by_moves()
        dues = [self._due(e) for p, e in self._pending.items() if not held(p)]
        if self._moves:
            dues.append(self._moves[0].last_event + self.quiet)
        return min(dues) if dues else None

    def pop_ready(self, now: float) -> list[Change]:
        out: list[Change] = []
        if self._overflow:
            self._overflow = False
            out.append(OVERFLOW)
            for entry in self._pending.values():
                entry.created = False  # the full pass may report it: no longer unheard of
        while self._moves and self._moves[0].last_event + self.quiet <= now:
            m = self._moves.pop(0)
            out.append(Change("moved", m.src, m.dest, m.is_dir))
        held = self._held_by_moves()
        ready = [p for p, e in self._pending.items() if self._due(e) <= now and not held(p)]
        for path in sorted(ready):
            entry = self._pending.pop(path)
            out.append(Change("dirty", path, None, entry.is_dir))
        return out

    def __len__(self) -> int:
        return len(self._pending) + len(self._moves) + int(self._overflow)

    # -- internals --------------------------------------------------------------------------

    def _due(self, entry: _Pending) -> float:
        if entry.writing:
            return entry.last_event + max(self.quiet, self.unclosed_timeout)
        return entry.last_event + self.quiet

    def _held_by_moves(self) -> Callable[[str], bool]:
        """Does a pending move's source or destination lie on, above or beneath this path?"""
        if not self._moves:
            return _never
        ends = {p for m in self._moves for p in (m.src, m.dest)}
        on_or_beneath = ends | {a for p in ends for a in _parents(p)}
        return lambda path: path in on_or_beneath or any(a in ends for a in _parents(path))

    def _covering(self, path: str) -> str | None:
        """The nearest pending ancestor (it stands for its subtree), if any."""
        if not self._pending:
            return None
        for parent in _parents(path):
            if parent in self._pending:
                return parent
        return None

    def _touch(
        self, path: str, is_dir: bool, now: float, *, created: bool, open_write: bool | None
    ) -> None:
        covering = self._covering(path)
        if covering is not None:
            entry = self._pending[covering]
            entry.last_event = max(entry.last_event, now)
            if open_write:
                entry.open_children.add(path)
            elif open_write is False:
                entry.open_children.discard(path)
            return
        entry = self._pending.get(path)
        if entry is None:
            self._pending[path] = _Pending(is_dir, now, created, bool(open_write))
        else:
            entry.is_dir = is_dir
            entry.last_event = now
            if open_write is not None:
                entry.open_write = open_write
        if is_dir:
            self._absorb_beneath(path)

    def _beneath(self, path: str) -> list[str]:
        prefix = path + "/"
        return [p for p in self._pending if p.startswith(prefix)]

    def _absorb_beneath(self, path: str) -> None:
        """A dirty directory covers its subtree: fold pending descendants into it."""
        entry = self._pending[path]
        for p in self._beneath(path):
            child = self._pending.pop(p)
            entry.last_event = max(entry.last_event, child.last_event)
            if child.open_write:
                entry.open_children.add(p)
            entry.open_children |= child.open_children

    def _drop_beneath(self, path: str) -> None:
        for p in self._beneath(path):
            del self._pending[p]

    def _rekey_beneath(self, src: str, dest: str, now: float) -> None:
        """Pending paths under a moved directory now live under its new name."""
        for p in self._beneath(src):
            entry = self._pending.pop(p)
            new = dest + p[len(src) :]
            entry.open_children = {dest + c[len(src) :] for c in entry.open_children}
            if self._covering(new) is None:
                self._pending[new] = entry
            else:
                self._touch(new, entry.is_dir, now, created=False, open_write=entry.writing)

    def _implied_by_pending_dir_move(self, src: str, dest: str) -> bool:
        return any(
            m.is_dir and _under(src, m.src) and dest == m.dest + src[len(m.src) :]
            for m in self._moves
        )

    def _record_move(self, src: str, dest: str, is_dir: bool, now: float) -> None:
        chained = False
        kept: list[_Move] = []
        for i, m in enumerate(self._moves):
            if is_dir and _under(m.src, src) and m.dest == dest + m.src[len(src) :]:
                continue  # a child's move reported before its directory's (polling does that)
            if m.dest == src and not chained and self._free_after(i, dest):
                # a -> b, then b -> c: one move a -> c (unless a later move uses c: keep the
                # sequence then, it is a swap through a temporary name).
                m.dest = dest
                m.last_event = max(m.last_event, now)
                chained = True
                if m.dest == m.src:
                    continue  # moved back: nothing happened
            kept.append(m)
        self._moves = kept
        if not chained:
            self._moves.append(_Move(src, dest, is_dir, now))

    def _free_after(self, index: int, path: str) -> bool:
        return all(path not in (m.src, m.dest) for m in self._moves[index + 1 :])
