"""Safety guards: refuse, explain in one line (exit code 3).

An unmounted disk, an emptied root or a swapped device looks exactly like "the user deleted
everything"; mirror mode would then trash the whole remote copy. The root checks run before any
remote mutation and refuse the whole pass. The deletion guards (an emptied root, ``max_delete``)
hold only what they guard: the pass carries out its other changes and keeps the deletions back
until the user approves them (`syncd approve`, ``--force-deletes``); :func:`deletions_refusal`
and :func:`emptied_root` say why, or None. A journal that knows nothing of a populated remote
folder refuses the whole pass (:func:`unknown_remote_refusal`): uploading would duplicate it.
"""

from __future__ import annotations

from pathlib import Path

from syncd.config import MaxDelete
from syncd.errors import GuardRefused
from syncd.journal.rows import PairRow
from syncd.local.markers import INCOMPLETE_MARKER
from syncd.local.scanner import IgnorePredicate, is_empty, root_identity


def check_root(
    pair_name: str,
    root: Path,
    pair: PairRow,
    tracked_files: int,
    ignore: IgnorePredicate | None,
    *,
    accept_new_root: bool = False,
    allow_empty: bool = False,
    hold_if_empty: bool = False,
) -> int:
    """Check the local root before a pass; returns its device number. With ``hold_if_empty``
    an emptied root is left to :func:`emptied_root` (its deletions held, not refused here)."""
    where = f"pair {pair_name!r}: local root {root}"
    if not root.is_dir():
        raise GuardRefused(
            f"{where} is missing or not a directory — mount the disk or fix [[pairs]] local; "
            "nothing was changed"
        )
    if (root / INCOMPLETE_MARKER).exists():
        raise GuardRefused(
            f"{where} holds {INCOMPLETE_MARKER}: a restore into it did not finish — run the "
            "restore again until it completes; nothing was changed"
        )
    try:
        ident = root_identity(root)
        empty = is_empty(root, ignore)
    except OSError as exc:
        raise GuardRefused(
            f"{where} cannot be read ({exc.strerror or exc}) — fix its permissions; "
            "nothing was changed"
        ) from None
    if pair.device is not None and ident.dev != pair.device and not accept_new_root:
        raise GuardRefused(
            f"{where} is on another filesystem than before (device {ident.dev}, was "
            f"{pair.device}) — mount the right disk, or run `syncd reconcile --pair {pair_name} "
            "--accept-new-root` if the move was intended; nothing was changed"
        )
    if empty and tracked_files > 0 and not allow_empty and not hold_if_empty:
        raise GuardRefused(emptied_root(pair_name, root, tracked_files) + "; nothing was changed")
    return ident.dev


def emptied_root(pair_name: str, root: Path, tracked_files: int) -> str:
    """Why the deletions of a pass over an emptied root are held."""
    return (
        f"pair {pair_name!r}: local root {root} is empty but {tracked_files} files were synced "
        "from it — is the disk mounted? If you really emptied it: `syncd approve --pair "
        f"{pair_name}` (or reconcile --force-deletes)"
    )


def deletions_refusal(
    pair_name: str,
    deletions: int,
    untracked: int,
    tracked_files: int,
    limit: MaxDelete,
    *,
    keeps_versions: bool = False,
) -> str | None:
    """Why a pass may not trash ``deletions`` remote files (``untracked`` of them never
    uploaded by syncd) when the pair tracks ``tracked_files``: more than ``limit`` (the run's
    ``--max-delete``, else the config's ``[sync] max_delete``). None: allowed.

    With versions kept (``keeps_versions``) syncd's files are moved into the versions area, not
    trashed, and still count: nothing would be lost, but a disk that is not mounted, or a wrong
    ``rm -r``, would empty the live tree that a plain restore gives back."""
    if deletions == 0 or limit.allows(deletions, tracked_files):
        return None
    synced = deletions - untracked
    what = f"trash {synced} of the {tracked_files} synced files" if synced else ""
    if synced and keeps_versions:
        what = (
            f"move {synced} of the {tracked_files} synced files out of the live tree into the "
            "versions area (kept, not trashed)"
        )
    if untracked:
        extra = f"{untracked} remote files syncd did not upload"
        if not what:
            what = f"trash {extra} (it tracks {tracked_files} files)"
        else:
            what += f" and {'trash ' if keeps_versions else ''}{extra}"
    return (
        f"pair {pair_name!r}: this pass would {what}, more than max_delete ({limit}) — "
        f"check the local root; if intended: `syncd approve --pair {pair_name}`, or reconcile "
        "with --max-delete N (or N%) or --force-deletes"
    )


def check_deletions(
    pair_name: str,
    deletions: int,
    tracked_files: int,
    limit: MaxDelete,
    *,
    keeps_versions: bool = False,
) -> None:
    """:func:`deletions_refusal` as an exception (nothing held: nothing was changed)."""
    why = deletions_refusal(
        pair_name, deletions, 0, tracked_files, limit, keeps_versions=keeps_versions
    )
    if why is not None:
        raise GuardRefused(why + "; nothing was changed")


def unknown_remote_refusal(
    pair_name: str, remote: str, untracked: int, tracked_files: int
) -> str | None:
    """A state database that knows nothing (``tracked_files`` 0) against a remote folder that
    holds ``untracked`` files: probably a new or lost database beside an existing copy. Uploading
    everything and trashing the originals would be costly and break every share link, so the
    advice leads with ``--adopt-existing``. None when this is not the case."""
    if tracked_files > 0 or untracked == 0:
        return None
    return (
        f"pair {pair_name!r}: the state database knows nothing of the {untracked} files "
        f"already in the remote folder /{remote} — if they are copies of the local files, "
        f"run `syncd reconcile --pair {pair_name} --adopt-existing` (a remote file with the "
        "local file's name and size is taken as uploaded; check with `syncd verify --deep`); "
        "to upload everything again and trash them instead: --force-deletes"
    )
