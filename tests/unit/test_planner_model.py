"""An in-memory world for planner tests: a local tree, a remote host, a journal, and an applier
that performs a plan's ops the way the executor does. Imported by the planner test modules."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from syncd.engine import ops as O
from syncd.engine.planner import LocalDir, Plan, Planner, PlanSettings, Sources, join, plan_pair
from syncd.journal.rows import SKIPPED, SYNCED, DirRow, FileRow
from syncd.local.names import form_name_issue
from syncd.remote.models import FolderListing, RemoteFile, RemoteFolder

_counter = itertools.count(1)


def tick() -> int:
    return next(_counter)


@dataclass(frozen=True)
class LEntry:
    name: str
    kind: str
    size: int
    mtime_ns: int
    inode: int
    dev: int = 1


@dataclass
class LFile:
    inode: int
    size: int
    mtime_ns: int
    content: int  # a token standing for the bytes


@dataclass
class Local:
    """Paths ('a/b.txt') to files; directories as path -> inode."""

    files: dict[str, LFile] = field(default_factory=dict)
    dirs: dict[str, int] = field(default_factory=lambda: {"": 0})

    def write(self, path: str, size: int, *, new_inode: bool = False) -> None:
        old = self.files.get(path)
        inode = old.inode if old is not None and not new_inode else tick()
        self.files[path] = LFile(inode, size, tick(), tick())

    def mkdir(self, path: str) -> None:
        self.dirs[path] = tick()

    def children(self, rel: str) -> list[LEntry]:
        out = []
        prefix = rel + "/" if rel else ""
        for path, f in self.files.items():
            if path.startswith(prefix) and "/" not in path[len(prefix) :]:
                out.append(LEntry(path[len(prefix) :], "file", f.size, f.mtime_ns, f.inode))
        for path, inode in self.dirs.items():
            if path and path.startswith(prefix) and "/" not in path[len(prefix) :]:
                out.append(LEntry(path[len(prefix) :], "dir", 0, 0, inode))
        return sorted(out, key=lambda e: e.name)

    def move(self, src: str, dst: str) -> None:
        """rename(2) of a file or a whole directory."""
        if src in self.files:
            self.files[dst] = self.files.pop(src)
            return
        for table in (self.files, self.dirs):
            for path in [p for p in table if p == src or p.startswith(src + "/")]:
                table[dst + path[len(src) :]] = table.pop(path)

    def remove(self, path: str) -> None:
        self.files.pop(path, None)
        for table in (self.files, self.dirs):
            for p in [p for p in table if p == path or p.startswith(path + "/")]:
                del table[p]


@dataclass
class RFile:
    folder: int
    name: str
    size: int
    content: int
    active: bool = True


@dataclass
class RFolder:
    parent: int | None
    name: str
    active: bool = True


@dataclass
class Remote:
    folders: dict[int, RFolder] = field(default_factory=lambda: {1: RFolder(None, "Root")})
    files: dict[int, RFile] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def alive_folder(self, fid: int) -> bool:
        while fid is not None:
            f = self.folders.get(fid)
            if f is None or not f.active:
                return False
            fid = f.parent
        return True

    def listing(self, fid: int) -> FolderListing | None:
        if not self.alive_folder(fid):
            return None
        folders = [
            RemoteFolder(i, f.parent, f.name)
            for i, f in self.folders.items()
            if f.parent == fid and f.active
        ]
        files = [
            RemoteFile(i, f.name, f.size, f.folder, "active")
            for i, f in self.files.items()
            if f.folder == fid and f.active
        ]
        return FolderListing(
            sorted(folders, key=lambda f: f.name), sorted(files, key=lambda f: f.name)
        )

    def tree(self, fid: int = 1, prefix: str = "") -> dict[str, int | None]:
        """Active paths under a folder: files map to content, folders to None."""
        out: dict[str, int | None] = {}
        listing = self.listing(fid)
        assert listing is not None
        for f in listing.files:
            path = join(prefix, f.name)
            assert path not in out, f"duplicate remote name {path}"
            out[path] = self.files[f.id].content
        for d in listing.folders:
            path = join(prefix, d.name)
            assert path not in out, f"duplicate remote name {path}"
            out[path] = None
            out.update(self.tree(d.id, path))
        return out


@dataclass
class Journal:
    dirs: dict[int, DirRow] = field(default_factory=dict)
    files: dict[tuple[int, str], FileRow] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.dirs[1] = DirRow(1, 1, None, "", 0, 1)

    def insert_dir(self, parent: int, name: str, **kw: object) -> int:
        self.displace(parent, name)
        new_id = max(self.dirs) + 1
        self.dirs[new_id] = DirRow(new_id, 1, parent, name, **kw)  # type: ignore[arg-type]
        return new_id

    def displace(self, parent: int, name: str, keep: int | None = None) -> None:
        for d in list(self.dirs.values()):
            if d.parent_id == parent and d.name == name and d.id != keep:
                self.dirs[d.id] = d._replace(name=f"{d.name}\0{d.id}")

    def delete_tree(self, dir_id: int) -> None:
        todo = [dir_id]
        while todo:
            d = todo.pop()
            self.dirs.pop(d, None)
            for key in [k for k in self.files if k[0] == d]:
                del self.files[key]
            todo.extend(x.id for x in self.dirs.values() if x.parent_id == d)

    def delete_file(self, dir_id: int, name: str, file_id: int | None) -> None:
        row = self.files.get((dir_id, name))
        if row is not None and row.file_id == file_id:
            del self.files[(dir_id, name)]

    def path(self, dir_id: int) -> str | None:
        parts = []
        d = self.dirs.get(dir_id)
        if d is None:
            return None
        while d.parent_id is not None:
            parts.append(d.name)
            d = self.dirs[d.parent_id]
        return "/".join(reversed(parts))


class World(Sources):
    def __init__(self) -> None:
        self.local = Local()
        self.remote = Remote()
        self.journal = Journal()

    # -- Sources --
    def local_dir(self, rel: str) -> LocalDir | None:
        return LocalDir(self.local.children(rel)) if rel in self.local.dirs else None

    def local_entry(self, rel: str) -> LEntry | None:
        if rel in self.local.files:
            f = self.local.files[rel]
            return LEntry(rel.rpartition("/")[2], "file", f.size, f.mtime_ns, f.inode)
        if rel in self.local.dirs:
            return LEntry(rel.rpartition("/")[2], "dir", 0, 0, self.local.dirs[rel])
        return None

    def journal_children(self, dir_id: int) -> tuple[Sequence[FileRow], Sequence[DirRow]]:
        files = sorted(
            (r for k, r in self.journal.files.items() if k[0] == dir_id), key=lambda r: r.name
        )
        dirs = sorted(
            (d for d in self.journal.dirs.values() if d.parent_id == dir_id), key=lambda d: d.name
        )
        return files, dirs

    def remote_listing(self, folder_id: int) -> FolderListing | None:
        self.remote.calls.append("folder/listing")
        return self.remote.listing(folder_id)

    def files_by_inode(self, inode: int) -> Sequence[FileRow]:
        return [r for r in self.journal.files.values() if r.inode == inode]

    def dirs_by_inode(self, inode: int) -> Sequence[DirRow]:
        return [d for d in self.journal.dirs.values() if d.inode == inode]

    def file_by_remote_id(self, file_id: int) -> FileRow | None:
        return next((r for r in self.journal.files.values() if r.file_id == file_id), None)

    def dir_by_folder_id(self, folder_id: int) -> DirRow | None:
        return next((d for d in self.journal.dirs.values() if d.folder_id == folder_id), None)

    def dir_path(self, dir_id: int) -> str | None:
        return self.journal.path(dir_id)

    def subtree_files(self, dir_id: int) -> int:
        ids, todo = set(), [dir_id]
        while todo:
            d = todo.pop()
            ids.add(d)
            todo.extend(x.id for x in self.journal.dirs.values() if x.parent_id == d)
        return sum(1 for k, r in self.journal.files.items() if k[0] in ids and r.file_id)

    # -- planning and applying --
    def plan(self, mode: str = "mirror", max_upload_size: int = 0, batch: int = 0) -> Plan:
        """With ``batch``, ops are applied in batches while the walk goes on (as a huge pass
        runs); the returned plan then holds only the last batch."""
        settings = PlanSettings(mode=mode, max_upload_size=max_upload_size)  # type: ignore[arg-type]
        if not batch:
            return plan_pair(self, O.Ref("", 1, 1), settings)
        planner = Planner(self, settings, batch_size=batch, on_batch=self.apply_ops)
        return planner.plan_tree(O.Ref("", 1, 1))

    def plan_partial(self, dirs: Sequence[tuple[str, bool]], dirty: Sequence[str]) -> Plan:
        """A daemon's partial pass: ``dirs`` (known directories, each whole or not) as the
        engine's ``dirty_dirs`` picks them for the ``dirty`` paths."""
        refs = []
        for rel, whole in dirs:
            row = next(d for d in self.journal.dirs.values() if self.journal.path(d.id) == rel)
            refs.append((O.Ref(rel, row.id, row.folder_id), whole))
        return Planner(self, PlanSettings(mode="mirror")).plan_dirs(refs, dirty)

    def apply_ops(self, ops: list[O.Op]) -> None:
        for phase in (O.STRUCTURE, O.FILES, O.TRASH):
            for op in ops:
                if op.phase == phase:
                    self._apply(op)

    def apply(self, plan: Plan) -> None:
        for phase in (O.STRUCTURE, O.FILES, O.TRASH):
            for op in plan.ops:
                if op.phase == phase:
                    self._apply(op)

    def _new_file(self, folder: int, name: str, path: str) -> int:
        f = self.local.files[path]
        file_id = 1000 + len(self.remote.files)
        self.remote.files[file_id] = RFile(folder, name, f.size, f.content)
        return file_id

    def _apply(self, op: O.Op) -> None:
        j, r = self.journal, self.remote
        if op.mutating:
            r.calls.append(op.kind)
        if isinstance(op, O.CreateFolder):
            assert op.parent.ready
            fid = 100 + len(r.folders)
            r.folders[fid] = RFolder(op.parent.folder_id, op.name)
            if op.existing_dir_id is not None:
                j.displace(op.parent.dir_id, op.name, keep=op.existing_dir_id)
                j.dirs[op.existing_dir_id] = j.dirs[op.existing_dir_id]._replace(
                    parent_id=op.parent.dir_id,
                    name=op.name,
                    remote_name=None,
                    folder_id=fid,
                    inode=op.inode,
                )
                op.target.dir_id = op.existing_dir_id
            else:
                op.target.dir_id = j.insert_dir(
                    op.parent.dir_id, op.name, inode=op.inode, folder_id=fid
                )
            op.target.folder_id = fid
        elif isinstance(op, O.AdoptFolder):
            op.target.dir_id = j.insert_dir(
                op.parent.dir_id, op.name, inode=op.inode, folder_id=op.folder_id
            )
        elif isinstance(op, O.MoveFolder):
            folder = r.folders[op.folder_id]
            # As the host: folder/edit of a trashed folder answers "not found".
            assert r.alive_folder(op.folder_id), f"folder/edit of a trashed folder: {op.rel}"
            if op.new_remote_name is not None:
                folder.name = op.new_remote_name
            folder.parent = op.parent.folder_id  # the executor always sends parent_id
            j.displace(op.parent.dir_id, op.name, keep=op.dir_id)
            d = j.dirs[op.dir_id]
            j.dirs[op.dir_id] = d._replace(
                parent_id=op.parent.dir_id,
                name=op.name,
                inode=op.inode,
                remote_name=folder.name,  # as the executor: the name the host answered
            )
        elif isinstance(op, O.TrashFolder):
            r.folders[op.folder_id].active = False
            if op.dir_id is not None:
                j.delete_tree(op.dir_id)
        elif isinstance(op, O.ForgetDir):
            j.delete_tree(op.dir_id)
        elif isinstance(op, O.MarkDir):
            j.insert_dir(
                op.parent.dir_id,
                op.name,
                inode=op.inode,
                folder_id=None,
                status=SKIPPED,
                reason=op.reason,
            )
        elif isinstance(op, O.UpdateDir):
            j.dirs[op.dir_id] = j.dirs[op.dir_id]._replace(inode=op.inode)
        elif isinstance(op, O.Upload):
            assert op.parent.ready
            file_id = self._new_file(op.parent.folder_id, op.name, op.rel)
            i = op.ident
            j.files[(op.parent.dir_id, op.name)] = FileRow(
                op.parent.dir_id, op.name, i.size, i.mtime_ns, i.inode, None, file_id, None, i.size
            )
            if op.replaces is not None and op.trash_replaced and op.replaces in r.files:
                r.files[op.replaces].active = False
        elif isinstance(op, O.MoveFile):
            row = op.row
            f = r.files[row.file_id]
            expected = op.new_remote_name or row.stored_name
            # A trashed folder's files are trashed with it (file/edit answers status trash).
            stale = not f.active or not r.alive_folder(f.folder) or f.size != row.remote_size
            if not stale and f.name != expected and op.new_remote_name is None:
                if form_name_issue(expected) is None:
                    f.name = expected  # the executor sends the name in a second edit
                else:
                    stale = True
            if not op.repair and stale:
                # As the executor: a copy trashed or rewritten remotely is replaced by upload.
                j.delete_file(op.old_dir_id, op.old_name, row.file_id)
                if f.active and op.trash_stale:
                    f.folder = op.parent.folder_id
                    f.active = False
                self._apply(O.Upload(op.rel, parent=op.parent, name=op.name, ident=op.ident))
                return
            if op.new_remote_name is not None:
                f.name = op.new_remote_name
            f.folder = op.parent.folder_id  # the executor always sends folder_id
            j.delete_file(op.old_dir_id, op.old_name, row.file_id)
            i = op.ident
            j.files[(op.parent.dir_id, op.name)] = FileRow(
                op.parent.dir_id,
                op.name,
                i.size,
                i.mtime_ns,
                i.inode,
                row.md5,
                row.file_id,
                op.new_remote_name or row.stored_name,
                row.remote_size,
            )
        elif isinstance(op, O.TrashFile):
            r.files[op.file_id].active = False
            if op.dir_id is not None:
                j.delete_file(op.dir_id, op.name, op.file_id)
        elif isinstance(op, O.AdoptFile):
            i = op.ident
            j.files[(op.parent.dir_id, op.name)] = FileRow(
                op.parent.dir_id,
                op.name,
                i.size,
                i.mtime_ns,
                i.inode,
                None,
                op.file_id,
                op.remote_name,
                op.remote_size,
            )
        elif isinstance(op, O.SkipFile):
            i = op.ident
            j.files[(op.parent.dir_id, op.name)] = FileRow(
                op.parent.dir_id,
                op.name,
                i.size,
                i.mtime_ns,
                i.inode,
                None,
                None,
                None,
                None,
                SKIPPED,
                op.reason,
            )
        elif isinstance(op, O.TouchFile):
            j.files[(op.row.dir_id, op.row.name)] = op.row
        elif isinstance(op, O.ForgetFile):
            j.delete_file(op.dir_id, op.name, op.file_id)
        else:  # pragma: no cover
            raise AssertionError(f"unknown op {op}")

    # -- expectations --
    def expected_remote(self) -> dict[str, int | None]:
        """What a mirror must hold: every syncable local file and every directory."""
        out: dict[str, int | None] = {}
        for path in self.local.dirs:
            if path:
                out[path] = None
        for path, f in self.local.files.items():
            if f.size > 0:
                out[path] = f.content
        return out


assert SYNCED == 0


def test_model_initial_sync_converges() -> None:
    w = World()
    w.local.mkdir("a")
    w.local.write("a/x", 3)
    w.local.write("top", 0)
    w.apply(w.plan())
    assert w.remote.tree() == w.expected_remote()
    assert w.plan().ops == []
