"""The invariant every crash and fault test ends with, in one place.

After a pass (or a daemon) has converged:
1. remote == local: the active folders and files under the pair's remote folder are exactly the
   local directories and syncable files, with the same MD5s;
2. no folder on the host holds the same name twice;
3. no orphan uploads: no active file anywhere in the account outside the mirror (in a trashed
   folder, or beside the pair's folder), no untracked extra file inside it;
4. the journal agrees with both: every synced file row names an active remote file (same id,
   folder, name and size) and the local file it describes (size, inode, MD5); every directory row
   an active folder and a local directory; every local file has a synced row; no intents left.

The journal is read through `syncd.journal.store.Journal` read methods only.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from syncd.history.names import VERSIONS_DIR, parse_versioned_name
from syncd.journal.rows import SYNCED
from syncd.journal.store import Journal
from tests.support.trees import md5_file


def _default_ignored(rel: str, is_dir: bool) -> bool:
    from syncd.local.ignore import IgnoreRules

    global _RULES
    if _RULES is None:
        _RULES = IgnoreRules()
    return bool(_RULES.matches(rel, is_dir))


_RULES: Any = None


@dataclass
class LocalTree:
    files: dict[str, tuple[str, int, int]] = field(default_factory=dict)  # rel -> md5, size, inode
    dirs: dict[str, int] = field(default_factory=dict)  # rel -> inode


def local_tree(root: Path, ignored: Callable[[str, bool], bool] = _default_ignored) -> LocalTree:
    """Every syncable local file and directory (ignored entries and empty files left out: the
    host refuses zero-byte uploads, which the engine records as skipped)."""
    tree = LocalTree()
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir
        for name in list(dirnames):
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if ignored(rel, True):
                dirnames.remove(name)
            else:
                tree.dirs[rel] = os.stat(Path(dirpath) / name).st_ino
        for name in filenames:
            rel = f"{rel_dir}/{name}" if rel_dir else name
            path = Path(dirpath) / name
            st = path.lstat()
            if ignored(rel, False) or st.st_size == 0 or not path.is_file():
                continue
            tree.files[rel] = (md5_file(path), st.st_size, st.st_ino)
    return tree


@dataclass
class RemoteTree:
    root_id: int | None
    folders: dict[str, int]  # rel -> folder id (active, under the pair's folder)
    files: dict[str, dict[str, Any]]  # rel -> file row of /admin/tree
    orphans: list[str]  # active files outside the mirror
    by_id: dict[int, dict[str, Any]]  # every active file by id
    folder_ids: dict[int, str]  # active folder id -> rel (under the pair's folder)
    # The versions area (VERSIONS_DIR in the pair's folder) is not part of the live tree:
    area_folder_ids: dict[int, str] = field(default_factory=dict)  # id -> rel inside the area
    versions: dict[int, dict[str, Any]] = field(default_factory=dict)  # file id -> row


def remote_tree(admin: Any, remote_path: str) -> RemoteTree:
    tree = admin.tree()
    active_folders = {f["id"]: f for f in tree["folders"] if f["status"] == "active"}
    children: dict[int | None, list[dict[str, Any]]] = {}
    for folder in active_folders.values():
        children.setdefault(folder["parent_id"], []).append(folder)
    root_id: int | None = None
    found = True
    for part in [p for p in remote_path.split("/") if p]:
        match = [f for f in children.get(root_id, []) if f["name"] == part]
        if not match:
            found = False
            break
        root_id = match[0]["id"]
    folder_ids: dict[int, str] = {}
    folders: dict[str, int] = {}
    area: dict[int, str] = {}
    if found and root_id is not None:
        folder_ids[root_id] = ""
        stack = [root_id]
        while stack:
            parent = stack.pop()
            for folder in children.get(parent, []):
                if parent == root_id and folder["name"] == VERSIONS_DIR:
                    area[folder["id"]] = ""
                    continue
                base = folder_ids[parent]
                rel = f"{base}/{folder['name']}" if base else folder["name"]
                folder_ids[folder["id"]] = rel
                folders[rel] = folder["id"]
                stack.append(folder["id"])
        stack = list(area)
        while stack:
            parent = stack.pop()
            for folder in children.get(parent, []):
                area[folder["id"]] = f"{area[parent]}/{folder['name']}".lstrip("/")
                stack.append(folder["id"])
    files: dict[str, dict[str, Any]] = {}
    orphans: list[str] = []
    by_id: dict[int, dict[str, Any]] = {}
    versions: dict[int, dict[str, Any]] = {}
    for f in tree["files"]:
        if f["status"] != "active":
            continue
        by_id[f["id"]] = f
        if f["folder_id"] in folder_ids:
            base = folder_ids[f["folder_id"]]
            files[f"{base}/{f['name']}" if base else f["name"]] = f
        elif f["folder_id"] in area:
            versions[f["id"]] = f
        else:
            where = active_folders.get(f["folder_id"], {}).get("name", "<trashed or root>")
            orphans.append(f"file {f['id']} {f['name']!r} in folder {f['folder_id']} ({where})")
    return RemoteTree(
        root_id if found else None, folders, files, orphans, by_id, folder_ids, area, versions
    )


@dataclass
class Ledger:
    """What a test saw of a pair's history, for :func:`history_problems`: the uploads of
    syncd's it saw live, and what someone else did on the host (added, trashed)."""

    ever_live: dict[int, str] = field(default_factory=dict)  # file id -> path where live
    foreign: set[int] = field(default_factory=set)  # files someone else added
    foreign_folders: set[int] = field(default_factory=set)
    drift_trashed: set[int] = field(default_factory=set)  # files someone else trashed
    pruning: bool = False  # a retention policy may prune versions

    def saw_live(self, remote: RemoteTree) -> None:
        for rel, f in remote.files.items():
            if f["id"] not in self.foreign:
                self.ever_live.setdefault(f["id"], rel)

    def saw_journal(self, state_db: Path, pair_name: str) -> None:
        """The files a (killed) run recorded as live: each was live from then on."""
        with Journal(state_db) as journal:
            pair = journal.pair(pair_name)
            if pair is None:
                return
            stack: list[tuple[int, str]] = [(pair.root_dir_id, "")]
            while stack:
                dir_id, rel_dir = stack.pop()
                files, dirs = journal.children(dir_id)
                for row in files:
                    if row.status == SYNCED and row.file_id is not None:
                        rel = f"{rel_dir}/{row.name}" if rel_dir else row.name
                        self.ever_live.setdefault(row.file_id, rel)
                stack += [(d.id, f"{rel_dir}/{d.name}".lstrip("/")) for d in dirs]

    def trashed_by_someone(
        self, admin: Any, *, file_id: int | None = None, folder_id: int | None = None
    ) -> None:
        """Record what a drift trash is about to take: one file, or a folder's whole subtree."""
        if file_id is not None:
            self.drift_trashed.add(file_id)
            return
        tree = admin.tree()
        inside = {folder_id}
        grew = True
        while grew:
            more = {f["id"] for f in tree["folders"] if f["parent_id"] in inside}
            grew = not more <= inside
            inside |= more
        self.drift_trashed |= {f["id"] for f in tree["files"] if f["folder_id"] in inside}


