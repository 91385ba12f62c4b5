"""The emulator's admin API, process lifecycle and persistence."""

from __future__ import annotations

import base64
import re
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from syncd.emulator.admin import is_loopback
from syncd.emulator.testing import EmulatorError, EmulatorProcess, RawApi
from tests.support.cli import run_syncd, start_syncd
from tests.support.trees import md5_bytes


@pytest.fixture
def api(emulator: EmulatorProcess) -> Iterator[RawApi]:
    with RawApi(emulator.api_url) as raw:
        raw.authorize()
        yield raw


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# ------------------------------------------------------------------ loopback
@pytest.mark.parametrize(
    ("client", "allowed"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.5", False),
        ("192.168.1.2", False),
        ("::ffff:10.0.0.5", False),
        ("2001:db8::1", False),
        ("localhost", False),
        ("", False),
        (None, False),
    ],
)
def test_admin_accepts_only_loopback_clients(client: str | None, allowed: bool) -> None:
    assert is_loopback(client) is allowed


# --------------------------------------------------------------------- tree
def test_tree_lists_everything_with_ints(emulator: EmulatorProcess, api: RawApi) -> None:
    folder = api.ok("folder/create", folder_name="docs")["data"]["id"]
    kept = api.upload(b"kept", "kept.txt", int(folder))
    gone = api.upload(b"gone", "gone.txt")
    api.ok("file/delete", file_id=gone["file_id"])
    tree = emulator.admin.tree()
    assert tree["folders"] == [
        {"id": int(folder), "parent_id": None, "name": "docs", "status": "active"}
    ]
    assert tree["files"] == [
        {
            "id": int(kept["file_id"]),
            "folder_id": int(folder),
            "name": "kept.txt",
            "size": 4,
            "md5": md5_bytes(b"kept"),
            "status": "active",
        },
        {
            "id": int(gone["file_id"]),
            "folder_id": None,
            "name": "gone.txt",
            "size": 4,
            "md5": md5_bytes(b"gone"),
            "status": "trash",
        },
    ]
    assert emulator.admin.active_paths() == {"/docs/kept.txt": md5_bytes(b"kept")}


# ------------------------------------------------------------------- counts
def test_counts_per_action_and_reset(emulator: EmulatorProcess, api: RawApi) -> None:
    api.ok("folder/listing")
    api.ok("folder/listing")
    api.call("file/nosuch")
    emulator.admin.tree()  # admin calls are never counted
    counts = emulator.admin.counts()
    assert counts == {
        "authorize": 1,
        "folder/listing": 2,
        "file/nosuch": 1,
        "429": 0,
        "faults": 0,
    }
    emulator.admin.reset_counts()
    assert emulator.admin.counts() == {"429": 0, "faults": 0}
    item = api.upload(b"abc", "a.txt")
    url = api.ok("file/download", file_id=item["file_id"])["data"]["download_url"]
    httpx.get(url)
    counts = emulator.admin.counts()
    assert counts["file/upload"] == counts["file/download"] == counts["download"] == 1


def test_admin_errors_are_json_400(emulator: EmulatorProcess) -> None:
    response = httpx.post(emulator.base_url + "/admin/drift", json={"op": "explode"})
    assert response.status_code == 400
    assert response.json()["ok"] is False
    response = httpx.post(emulator.base_url + "/admin/knobs", content=b"not json")
    assert response.status_code == 400
    missing = httpx.post(emulator.base_url + "/admin/drift", json={"op": "rename_file"})
    assert missing.status_code == 400
    unknown = httpx.post(
        emulator.base_url + "/admin/drift", json={"op": "trash_file", "file_id": 424242}
    )
    assert unknown.status_code == 404


# -------------------------------------------------------------------- drift
HOSTILE = ["../x", "a/b", "con\nx", "  spaced  ", "<b>tag</b>", "..", "ünï\u200bcode", "a\\b"]


def test_drift_adds_hostile_names_unsanitised(emulator: EmulatorProcess, api: RawApi) -> None:
    admin = emulator.admin
    parent = admin.drift("add_folder", parent_id=None, name="web")["id"]
    for name in HOSTILE:
        admin.drift("add_file", folder_id=parent, name=name, content_b64=b64(name.encode()))
        admin.drift("add_folder", parent_id=parent, name=name)
    listing = api.ok("folder/listing", parent_folder_id=parent)["data"]
    assert sorted(f["filename"] for f in listing["files"]) == sorted(HOSTILE)
    assert sorted(f["folderName"] for f in listing["folders"]) == sorted(HOSTILE)
    for row in listing["files"]:
        url = api.ok("file/download", file_id=row["id"])["data"]["download_url"]
        assert httpx.get(url).content == row["filename"].encode()


