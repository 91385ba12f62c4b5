"""The operations a plan is made of, and the references that tie them together.

An op names one remote mutation (or a journal-only change) and carries everything the executor
needs to perform it and to record its outcome. A :class:`Ref` stands for a directory whose journal
row and remote folder may only exist once an earlier op (create/adopt folder) has run: the
executor orders ops by these references.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from syncd.journal.rows import FileRow

# Phases: folder structure first, then files, then everything that trashes (so moves out of a
# directory always happen before that directory is trashed).
STRUCTURE, FILES, TRASH = 0, 1, 2


@dataclass(eq=False)
class Ref:
    """A directory: its journal row id and remote folder id, known now or once ``op`` has run."""

    rel: str
    dir_id: int | None
    folder_id: int | None  # 0 = the account root
    op: Op | None = None  # the op that creates it; None when both ids are known

    @property
    def ready(self) -> bool:
        return self.dir_id is not None and self.folder_id is not None


@dataclass(frozen=True, slots=True)
class Identity:
    """A local file as stat'ed when the plan was made."""

    size: int
    mtime_ns: int
    inode: int


@dataclass(eq=False)
class Op:
    kind: ClassVar[str] = "op"
    phase: ClassVar[int] = FILES
    mutating: ClassVar[bool] = True  # calls the host (False: journal only)
    rel: str  # the local path this op is about (its new path for moves)

    def describe(self) -> str:
        return f"{self.kind:<14} {self.rel}"


# -- folders -----------------------------------------------------------------------------------


@dataclass(eq=False)
class CreateFolder(Op):
    kind: ClassVar[str] = "create_folder"
    phase: ClassVar[int] = STRUCTURE
    parent: Ref = field(kw_only=True)
    name: str = field(kw_only=True)
    inode: int | None = field(kw_only=True)
    target: Ref = field(kw_only=True)  # filled in when done
    existing_dir_id: int | None = field(default=None, kw_only=True)  # re-create a lost folder


@dataclass(eq=False)
class AdoptFolder(Op):
    """An untracked remote folder of the same name: use it instead of creating a twin."""

    kind: ClassVar[str] = "adopt_folder"
    phase: ClassVar[int] = STRUCTURE
    mutating: ClassVar[bool] = False
    parent: Ref = field(kw_only=True)
    name: str = field(kw_only=True)
    inode: int | None = field(kw_only=True)
    folder_id: int = field(kw_only=True)
    remote_name: str = field(kw_only=True)
    target: Ref = field(kw_only=True)


@dataclass(eq=False)
class MoveFolder(Op):
    """``folder/edit`` by id: a local move/rename, or putting back a remote rename/move."""

    kind: ClassVar[str] = "move_folder"
    phase: ClassVar[int] = STRUCTURE
    dir_id: int = field(kw_only=True)
    folder_id: int = field(kw_only=True)
    parent: Ref = field(kw_only=True)
    name: str = field(kw_only=True)  # local name (journal)
    inode: int | None = field(kw_only=True)
    new_remote_name: str | None = field(kw_only=True)  # None: keep the remote name
    set_parent: bool = field(kw_only=True)
    repair: bool = field(default=False, kw_only=True)  # remote drift, not a local change
    from_rel: str = field(default="", kw_only=True)

    def describe(self) -> str:
        what = "repair_folder" if self.repair else self.kind
        src = f" (from {self.from_rel})" if self.from_rel and self.from_rel != self.rel else ""
        return f"{what:<14} {self.rel}{src}"


@dataclass(eq=False)
class TrashFolder(Op):
    kind: ClassVar[str] = "trash_folder"
    phase: ClassVar[int] = TRASH
    folder_id: int = field(kw_only=True)
    dir_id: int | None = field(kw_only=True)  # None: an untracked remote folder
    files: int = field(default=0, kw_only=True)  # files trashed with it (for the guard)

    def describe(self) -> str:
        whose = "" if self.dir_id is not None else ", untracked"
        return f"{self.kind:<14} {self.rel}/ (folder id {self.folder_id}{whose})"


@dataclass(eq=False)
class ForgetDir(Op):
    """Drop a directory's subtree from the journal only (backup mode, skipped dirs)."""

    kind: ClassVar[str] = "forget_dir"
    phase: ClassVar[int] = TRASH
    mutating: ClassVar[bool] = False
    dir_id: int = field(kw_only=True)


@dataclass(eq=False)
class MarkDir(Op):
    """Record a directory that is not synced, with the reason (journal only)."""

    kind: ClassVar[str] = "skip_dir"
    phase: ClassVar[int] = STRUCTURE
    mutating: ClassVar[bool] = False
    parent: Ref = field(kw_only=True)
    name: str = field(kw_only=True)
    inode: int | None = field(kw_only=True)
    reason: str = field(kw_only=True)