def history_problems(
    admin: Any, remote_path: str, ledger: Ledger, *, foreign_kept: bool
) -> list[str]:
    """Versions kept: every upload of syncd's the test saw live is live now, in the versions
    area, trashed by someone else, or (with a retention policy) pruned from the area; the
    versions area holds only names syncd can read back; nothing else syncd uploaded was
    trashed, and (``foreign_kept``, backup mode) no foreign file either."""
    remote = remote_tree(admin, remote_path)
    every = {f["id"]: f for f in admin.tree()["files"]}
    live_ids = {f["id"] for f in remote.by_id.values() if f["folder_id"] in remote.folder_ids}
    problems: list[str] = []
    for file_id, rel in sorted(ledger.ever_live.items()):
        row = every.get(file_id)
        if row is None:
            problems.append(f"history: {rel} (id {file_id}) vanished from the host")
            continue
        if row["status"] == "active" and (file_id in live_ids or file_id in remote.versions):
            continue
        if file_id in ledger.drift_trashed:
            continue
        if row["status"] != "active" and ledger.pruning and parse_versioned_name(row["name"]):
            continue  # pruned by the retention policy
        problems.append(
            f"history: a version of {rel} (id {file_id}) is neither live nor in the versions "
            f"area: {row['name']!r} {row['status']} in folder {row['folder_id']}"
        )
    for file_id, row in sorted(remote.versions.items()):
        in_kept_folder = remote.area_folder_ids.get(row["folder_id"], "")
        if parse_versioned_name(row["name"]) is None and not _under_versioned(in_kept_folder):
            problems.append(f"history: {row['name']!r} (id {file_id}) in the area is no version")
    if foreign_kept:
        for file_id in sorted(ledger.foreign - ledger.drift_trashed):
            row = every.get(file_id)
            if row is not None and row["status"] != "active":
                problems.append(f"history: foreign file {row['name']!r} (id {file_id}) trashed")
    return problems


def _under_versioned(rel: str) -> bool:
    """A path inside the area that lies in a directory kept whole (its entries keep plain
    names)."""
    return any(parse_versioned_name(part) is not None for part in rel.split("/") if part)


