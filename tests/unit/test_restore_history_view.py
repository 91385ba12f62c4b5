"""`restore --at` through HistoryView: when someone else's file in a removed directory counts.

The host answers ``file/info``'s ``uploadedDate`` to the whole second. A file syncd did not
upload (the journal has no upload time for it) went into the versions area with the directory
it was in; found by the model test (mirror keeping versions): such a file, added in the same
second as an earlier recorded moment, was restored at that moment, before it existed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from syncd.history.names import VERSIONS_DIR, versioned_name
from syncd.remote.models import FolderListing, RemoteFile, RemoteFolder
from syncd.restore.history import Candidate, HistoryView, pick

SECOND = 1_000_000_000
S = 1_796_000_000 * SECOND  # a whole second
ROOT, AREA, KEPT, FOREIGN = 1, 2, 3, 10


class _Host:
    """A pair whose versions area holds one directory, q, removed at S + 1.5 s and kept
    whole, holding one file nobody synced: uploaded at S + 0.7 s, dated S by the host."""

    def __init__(self) -> None:
        self.info_calls = 0

    def folder_listing(self, folder_id: int | None) -> FolderListing:
        if folder_id == ROOT:
            return FolderListing([RemoteFolder(AREA, ROOT, VERSIONS_DIR)], [])
        if folder_id == AREA:
            removed = S + 3 * SECOND // 2
            name = versioned_name("q", removed, removed, is_folder=True)
            return FolderListing([RemoteFolder(KEPT, AREA, name)], [])
        assert folder_id == KEPT
        return FolderListing([], [RemoteFile(FOREIGN, "p", 2, KEPT, "active")])

    def file_info(self, file_id: int) -> RemoteFile:
        self.info_calls += 1
        dated = datetime.fromtimestamp(S // SECOND, tz=UTC)
        return RemoteFile(file_id, "p", 2, KEPT, "active", uploaded_at=dated)


def _files_in_q(at_ns: int) -> list[str]:
    view = HistoryView(_Host(), ROOT, at_ns, upload_time=lambda _id: None)  # type: ignore[arg-type]
    root = view.folder_listing(view.root)
    q = [f for f in root.folders if f.name == "q"]
    return [f.name for f in view.folder_listing(q[0].id).files] if q else []


def test_someone_elses_file_in_a_kept_directory_is_not_restored_before_its_second_ends() -> None:
    assert _files_in_q(S + 3 * SECOND // 10) == []  # before it came, in the second it is dated


def test_someone_elses_file_in_a_kept_directory_counts_once_its_second_is_over() -> None:
    assert _files_in_q(S + 12 * SECOND // 10) == ["p"]


def _file(file_id: int) -> RemoteFile:
    return RemoteFile(file_id, "a.txt", 1, ROOT, "active")


def test_a_version_holds_its_name_over_a_live_file_renamed_onto_it_later() -> None:
    """Found by the model test (both modes keeping versions): `mv c a.txt` over a synced a.txt.
    The old a.txt becomes a version, live until the rename; c's upload keeps its id and is live
    as a.txt from then on, but counts from its upload (renames are not recorded). At a moment
    before the rename both claim a.txt: the version's name says it was a.txt then; the live
    file's start only says when it was uploaded, under whatever name. The version wins."""
    renamed_c = Candidate(_file(1), live_from_ns=100)  # uploaded as c at 100
    old_a = Candidate(_file(2), live_from_ns=90, live_to_ns=200, placed=True)
    assert pick([renamed_c, old_a], 150) == old_a
    assert pick([renamed_c, old_a], 200) == renamed_c


def test_among_live_files_or_among_versions_the_newest_still_wins() -> None:
    older, newer = Candidate(_file(1), 100), Candidate(_file(2), 120)
    assert pick([older, newer], 150) == newer
    v1 = Candidate(_file(3), 100, 300, placed=True)
    v2 = Candidate(_file(4), 120, 300, placed=True)
    assert pick([v1, v2], 150) == v2


