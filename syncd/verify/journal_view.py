"""What verify reads of the journal: one pair's rows per directory, by path."""

from __future__ import annotations

from syncd.journal.rows import STATUS_NAMES, PairRow
from syncd.journal.store import Journal
from syncd.verify.compare import SyncedEntry


class JournalTree:
    """The journal of one pair as verify reads it (JournalView): rows per directory, by path.
    Directory ids are learned top-down as verify descends, so only paths are kept, per dir."""

    def __init__(self, journal: Journal, pair: PairRow) -> None:
        self.journal = journal
        self.pair = pair
        self._dir_ids: dict[str, int] = {"": pair.root_dir_id}

    def own_upload(self, file_id: int) -> bool:
        """True when ``file_id`` is an upload of syncd's for this pair (never foreign)."""
        return self.journal.upload_time(self.pair.id, file_id) is not None

    def children(self, rel_dir: str) -> list[SyncedEntry]:
        dir_id = self._dir_ids.get(rel_dir)
        if dir_id is None:
            return []
        files, dirs = self.journal.children(dir_id)
        prefix = f"{rel_dir}/" if rel_dir else ""
        entries: list[SyncedEntry] = []
        for d in dirs:
            self._dir_ids[prefix + d.name] = d.id
            entries.append(
                SyncedEntry(
                    d.name,
                    True,
                    d.folder_id,
                    d.stored_name,
                    status=STATUS_NAMES.get(d.status, "?"),
                    reason=d.reason,
                )
            )
        for f in files:
            entries.append(
                SyncedEntry(
                    f.name,
                    False,
                    f.file_id,
                    f.stored_name,
                    size=f.size,
                    md5=f.md5_hex,
                    status=STATUS_NAMES.get(f.status, "?"),
                    reason=f.reason,
                )
            )
        return entries
