"""Planner scenarios: what one pass plans for typical local and remote changes."""

from __future__ import annotations

from syncd.engine import ops as O

from .test_planner_model import World


def synced_world() -> World:
    w = World()
    w.local.mkdir("docs")
    w.local.mkdir("docs/sub")
    for i in range(20):
        w.local.write(f"docs/sub/f{i}.txt", 10 + i)
    w.local.write("top.txt", 5)
    w.local.write("empty", 0)
    w.apply(w.plan())
    assert w.plan().ops == []
    return w


def kinds(ops: list[O.Op]) -> list[str]:
    return sorted(op.describe().split()[0] for op in ops)


def test_directory_move_is_one_folder_edit() -> None:
    w = synced_world()
    w.local.mkdir("archive")
    w.local.move("docs/sub", "archive/moved")
    plan = w.plan()
    assert kinds(plan.ops) == ["create_folder", "move_folder"]
    w.apply(plan)
    assert w.remote.tree() == w.expected_remote()


def test_directory_made_with_a_removed_directorys_inode_is_new_not_that_one_moved() -> None:
    """ext4 hands a removed directory's inode to the next directory made (`rm -r d1; mkdir d3`
    gave d3 d1's inode every time here). Taken for d1 moved, d1's files were trashed one by one
    under d3's name, and kept versions recorded them under d3's path. A moved directory brings
    its entries along; one holding none of them is new, and the removed one goes whole."""
    w = synced_world()
    old_inode = w.local.dirs["docs/sub"]
    w.local.remove("docs/sub")
    w.local.mkdir("docs/other")
    w.local.dirs["docs/other"] = old_inode
    w.local.write("docs/other/x.txt", 3)
    plan = w.plan()
    assert kinds(plan.ops) == ["create_folder", "trash_folder", "upload"]
    w.apply(plan)
    assert w.remote.tree() == w.expected_remote()
    assert w.plan().ops == []


def test_directory_moved_with_every_file_replaced_by_an_editor_is_still_moved() -> None:
    """The entries' names count too: a save that swaps in a new inode keeps the name."""
    w = synced_world()
    w.local.move("docs/sub", "docs/moved")
    for i in range(20):
        w.local.write(f"docs/moved/f{i}.txt", 10 + i, new_inode=True)
    plan = w.plan()
    assert "move_folder" in kinds(plan.ops) and "trash_folder" not in kinds(plan.ops)
    w.apply(plan)
    assert w.remote.tree() == w.expected_remote()


def test_file_rename_and_move_are_one_edit_each() -> None:
    w = synced_world()
    w.local.move("top.txt", "renamed.txt")
    w.local.move("docs/sub/f1.txt", "f1.txt")
    plan = w.plan()
    assert kinds(plan.ops) == ["move_file", "rename_file"]
    w.apply(plan)
    assert w.remote.tree() == w.expected_remote()


def test_editor_save_replaces_and_swap_renames() -> None:
    w = synced_world()
    w.local.write("top.txt", 7, new_inode=True)  # write temp, rename over
    w.local.move("docs/sub/f1.txt", "docs/sub/tmp")
    w.local.move("docs/sub/f2.txt", "docs/sub/f1.txt")
    w.local.move("docs/sub/tmp", "docs/sub/f2.txt")
    plan = w.plan()
    assert kinds(plan.ops) == ["rename_file", "rename_file", "replace"]
    w.apply(plan)
    assert w.remote.tree() == w.expected_remote()
    assert w.plan().ops == []


def test_empty_file_is_skipped_once_with_a_reason() -> None:
    w = World()
    w.local.write("empty", 0)
    (op,) = w.plan().ops
    assert isinstance(op, O.SkipFile) and "zero-byte" in op.reason
    w.apply(w.plan())
    assert w.plan().ops == []


def test_oversized_file_is_skipped() -> None:
    w = World()
    w.local.write("big", 3)
    (op,) = w.plan(max_upload_size=2).ops
    assert isinstance(op, O.SkipFile) and "upload limit" in op.reason


