"""Crash safety of versioning: `syncd reconcile` SIGKILLed at a chosen moment of replacing a
file, between the new upload and the move of the version it replaces into the versions area.

The emulator counts a request when it arrives and answers after its latency, so a kill as soon
as the count of a request kind grows lands while that request is in flight, after everything the
pass did before it. Two moments:

* ``folder/create``: the new upload is recorded, the versions area is being created, the move
  not yet announced (no intent for it yet);
* ``file/edit``: the move is in flight (its intent written).

The next pass must converge: one live file per path (the newest bytes), the replaced upload in
the versions area, nothing trashed, `verify` OK.
"""

from __future__ import annotations

import hashlib
import signal
from pathlib import Path
from typing import Any

import pytest

from syncd.history.names import VERSIONS_DIR, parse_versioned_name
from syncd.journal.store import Journal
from tests.support.cli import run_syncd, start_syncd, tail
from tests.support.restore import restore_config
from tests.support.waiting import wait_for

OLD, NEW = b"the first version\n", b"the second version, longer\n"


def _config(tmp_path: Path, api_url: str, root: Path, mode: str, versions: str | None) -> Path:
    config = restore_config(
        tmp_path / "config.toml", api_url, tmp_path / "state.db", pairs={"p": (root, "B/P")}
    )
    with config.open("a") as fh:
        fh.write(f'mode = "{mode}"\n')
        if versions is not None:
            fh.write(f'versions = "{versions}"\n')
    return config


def _requests(counts: dict[str, int]) -> int:
    return sum(v for k, v in counts.items() if k not in ("faults", "429"))


def _reconcile(config: Path) -> None:
    result = run_syncd("reconcile", "--pair", "p", config=config)
    assert result.returncode == 0, result.stdout + result.stderr


def _killed_at(
    admin: Any, config: Path, log: Path, kind: str, what: str, *, answer_lost: bool = False
) -> None:
    """Run a pass and SIGKILL it while its first ``kind`` request waits out the latency, after
    everything the pass did before it. ``answer_lost``: first let the request take effect and
    lose its answer (every answer turns into an error after the action, ``after_500``), and
    kill the run at its next request (a retry, or the lookup of what it left). Knobs are back
    to normal afterwards."""
    admin.set_knobs(latency_ms=400)
    before = admin.counts().get(kind, 0)
    proc = start_syncd("reconcile", "--pair", "p", config=config, log=log)
    try:
        wait_for(
            lambda: admin.counts().get(kind, 0) > before or proc.poll() is not None,
            timeout=60,
            what=what,
        )
        if answer_lost:
            admin.set_knobs(fault_rate=1.0, fault_kinds=["after_500"], fault_seed=1)
            sent = _requests(admin.counts())
            wait_for(
                lambda: _requests(admin.counts()) > sent or proc.poll() is not None,
                timeout=60,
                what=f"a request after {what}",
            )
        assert proc.poll() is None, f"the pass ended before it could be killed\n{tail(log)}"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    admin.set_knobs(latency_ms=0, fault_rate=0.0)