def _journal_problems(
    state_db: Path, pair_name: str, local: LocalTree, remote: RemoteTree, local_root: Path
) -> list[str]:
    problems: list[str] = []
    with Journal(state_db) as journal:
        pair = journal.pair(pair_name)
        if pair is None:
            return [f"journal: no pair {pair_name!r}"]
        intents = journal.intents(pair.id)
        if intents:
            kinds = sorted({i.kind for i in intents})
            problems.append(f"journal: {len(intents)} intent(s) left after convergence: {kinds}")
        if pair.root_folder_id != remote.root_id:
            problems.append(
                f"journal: root folder id {pair.root_folder_id} != remote {remote.root_id}"
            )
        seen_files: set[str] = set()
        seen_dirs: set[str] = set()
        stack: list[tuple[int, str, int | None]] = [(pair.root_dir_id, "", remote.root_id)]
        while stack:
            dir_id, rel_dir, folder_id = stack.pop()
            files, dirs = journal.children(dir_id)
            for row in files:
                rel = f"{rel_dir}/{row.name}" if rel_dir else row.name
                if row.status != SYNCED:
                    problems.append(f"journal: {rel} status {row.status} ({row.reason})")
                    continue
                seen_files.add(rel)
                there = remote.by_id.get(row.file_id or -1)
                here = local.files.get(rel)
                remote_size = row.remote_size if row.remote_size is not None else row.size
                if there is None:
                    problems.append(f"journal: {rel} -> file id {row.file_id} not active remotely")
                elif (
                    there["name"] != row.stored_name
                    or there["folder_id"] != folder_id
                    or there["size"] != remote_size
                ):
                    problems.append(
                        f"journal: {rel} -> id {row.file_id} is {there['name']!r} "
                        f"in {there['folder_id']} size {there['size']} (journal: "
                        f"{row.stored_name!r} in {folder_id} size {remote_size})"
                    )
                elif there["md5"] != (row.md5_hex or there["md5"]):
                    problems.append(f"journal: {rel} md5 {row.md5_hex} != remote {there['md5']}")
                if here is None:
                    problems.append(f"journal: {rel} recorded but not a syncable local file")
                elif (here[1], here[2]) != (row.size, row.inode) or (
                    row.md5_hex is not None and row.md5_hex != here[0]
                ):
                    problems.append(
                        f"journal: {rel} local identity differs (journal size {row.size} inode "
                        f"{row.inode} md5 {row.md5_hex}; disk {here[1]} {here[2]} {here[0]})"
                    )
            for row in dirs:
                rel = f"{rel_dir}/{row.name}" if rel_dir else row.name
                if row.status != SYNCED:
                    problems.append(f"journal: dir {rel} status {row.status} ({row.reason})")
                    continue
                seen_dirs.add(rel)
                if remote.folders.get(rel) != row.folder_id:
                    problems.append(
                        f"journal: dir {rel} -> folder {row.folder_id}, remote has "
                        f"{remote.folders.get(rel)}"
                    )
                if rel not in local.dirs:
                    problems.append(f"journal: dir {rel} recorded but not a local directory")
                elif row.inode is not None and local.dirs[rel] != row.inode:
                    problems.append(f"journal: dir {rel} inode {row.inode} != {local.dirs[rel]}")
                stack.append((row.id, rel, row.folder_id))
        for rel in sorted(local.files.keys() - seen_files)[:20]:
            problems.append(f"journal: local file {rel} has no synced row")
        for rel in sorted(local.dirs.keys() - seen_dirs)[:20]:
            problems.append(f"journal: local directory {rel} has no synced row")
    return problems


def invariant_problems(
    admin: Any,
    local_root: Path,
    remote_path: str,
    *,
    state_db: Path | None = None,
    pair_name: str = "docs",
) -> list[str]:
    """Every violation of the invariant, as readable lines ([] when it holds)."""
    local = local_tree(local_root)
    remote = remote_tree(admin, remote_path)
    problems: list[str] = []
    if remote.root_id is None and (local.files or local.dirs):
        return [f"remote folder {remote_path!r} does not exist"]
    for rel in sorted(local.files.keys() | remote.files.keys()):
        here, there = local.files.get(rel), remote.files.get(rel)
        if here is None:
            problems.append(f"remote extra file {rel} (id {there and there['id']})")
        elif there is None:
            problems.append(f"missing remotely: {rel}")
        elif here[0] != there["md5"]:
            problems.append(f"content differs: {rel} local {here[0]} remote {there['md5']}")
    for rel in sorted(local.dirs.keys() ^ remote.folders.keys()):
        side = "missing remotely" if rel in local.dirs else "remote extra"
        problems.append(f"{side}: dir {rel}")
    problems += [f"duplicate name on the host: {d}" for d in admin.duplicates()]
    problems += [f"orphan upload: {o}" for o in remote.orphans]
    if state_db is not None and not problems:
        problems += _journal_problems(state_db, pair_name, local, remote, local_root)
    return problems


def assert_invariant(
    admin: Any,
    local_root: Path,
    remote_path: str,
    *,
    state_db: Path | None = None,
    pair_name: str = "docs",
    context: str = "",
) -> None:
    problems = invariant_problems(
        admin, local_root, remote_path, state_db=state_db, pair_name=pair_name
    )
    if problems:
        shown = "\n  ".join(problems[:40])
        more = f"\n  ... {len(problems) - 40} more" if len(problems) > 40 else ""
        raise AssertionError(f"invariant broken {context}:\n  {shown}{more}")
