"""A remote folder found by its path from the account root: one listing per level.

This is the one place that walks a folder path name by name. The host allows two folders of one
name in one parent, so what to do with such twins is the caller's choice (:class:`SameName`):
restore and verify refuse to guess which one holds the backup; the sync engine, which made the
root itself, takes the oldest.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from syncd.errors import UserError
from syncd.remote.client import RemoteClient
from syncd.remote.encrypted import EncryptedClient, plain_client


class RemoteFolderMissing(UserError):
    """The remote folder path does not exist."""


class SameName(enum.Enum):
    """What to do when one parent holds several folders of the name being looked up."""

    REFUSE = "refuse"  # a UserError naming their ids (choose one with --remote-id)
    OLDEST = "oldest"  # the lowest id: the twin that was there first


def split_remote_path(path: str) -> tuple[str, ...]:
    """'/Backup//Docs/' -> ('Backup', 'Docs'); '' and '/' -> () (the account root)."""
    return tuple(part for part in path.split("/") if part)


def resolve_remote_folder(
    client: RemoteClient | EncryptedClient,
    parts: Sequence[str],
    *,
    prefer: int | None = None,
    same_name: SameName = SameName.REFUSE,
    create: bool = False,
) -> int | None:
    """The id of the folder at ``parts`` from the account root (None = the root itself).

    Names are matched exactly, one listing per level. Twins (several folders of one name in one
    parent) are settled by ``same_name``; before that, ``prefer`` (the id the journal knows for
    the last level) wins if it is one of them. A missing level raises
    :class:`RemoteFolderMissing`, or with ``create`` is created (and so is everything below it).
    """
    # The path to a pair's root is never encrypted (only what lies inside the root is).
    client = plain_client(client)
    folder_id: int | None = None
    for depth, part in enumerate(parts):
        where = "/".join(parts[:depth]) or "the account root"
        shown = "/".join(parts[: depth + 1])
        matches = [f for f in client.folder_listing(folder_id).folders if f.name == part]
        if not matches:
            if create:
                folder_id = client.folder_create(part, folder_id).id
                continue
            raise RemoteFolderMissing(
                f"remote folder {shown!r} does not exist (no folder named {part!r} in {where}) "
                "— check the path and its spelling (names are case-sensitive)"
            )
        last = depth == len(parts) - 1
        if len(matches) > 1 and last and prefer in {f.id for f in matches}:
            matches = [f for f in matches if f.id == prefer]
        if len(matches) > 1 and same_name is SameName.OLDEST:
            matches = [min(matches, key=lambda f: f.id)]
        if len(matches) > 1:
            ids = ", ".join(str(f.id) for f in sorted(matches, key=lambda f: f.id))
            raise UserError(
                f"remote folder {shown!r} is ambiguous: {len(matches)} folders named {part!r} "
                f"in {where} (ids {ids}) — choose one with --remote-id ID"
            )
        folder_id = matches[0].id
    return folder_id


def folder_path_of(
    client: RemoteClient | EncryptedClient, folder_id: int
) -> tuple[str, ...] | None:
    """Where folder ``folder_id`` lives now: its names from the account root, by its parents
    (one ``folder/info`` per level). None when the host no longer has it (trashed, deleted).
    The path to a pair's root is never encrypted: it is read with the plain client."""
    from syncd.remote.errors import NotFound

    client = plain_client(client)

    names: list[str] = []
    current: int | None = folder_id
    seen: set[int] = set()
    while current is not None and current not in seen:  # a parent cycle (a broken host) ends
        seen.add(current)
        try:
            info = client.folder_info(current)
        except NotFound:
            return None
        names.append(info.name)
        current = info.parent_id
    return tuple(reversed(names))


# How far the host's clock may be behind syncd's when dates are compared across the two. The
# emulator dates by glibc's coarse time(), up to a tick (1-10 ms) behind time.time(): seen in CI
# as an upload dated to the second before its intent. A real host's clock is set by NTP as ours
# is; two seconds covers both without making an older file look new for long.
HOST_CLOCK_SLACK_NS = 2_000_000_000


def uploaded_before(client: RemoteClient | EncryptedClient, file_id: int, began_ns: int) -> bool:
    """Whether the host dates file ``file_id`` to a second that ended, by the host clock's
    slack, before ``began_ns``: it was there before an upload that began then, so it is not
    what that upload left (after a crash: someone else's file of that name and size).
    Undated: False."""
    dated = uploaded_ns(client, file_id)
    return dated is not None and dated + 1_000_000_000 + HOST_CLOCK_SLACK_NS <= began_ns


def uploaded_ns(client: RemoteClient | EncryptedClient, file_id: int) -> int | None:
    """When the host says file ``file_id`` was uploaded (``file/info``'s ``uploadedDate``, whole
    seconds), in ns since the epoch; None when it does not say or cannot be asked."""
    from syncd.remote.errors import RemoteError

    try:
        info = client.file_info(file_id)
    except RemoteError:
        return None
    if info.uploaded_at is None:
        return None
    return int(info.uploaded_at.timestamp()) * 1_000_000_000
