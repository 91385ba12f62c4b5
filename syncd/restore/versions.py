"""What the history holds for one path of a pair: `syncd versions`, and the sources `restore
--path` and `restore --version-id` read.

A file's versions are, for its path ``dir/name``:

* the live file(s) named ``name`` in the live folder ``dir`` (the journal's id is the current
  one; without a journal, the newest upload; other same-name uploads are listed as duplicates);
* the versioned files of ``name`` in the versions area's folder for ``dir``;
* the files named ``name`` inside a removed directory kept whole (a versioned folder of one of
  the path's ancestors), valid over that folder's interval.

A directory's listing is what was removed under it: every versioned file and versioned folder
in the versions area below it (a versioned folder is one entry, not walked), the versions of
the directory itself, and what a removed ancestor kept of it. One listing per folder walked.

Times come from the versioned names; a live file's FROM from the journal's upload record, else
the newest end of its versions (a version leaves the live tree right after its successor is
uploaded), else ``file/info``'s ``uploadedDate`` (one call).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from syncd.history.names import VERSIONS_DIR, VersionName, parse_versioned_name
from syncd.remote.client import RemoteClient
from syncd.remote.errors import NotFound
from syncd.remote.models import FolderListing, RemoteFile, RemoteFolder
from syncd.remote.paths import uploaded_ns

CURRENT = "current"
VERSION = "version"
DUPLICATE = "duplicate"  # a live same-name upload that is not the current one


def iso_ns(ns: int | None) -> str | None:
    """UTC ISO 8601 with milliseconds: ``2024-01-02T03:04:05.678Z``."""
    if ns is None:
        return None
    ms = ns // 1_000_000
    moment = datetime.fromtimestamp(ms // 1000, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class VersionEntry:
    """One version of a path: a remote file (or a removed folder kept whole)."""

    path: str  # relative to the pair's root
    remote_id: int
    size: int | None  # a versioned folder's: every byte it holds
    live_from_ns: int | None  # None: unknown
    live_to_ns: int | None  # None: still live
    state: str  # CURRENT | VERSION | DUPLICATE
    remote_name: str
    is_folder: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "id": self.remote_id,
            "kind": "folder" if self.is_folder else "file",
            "from": iso_ns(self.live_from_ns),
            "to": iso_ns(self.live_to_ns),
            "size": self.size,
            "state": self.state,
            "remote_name": self.remote_name,
        }


@dataclass
class VersionListing:
    path: str
    kind: str  # "file" | "dir" | "none"
    entries: list[VersionEntry] = field(default_factory=list)
    info_calls: int = 0


@dataclass(frozen=True, slots=True)
class _Place:
    """A remote folder that holds entries of one relative directory."""

    folder_id: int | None
    kind: str  # "live" | "area" (the versions area's mirror) | "kept" (inside a removed dir)
    interval: tuple[int, int] | None = None  # a kept folder's FROM and TO


class VersionFinder:
    """Looks a pair-relative path up in the live tree and the versions area."""

    def __init__(
        self,
        client: RemoteClient,
        root_folder_id: int | None,
        *,
        upload_time: Callable[[int], int | None] | None = None,
        current_id: Callable[[str], int | None] | None = None,
    ) -> None:
        self.client = client
        self.root = root_folder_id
        self.upload_time = upload_time or (lambda _id: None)
        self.current_id = current_id or (lambda _rel: None)
        self.info_calls = 0
        self._listings: dict[int | None, FolderListing] = {}

    def find(self, rel: str) -> VersionListing:
        parts = [p for p in rel.strip("/").split("/") if p]
        want_dir = rel.endswith("/") or not parts
        path = "/".join(parts)
        if not parts:
            return self._directory("", self._root_places(), [])
        parents = self._places_at(self._root_places(), parts[:-1])
        leaf = parts[-1]
        listings = [(place, self._list(place.folder_id)) for place in parents]
        if not want_dir:
            entries = self._file_versions(path, leaf, listings)
            if entries:
                return VersionListing(path, "file", entries, self.info_calls)
        own = self._folder_versions(path, leaf, listings)
        inside = self._places_below(listings, leaf)
        if not own and not inside:
            return VersionListing(path, "none", [], self.info_calls)
        return self._directory(path, inside, own)

    # -- walking ---------------------------------------------------------------------------------

    def _root_places(self) -> list[_Place]:
        live = self._list(self.root)
        areas = sorted(f.id for f in live.folders if f.name == VERSIONS_DIR)
        places = [_Place(self.root, "live")]
        places += [_Place(area, "area") for area in areas[:1]]
        return places

    def _places_at(self, places: list[_Place], parts: Sequence[str]) -> list[_Place]:
        for part in parts:
            listings = [(place, self._list(place.folder_id)) for place in places]
            places = self._places_below(listings, part)
        return places

    @staticmethod
    def _places_below(listings: list[tuple[_Place, FolderListing]], name: str) -> list[_Place]:
        """The folders that hold entries of ``name`` (a directory) below these places."""
        out: list[_Place] = []
        for place, listing in listings:
            for sub in listing.folders:
                if place.kind == "live" and sub.name == name and sub.name != VERSIONS_DIR:
                    out.append(_Place(sub.id, "live"))
                elif place.kind == "kept" and sub.name == name:
                    out.append(_Place(sub.id, "kept", place.interval))
                elif place.kind == "area":
                    parsed = parse_versioned_name(sub.name)
                    if parsed is None and sub.name == name:
                        out.append(_Place(sub.id, "area"))
                    elif parsed is not None and parsed.matches(name):
                        span = (parsed.live_from_ns, parsed.live_to_ns)
                        out.append(_Place(sub.id, "kept", span))
        return out

    # -- a file --------------------------------------------------------------------------------

    def _file_versions(
        self, path: str, name: str, listings: list[tuple[_Place, FolderListing]]
    ) -> list[VersionEntry]:
        versions: list[VersionEntry] = []
        live: list[RemoteFile] = []
        for place, listing in listings:
            for f in listing.files:
                if place.kind == "live" and f.name == name:
                    live.append(f)
                elif place.kind == "kept" and f.name == name and place.interval is not None:
                    start, end = place.interval
                    known = self.upload_time(f.id)
                    begin = (
                        known if known is not None else min(start, self._uploaded(f.id) or start)
                    )
                    versions.append(VersionEntry(path, f.id, f.size, begin, end, VERSION, f.name))
                elif place.kind == "area":
                    parsed = parse_versioned_name(f.name)
                    if parsed is not None and parsed.matches(name):
                        versions.append(
                            VersionEntry(
                                path,
                                f.id,
                                f.size,
                                parsed.live_from_ns,
                                parsed.live_to_ns,
                                VERSION,
                                f.name,
                            )
                        )
        if live:
            journal_id = self.current_id(path)
            ids = {f.id for f in live}
            current = journal_id if journal_id in ids else max(ids)
            newest_end = max((v.live_to_ns or 0 for v in versions), default=None)
            for f in live:
                start = self.upload_time(f.id)
                if start is None and f.id == current and newest_end:
                    start = newest_end
                if start is None:
                    start = self._uploaded(f.id)
                state = CURRENT if f.id == current else DUPLICATE
                versions.append(VersionEntry(path, f.id, f.size, start, None, state, f.name))
        return sorted(versions, key=_order)

    # -- a directory ---------------------------------------------------------------------------

    def _folder_versions(
        self, path: str, name: str, listings: list[tuple[_Place, FolderListing]]
    ) -> list[VersionEntry]:
        """The directory itself, removed whole (versioned folders of its name)."""
        out: list[VersionEntry] = []
        for place, listing in listings:
            if place.kind != "area":
                continue
            for sub in listing.folders:
                parsed = parse_versioned_name(sub.name)
                if parsed is not None and parsed.matches(name):
                    out.append(_folder_entry(path, sub, self._tree_size(sub), parsed))
        return out

    def _directory(
        self, path: str, places: list[_Place], own: list[VersionEntry]
    ) -> VersionListing:
        entries = list(own)
        stack = [(place, path) for place in places if place.kind != "live"]
        while stack:
            place, rel = stack.pop()
            listing = self._list(place.folder_id)
            for f in listing.files:
                if place.kind == "kept" and place.interval is not None:
                    start, end = place.interval
                    entries.append(
                        VersionEntry(_join(rel, f.name), f.id, f.size, start, end, VERSION, f.name)
                    )
                    continue
                parsed = parse_versioned_name(f.name)
                if parsed is not None:
                    entries.append(
                        VersionEntry(
                            _join(rel, parsed.original),
                            f.id,
                            f.size,
                            parsed.live_from_ns,
                            parsed.live_to_ns,
                            VERSION,
                            f.name,
                        )
                    )
            for sub in listing.folders:
                parsed = parse_versioned_name(sub.name) if place.kind == "area" else None
                if parsed is not None:
                    size = self._tree_size(sub)
                    entries.append(_folder_entry(_join(rel, parsed.original), sub, size, parsed))
                else:
                    stack.append((_Place(sub.id, place.kind, place.interval), _join(rel, sub.name)))
        return VersionListing(path, "dir", sorted(entries, key=_order), self.info_calls)

    # -- plumbing --------------------------------------------------------------------------------

    def _tree_size(self, folder: RemoteFolder) -> int | None:
        """The bytes a folder holds at any depth: listings report only the files directly in
        a folder, so each subfolder that has subfolders of its own is listed once."""
        if folder.total_size is None:
            return None
        total = folder.total_size
        if folder.child_folder_count == 0:
            return total
        for sub in self._list(folder.id).folders:
            size = self._tree_size(sub)
            if size is None:
                return None
            total += size
        return total

    def _uploaded(self, file_id: int) -> int | None:
        self.info_calls += 1
        return uploaded_ns(self.client, file_id)

    def _list(self, folder_id: int | None) -> FolderListing:
        """One listing per folder per lookup (the root is met twice on the way)."""
        cached = self._listings.get(folder_id)
        if cached is not None:
            return cached
        try:
            listing = self.client.folder_listing(folder_id)
        except NotFound:
            listing = FolderListing([], [])
        self._listings[folder_id] = listing
        return listing


def _folder_entry(
    path: str, folder: RemoteFolder, size: int | None, parsed: VersionName
) -> VersionEntry:
    return VersionEntry(
        path, folder.id, size, parsed.live_from_ns, parsed.live_to_ns, VERSION, folder.name, True
    )


def _join(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


def _order(entry: VersionEntry) -> tuple[str, int, int]:
    """By path, then oldest first; live entries last."""
    to = entry.live_to_ns if entry.live_to_ns is not None else 2**63 - 1
    return entry.path, to, entry.live_from_ns or 0


# -- restore's sources ---------------------------------------------------------------------------


class PathFilter:
    """A client-like source that shows, of the tree below ``root``, only the chain of folders
    down to ``parts`` and what is at its end (a file, a folder, or both of that name), so that
    :class:`syncd.restore.restorer.Restorer` restores a part of a tree at its own place."""

    def __init__(self, source: Any, root: int | None, parts: Sequence[str]) -> None:
        self.source = source
        self.parts = tuple(parts)
        self._depth: dict[int | None, int] = {root: 0}
        self._chain: dict[int | None, FolderListing] = {}
        self.found = False

    def folder_listing(self, folder_id: int | None) -> FolderListing:
        depth = self._depth.get(folder_id)
        if depth is None or depth >= len(self.parts):
            listing: FolderListing = self.source.folder_listing(folder_id)
            return listing
        cached = self._chain.get(folder_id)
        if cached is not None:  # the chain is listed once to check the path, then restored
            return cached
        listing = self._narrow(self.source.folder_listing(folder_id), depth)
        self._chain[folder_id] = listing
        return listing

    def _narrow(self, listing: FolderListing, depth: int) -> FolderListing:
        name = self.parts[depth]
        folders = [f for f in listing.folders if f.name == name]
        last = depth == len(self.parts) - 1
        files = [f for f in listing.files if f.name == name] if last else []
        if not last:
            for f in folders:
                self._depth[f.id] = depth + 1
        if last and (folders or files):
            self.found = True
        return FolderListing(folders, files)

    def __getattr__(self, name: str) -> Any:  # downloads go to the source
        return getattr(self.source, name)


class OneFile:
    """A client-like source of one folder holding one file under the name given: `restore
    --version-id` writes a version's bytes under its original name."""

    ROOT = -1

    def __init__(self, client: RemoteClient, file: RemoteFile) -> None:
        self.client = client
        self.file = file

    def folder_listing(self, folder_id: int | None) -> FolderListing:
        return FolderListing([], [self.file] if folder_id == self.ROOT else [])

    def file_download(self, file_id: int) -> Any:
        return self.client.file_download(file_id)

    def iter_download(self, link: Any, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        return self.client.iter_download(link, chunk_size)


def original_name(remote_name: str) -> str:
    """The live name a version was made from (a plain name is its own); a shortened original
    comes back shortened."""
    parsed = parse_versioned_name(remote_name)
    return parsed.original if parsed is not None else remote_name
