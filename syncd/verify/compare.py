"""`syncd verify`: compare the journal, the local tree and the remote listings of a pair, one
directory at a time, and report every difference. With ``deep``, download remote files (all, or
a random sample of N chosen by reservoir sampling during the walk) and compare their MD5 with the
local file's.

Memory grows with the largest directory (and the sample), not with the tree. Remote entries are
matched to local names by the journal's ids first (a remote name the host mangled is still the
same file), then by exact name.
"""

from __future__ import annotations

import os
import random
import stat
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from syncd.local.hashing import md5_file
from syncd.local.ignore import OWN_TEMP_PREFIX
from syncd.local.markers import INCOMPLETE_MARKER, TEMP_PREFIX, TEMP_SUFFIX
from syncd.local.scanner import LocalFilters
from syncd.remote.client import RemoteClient
from syncd.remote.downloads import BoundedPool, download_to
from syncd.remote.errors import NotFound, RemoteError
from syncd.remote.models import FolderListing, RemoteFile, RemoteFolder

# Kinds of difference, as they appear in --json output.
MISSING_REMOTELY = "missing_remotely"  # local entry with no remote counterpart
EXTRA_REMOTELY = "extra_remotely"  # remote entry the journal does not know, absent locally
MISSING_LOCALLY = "missing_locally"  # remote entry the journal knows, absent locally
SIZE_DIFFERS = "size_differs"
TYPE_DIFFERS = "type_differs"  # a file on one side, a folder on the other
DUPLICATE_REMOTE = "duplicate_remote_name"  # two entries of one name in one remote folder
JOURNAL_ORPHAN = "journal_without_either_side"
NOT_IN_JOURNAL = "not_in_journal"  # on both sides but untracked
JOURNAL_STALE = "journal_differs"  # the journal's ids or sizes do not match what is there
CONTENT_DIFFERS = "content_differs"  # --deep: MD5 of remote bytes != local file's
CHECK_FAILED = "check_failed"  # --deep: could not download or read
RESTORE_INCOMPLETE = "restore_incomplete"  # a disaster-recovery restore has not finished
REMOTE_CYCLE = "remote_folder_cycle"  # a folder id met twice in the remote tree: not entered
LOCAL_ROOT_MISSING = "local_root_missing"  # nothing compared: the pair's root is not there
NOT_SYNCED = "not_synced"  # a note, not a difference: the sync skipped it for a stated reason
FOREIGN = "foreign"  # a note (backup mode): a remote entry syncd did not upload and does not own


@dataclass(frozen=True, slots=True)
class Difference:
    kind: str
    path: str  # '/'-separated, relative to the pair's root; folders end in '/'
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "path": printable(self.path), "detail": printable(self.detail)}


def printable(text: str) -> str:
    """``text`` as valid Unicode for JSON and terminals: the undecodable bytes of a file name
    (surrogate escapes from ``os.scandir``) become ``\\xNN``, like the scanner's messages."""
    try:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that is not an escaped byte (from JSON)
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass(frozen=True, slots=True)
class SyncedEntry:
    """One journal row under a directory: what both sides last agreed on."""

    name: str  # local name
    is_folder: bool
    remote_id: int | None
    remote_name: str | None = None
    size: int | None = None
    md5: str | None = None
    status: str = "synced"  # "skipped" / "failed": the sync gave up on it, for ``reason``
    reason: str | None = None


class JournalView(Protocol):
    """What verify reads from the journal of one pair."""

    def children(self, rel_dir: str) -> list[SyncedEntry]: ...


