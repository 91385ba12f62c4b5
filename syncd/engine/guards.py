"""Safety guards: refuse, explain in one line, change nothing (exit code 3).

An unmounted disk, an emptied root or a swapped device looks exactly like "the user deleted
everything"; mirror mode would then trash the whole remote copy. These checks run before any
remote mutation.
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
) -> int:
    """Check the local root before a pass; returns its device number."""
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
    if empty and tracked_files > 0 and not allow_empty:
        raise GuardRefused(
            f"{where} is empty but {tracked_files} files were synced from it — is the disk "
            "mounted? If you really emptied it, run with --force-deletes; nothing was changed"
        )
    return ident.dev


def check_deletions(
    pair_name: str,
    deletions: int,
    tracked_files: int,
    limit: MaxDelete,
    *,
    keeps_versions: bool = False,
) -> None:
    """Refuse a pass that would trash more than ``limit`` of what the pair tracks (the run's
    ``--max-delete``, else the config's ``[sync] max_delete``).

    With versions kept (``keeps_versions``) those files are moved into the versions area, not
    trashed, and still count: nothing would be lost, but a disk that is not mounted, or a wrong
    ``rm -r``, would empty the live tree that a plain restore gives back."""
    if deletions == 0 or limit.allows(deletions, tracked_files):
        return
    if keeps_versions:
        what = (
            f"move {deletions} of {tracked_files} synced files out of the live tree into the "
            "versions area (kept, not trashed)"
        )
    else:
        what = f"trash {deletions} of {tracked_files} synced files"
    raise GuardRefused(
        f"pair {pair_name!r}: this pass would {what}, more than max_delete ({limit}) — check "
        "the local root (is the disk mounted?), then rerun with --max-delete N (or N%) or "
        "--force-deletes if this is intended; nothing was changed"
    )