@pytest.mark.parametrize("kill_at", ["folder/create", "file/edit"])
@pytest.mark.parametrize(("mode", "versions"), [("backup", None), ("mirror", "keep")])
def test_killed_between_upload_and_version_move_converges(
    emulator: Any, tmp_path: Path, mode: str, versions: str | None, kill_at: str
) -> None:
    root = tmp_path / "local"
    root.mkdir()
    (root / "a.txt").write_bytes(OLD)
    config = _config(tmp_path, emulator.api_url, root, mode, versions)
    _reconcile(config)
    admin = emulator.admin
    (root / "a.txt").write_bytes(NEW)

    _killed_at(admin, config, tmp_path / "killed.log", kill_at, f"a {kill_at} request")

    _reconcile(config)
    _reconcile(config)  # and a pass with nothing left to do changes nothing
    tree = admin.tree()
    folders = {f["id"]: f for f in tree["folders"] if f["status"] == "active"}
    live = next(i for i, f in folders.items() if f["name"] == "P")
    area = next(i for i, f in folders.items() if f["name"] == VERSIONS_DIR)
    files = [f for f in tree["files"] if f["status"] == "active"]
    in_live = [f for f in files if f["folder_id"] == live]
    in_area = [f for f in files if f["folder_id"] == area]
    assert [(f["name"], f["md5"]) for f in in_live] == [("a.txt", hashlib.md5(NEW).hexdigest())], (
        in_live
    )
    assert len(in_area) == 1, in_area
    parsed = parse_versioned_name(in_area[0]["name"])
    assert parsed is not None and parsed.original == "a.txt"
    assert in_area[0]["md5"] == hashlib.md5(OLD).hexdigest()
    # The old content held a.txt until its successor went live, however late it was moved.
    with Journal(tmp_path / "state.db") as journal:
        pair = journal.pair("p")
        assert pair is not None
        successor_from = journal.upload_time(pair.id, in_live[0]["id"])
    assert successor_from is not None
    assert parsed.live_to_ns == successor_from // 1_000_000 * 1_000_000  # names carry ms
    assert [f for f in tree["files"] if f["status"] != "active"] == []  # nothing trashed
    verify = run_syncd("verify", "--pair", "p", config=config)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_killed_upload_of_a_file_renamed_before_the_restart_becomes_a_version(
    emulator: Any, tmp_path: Path
) -> None:
    """Found by the model test (backup): a pass killed while uploading a new file b.txt (the
    host stores it; the journal never records it), then b.txt renamed locally before the next
    pass. The upload's intent no longer matches a local file, so nothing adopts what it left:
    in backup mode it stayed beside the live tree for good. Kept versions make it a version
    (nothing trashed); the live tree is the local tree."""
    root = tmp_path / "local"
    root.mkdir()
    (root / "keep.txt").write_bytes(OLD)
    config = _config(tmp_path, emulator.api_url, root, "backup", None)
    _reconcile(config)
    admin = emulator.admin
    (root / "b.txt").write_bytes(NEW)
    _killed_at(
        admin, config, tmp_path / "killed.log", "file/upload", "the upload", answer_lost=True
    )
    landed = wait_for(
        lambda: [f for f in admin.tree()["files"] if f["name"] == "b.txt"],
        timeout=10,
        what="the killed run's upload to land on the host",
    )
    (root / "b.txt").rename(root / "a.txt")

    _reconcile(config)
    tree = admin.tree()
    folders = {f["id"]: f for f in tree["folders"] if f["status"] == "active"}
    live = next(i for i, f in folders.items() if f["name"] == "P")
    area = next(i for i, f in folders.items() if f["name"] == VERSIONS_DIR)
    in_live = sorted(f["name"] for f in tree["files"] if f["folder_id"] == live)
    assert in_live == ["a.txt", "keep.txt"], in_live
    (leftover,) = landed
    moved = next(f for f in tree["files"] if f["id"] == leftover["id"])
    assert moved["folder_id"] == area and moved["status"] == "active", moved
    assert parse_versioned_name(moved["name"]) is not None
    verify = run_syncd("verify", "--pair", "p", config=config)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def _killed_after_making_d(
    emulator: Any, tmp_path: Path, versions: str | None
) -> tuple[Path, Path, int]:
    """A backup pair synced, then a directory d added and a pass killed after the host made
    its folder, before the journal recorded it. Returns the root, the config and d's folder id
    on the host."""
    root = tmp_path / "local"
    root.mkdir()
    (root / "keep.txt").write_bytes(OLD)
    config = _config(tmp_path, emulator.api_url, root, "backup", versions)
    _reconcile(config)
    admin = emulator.admin
    (root / "d").mkdir()
    (root / "d" / "x.txt").write_bytes(NEW)
    _killed_at(
        admin, config, tmp_path / "killed.log", "folder/create", "the create", answer_lost=True
    )
    made = wait_for(
        lambda: [f for f in admin.tree()["folders"] if f["name"] == "d"],
        timeout=10,
        what="the killed run's folder to land on the host",
    )
    return root, config, int(made[0]["id"])


@pytest.mark.parametrize("versions", [None, "trash"])
def test_killed_folder_create_of_a_directory_renamed_before_the_restart_leaves_no_extra_folder(
    emulator: Any, tmp_path: Path, versions: str | None
) -> None:
    """Found by the crash trials (backup, seed 20261134 trial 24: "remote extra: dir ..."): a
    pass killed after the host made folder d, before the journal recorded it, then d renamed
    locally before the next pass. Nothing adopts the folder by name any more, and backup mode
    leaves folders it does not know where they are, so syncd's own empty folder stayed beside
    the live tree for good. The create's intent says whose it is: still empty, it leaves the
    live tree as a removed directory does, into the versions area where versions are kept
    (backup mode never trashes), to the trash with `versions = "trash"`."""
    root, config, _ = _killed_after_making_d(emulator, tmp_path, versions)
    admin = emulator.admin
    (root / "d").rename(root / "e")

    _reconcile(config)
    tree = admin.tree()
    active = {f["name"] for f in tree["folders"] if f["status"] == "active"}
    assert "d" not in active and "e" in active, active
    assert [f for f in tree["files"] if f["status"] != "active"] == []  # no file trashed
    kept = [p for f in tree["folders"] if (p := parse_versioned_name(f["name"])) is not None]
    trashed = [f["name"] for f in tree["folders"] if f["status"] != "active"]
    if versions is None:
        assert [v.original for v in kept] == ["d"] and trashed == [], (kept, trashed)
    else:
        assert kept == [] and trashed == ["d"], (kept, trashed)
    assert emulator.admin.duplicates() == []
    verify = run_syncd("verify", "--pair", "p", config=config)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    _reconcile(config)
    assert run_syncd("verify", "--pair", "p", config=config).returncode == 0


