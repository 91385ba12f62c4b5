"""`syncd verify`'s check of a pair's history: the versions area (``.syncd-versions/`` in the
pair's remote folder, docs/architecture.md "Versions") is well-formed.

Every file in it must carry a versioned name (``syncd.history.names``) whose interval runs
forwards; a folder in it is either the mirror of a pair directory (a plain name, walked) or a
directory removed whole (a versioned name: its contents keep their plain names and are not
walked). Anything else is a stray: a file someone put there, which ``restore --at`` ignores and
the retention policy never prunes. The live tree is compared by :mod:`syncd.verify.compare`,
which never enters the area (its name is one of syncd's own).

One listing per folder of the area; the area is found in the pair folder's listing.
"""

from __future__ import annotations

from dataclasses import dataclass

from syncd.history.names import VERSIONS_DIR, VersionName, parse_versioned_name
from syncd.remote.client import RemoteClient
from syncd.remote.errors import NotFound
from syncd.remote.models import FolderListing, RemoteFolder
from syncd.verify.compare import DUPLICATE_REMOTE, Difference, VerifyReport

MALFORMED_VERSION = "malformed_version"  # a name in the versions area syncd cannot read back
HISTORY = "history"  # a note: what the versions area holds

_EXPECTED = "a version is named NAME~vFROM-TO~.EXT"


@dataclass
class AreaFacts:
    versions: int = 0  # versioned files plus directories kept whole
    bytes: int = 0
    folders: int = 0  # folders of the area listed


def check_versions_area(
    client: RemoteClient, root_listing: FolderListing | None, report: VerifyReport
) -> AreaFacts:
    """Walk the versions area found in the pair's folder (``root_listing``); malformed entries
    become differences of ``report``, and a note says what the area holds."""
    facts = AreaFacts()
    if root_listing is None:
        return facts
    areas = sorted(
        (f for f in root_listing.folders if f.name == VERSIONS_DIR),
        key=lambda f: f.id,
    )
    if not areas:
        return facts
    if len(areas) > 1:
        ids = ", ".join(str(f.id) for f in areas)
        report.differences.append(
            Difference(
                DUPLICATE_REMOTE,
                VERSIONS_DIR + "/",
                f"{len(areas)} versions areas (ids {ids}); syncd uses the oldest — move the "
                "others' contents into it",
            )
        )
    stack: list[tuple[str, int]] = [(VERSIONS_DIR, f.id) for f in areas]
    while stack:
        rel, folder_id = stack.pop()
        try:
            listing = client.folder_listing(folder_id)
        except NotFound:
            continue  # removed while verify ran
        facts.folders += 1
        for f in listing.files:
            parsed = parse_versioned_name(f.name)
            problem = _problem(parsed)
            if problem is not None:
                report.differences.append(
                    Difference(MALFORMED_VERSION, f"{rel}/{f.name}", f"id {f.id}: {problem}")
                )
                continue
            facts.versions += 1
            facts.bytes += f.size
        for sub in listing.folders:
            parsed = parse_versioned_name(sub.name)
            if parsed is None:
                stack.append((f"{rel}/{sub.name}", sub.id))  # the mirror of a pair directory
                continue
            problem = _problem(parsed)
            if problem is not None:
                report.differences.append(
                    Difference(MALFORMED_VERSION, f"{rel}/{sub.name}/", f"id {sub.id}: {problem}")
                )
                continue
            facts.versions += 1
            facts.bytes += _folder_bytes(sub)
    report.notes.append(
        Difference(
            HISTORY,
            VERSIONS_DIR + "/",
            f"{facts.versions} versions, {facts.bytes} bytes, {facts.folders} folders checked",
        )
    )
    return facts


def _problem(parsed: VersionName | None) -> str | None:
    if parsed is None:
        return (
            f"not a version syncd made ({_EXPECTED}); restore and pruning ignore it — move it "
            "out of the versions area"
        )
    if parsed.live_from_ns > parsed.live_to_ns:
        return "its live interval ends before it starts (FROM is after TO)"
    return None


def _folder_bytes(folder: RemoteFolder) -> int:
    return folder.total_size or 0