@dataclass(eq=False)
class UpdateDir(Op):
    """The same directory with a new inode (restored, remounted): journal only."""

    kind: ClassVar[str] = "update_dir"
    phase: ClassVar[int] = STRUCTURE
    mutating: ClassVar[bool] = False
    dir_id: int = field(kw_only=True)
    inode: int | None = field(kw_only=True)


# -- files -------------------------------------------------------------------------------------


@dataclass(eq=False)
class Upload(Op):
    """Upload a local file; with ``replaces``, trash that remote file once the new one is
    verified (a new version: the host has no replace-content call)."""

    kind: ClassVar[str] = "upload"
    parent: Ref = field(kw_only=True)
    name: str = field(kw_only=True)
    ident: Identity = field(kw_only=True)
    replaces: int | None = field(default=None, kw_only=True)  # remote file id of the old version
    trash_replaced: bool = field(default=True, kw_only=True)  # False in backup mode
    old_row: FileRow | None = field(default=None, kw_only=True)  # the version it replaces
    reason: str = field(default="new", kw_only=True)
    # (id, size) of another synced upload at this path, whose retirement the plan holds for
    # later: a move over it that fell back to this upload (executor._do_MoveFile).
    displaces: tuple[int, int | None] | None = field(default=None, kw_only=True)

    def describe(self) -> str:
        what = "replace" if self.replaces is not None else self.kind
        old = f", old id {self.replaces}" if self.replaces is not None else ""
        return f"{what:<14} {self.rel} ({self.ident.size} bytes, {self.reason}{old})"


@dataclass(eq=False)
class MoveFile(Op):
    """``file/edit`` by id: a local move/rename, or putting back a remote rename/move."""

    kind: ClassVar[str] = "move_file"
    old_dir_id: int = field(kw_only=True)
    old_name: str = field(kw_only=True)
    row: FileRow = field(kw_only=True)  # the journal row as it was
    parent: Ref = field(kw_only=True)
    name: str = field(kw_only=True)
    ident: Identity = field(kw_only=True)
    new_remote_name: str | None = field(kw_only=True)  # None: keep
    set_folder: bool = field(kw_only=True)
    repair: bool = field(default=False, kw_only=True)
    from_rel: str = field(default="", kw_only=True)
    trash_stale: bool = field(default=True, kw_only=True)  # False in backup mode

    def describe(self) -> str:
        if self.repair:
            what = "repair_file"
        elif self.set_folder:
            what = "move_file"
        else:
            what = "rename_file"
        src = f" (from {self.from_rel})" if self.from_rel and self.from_rel != self.rel else ""
        return f"{what:<14} {self.rel}{src}"


@dataclass(eq=False)
class TrashFile(Op):
    kind: ClassVar[str] = "trash_file"
    phase: ClassVar[int] = TRASH
    file_id: int = field(kw_only=True)
    dir_id: int | None = field(kw_only=True)  # None: untracked remote file
    name: str | None = field(kw_only=True)
    # Untracked, and what an interrupted upload of syncd's own left (an upload intent's folder,
    # name and size) where the local file has changed since: a stale copy, not the user's file.
    leftover: bool = field(default=False, kw_only=True)

    def describe(self) -> str:
        whose = "" if self.dir_id is not None else ", untracked"
        whose = ", syncd's interrupted upload" if self.leftover else whose
        return f"{self.kind:<14} {self.rel} (id {self.file_id}{whose})"


@dataclass(eq=False)
class AdoptFile(Op):
    """An untracked remote file of the expected name and size left by an interrupted upload."""

    kind: ClassVar[str] = "adopt_file"
    mutating: ClassVar[bool] = False
    parent: Ref = field(kw_only=True)
    name: str = field(kw_only=True)
    ident: Identity = field(kw_only=True)
    file_id: int = field(kw_only=True)
    remote_name: str = field(kw_only=True)
    remote_size: int = field(kw_only=True)
    ours: bool = field(default=False, kw_only=True)  # our interrupted upload (an intent)


@dataclass(eq=False)
class SkipFile(Op):
    """Record a file the host cannot hold, with the reason; not retried until it changes."""

    kind: ClassVar[str] = "skip_file"
    mutating: ClassVar[bool] = False
    parent: Ref = field(kw_only=True)
    name: str = field(kw_only=True)
    ident: Identity = field(kw_only=True)
    reason: str = field(kw_only=True)

    def describe(self) -> str:
        return f"{'skip':<14} {self.rel} ({self.reason})"


@dataclass(eq=False)
class TouchFile(Op):
    """Same content, new local identity (inode changed, or an unchanged MD5): journal only."""

    kind: ClassVar[str] = "touch_file"
    mutating: ClassVar[bool] = False
    row: FileRow = field(kw_only=True)  # the new row


@dataclass(eq=False)
class ForgetFile(Op):
    kind: ClassVar[str] = "forget_file"
    phase: ClassVar[int] = TRASH
    mutating: ClassVar[bool] = False
    dir_id: int = field(kw_only=True)
    name: str = field(kw_only=True)
    file_id: int | None = field(kw_only=True)