def test_drift_file_ops(emulator: EmulatorProcess, api: RawApi) -> None:
    admin = emulator.admin
    a = admin.drift("add_folder", parent_id=0, name="a")["id"]
    b = admin.drift("add_folder", parent_id=a, name="b")["id"]
    file_id = admin.drift("add_file", folder_id=a, name="f.txt", content_b64=b64(b"one"))["id"]
    assert emulator.admin.active_paths() == {"/a/f.txt": md5_bytes(b"one")}

    assert admin.drift("rename_file", file_id=file_id, name="g.txt") == {"ok": True}
    admin.drift("move_file", file_id=file_id, folder_id=b)
    admin.drift("modify_file", file_id=file_id, content_b64=b64(b"two!"))
    info = api.ok("file/info", file_id=file_id)["data"]
    assert (info["filename"], info["folderId"], info["fileSize"]) == ("g.txt", str(b), "4")
    assert emulator.admin.active_paths() == {"/a/b/g.txt": md5_bytes(b"two!")}
    url = api.ok("file/download", file_id=file_id)["data"]["download_url"]
    assert httpx.get(url).content == b"two!"

    admin.drift("move_file", file_id=file_id, folder_id=None)
    assert emulator.admin.active_paths() == {"/g.txt": md5_bytes(b"two!")}
    admin.drift("trash_file", file_id=file_id)
    assert emulator.admin.active_paths() == {}
    assert api.ok("file/info", file_id=file_id)["data"]["file_status"] == "trash"


def test_drift_folder_ops(emulator: EmulatorProcess, api: RawApi) -> None:
    admin = emulator.admin
    a = admin.drift("add_folder", parent_id=None, name="a")["id"]
    b = admin.drift("add_folder", parent_id=None, name="b")["id"]
    admin.drift("add_file", folder_id=a, name="f", content_b64=b64(b"f"))
    admin.drift("rename_folder", folder_id=a, name="a2")
    admin.drift("move_folder", folder_id=a, parent_id=b)
    assert emulator.admin.active_paths() == {"/b/a2/f": md5_bytes(b"f")}
    with pytest.raises(EmulatorError, match="400"):
        admin.drift("move_folder", folder_id=b, parent_id=a)
    admin.drift("move_folder", folder_id=a, parent_id=None)
    assert emulator.admin.active_paths() == {"/a2/f": md5_bytes(b"f")}
    admin.drift("trash_folder", folder_id=a)
    assert emulator.admin.active_paths() == {}
    assert api.call("folder/info", folder_id=a).json()["response"] == (
        "Could not find folder based on folder_id."
    )


def test_duplicates_helper(emulator: EmulatorProcess) -> None:
    admin = emulator.admin
    docs = admin.drift("add_folder", parent_id=None, name="docs")["id"]
    admin.drift("add_folder", parent_id=None, name="docs")
    for _ in range(2):
        admin.drift("add_file", folder_id=docs, name="x.txt", content_b64=b64(b"x"))
    admin.drift("add_file", folder_id=docs, name="y.txt", content_b64=b64(b"y"))
    assert admin.duplicates() == [("/", "docs"), ("/docs", "x.txt")]


# ------------------------------------------------------------ process lifecycle
def test_ready_line_and_clean_sigterm(tmp_path: Path) -> None:
    proc = start_syncd(
        "--port", "0", "--data", str(tmp_path), module="syncd.emulator", capture=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert re.fullmatch(r"READY http://127\.0\.0\.1:(\d+)/api/v2/\n", line)
        port = int(line.split(":")[2].split("/")[0])
        assert port != 0
        assert httpx.post(line.split()[1] + "authorize").status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert out == ""
    assert (tmp_path / "emulator.sqlite3").exists()


def test_busy_port_is_a_clear_error() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run_syncd("--port", str(port), module="syncd.emulator", timeout=30)
    assert result.returncode == 2
    assert "cannot listen" in result.stderr
    assert "Traceback" not in result.stderr


def test_state_persists_across_kill_and_restart(emulator: EmulatorProcess, api: RawApi) -> None:
    folder = api.ok("folder/create", folder_name="kept")["data"]["id"]
    item = api.upload(b"persist me", "p.txt", int(folder))
    tree_before = emulator.admin.tree()
    port = emulator.port
    emulator.kill()
    with pytest.raises(httpx.TransportError):
        api.call("account/info")
    emulator.restart()
    assert emulator.port == port
    assert emulator.admin.tree() == tree_before
    # The token survived too (the host keeps tokens in its database).
    url = api.ok("file/download", file_id=item["file_id"])["data"]["download_url"]
    assert httpx.get(url).content == b"persist me"
    new = api.upload(b"after", "after.txt")
    assert int(new["file_id"]) > int(item["file_id"])


def test_graceful_restart_keeps_port(emulator: EmulatorProcess) -> None:
    port = emulator.port
    emulator.restart()
    assert emulator.port == port
    with RawApi(emulator.api_url) as raw:
        raw.authorize()


def test_profile_1cloudfile() -> None:
    with EmulatorProcess(profile="1cloudfile") as emu, RawApi(emu.api_url) as raw:
        raw.authorize()
        item = raw.upload(b"x", "x.txt")
    assert "1Cloud File" in item["url_html"]