@dataclass
class VerifyReport:
    pair: str
    local_root: str
    remote_path: str
    files_compared: int = 0
    folders_compared: int = 0
    deep_checked: int = 0
    deep_bytes: int = 0
    differences: list[Difference] = field(default_factory=list)
    notes: list[Difference] = field(default_factory=list)  # explained, not counted as failing
    warnings: list[str] = field(default_factory=list)  # e.g. the remote root moved on the web
    # Local paths the sync leaves out, as (path, "ignored" | "not synced", why): not compared.
    left_out: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    @property
    def local_root_missing(self) -> bool:
        return any(d.kind == LOCAL_ROOT_MISSING for d in self.differences)

    def to_json(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for diff in self.differences:
            counts[diff.kind] = counts.get(diff.kind, 0) + 1
        return {
            "pair": self.pair,
            "local": printable(self.local_root),
            "remote": printable(self.remote_path),
            "ok": self.ok,
            "files_compared": self.files_compared,
            "folders_compared": self.folders_compared,
            "deep_checked": self.deep_checked,
            "counts": counts,
            "differences": [d.to_json() for d in self.differences],
            "notes": [d.to_json() for d in self.notes],
            "warnings": list(self.warnings),
            "left_out": [
                {"path": printable(p), "kind": k, "reason": r} for p, k, r in self.left_out
            ],
            "left_out_counts": {
                kind: sum(1 for x in self.left_out if x[1] == kind)
                for kind in ("ignored", "not synced")
            },
        }

    def lines(self) -> list[str]:
        if self.local_root_missing:
            (diff,) = self.differences
            return [f"{self.pair}: NOT COMPARED — {printable(diff.detail)}"]
        head = (
            f"{self.pair}: {'OK' if self.ok else 'DIFFERS'} — {self.files_compared} files and "
            f"{self.folders_compared} folders compared"
        )
        if self.deep_checked:
            head += f", {self.deep_checked} MD5-checked ({self.deep_bytes / 1e6:.1f} MB)"
        head += f", {len(self.differences)} differences"
        lines = [head]
        lines += [f"  warning: {printable(w)}" for w in self.warnings]
        lines += [
            f"  {d.kind.replace('_', ' ')}: {printable(d.path)} ({printable(d.detail)})"
            for d in self.differences
        ]
        lines += [_note_line(d) for d in self.notes]
        if self.left_out:
            lines.append(f"  left out: {self._left_out_summary()} — --json lists them")
        return lines

    def _left_out_summary(self) -> str:
        parts = []
        for kind in ("ignored", "not synced"):
            reasons: dict[str, int] = {}
            for _path, k, why in self.left_out:
                if k == kind:
                    reasons[why] = reasons.get(why, 0) + 1
            if reasons:
                detail = ", ".join(f"{n} {why}" for why, n in sorted(reasons.items()))
                parts.append(f"{sum(reasons.values())} {kind} ({detail})")
        return "; ".join(parts)


def _note_line(note: Difference) -> str:
    path, detail = printable(note.path), printable(note.detail)
    if note.kind == NOT_SYNCED:
        return f"  note: {path} not synced ({detail})"
    if note.kind == FOREIGN:
        return f"  foreign (not syncd's, left alone): {path} ({detail})"
    return f"  note: {path} ({detail})"


@dataclass(frozen=True, slots=True)
class _LocalEntry:
    name: str
    is_dir: bool
    size: int


@dataclass(frozen=True, slots=True)
class _DeepCheck:
    rel_path: str
    local_path: str
    remote: RemoteFile


def _is_restore_temp(name: str) -> bool:
    return name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)