def test_deleting_a_directory_trashes_one_folder_and_counts_its_files() -> None:
    w = synced_world()
    w.local.remove("docs")
    plan = w.plan()
    assert kinds(plan.ops) == ["trash_folder"]
    assert plan.deletions() == 20
    assert kinds(w.plan("backup").ops) == ["forget_dir"]


def test_remote_drift_is_repaired_by_id() -> None:
    w = synced_world()
    r = w.remote
    fid = next(i for i, f in r.files.items() if f.name == "top.txt")
    r.files[fid].name = "renamed-remotely"
    sub = next(i for i, f in r.folders.items() if f.name == "sub")
    r.folders[sub].parent = 1  # moved remotely out of docs
    plan = w.plan()
    assert kinds(plan.ops) == ["repair_file", "repair_folder"]
    w.apply(plan)
    assert w.remote.tree() == w.expected_remote()


def test_unrepresentable_folder_name_is_skipped_not_recreated() -> None:
    w = World()
    w.local.mkdir(" spaced")
    w.local.write(" spaced/x", 2)
    (op,) = w.plan().ops
    assert isinstance(op, O.MarkDir) and "whitespace" in op.reason
    w.apply(w.plan())
    assert w.plan().ops == []


def test_copy_with_preserved_mtime_is_uploaded_not_moved() -> None:
    w = synced_world()
    # mv top.txt zz.txt; cp -p zz.txt top.txt: the copy at the old name has a new inode.
    w.local.move("top.txt", "zz.txt")
    old = w.local.files["zz.txt"]
    w.local.files["top.txt"] = type(old)(999_999, old.size, old.mtime_ns, old.content)
    plan = w.plan()
    w.apply(plan)
    assert w.remote.tree() == w.expected_remote()
    assert w.plan().ops == []


def test_a_cancelled_walk_decides_nothing() -> None:
    import threading

    from syncd.engine.planner import Planner, PlanSettings

    w = synced_world()
    w.local.remove("docs")  # would be a trash, if the walk were allowed to finish
    cancel = threading.Event()
    cancel.set()
    plan = Planner(w, PlanSettings(), cancel=cancel).plan_tree(O.Ref("", 1, 1))
    assert plan.cancelled and plan.ops == []


def _folder_id(w: World, name: str) -> int:
    return next(i for i, f in w.remote.folders.items() if f.name == name)


def test_local_move_of_a_folder_renamed_remotely_sends_its_name() -> None:
    """Found by the property test: a/'d e' moved to the root locally while the host renamed it
    'a'. The move must state the name too, or the root holds two folders called 'a'."""
    for mode in ("mirror", "backup"):
        w = World()
        for d in ("a", "a/a", "a/b", "a/d e"):
            w.local.mkdir(d)
        w.apply(w.plan(mode))
        w.local.move("a/d e", "d e")
        w.remote.folders[_folder_id(w, "d e")].name = "a"
        w.apply(w.plan(mode))
        assert w.remote.tree() == w.expected_remote(), mode
        assert w.plan(mode).ops == [], mode


def test_local_move_out_of_a_folder_trashed_remotely_creates_it_anew() -> None:
    """docs/sub moved to the root locally; someone trashed docs (with sub) on the web site.
    folder/edit of a trashed folder fails: create sub again, upload its files, even when a
    huge pass hands its ops out before it visits the moved folder (batch=1)."""
    for mode, batch in (("mirror", 0), ("backup", 0), ("mirror", 1), ("backup", 1)):
        w = synced_world()
        w.local.move("docs/sub", "sub")
        w.remote.folders[_folder_id(w, "docs")].active = False
        plan = w.plan(mode, batch=batch)
        w.apply(plan)  # the model refuses folder/edit of a trashed folder, as the host does
        assert not any(isinstance(op, O.MoveFolder) for op in plan.ops), mode
        assert w.remote.tree() == w.expected_remote(), (mode, batch)
        assert w.plan(mode).ops == [], (mode, batch)


