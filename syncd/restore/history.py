"""A pair's tree as it was at a moment: the live tree and the versions area, merged.

:class:`HistoryView` stands in for the client in :class:`syncd.restore.restorer.Restorer`: it
answers ``folder_listing`` for *virtual* folders (negative ids), each the merge, for one
relative path, of

* the live folder: a file counts from the moment its upload became live (the journal's
  ``uploads`` record; without a journal, the newest end of that name's versions, since a
  replaced version ends when its successor went live; without either,
  ``file/info``'s ``uploadedDate``: one call per such file). A file the journal does not
  track at all is not syncd's upload: it counts from the end of the second ``file/info``
  dates it to, as someone else's file in a removed directory does (below);
* the versions area's folder for that path: each versioned file counts within the interval its
  name carries (``syncd.history.names``);
* removed directories kept whole (versioned folders) whose interval holds the moment: their
  files count as they are (a moment before the folder's FROM asks ``file/info`` per file);
  with a journal, a file in one that syncd did not upload (someone else's) counts from the end
  of the second ``file/info`` dates it to, never from before it came.

Nothing stops two folders of one name on the host (someone adds a folder of a synced
directory's name): all live folders of a path are merged, as its versioned folders are, and
so are the versions area's.

Per name the candidate that became live last (and was live at the moment) wins; when a version
wins, the other files live at the moment under that name keep their content beside it, under
numbered names. Downloads go to the real client. Pure selection rules are in :func:`pick`; the
rest is listing plumbing.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from syncd.history.names import VERSIONS_DIR, parse_versioned_name
from syncd.remote.client import RemoteClient
from syncd.remote.errors import NotFound
from syncd.remote.models import FolderListing, RemoteFile, RemoteFolder
from syncd.remote.paths import uploaded_ns
from syncd.restore.paths import numbered_name

FOREVER = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Candidate:
    """One remote file that may be a path's content at the moment."""

    file: RemoteFile
    live_from_ns: int
    live_to_ns: int = FOREVER
    # The interval says the file held this path (a versioned name, or a removed directory's),
    # not only when it was uploaded, under whatever name it had then (a live file).
    placed: bool = False


def pick(candidates: list[Candidate], at_ns: int) -> Candidate | None:
    """The content of one path at ``at_ns``: live then, and the one that became live last
    (ties: the newest upload, the higher id). A placed candidate wins over a live file: renames
    are made by id and not recorded, so a file renamed onto the path later (``mv c a.txt``)
    counts from its upload, and only the version of the old ``a.txt`` knows it held the name
    then. (A replaced file's version ends when its successor went live; in versions made
    before syncd wrote it so, it ends just after: for that instant the old content wins.)"""
    alive = [c for c in candidates if c.live_from_ns <= at_ns < c.live_to_ns]
    if not alive:
        return None
    return max(alive, key=lambda c: (c.placed, c.live_from_ns, c.file.id))


def _displaced(candidates: list[Candidate], at_ns: int, winner: Candidate) -> list[RemoteFile]:
    """Files that were on the host at ``at_ns`` but lost the path to a version that held it
    then. A path holds one file at a time, so each was under another name at the moment:
    renamed onto the path later (``mv c a.txt``), as a live file or as the version it later
    became. That name is not recorded (renames are by id); their content is not to be lost."""
    return [
        c.file for c in candidates if c is not winner and c.live_from_ns <= at_ns < c.live_to_ns
    ]


def _free_name(name: str, taken: set[str]) -> str:
    """``name (2).ext``, ``name (3).ext``, ...: the first that no entry of the folder uses."""
    n = 2
    while (candidate := numbered_name(name, n, is_folder=False)) in taken:
        n += 1
    taken.add(candidate)
    return candidate


@dataclass
class _Virtual:
    """One relative path of the pair: where its entries may come from."""

    live: list[int] = field(default_factory=list)  # the live folders of this path
    area: list[int] = field(default_factory=list)  # the versions area's folders for it
    kept: list[tuple[int, int, int]] = field(default_factory=list)  # versioned folders