def test_killed_folder_create_then_someone_elses_file_put_in_it_is_left_with_their_file(
    emulator: Any, tmp_path: Path
) -> None:
    """As above, but before the restart someone puts a file of theirs into the folder the
    killed run made (the backup model, seed 20261231). Backup mode leaves someone else's files
    where they are, so the folder stays, with their file, beside the live tree; the renamed
    directory gets a folder of its own; nothing is trashed; `verify` is content, and the next
    pass has nothing to do."""
    root, config, made = _killed_after_making_d(emulator, tmp_path, None)
    admin = emulator.admin
    theirs = admin.drift("add_file", folder_id=made, name="theirs.txt", content_b64="eA==")
    (root / "d").rename(root / "e")

    _reconcile(config)
    tree = admin.tree()
    folders = {f["id"]: f for f in tree["folders"]}
    assert folders[made]["status"] == "active"  # theirs is in it: left where it is
    assert "e" in {f["name"] for f in folders.values() if f["status"] == "active"}
    files = {f["id"]: f for f in tree["files"]}
    assert files[int(theirs["id"])]["folder_id"] == made
    assert [f for f in tree["files"] if f["status"] != "active"] == []  # nothing trashed
    assert admin.counts().get("folder/delete", 0) == 0
    assert admin.duplicates() == []
    verify = run_syncd("verify", "--pair", "p", config=config)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    again = run_syncd("reconcile", "--pair", "p", "--dry-run", config=config)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "nothing to do" in again.stdout.lower(), again.stdout


@pytest.mark.parametrize(("mode", "versions"), [("backup", None), ("mirror", "keep")])
def test_killed_upload_of_an_edit_then_its_directory_removed_keeps_both_as_versions(
    emulator: Any, tmp_path: Path, mode: str, versions: str | None
) -> None:
    """Found by the model test (mirror-keep, seed 20261282: "duplicate name on the host" in a
    folder kept whole): p/a.txt edited, a pass killed after the host stored the new upload,
    before the journal recorded it, then p removed locally. The next pass keeps p whole as one
    versioned folder; the untracked upload was still in it beside the file it was to replace,
    two a.txt in one folder of the versions area. What the interrupted upload left becomes a
    version of its own before its folder is kept whole: each name in the area is one file,
    nothing is trashed, `verify` is content."""
    root = tmp_path / "local"
    (root / "p").mkdir(parents=True)
    (root / "keep.txt").write_bytes(OLD)
    (root / "p" / "a.txt").write_bytes(OLD)
    config = _config(tmp_path, emulator.api_url, root, mode, versions)
    _reconcile(config)
    admin = emulator.admin
    (root / "p" / "a.txt").write_bytes(NEW)
    _killed_at(
        admin, config, tmp_path / "killed.log", "file/upload", "the upload", answer_lost=True
    )
    new_md5 = hashlib.md5(NEW).hexdigest()
    landed = wait_for(
        lambda: [f for f in admin.tree()["files"] if f["md5"] == new_md5],
        timeout=10,
        what="the killed run's upload to land on the host",
    )
    (root / "p" / "a.txt").unlink()
    (root / "p").rmdir()

    _reconcile(config)
    tree = admin.tree()
    assert admin.duplicates() == []
    files = {f["id"]: f for f in tree["files"]}
    folders = {f["id"]: f for f in tree["folders"]}
    assert [f for f in files.values() if f["status"] != "active"] == []  # nothing trashed
    (leftover,) = landed
    kept_as = parse_versioned_name(files[leftover["id"]]["name"])
    assert kept_as is not None and kept_as.original == "a.txt", files[leftover["id"]]
    (old,) = [
        f
        for f in files.values()
        if f["md5"] == hashlib.md5(OLD).hexdigest() and f["name"] != "keep.txt"
    ]
    kept_whole = parse_versioned_name(folders[old["folder_id"]]["name"])
    assert kept_whole is not None and kept_whole.original == "p", folders[old["folder_id"]]
    verify = run_syncd("verify", "--pair", "p", config=config)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    again = run_syncd("reconcile", "--pair", "p", "--dry-run", config=config)
    assert "nothing to do" in again.stdout.lower(), again.stdout