class Verifier:
    def __init__(
        self,
        client: RemoteClient,
        *,
        pair: str,
        local_root: str,
        remote_path: str,
        journal: JournalView | None = None,
        ignored: Callable[[str, bool], bool] | None = None,
        ignored_why: Callable[[str, bool], str] | None = None,
        filters: LocalFilters | None = None,
        deep: bool = False,
        sample: int | None = None,
        workers: int = 4,
        rng: random.Random | None = None,
        foreign_ok: bool = False,
        own_upload: Callable[[int], bool] | None = None,
    ) -> None:
        self.client = client
        self.local_root = os.path.abspath(local_root)
        self.journal = journal
        self.ignored = ignored or (lambda _rel, _is_dir: False)
        self.ignored_why = ignored_why or (lambda _rel, _is_dir: "ignore rules")
        self.filters = filters or LocalFilters()
        self.deep = deep or sample is not None
        self.sample = sample
        self.workers = max(1, workers)
        self.rng = rng or random.Random()
        # Backup mode leaves remote entries syncd does not own where they are: listed as
        # foreign, not as differences. syncd's own uploads (``own_upload``) are never foreign.
        self.foreign_ok = foreign_ok
        self.own_upload = own_upload or (lambda _id: False)
        self.report = VerifyReport(pair, self.local_root, remote_path)
        self._lock = threading.Lock()
        self._reservoir: list[_DeepCheck] = []
        self._seen_for_sample = 0
        # Remote folder ids queued so far: a host that lists a folder inside itself (or any
        # cycle) must not send the walk round again.
        self._seen_folders: set[int | None] = set()
        self.root_listing: FolderListing | None = None

    def run(self, remote_root_id: int | None) -> VerifyReport:
        """Compare the pair whose remote folder is ``remote_root_id`` (None: the account root)."""
        self._seen_folders = {remote_root_id}
        with BoundedPool(self.workers, "verify") as pool:
            stack: list[tuple[str, int | None]] = [("", remote_root_id)]
            while stack:
                rel_dir, folder_id = stack.pop()
                listing = self.client.folder_listing(folder_id)
                if not rel_dir:
                    self.root_listing = listing  # the versions area is found in it
                for check in self._compare_dir(rel_dir, listing, stack):
                    pool.submit(self._deep_check, check)
            for check in self._reservoir:
                pool.submit(self._deep_check, check)
        self.report.differences.sort(key=lambda d: (d.path, d.kind))
        self.report.notes.sort(key=lambda d: d.path)
        self.report.left_out.sort()
        return self.report

    def local_root_is_missing(self) -> bool:
        return not os.path.isdir(self.local_root)

    def run_local_missing(self) -> VerifyReport:
        """The pair's local root is not there (an unmounted disk looks like this): one difference
        says so, instead of every remote file reported as extra."""
        self._diff(
            LOCAL_ROOT_MISSING,
            "/",
            f"the local root {self.local_root} is missing or not a directory — is the disk "
            "mounted? (check [[pairs]] local); nothing was compared",
        )
        return self.report

    def run_remote_missing(self) -> VerifyReport:
        """The pair's remote folder does not exist at all: one difference says so."""
        self._diff(
            MISSING_REMOTELY, "/", f"the remote folder {self.report.remote_path!r} is missing"
        )
        return self.report

    # -- one directory

    def _compare_dir(
        self, rel_dir: str, listing: FolderListing, stack: list[tuple[str, int | None]]
    ) -> list[_DeepCheck]:
        self.report.folders_compared += 1
        local = self._scan_local(rel_dir)
        # What the pair's filters keep out of the sync is noted, and not compared on either
        # side (the engine leaves a remote copy synced before the filter applied).
        filtered = self._filtered(rel_dir, local)
        synced = {e.name: e for e in self.journal.children(rel_dir)} if self.journal else {}
        synced = {name: row for name, row in synced.items() if name not in filtered}
        remote_folders = [
            f
            for f in listing.folders
            if not self._ignored(rel_dir, f.name, True) and f.name not in filtered
        ]
        remote_files = [
            f
            for f in listing.files
            if not self._ignored(rel_dir, f.name, False) and f.name not in filtered
        ]
        if self.foreign_ok and self.journal is not None:
            remote_folders, remote_files = self._set_foreign_aside(
                rel_dir, local, synced, remote_folders, remote_files
            )
        self._report_duplicates(rel_dir, remote_folders, remote_files)

        # Match remote entries to local names: by the journal's id first, then by exact name.
        by_id: dict[tuple[bool, int], RemoteFolder | RemoteFile] = {}
        for rf in remote_folders:
            by_id.setdefault((True, rf.id), rf)
        for rfile in remote_files:
            by_id.setdefault((False, rfile.id), rfile)
        matched: dict[str, RemoteFolder | RemoteFile] = {}
        claimed: set[tuple[bool, int]] = set()
        for name, row in synced.items():
            if row.remote_id is not None and (row.is_folder, row.remote_id) in by_id:
                matched[name] = by_id[(row.is_folder, row.remote_id)]
                claimed.add((row.is_folder, row.remote_id))
        for entry in sorted([*remote_folders, *remote_files], key=lambda e: e.id):
            is_folder = isinstance(entry, RemoteFolder)
            key = (is_folder, entry.id)
            if key not in claimed and entry.name not in matched:
                matched[entry.name] = entry
                claimed.add(key)
        checks: list[_DeepCheck] = []
        for name in sorted(set(local) | set(matched) | set(synced)):
            checks += self._compare_entry(
                rel_dir, name, local.get(name), matched.get(name), synced.get(name), stack
            )
        # Remote entries left unmatched lost a duplicate name: reported as duplicates above.
        return checks

    def _compare_entry(
        self,
        rel_dir: str,
        name: str,
        loc: _LocalEntry | None,
        rem: RemoteFolder | RemoteFile | None,
        row: SyncedEntry | None,
        stack: list[tuple[str, int | None]],
    ) -> list[_DeepCheck]:
        rel = f"{rel_dir}/{name}" if rel_dir else name
        rem_is_dir = isinstance(rem, RemoteFolder)
        shown = rel + ("/" if (loc and loc.is_dir) or (rem is not None and rem_is_dir) else "")
        if row is not None and row.status != "synced" and rem is None:
            with self._lock:
                self.report.notes.append(Difference(NOT_SYNCED, shown, row.reason or row.status))
            return []
        if loc is None and rem is None:
            self._diff(JOURNAL_ORPHAN, shown, "the journal lists it; neither side has it")
            return []
        if rem is None:
            assert loc is not None
            what = "folder" if loc.is_dir else f"{loc.size} bytes"
            self._diff(MISSING_REMOTELY, shown, f"local {what}, nothing remotely")
            return []
        if loc is None:
            if row is not None:
                self._diff(MISSING_LOCALLY, shown, f"remote id {rem.id}, deleted locally?")
            else:
                self._diff(EXTRA_REMOTELY, shown, f"remote id {rem.id}, unknown to the journal")
            return []
        if loc.is_dir != rem_is_dir:
            sides = ("folder", "file") if loc.is_dir else ("file", "folder")
            self._diff(TYPE_DIFFERS, shown, f"local {sides[0]}, remote {sides[1]} (id {rem.id})")
            return []
        if self.journal is not None:
            self._check_row(shown, rem, row, loc)
        if isinstance(rem, RemoteFolder):
            if rem.id in self._seen_folders:
                self._diff(
                    REMOTE_CYCLE,
                    shown,
                    f"folder id {rem.id} appears twice in the remote tree: skipped (cycle)",
                )
            else:
                self._seen_folders.add(rem.id)
                stack.append((rel, rem.id))
            return []
        self.report.files_compared += 1
        if loc.size != rem.size:
            self._diff(SIZE_DIFFERS, shown, f"local {loc.size} bytes, remote {rem.size}")
            return []
        if rem.name != name:
            # Matched by the journal's id: the remote copy was renamed (or the host mangled it).
            self._diff(JOURNAL_STALE, shown, f"remote name is {rem.name!r}")
        if not self.deep:
            return []
        check = _DeepCheck(rel, os.path.join(self.local_root, *rel.split("/")), rem)
        return self._offer(check)

    def _set_foreign_aside(
        self,
        rel_dir: str,
        local: dict[str, _LocalEntry],
        synced: dict[str, SyncedEntry],
        folders: list[RemoteFolder],
        files: list[RemoteFile],
    ) -> tuple[list[RemoteFolder], list[RemoteFile]]:
        """Backup mode: entries the journal does not track, that syncd did not upload, and
        that no untracked local entry of that name could be (a name free locally, or one the
        journal holds with another id) are noted as foreign and left out of the comparison."""
        tracked = {(r.is_folder, r.remote_id) for r in synced.values() if r.remote_id is not None}
        held = {r.name for r in synced.values() if r.remote_id is not None}
        held |= {r.remote_name for r in synced.values() if r.remote_name is not None}

        def foreign(entry: RemoteFolder | RemoteFile) -> bool:
            is_folder = isinstance(entry, RemoteFolder)
            if (is_folder, entry.id) in tracked or (not is_folder and self.own_upload(entry.id)):
                return False
            return entry.name not in local or entry.name in held

        prefix = f"{rel_dir}/" if rel_dir else ""
        for entry in [*folders, *files]:
            if foreign(entry):
                is_folder = isinstance(entry, RemoteFolder)
                what = "folder" if is_folder else f"{entry.size} bytes"
                with self._lock:
                    self.report.notes.append(
                        Difference(
                            FOREIGN,
                            prefix + entry.name + ("/" if is_folder else ""),
                            f"remote id {entry.id}, {what}, not uploaded by syncd",
                        )
                    )
        return [f for f in folders if not foreign(f)], [f for f in files if not foreign(f)]

    def _check_row(
        self,
        shown: str,
        rem: RemoteFolder | RemoteFile,
        row: SyncedEntry | None,
        loc: _LocalEntry,
    ) -> None:
        if row is None:
            self._diff(NOT_IN_JOURNAL, shown, f"on both sides (remote id {rem.id}), untracked")
        elif row.remote_id != rem.id:
            self._diff(JOURNAL_STALE, shown, f"journal id {row.remote_id}, remote id {rem.id}")
        elif isinstance(rem, RemoteFile) and row.size is not None and row.size != loc.size:
            self._diff(JOURNAL_STALE, shown, f"journal size {row.size}, local {loc.size}")

    def _report_duplicates(
        self, rel_dir: str, folders: Iterable[RemoteFolder], files: Iterable[RemoteFile]
    ) -> None:
        seen: dict[str, list[int]] = {}
        for entry in [*folders, *files]:
            seen.setdefault(entry.name, []).append(entry.id)
        prefix = f"{rel_dir}/" if rel_dir else ""
        for name, ids in sorted(seen.items()):
            if len(ids) > 1:
                listed = ", ".join(str(i) for i in sorted(ids))
                self._diff(
                    DUPLICATE_REMOTE, prefix + name, f"{len(ids)} remote entries (ids {listed})"
                )

    # -- local side

    def _scan_local(self, rel_dir: str) -> dict[str, _LocalEntry]:
        path = os.path.join(self.local_root, *rel_dir.split("/")) if rel_dir else self.local_root
        entries: dict[str, _LocalEntry] = {}
        try:
            with os.scandir(path) as it:
                for entry in it:
                    if not rel_dir and entry.name == INCOMPLETE_MARKER:
                        self._diff(RESTORE_INCOMPLETE, entry.name, "run the restore again")
                        continue
                    if _is_restore_temp(entry.name):
                        continue
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue
                    rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                    is_dir = stat.S_ISDIR(st.st_mode)
                    if self._ignored(rel_dir, entry.name, is_dir):
                        if not entry.name.startswith(OWN_TEMP_PREFIX):
                            why = self.ignored_why(rel, is_dir)
                            self._left_out(rel + "/" if is_dir else rel, "ignored", why)
                        continue
                    if stat.S_ISLNK(st.st_mode):
                        self._left_out(rel, "not synced", "symlink")  # the default: not followed
                        continue
                    if not is_dir and not stat.S_ISREG(st.st_mode):
                        self._left_out(rel, "not synced", "special file")
                        continue
                    if not os.access(entry.path, os.R_OK | (os.X_OK if is_dir else 0)):
                        self._left_out(rel, "not synced", "permission denied")
                        continue
                    entries[entry.name] = _LocalEntry(
                        entry.name, is_dir, 0 if is_dir else st.st_size
                    )
        except FileNotFoundError:
            pass
        return entries

    def _left_out(self, path: str, kind: str, why: str) -> None:
        with self._lock:
            self.report.left_out.append((path, kind, why))

    def _filtered(self, rel_dir: str, local: dict[str, _LocalEntry]) -> set[str]:
        """Take out of ``local`` what ``max_size`` and ``exclude_if_present`` exclude, noting
        each with the scanner's reason; their names."""
        filters = self.filters
        if not filters:
            return set()
        out: set[str] = set()
        for name, entry in list(local.items()):
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if entry.is_dir:
                marker = filters.marker_in(os.path.join(self.local_root, *rel.split("/")))
                reason = f"holds {marker} (exclude_if_present)" if marker else None
            elif filters.max_size is not None and entry.size > filters.max_size:
                reason = f"{entry.size} bytes, over max_size {filters.max_size}"
            else:
                reason = None
            if reason is not None:
                del local[name]
                out.add(name)
                with self._lock:
                    shown = rel + ("/" if entry.is_dir else "")
                    self.report.notes.append(Difference(NOT_SYNCED, shown, reason))
        return out

    def _ignored(self, rel_dir: str, name: str, is_dir: bool) -> bool:
        rel = f"{rel_dir}/{name}" if rel_dir else name
        return self.ignored(rel, is_dir)

    # -- deep checks

    def _offer(self, check: _DeepCheck) -> list[_DeepCheck]:
        """All checks run when not sampling; otherwise keep a uniform reservoir of N."""
        if self.sample is None:
            return [check]
        self._seen_for_sample += 1
        if len(self._reservoir) < self.sample:
            self._reservoir.append(check)
        else:
            slot = self.rng.randrange(self._seen_for_sample)
            if slot < self.sample:
                self._reservoir[slot] = check
        return []

    def _deep_check(self, check: _DeepCheck) -> None:
        try:
            local_md5 = md5_file(check.local_path, follow_symlinks=False)
        except OSError as exc:
            self._diff(CHECK_FAILED, check.rel_path, f"cannot read the local file: {exc.strerror}")
            return
        try:
            remote_md5, size = download_to(self.client, check.remote.id)
        except NotFound:
            self._diff(CHECK_FAILED, check.rel_path, "the remote file vanished during verify")
            return
        except RemoteError as exc:
            self._diff(CHECK_FAILED, check.rel_path, f"download failed: {exc}")
            return
        with self._lock:
            self.report.deep_checked += 1
            self.report.deep_bytes += size
        if remote_md5 != local_md5:
            self._diff(
                CONTENT_DIFFERS,
                check.rel_path,
                f"remote MD5 {remote_md5} ({size} bytes), local MD5 {local_md5}",
            )

    def _diff(self, kind: str, path: str, detail: str) -> None:
        with self._lock:
            self.report.differences.append(Difference(kind, path, detail))
