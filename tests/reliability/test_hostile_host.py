"""A host that answers badly: HTML, garbage, truncated or oddly shaped JSON, huge listings.

A tiny scripted server on loopback plays each answer; the real client talks real HTTP to it.
The client either parses leniently (typed values, sensible defaults) or raises one of its typed
errors (TransientError, Refused, ...); never a KeyError, TypeError or AttributeError.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.emulator import DEMO_KEY1, DEMO_KEY2
from syncd.emulator.store import Store
from syncd.emulator.testing import EmulatorProcess
from syncd.remote.client import RemoteClient
from syncd.remote.credentials import Credentials
from syncd.remote.errors import RemoteError, TransientError, UploadOutcomeUnknown
from syncd.remote.models import FolderListing
from tests.support.hosts import ScriptedHost

KEYS = Credentials(key1="k" * 64, key2="q" * 64)


@pytest.fixture
def quick(bad_host: ScriptedHost) -> Iterator[RemoteClient]:
    """A client on the scripted host that gives up within a fraction of a second."""
    client = RemoteClient(
        bad_host.url, KEYS, max_retry_time=0.3, backoff_base=0.01, backoff_cap=0.05, timeout=5
    )
    yield client
    client.close()


def success(data: object) -> bytes:
    body = {"data": data, "_status": "success", "_datetime": "2026-11-23 10:00:00"}
    return json.dumps(body).encode()


def listing(folders: object, files: object) -> bytes:
    return success({"folders": folders, "files": files})


FILE_ROW = {
    "id": "1001",
    "filename": "a.txt",
    "fileSize": "3",
    "folderId": "100",
    "status": "active",
    "shortUrl": "abc",
}
FOLDER_ROW = {"id": "101", "parentId": "100", "folderName": "sub", "totalSize": "3"}
HTML = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"

BROKEN_ANSWERS = {
    "html-200": HTML,
    "empty-200": b"",
    "garbage-bytes": bytes(range(256)) * 4,
    "truncated-json": listing([FOLDER_ROW], [FILE_ROW])[:40],
    "json-list": b"[]",
    "json-null": b"null",
    "json-string": b'"ok"',
    "not-utf8-json": b'{"data": {"files": [{"filename": "\xff\xfe"}]}, "_status": "success"}',
    "no-data": json.dumps({"_status": "success"}).encode(),
    "data-is-list": success([]),
    "data-is-string": success("folders"),
    "error-without-message": json.dumps({"status": "error", "response": None}).encode(),
    "error-message-not-string": json.dumps({"status": "error", "response": {"x": 1}}).encode(),
    "row-is-string": listing(["folder"], []),
    "row-is-null": listing([], [None]),
    "row-is-list": listing([], [["1001", "a.txt"]]),
    "rows-not-a-list": listing("none", 5),
}


@pytest.mark.parametrize("answer", BROKEN_ANSWERS.values(), ids=BROKEN_ANSWERS.keys())
def test_broken_listing_answers_raise_typed_errors(
    bad_host: ScriptedHost, quick: RemoteClient, answer: bytes
) -> None:
    bad_host.answers["folder/listing"] = answer
    with pytest.raises(RemoteError) as caught:
        quick.folder_listing(100)
    assert "\n" not in str(caught.value)


def test_body_cut_short_of_its_content_length_is_transient(
    bad_host: ScriptedHost, quick: RemoteClient, tmp_path: Path
) -> None:
    body = listing([FOLDER_ROW], [FILE_ROW])
    bad_host.answers["folder/listing"] = (200, {"Content-Length": str(len(body))}, body[:30])
    with pytest.raises(TransientError):
        quick.folder_listing(100)
    assert bad_host.calls("folder/listing") >= 2  # a read: retried until max_retry_time

    # The same cut answer to an upload: it may have happened, so it is never replayed.
    upload = success([{"file_id": "9", "name": "a", "size": "1", "hash": "x"}])
    bad_host.answers["file/upload"] = (200, {"Content-Length": str(len(upload))}, upload[:20])
    source = tmp_path / "a"
    source.write_bytes(b"a")
    with pytest.raises(UploadOutcomeUnknown):
        quick.upload_file(source, 100)
    assert bad_host.calls("file/upload") == 1


def test_lenient_listing_parsing(bad_host: ScriptedHost, quick: RemoteClient) -> None:
    odd_file = {
        "id": 1002,  # an int, not a string
        "filename": "b.txt",
        "fileSize": 12,
        "folderId": 100,
        "status": None,
        "shortUrl": None,
        "unexpected": {"nested": [1, 2]},
        "uploadedDate": "0000-00-00 00:00:00",
    }
    bare_file = {"id": "1003", "filename": None, "fileSize": None}  # fields missing or null
    odd_folder = {"id": 102, "parentId": None, "folderName": "x", "isPublic": None, "more": 1}
    bad_host.answers["folder/listing"] = success(
        {"folders": [FOLDER_ROW, odd_folder], "files": [FILE_ROW, odd_file, bare_file], "n": 3}
    )
    result = quick.folder_listing(100)
    assert [f.id for f in result.folders] == [101, 102]
    assert result.folders[1].parent_id is None and result.folders[1].is_public == 0
    a, b, bare = result.files
    assert (a.id, a.name, a.size, a.folder_id) == (1001, "a.txt", 3, 100)
    assert (b.id, b.name, b.size, b.folder_id, b.status) == (1002, "b.txt", 12, 100, "active")
    assert b.uploaded_at is None
    assert (bare.id, bare.name, bare.size) == (1003, "", 0)

    bad_host.answers["folder/listing"] = success({"folders": None})  # files missing entirely
    assert quick.folder_listing(100) == FolderListing([], [])


def test_php_object_for_a_list_is_read_as_its_values(
    bad_host: ScriptedHost, quick: RemoteClient
) -> None:
    # PHP's json_encode turns an array with gaps in its keys (after array_filter) into an object.
    bad_host.answers["folder/listing"] = success(
        {"folders": {"0": FOLDER_ROW}, "files": {"1": FILE_ROW, "3": {**FILE_ROW, "id": "7"}}}
    )
    result = quick.folder_listing(100)
    assert [f.id for f in result.folders] == [101]
    assert [f.id for f in result.files] == [1001, 7]


@pytest.mark.parametrize(
    "answer",
    [
        success({"account_id": "1"}),  # no token
        success({"access_token": None, "account_id": "1"}),
        success({"access_token": "T" * 128}),  # no account id
        success(["T" * 128]),
        HTML,
    ],
    ids=["no-token", "null-token", "no-account", "data-list", "html"],
)
def test_broken_authorize_answers_raise_typed_errors(
    bad_host: ScriptedHost, quick: RemoteClient, answer: bytes
) -> None:
    bad_host.answers["authorize"] = answer
    with pytest.raises(RemoteError):
        quick.account_info()


@pytest.mark.parametrize(
    "answer",
    [
        success([]),
        success([None]),
        success({"file_id": "9"}),  # an object, not the documented one-element list
        success([{"file_id": None, "hash": None}]),
        success([{"error": {"code": 1}}]),
        HTML,
    ],
    ids=["empty-list", "null-entry", "object", "nulls", "error-object", "html"],
)
def test_broken_upload_answers_raise_typed_errors(
    bad_host: ScriptedHost, quick: RemoteClient, tmp_path: Path, answer: bytes
) -> None:
    bad_host.answers["file/upload"] = answer
    source = tmp_path / "a.txt"
    source.write_bytes(b"abc")
    with pytest.raises(RemoteError):
        quick.upload_file(source, None)
    assert bad_host.calls("file/upload") == 1  # never replayed blindly


@pytest.mark.parametrize(
    "answer",
    [
        json.dumps({"original_file": "x", "new_file": None, "_status": "success"}).encode(),
        json.dumps({"original_file": {"data": None}, "new_file": {"data": "x"}}).encode(),
        json.dumps({"original_file": {"data": FILE_ROW}, "_status": "success"}).encode(),
    ],
    ids=["strings", "null-data", "new-missing"],
)
def test_broken_copy_answers_never_crash(
    bad_host: ScriptedHost, quick: RemoteClient, answer: bytes
) -> None:
    bad_host.answers["file/copy"] = answer
    with pytest.raises(UploadOutcomeUnknown):  # the copy may exist: look before copying again
        quick.file_copy(1001, 100)
    assert bad_host.calls("file/copy") == 1


def test_other_actions_with_odd_answers(bad_host: ScriptedHost, quick: RemoteClient) -> None:
    bad_host.answers["account/package"] = success(
        {"max_upload_size": "lots", "concurrent_uploads": None, "can_upload": "yes", "x": []}
    )
    package = quick.account_package()
    assert (package.max_upload_size, package.concurrent_uploads, package.can_upload) == (
        0,
        0,
        True,
    )
    bad_host.answers["account/info"] = success({"id": None, "username": 5})
    info = quick.account_info()
    assert (info.id, info.username) == (0, "5")
    bad_host.answers["file/download"] = success({"download_url": None})
    link = quick.file_download(1001)
    with pytest.raises(RemoteError):
        list(quick.iter_download(link))


# ---- a 20,000-entry folder from the emulator ---------------------------------------------------

BIG = 20_000


@pytest.fixture(scope="module")
def big_folder() -> Iterator[tuple[EmulatorProcess, int]]:
    """An emulator whose folder holds 20,000 files and 50 folders, seeded into its store
    directly (the HTTP admin API would take minutes for this many)."""
    data = Path(tempfile.mkdtemp(prefix="syncd-big-listing-"))
    store = Store(data)
    try:
        folder = store.create_folder(1, None, "big")
        blob = store.write_blob(b"x")
        store.db.execute("BEGIN")
        for i in range(BIG):
            store.db.execute(
                "INSERT INTO files (account_id, folder_id, name, file_type, extension, size, md5,"
                " blob, uploaded_ip, uploaded_date, keywords, unique_hash, delete_hash)"
                " VALUES (1, ?, ?, 'text/plain', 'txt', 1, ?, ?, '127.0.0.1',"
                " '2026-11-23 10:00:00', '', ?, '')",
                (folder, f"file {i:05d} ünï.txt", blob.md5, blob.blob, f"{i:064x}"),
            )
        store.db.execute("UPDATE files SET short_url = 'u' || id")
        store.db.execute("COMMIT")
        for i in range(50):
            store.create_folder(1, folder, f"sub {i:02d}")
    finally:
        store.close()
    with EmulatorProcess(data_dir=data) as emu:
        yield emu, folder


def test_twenty_thousand_entry_listing_parses_completely(
    big_folder: tuple[EmulatorProcess, int],
) -> None:
    emu, folder = big_folder
    with RemoteClient(emu.api_url, Credentials(key1=DEMO_KEY1, key2=DEMO_KEY2)) as client:
        result = client.folder_listing(folder)
    assert len(result.files) == BIG and len(result.folders) == 50
    names = {f.name for f in result.files}
    assert len(names) == BIG and "file 19999 ünï.txt" in names
    assert all(f.size == 1 and f.folder_id == folder and f.id > 0 for f in result.files)
    assert len({f.id for f in result.files}) == BIG
    assert emu.admin.counts().get("folder/listing") == 1  # one answer, no paging, no retry