class HistoryView:
    """A client-like view of a pair's remote folder at ``at_ns`` (None: the live tree)."""

    def __init__(
        self,
        client: RemoteClient,
        root_folder_id: int | None,
        at_ns: int,
        *,
        upload_time: Callable[[int], int | None] | None = None,
        tracked: Callable[[int], bool] | None = None,
    ) -> None:
        self.client = client
        self.at_ns = at_ns
        self.upload_time = upload_time or (lambda _id: None)
        self.tracked = tracked or (lambda _id: True)
        # With a journal, a file it has no upload time for is not syncd's upload.
        self.has_journal = upload_time is not None
        self.info_calls = 0
        self._ids = itertools.count(-1, -1)
        self._lock = threading.Lock()
        self._virtual: dict[int, _Virtual] = {}
        self.root = self._new(_Virtual(live=[] if root_folder_id is None else [root_folder_id]))
        self._root_listing: FolderListing | None = None

    # -- what the restorer calls -------------------------------------------------------------

    def folder_listing(self, folder_id: int | None) -> FolderListing:
        assert folder_id is not None and folder_id < 0
        node = self._virtual[folder_id]
        live = self._list_all(node.live)
        if folder_id == self.root and node.live:
            node.area = [f.id for f in live.folders if f.name == VERSIONS_DIR]
            live = FolderListing([f for f in live.folders if f.name != VERSIONS_DIR], live.files)
        area = self._list_all(node.area)
        candidates: dict[str, list[Candidate]] = {}
        folders: dict[str, _Virtual] = {}
        version_ends: dict[str, int] = {}
        for f in area.files:
            parsed = parse_versioned_name(f.name)
            if parsed is None:
                continue
            name = parsed.original
            version_ends[name] = max(version_ends.get(name, 0), parsed.live_to_ns)
            candidates.setdefault(name, []).append(
                Candidate(f, parsed.live_from_ns, parsed.live_to_ns, placed=True)
            )
        for f in live.files:
            start = self.upload_time(f.id)
            if start is None and self.has_journal and not self.tracked(f.id):
                # Not syncd's upload: someone else's, or one a killed run left that someone
                # renamed. It counts from when it came, never from before.
                start = self._uploaded(f.id, someone_elses=True)
            if start is None:
                start = version_ends.get(f.name)
            if start is None:
                # A journal from before the uploads table knows no times: taken as syncd's.
                start = self._uploaded(f.id)
            candidates.setdefault(f.name, []).append(Candidate(f, start))
        for start, end, kept_id in node.kept:
            self._add_kept(kept_id, start, end, candidates, folders)
        for sub in live.folders:
            folders.setdefault(sub.name, _Virtual()).live.append(sub.id)
        for sub in area.folders:
            parsed = parse_versioned_name(sub.name)
            if parsed is None:
                folders.setdefault(sub.name, _Virtual()).area.append(sub.id)
            elif self.at_ns < parsed.live_to_ns:  # removed after the moment
                folders.setdefault(parsed.original, _Virtual()).kept.append(
                    (parsed.live_from_ns, parsed.live_to_ns, sub.id)
                )
        # The restorer writes a file under the name the listing gives: the path's name.
        chosen: list[RemoteFile] = []
        taken = set(candidates) | set(folders)
        for name, cs in sorted(candidates.items()):
            c = pick(cs, self.at_ns)
            if c is None:
                continue
            chosen.append(c.file._replace(name=name))
            if c.placed:
                chosen += [
                    f._replace(name=_free_name(name, taken)) for f in _displaced(cs, self.at_ns, c)
                ]
        names = {f.name for f in chosen}
        out_folders = [
            RemoteFolder(self._new(v), folder_id, name)
            for name, v in sorted(folders.items())
            if name not in names
        ]
        return FolderListing(out_folders, chosen)

    def file_download(self, file_id: int) -> Any:
        return self.client.file_download(file_id)

    def iter_download(self, link: Any, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        return self.client.iter_download(link, chunk_size)

    # -- plumbing ------------------------------------------------------------------------------

    def _add_kept(
        self,
        kept_id: int,
        start: int,
        end: int,
        candidates: dict[str, list[Candidate]],
        folders: dict[str, _Virtual],
    ) -> None:
        """Entries of a removed directory kept whole, live from ``start`` to ``end``."""
        listing = self._list(kept_id)
        for f in listing.files:
            begin = start
            known = self.upload_time(f.id)  # the journal's, to the nanosecond
            if known is None and self.has_journal:
                # Someone else's file went with the directory: it counts from when it came,
                # which may be after the folder's FROM (the newest of syncd's uploads in it).
                begin = self._uploaded(f.id, someone_elses=True)
            elif self.at_ns < start:  # the folder's FROM is its newest upload: older ones
                begin = known if known is not None else self._uploaded(f.id)
            candidates.setdefault(f.name, []).append(Candidate(f, begin, end, placed=True))
        for sub in listing.folders:
            folders.setdefault(sub.name, _Virtual()).kept.append((start, end, sub.id))

    def _uploaded(self, file_id: int, *, someone_elses: bool = False) -> int:
        """``file/info``'s upload time. The host gives whole seconds: someone else's file
        counts from the end of its second, since a moment recorded earlier in that second may
        be before it came; syncd's own (without a journal, all are taken as syncd's) from the
        start, since a moment recorded just after its upload must hold it."""
        with self._lock:
            self.info_calls += 1
        dated = uploaded_ns(self.client, file_id)
        if dated is None:
            return 0
        return dated + 999_999_999 if someone_elses else dated

    def _list_all(self, folder_ids: list[int]) -> FolderListing:
        """The entries of every folder of one path, together."""
        if len(folder_ids) == 1:
            return self._list(folder_ids[0])
        folders: list[RemoteFolder] = []
        files: list[RemoteFile] = []
        for folder_id in folder_ids:
            listing = self._list(folder_id)
            folders += listing.folders
            files += listing.files
        return FolderListing(folders, files)

    def _list(self, folder_id: int | None) -> FolderListing:
        if folder_id is None:
            return FolderListing([], [])
        try:
            return self.client.folder_listing(folder_id)
        except NotFound:
            return FolderListing([], [])

    def _new(self, node: _Virtual) -> int:
        with self._lock:
            vid = next(self._ids)
            self._virtual[vid] = node
        return vid
