"""RemoteClient against the emulator over real loopback HTTP: every endpoint, every answer shape."""

from __future__ import annotations

import hashlib
import io
import tracemalloc
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from syncd.emulator import DEMO_KEY1, DEMO_KEY2, DEMO_PASSWORD, DEMO_USERNAME
from syncd.emulator.testing import EmulatorProcess
from syncd.remote.client import RemoteClient
from syncd.remote.credentials import Credentials
from syncd.remote.downloads import download_to
from syncd.remote.errors import (
    AuthError,
    InsecureURL,
    NoApiAccess,
    NotFound,
    Refused,
    UnknownAction,
)

KEYS = Credentials(key1=DEMO_KEY1, key2=DEMO_KEY2)


def make_client(emu: EmulatorProcess, **kwargs: object) -> RemoteClient:
    kwargs.setdefault("max_retry_time", 10.0)
    return RemoteClient(emu.api_url, kwargs.pop("credentials", KEYS), **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def remote(emulator_session: EmulatorProcess) -> Iterator[RemoteClient]:
    with make_client(emulator_session) as client:
        yield client


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_account_endpoints_are_typed(remote: RemoteClient) -> None:
    info = remote.account_info()
    assert info.id == 1 and info.username == DEMO_USERNAME and isinstance(info.level_id, int)
    package = remote.account_package()
    assert isinstance(package.max_upload_size, int) and package.max_upload_size > 0
    assert isinstance(package.concurrent_uploads, int) and package.can_upload is True
    assert package.max_storage_bytes == 0
    assert remote.account_id == 1


def test_folder_round_trip(remote: RemoteClient) -> None:
    parent = remote.folder_create("rt-folders")
    assert parent.parent_id is None and parent.name == "rt-folders"
    assert isinstance(parent.date_added, datetime) and parent.date_updated is None
    child = remote.folder_create("child", parent.id, is_public=1)
    assert child.parent_id == parent.id and child.is_public == 1

    listing = remote.folder_listing(parent.id)
    assert [f.id for f in listing.folders] == [child.id] and listing.files == []
    assert remote.folder_info(child.id).name == "child"

    edited = remote.folder_edit(child.id, folder_name="renamed", is_public=0)
    assert (edited.name, edited.is_public, edited.parent_id) == ("renamed", 0, parent.id)
    moved = remote.folder_move(child.id, None)
    assert moved.parent_id is None
    back = remote.folder_edit(child.id, parent_id=parent.id)
    assert back.parent_id == parent.id

    remote.folder_delete(child.id)
    assert remote.folder_listing(parent.id).folders == []
    root_ids = {f.id for f in remote.folder_listing(None).folders}
    assert parent.id in root_ids


def test_file_round_trip(remote: RemoteClient, tmp_path: Path) -> None:
    home = remote.folder_create("rt-files")
    other = remote.folder_create("rt-files-other")
    data = b"syncd round trip\n" * 5000
    seen: list[int] = []
    up = remote.upload_file(write(tmp_path / "report.txt", data), home.id, progress=seen.append)
    assert up.name == "report.txt" and up.size == len(data)
    assert up.md5 == hashlib.md5(data).hexdigest()
    assert seen and seen[-1] == len(data) and seen == sorted(seen)

    info = remote.file_info(up.file_id)
    assert (info.id, info.name, info.size, info.folder_id, info.status) == (
        up.file_id,
        "report.txt",
        len(data),
        home.id,
        "active",
    )
    assert isinstance(info.uploaded_at, datetime)
    [row] = remote.folder_listing(home.id).files
    assert row.id == up.file_id and row.size == len(data)

    renamed = remote.file_edit(up.file_id, filename="renamed.txt", folder_id=other.id)
    assert (renamed.name, renamed.folder_id) == ("renamed.txt", other.id)
    assert remote.file_move(up.file_id, None).folder_id is None
    assert remote.file_move(up.file_id, home.id).folder_id == home.id

    copy = remote.file_copy(up.file_id, other.id)
    assert copy.original.id == up.file_id and copy.new.id != up.file_id
    assert copy.new.folder_id == other.id and copy.new.size == len(data)

    link = remote.file_download(up.file_id)
    assert link.file_id == up.file_id and link.filename == "renamed.txt"
    assert b"".join(remote.iter_download(link, chunk_size=4096)) == data
    sink = io.BytesIO()
    assert download_to(remote, copy.new.id, sink).md5 == hashlib.md5(data).hexdigest()
    assert sink.getvalue() == data

    trashed = remote.file_delete(up.file_id)
    assert trashed.status == "trash"
    assert [f.id for f in remote.folder_listing(home.id).files] == []


def test_upload_to_root_and_filename_override(remote: RemoteClient, tmp_path: Path) -> None:
    up = remote.upload_file(write(tmp_path / "local.bin", b"x" * 10), None, filename="remote.bin")
    assert up.name == "remote.bin"
    assert remote.file_info(up.file_id).folder_id is None


def test_relocate_into_a_folder_and_into_the_root(
    remote: RemoteClient, emulator_session: EmulatorProcess, tmp_path: Path
) -> None:
    a = remote.folder_create("a")
    b = remote.folder_create("b")
    up = remote.upload_file(write(tmp_path / "f.txt", b"f"), a.id)
    emulator_session.admin.reset_counts()
    # Into a folder: one file/edit carries the move and the rename.
    moved = remote.file_relocate(up.file_id, b.id, filename="g.txt")
    assert (moved.folder_id, moved.name) == (b.id, "g.txt")
    # Into the root, which file/edit cannot express: file/move, then file/edit for the name.
    at_root = remote.file_relocate(up.file_id, None, filename="h.txt")
    assert (at_root.folder_id, at_root.name) == (None, "h.txt")
    sub = remote.folder_create("sub", a.id)
    top = remote.folder_relocate(sub.id, None, folder_name="top")
    assert (top.parent_id, top.name) == (None, "top")
    back = remote.folder_relocate(sub.id, b.id)
    assert (back.parent_id, back.name) == (b.id, "top")
    counts = emulator_session.admin.counts()
    assert counts["file/edit"] == 2 and counts["file/move"] == 1
    assert counts["folder/edit"] == 2 and counts["folder/move"] == 1


def test_names_trimmed_and_stripped_by_host_are_read_back(
    remote: RemoteClient, tmp_path: Path
) -> None:
    folder = remote.folder_create("  a<b>c</b>  ")
    assert folder.name == "ac"
    assert remote.folder_info(folder.id).name == "ac"
    up = remote.upload_file(write(tmp_path / "f.txt", b"1"), folder.id)
    edited = remote.file_edit(up.file_id, filename="  new <i>name</i>.txt  ")
    assert edited.name == "new name.txt"
    assert remote.folder_edit(folder.id, folder_name=" <p>x</p> ").name == "x"
    # Names from the multipart header are not cleaned.
    spaced = remote.upload_file(write(tmp_path / " spaced .txt", b"2"), folder.id)
    assert spaced.name == " spaced .txt"


def test_http_200_errors_are_classified(remote: RemoteClient, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="Could not find file"):
        remote.file_info(987654321)
    with pytest.raises(NotFound, match="Could not find folder"):
        remote.folder_listing(987654321)
    with pytest.raises(NotFound):
        remote.file_move(987654321, None)
    with pytest.raises(Refused) as zero:
        remote.upload_file(write(tmp_path / "empty", b""), None)
    assert zero.value.kind == Refused.ZERO_BYTE
    assert "Filesize received was zero" in zero.value.reason


def test_unknown_action_is_404(remote: RemoteClient) -> None:
    with pytest.raises(UnknownAction, match="No method found"):
        remote._call("file/nosuch", {"file_id": "1"})


@pytest.mark.emulator(max_upload_size=1000)
def test_too_large_upload_is_refused(emulator: EmulatorProcess, tmp_path: Path) -> None:
    with make_client(emulator) as remote:
        with pytest.raises(Refused) as refused:
            remote.upload_file(write(tmp_path / "big.bin", b"b" * 5000), None)
        assert refused.value.kind == Refused.TOO_LARGE
        assert remote.upload_file(write(tmp_path / "ok.bin", b"o" * 1000), None).size == 1000
    assert [f["name"] for f in emulator.admin.tree()["files"]] == ["ok.bin"]


def test_wrong_keys_raise_auth_error_once_and_never_loop(emulator: EmulatorProcess) -> None:
    wrong = Credentials(key1="1" * 64, key2="2" * 64)
    remote = make_client(emulator, credentials=wrong)
    with pytest.raises(AuthError, match="Could not authenticate"):
        remote.folder_listing(None)
    with pytest.raises(AuthError):
        remote.account_info()  # remembered: no second authorization attempt
    remote.close()
    assert emulator.admin.counts().get("authorize") == 1


def test_malformed_key_is_an_auth_error(emulator: EmulatorProcess) -> None:
    with (
        make_client(emulator, credentials=Credentials(key1="short", key2="short")) as remote,
        pytest.raises(AuthError, match="64 characters"),
    ):
        remote.authorize()


@pytest.mark.emulator(api_access=False)
def test_account_without_api_access(emulator: EmulatorProcess) -> None:
    with make_client(emulator) as remote, pytest.raises(NoApiAccess):
        remote.account_info()


@pytest.mark.emulator(auth_method="password")
def test_username_password_authentication(emulator: EmulatorProcess) -> None:
    creds = Credentials(username=DEMO_USERNAME, password=DEMO_PASSWORD)
    with make_client(emulator, credentials=creds) as remote:
        assert remote.account_info().username == DEMO_USERNAME
    bad = Credentials(username=DEMO_USERNAME, password="nope")
    with make_client(emulator, credentials=bad) as remote, pytest.raises(AuthError):
        remote.account_info()


def test_token_is_shared_and_disabled_on_close(emulator: EmulatorProcess) -> None:
    remote = make_client(emulator)
    for _ in range(3):
        remote.folder_listing(None)
    remote.close()
    remote.close()  # idempotent
    counts = emulator.admin.counts()
    assert counts.get("authorize") == 1 and counts.get("disable_access_token") == 1


def test_plain_http_refused_except_loopback() -> None:
    with pytest.raises(InsecureURL):
        RemoteClient("http://files.example.com/api/v2/", KEYS)
    RemoteClient("http://files.example.com/api/v2/", KEYS, allow_insecure_http=True)._http.close()
    for url in (
        "http://localhost:1/api/v2/",
        "http://127.0.0.5:1/api/v2/",
        "http://[::1]:1/api/v2",
    ):
        RemoteClient(url, KEYS)._http.close()
    RemoteClient("https://files.example.com/api/v2", KEYS)._http.close()


def test_download_is_never_sniffed_and_dead_links_are_not_found(
    remote: RemoteClient, tmp_path: Path
) -> None:
    data = b'["a json file", {"status": "error", "response": "not an answer"}]'
    up = remote.upload_file(write(tmp_path / "data.json", data), None)
    sink = io.BytesIO()
    assert download_to(remote, up.file_id, sink).md5 == hashlib.md5(data).hexdigest()
    assert sink.getvalue() == data
    link = remote.file_download(up.file_id)
    remote.file_delete(up.file_id)
    with pytest.raises(NotFound):
        b"".join(remote.iter_download(link))


def test_upload_streams_in_constant_memory(remote: RemoteClient, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    chunk = bytes(range(256)) * 4096  # 1 MiB
    md5 = hashlib.md5()
    with big.open("wb") as out:
        for _ in range(48):
            out.write(chunk)
            md5.update(chunk)
    tracemalloc.start()
    try:
        up = remote.upload_file(big, None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert up.size == 48 << 20 and up.md5 == md5.hexdigest()
    assert peak < 4 << 20, f"peak Python allocations {peak} bytes for a 48 MiB upload"


def test_unusual_local_names_arrive_intact(remote: RemoteClient, tmp_path: Path) -> None:
    folder = remote.folder_create("names")
    names = ["héllo wörld ✓.txt", "semi;colon=.txt", "  spaced  .txt"]
    for name in names:
        up = remote.upload_file(write(tmp_path / "src", name.encode()), folder.id, filename=name)
        assert up.name == name
    # PHP keeps only what follows the last backslash of an uploaded name (the engine skips such
    # names for that reason: syncd.local.names); the answer carries what was stored.
    cut = remote.upload_file(write(tmp_path / "b", b"b"), folder.id, filename="back\\slash.txt")
    assert cut.name == "slash.txt"
    names.append(cut.name)
    # A double quote travels HTML5-escaped (%22) in the multipart header, as browsers send it;
    # whatever the host stored, the answer says so and the listing agrees.
    quoted = remote.upload_file(write(tmp_path / "q", b"q"), folder.id, filename='a"b.txt')
    listed = {f.id: f.name for f in remote.folder_listing(folder.id).files}
    assert listed[quoted.file_id] == quoted.name
    assert sorted(listed.values()) == sorted([*names, quoted.name])