def test_new_directory_does_not_adopt_a_folder_the_journal_tracks_elsewhere() -> None:
    """Found by the property test (seed 2): c deleted and a/c made locally while the host moved
    c into a. Adopting it for a/c and then trashing it as the deleted c left no a/c."""
    w = World()
    w.local.mkdir("a")
    w.local.mkdir("c")
    w.apply(w.plan())
    w.local.remove("c")
    w.local.mkdir("a/c")
    w.remote.folders[_folder_id(w, "c")].parent = _folder_id(w, "a")
    plan = w.plan()
    assert kinds(plan.ops) == ["create_folder", "trash_folder"]
    w.apply(plan)
    assert w.remote.tree() == w.expected_remote()
    assert w.plan().ops == []


def test_adopt_existing_does_not_take_another_files_remote_copy() -> None:
    """docs/sub/f1.txt's copy moved on the host to docs, where a new local f1.txt of the same
    size appears: adopting that id would give docs/f1.txt the wrong bytes."""
    from syncd.engine.planner import PlanSettings, plan_pair

    w = synced_world()
    fid = next(i for i, f in w.remote.files.items() if f.name == "f1.txt")
    w.remote.files[fid].folder = _folder_id(w, "docs")
    w.local.write("docs/f1.txt", w.remote.files[fid].size)
    plan = plan_pair(w, O.Ref("", 1, 1), PlanSettings(adopt_existing=True))
    assert kinds(plan.ops) == ["repair_file", "upload"]
    w.apply(plan)
    assert w.remote.tree() == w.expected_remote()
    assert w.plan().ops == []


def tree_of_subfolders() -> World:
    w = World()
    w.local.mkdir("docs")
    for i in range(20):
        w.local.mkdir(f"docs/s{i:02d}")
        w.local.write(f"docs/s{i:02d}/f.txt", 10 + i)
    w.local.mkdir("docs/s01/deep")
    w.local.write("docs/s01/deep/d.txt", 3)
    w.apply(w.plan())
    return w


def test_partial_pass_lists_only_the_moved_folder_of_a_renamed_tree() -> None:
    w = tree_of_subfolders()
    w.local.move("docs", "papers")
    w.remote.calls.clear()
    plan = w.plan_partial([("", False)], ["docs", "papers"])
    assert kinds(plan.ops) == ["move_folder"]
    assert w.remote.calls.count("folder/listing") == 2  # the parent and the moved folder
    w.apply(plan)
    assert w.remote.tree() == w.expected_remote()
    assert w.plan().ops == []


def test_partial_pass_descends_the_moved_tree_towards_dirty_paths_only() -> None:
    w = tree_of_subfolders()
    w.local.write("docs/s03/f.txt", 99)  # edited before the move: reported at the old place
    w.local.move("docs", "papers")
    w.local.write("papers/s07/new.txt", 4)
    w.local.write("papers/s01/deep/d.txt", 5)
    w.local.remove("papers/s05/f.txt")
    dirty = ["docs/s03/f.txt", "docs", "papers", "papers/s07/new.txt"]
    dirty += ["papers/s01/deep/d.txt", "papers/s05/f.txt"]
    w.remote.calls.clear()
    plan = w.plan_partial([("", False)], dirty)
    assert kinds(plan.ops) == ["move_folder", "replace", "replace", "trash_file", "upload"]
    # parent, moved folder, s01, s01/deep, s03, s05, s07: not the 14 untouched subfolders
    assert w.remote.calls.count("folder/listing") == 7
    w.apply(plan)
    assert w.remote.tree() == w.expected_remote()
    assert w.plan().ops == []


def test_full_pass_walks_the_whole_moved_tree() -> None:
    w = tree_of_subfolders()
    w.local.move("docs", "papers")
    w.local.write("papers/s07/new.txt", 4)  # no watcher: only the full walk can find it
    plan = w.plan()
    assert kinds(plan.ops) == ["move_folder", "upload"]