class _RenamedOver:
    """A pair's folder after `mv c a.txt` over a synced a.txt at S + 2 s: the old a.txt (id 2)
    is a version live from S + 0.1 s to the rename; c's upload (id 1, made at S + 0.5 s) is
    the live a.txt."""

    def folder_listing(self, folder_id: int | None) -> FolderListing:
        if folder_id == ROOT:
            live_a = RemoteFile(1, "a.txt", 1, ROOT, "active")
            return FolderListing([RemoteFolder(AREA, ROOT, VERSIONS_DIR)], [live_a])
        assert folder_id == AREA
        name = versioned_name("a.txt", S + SECOND // 10, S + 2 * SECOND)
        return FolderListing([], [RemoteFile(2, name, 1, AREA, "active")])


def _restored(at_ns: int) -> dict[str, int]:
    uploads = {1: S + SECOND // 2}
    view = HistoryView(_RenamedOver(), ROOT, at_ns, upload_time=uploads.get)  # type: ignore[arg-type]
    return {f.name: f.id for f in view.folder_listing(view.root).files}


def test_a_file_renamed_over_another_later_is_restored_beside_it_not_lost() -> None:
    """Before the rename both were on the host: the old a.txt under its name, c's bytes under
    a numbered one (c's own name then is not recorded). After it, a.txt is c's."""
    assert _restored(S + SECOND) == {"a.txt": 2, "a (2).txt": 1}
    assert _restored(S + 3 * SECOND) == {"a.txt": 1}


class _RenamedOverThenDeleted(_RenamedOver):
    """As :class:`_RenamedOver`, then the new a.txt (c's upload, id 1) deleted at S + 4 s: it
    became a version too, named a.txt and live from its upload, when it was still c."""

    def folder_listing(self, folder_id: int | None) -> FolderListing:
        if folder_id == ROOT:
            return FolderListing([RemoteFolder(AREA, ROOT, VERSIONS_DIR)], [])
        assert folder_id == AREA
        old_a = versioned_name("a.txt", S + SECOND // 10, S + 2 * SECOND)
        renamed_c = versioned_name("a.txt", S + SECOND // 2, S + 4 * SECOND)
        return FolderListing(
            [],
            [RemoteFile(2, old_a, 1, AREA, "active"), RemoteFile(1, renamed_c, 1, AREA, "active")],
        )


def test_two_versions_of_one_name_live_at_once_are_both_restored() -> None:
    """Found by the model test (backup mode): `mv b.txt a.txt` over a synced a.txt, then
    `rm a.txt`. Both versions carry the name a.txt and both were on the host before the
    rename (one as b.txt, a name not recorded): neither's content may be lost."""
    view = HistoryView(_RenamedOverThenDeleted(), ROOT, S + SECOND, upload_time=lambda _id: None)  # type: ignore[arg-type]
    restored = {f.name: f.id for f in view.folder_listing(view.root).files}
    assert sorted(restored) == ["a (2).txt", "a.txt"]
    assert sorted(restored.values()) == [1, 2]
    later = HistoryView(
        _RenamedOverThenDeleted(), ROOT, S + 3 * SECOND, upload_time=lambda _id: None
    )  # type: ignore[arg-type]
    assert {f.name: f.id for f in later.folder_listing(later.root).files} == {"a.txt": 1}


class _LiveHost:
    """A pair's live folder holding one file that has no upload time in the journal, uploaded
    at S + 0.7 s and dated S by the host."""

    def folder_listing(self, folder_id: int | None) -> FolderListing:
        assert folder_id == ROOT
        return FolderListing([], [RemoteFile(FOREIGN, "a.txt", 2, ROOT, "active")])

    def file_info(self, file_id: int) -> RemoteFile:
        dated = datetime.fromtimestamp(S // SECOND, tz=UTC)
        return RemoteFile(file_id, "a.txt", 2, ROOT, "active", uploaded_at=dated)


def _live_files(at_ns: int, *, tracked: bool) -> list[str]:
    view = HistoryView(
        _LiveHost(),  # type: ignore[arg-type]
        ROOT,
        at_ns,
        upload_time=lambda _id: None,
        tracked=lambda _id: tracked,
    )
    return [f.name for f in view.folder_listing(view.root).files]


def test_a_live_file_the_journal_does_not_know_is_not_restored_before_its_second_ends() -> None:
    """Found by the model test (backup, seed 20261261): an upload a killed run left, renamed
    on the web site (someone else's from then on), was restored at a moment recorded earlier
    in the second the host dates it to: counted from the start of that second, as syncd's."""
    assert _live_files(S + 3 * SECOND // 10, tracked=False) == []
    assert _live_files(S + 12 * SECOND // 10, tracked=False) == ["a.txt"]


def test_a_live_file_the_journal_tracks_without_an_upload_time_counts_from_its_second() -> None:
    """A journal from before upload times were recorded: the file is syncd's, and a moment
    just after its upload must hold it."""
    assert _live_files(S + 3 * SECOND // 10, tracked=True) == ["a.txt"]
