"""Every API endpoint of the emulator and its answer shapes, driven with plain httpx."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from syncd.emulator import DEMO_KEY1, DEMO_KEY2, DEMO_PASSWORD, DEMO_USERNAME
from syncd.emulator.sanitize import clean_field, php_strip_tags
from syncd.emulator.testing import EmulatorProcess, RawApi

DATETIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorProcess]:
    with EmulatorProcess() as emulator:
        yield emulator


@pytest.fixture
def api(emu: EmulatorProcess) -> Iterator[RawApi]:
    with RawApi(emu.api_url) as raw:
        raw.authorize()
        yield raw


@pytest.fixture
def folder(api: RawApi) -> int:
    """A fresh folder per test, so tests sharing the module emulator do not see each other."""
    return int(api.ok("folder/create", folder_name="t")["data"]["id"])


def assert_error(response: httpx.Response, message: str) -> None:
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "error"
    assert body["response"] == message
    assert DATETIME.match(body["_datetime"])
    assert "_status" not in body


# A folder's counters are JSON numbers, as the API pages show them; everything else is a string.
FOLDER_COUNTS = ("total_downloads", "child_folder_count", "file_count")


def all_strings_or_null(value: Any) -> bool:
    if isinstance(value, dict):
        return all(
            type(v) is int if k in FOLDER_COUNTS else all_strings_or_null(v)
            for k, v in value.items()
        )
    if isinstance(value, list):
        return all(all_strings_or_null(v) for v in value)
    return value is None or isinstance(value, str)


# ------------------------------------------------------------------ sanitising
@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  a<b>c  ", "ac"),
        ("x<!-- note -->y", "xy"),
        ("a<b", "a"),
        ("a < b", "a < b"),
        ("1 > 0", "1 > 0"),
        ('<a title="x>y">t</a>', "t"),
        ("\t\n name \x0b\0", "name"),
        ("\u00a0keep\u00a0", "\u00a0keep\u00a0"),
    ],
)
def test_clean_field_is_php_trim_strip_tags(raw: str, clean: str) -> None:
    assert clean_field(raw) == clean


def test_strip_tags_leaves_plain_text_alone() -> None:
    assert php_strip_tags("plain name.txt") == "plain name.txt"


# ---------------------------------------------------------------------- auth
def test_authorize_answer_shape(emu: EmulatorProcess) -> None:
    with RawApi(emu.api_url) as raw:
        answer = raw.authorize()
    assert answer["_status"] == "success"
    assert DATETIME.match(answer["_datetime"])
    assert re.fullmatch(r"[0-9A-Za-z]{128}", answer["data"]["access_token"])
    assert answer["data"]["account_id"] == "1"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "Please provide key1. It must be 64 characters in length."),
        (
            {"key1": "short", "key2": DEMO_KEY2},
            "Please provide key1. It must be 64 characters in length.",
        ),
        (
            {"key1": DEMO_KEY1, "key2": "x" * 63},
            "Please provide key2. It must be 64 characters in length.",
        ),
        (
            {"key1": DEMO_KEY1, "key2": "0" * 64},
            "Could not authenticate user. The key pair may be invalid or your account may be "
            "locked from too many failed logins.",
        ),
    ],
)
def test_authorize_refusals(emu: EmulatorProcess, fields: dict[str, str], message: str) -> None:
    with RawApi(emu.api_url) as raw:
        assert_error(raw.post("authorize", **fields), message)


def test_authorize_trims_keys(emu: EmulatorProcess) -> None:
    with RawApi(emu.api_url) as raw:
        answer = raw.post("authorize", key1=f"  {DEMO_KEY1} ", key2=f"{DEMO_KEY2}\n").json()
    assert answer["_status"] == "success"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "Please provide the access_token param."),
        ({"access_token": "   "}, "Please provide the access_token param."),
        ({"access_token": "abc"}, "Please provide the account_id param."),
        (
            {"access_token": "abc", "account_id": "1"},
            "Could not validate access_token and account_id, please reauthenticate or try again.",
        ),
    ],
)
@pytest.mark.parametrize("action", ["account/info", "file/info", "folder/listing", "file/upload"])
def test_token_checks_in_order(
    emu: EmulatorProcess, action: str, fields: dict[str, str], message: str
) -> None:
    with RawApi(emu.api_url) as raw:
        assert_error(raw.post(action, **fields), message)


def test_token_of_another_account_id_is_refused(api: RawApi) -> None:
    response = api.post("account/info", access_token=api.access_token, account_id="2")
    assert_error(
        response,
        "Could not validate access_token and account_id, please reauthenticate or try again.",
    )


def test_authorize_kills_the_previous_token(emu: EmulatorProcess) -> None:
    with RawApi(emu.api_url) as first, RawApi(emu.api_url) as second:
        first.authorize()
        first.ok("account/info")
        second.authorize()
        second.ok("account/info")
        assert_error(
            first.call("account/info"),
            "Could not validate access_token and account_id, please reauthenticate or try again.",
        )


def test_disable_access_token(emu: EmulatorProcess) -> None:
    with RawApi(emu.api_url) as raw:
        raw.authorize()
        answer = raw.ok("disable_access_token")
        assert answer["response"] == "Token removed or no longer available."
        assert_error(
            raw.call("account/info"),
            "Could not validate access_token and account_id, please reauthenticate or try again.",
        )


def test_password_auth_method() -> None:
    with EmulatorProcess(auth_method="password") as emu, RawApi(emu.api_url) as raw:
        assert_error(
            raw.post("authorize", key1=DEMO_KEY1, key2=DEMO_KEY2), "Please provide a username."
        )
        assert_error(raw.post("authorize", username=DEMO_USERNAME), "Please provide a password.")
        assert_error(
            raw.post("authorize", username=DEMO_USERNAME, password="wrong"),
            "Could not authenticate user. The username and password may be invalid or your "
            "account may be locked from too many failed logins.",
        )
        answer = raw.post("authorize", username=DEMO_USERNAME, password=DEMO_PASSWORD).json()
        assert answer["_status"] == "success"
        assert len(answer["data"]["access_token"]) == 128


def test_unknown_action_is_404(api: RawApi) -> None:
    response = api.call("file/nosuch")
    assert response.status_code == 404
    body = response.json()
    assert body["0"] == "No method found within endpoint (file): nosuch"
    assert body["_status"] == "error"
    assert DATETIME.match(body["_datetime"])


def test_json_escapes_like_php(api: RawApi) -> None:
    response = api.call("account/info")
    assert "\\/" in response.text or "/" not in response.text
    assert response.headers["content-type"].startswith("application/json")


# ------------------------------------------------------------------- account
def test_account_info(api: RawApi) -> None:
    data = api.ok("account/info")["data"]
    assert data["id"] == "1"
    assert data["username"] == DEMO_USERNAME
    assert data["status"] == "active"
    assert data["storageLimitOverride"] is None
    assert all_strings_or_null(data)


def test_account_package(api: RawApi) -> None:
    data = api.ok("account/package")["data"]
    assert data["max_upload_size"] == "1073741824"
    assert data["concurrent_uploads"] == "100"
    assert data["can_upload"] == "1"
    assert data["max_storage_bytes"] == "0"
    assert all_strings_or_null(data)


# --------------------------------------------------------------------- files
def test_upload_answer_shape_and_hash(api: RawApi, folder: int) -> None:
    content = b"hello emulator\n" * 100
    item = api.upload(content, "notes.txt", folder)
    assert set(item) == {
        "name", "size", "type", "error", "url", "delete_url", "info_url", "delete_type",
        "delete_hash", "hash", "stats_url", "short_url", "file_id", "unique_hash", "url_html",
        "url_bbcode",
    }  # fmt: skip
    assert item["name"] == "notes.txt"
    assert item["size"] == str(len(content))
    assert item["hash"] == hashlib.md5(content).hexdigest()
    assert HEX64.match(item["unique_hash"])
    assert item["error"] is None
    assert item["url"].endswith("/" + item["short_url"])
    assert all_strings_or_null(item)
    info = api.ok("file/info", file_id=item["file_id"])["data"]
    assert info["folderId"] == str(folder)


def test_upload_answer_envelope(api: RawApi) -> None:
    answer = api.upload_response(b"x", "x.bin").json()
    assert answer["response"] == "File uploaded"
    assert isinstance(answer["data"], list) and len(answer["data"]) == 1
    assert answer["_status"] == "success"


def test_upload_unique_hash_is_random(api: RawApi) -> None:
    a = api.upload(b"same", "a.txt")
    b = api.upload(b"same", "a.txt")
    assert a["hash"] == b["hash"]
    assert a["unique_hash"] != b["unique_hash"]
    assert a["file_id"] != b["file_id"]


def test_uploaded_name_is_not_cleaned(api: RawApi, folder: int) -> None:
    item = api.upload(b"data", "  a<b>c.txt ", folder)
    assert item["name"] == "  a<b>c.txt "
    files = api.ok("folder/listing", parent_folder_id=folder)["data"]["files"]
    assert [f["filename"] for f in files] == ["  a<b>c.txt "]


def test_zero_byte_upload_refused(api: RawApi) -> None:
    assert_error(api.upload_response(b"", "empty.txt"), "Filesize received was zero.")


def test_upload_without_file_refused(api: RawApi) -> None:
    assert_error(api.call("file/upload"), "Did not receive uploaded file.")
    response = api.http.post(
        api.api_url + "file/upload",
        data={"access_token": api.access_token, "account_id": api.account_id},
        files={"other_field": ("x.txt", b"abc")},
    )
    assert_error(response, "Did not receive uploaded file.")


def test_upload_to_unknown_folder_refused(api: RawApi) -> None:
    assert_error(
        api.upload_response(b"abc", "x.txt", folder_id=99999999),
        "Could not find folder based on folder_id.",
    )


def test_upload_folder_zero_is_root(api: RawApi) -> None:
    item = api.upload(b"abc", "root.txt", folder_id=0)
    assert api.ok("file/info", file_id=item["file_id"])["data"]["folderId"] is None


def test_download_via_token(api: RawApi, folder: int) -> None:
    content = bytes(range(256)) * 40
    item = api.upload(content, "bytes.bin", folder)
    data = api.ok("file/download", file_id=item["file_id"])["data"]
    assert data["file_id"] == item["file_id"]
    assert data["filename"] == "bytes.bin"
    url = data["download_url"]
    short, token = re.fullmatch(r"http://[^/]+/(\w+)\?download_token=([0-9a-f]{64})", url).groups()  # type: ignore[union-attr]
    assert short == item["short_url"]
    got = httpx.get(url)
    assert got.status_code == 200
    assert got.content == content
    assert httpx.get(url.replace(token, "0" * 64)).status_code == 404
    assert api.ok("file/info", file_id=item["file_id"])["data"]["downloads"] == "1"


def test_download_of_trashed_file_is_gone(api: RawApi) -> None:
    item = api.upload(b"bye", "bye.txt")
    url = api.ok("file/download", file_id=item["file_id"])["data"]["download_url"]
    api.ok("file/delete", file_id=item["file_id"])
    assert httpx.get(url).status_code == 404


def test_file_info_shape(api: RawApi) -> None:
    item = api.upload(b"info", "Info.TXT")
    data = api.ok("file/info", file_id=item["file_id"])["data"]
    assert list(data) == [
        "id", "filename", "shortUrl", "fileType", "extension", "fileSize", "uploadedIP",
        "uploadedDate", "file_status", "downloads", "lastAccessed", "folderId", "keywords",
        "isPublic", "uploadSource", "url_file", "url_file_info", "url_file_stats",
        "url_file_delete",
    ]  # fmt: skip
    assert data["extension"] == "txt"
    assert data["fileSize"] == "4"
    assert data["file_status"] == "active"
    assert data["lastAccessed"] == "0000-00-00 00:00:00"
    assert "hash" not in data and "md5" not in data
    assert all_strings_or_null(data)


@pytest.mark.parametrize("action", ["file/info", "file/download", "file/edit", "file/delete"])
def test_file_id_errors(api: RawApi, action: str) -> None:
    assert_error(api.call(action), "Please provide the file_id param.")
    assert_error(api.call(action, file_id="99999999"), "Could not find file based on file_id.")


def test_file_edit_rename_move_type_in_one_call(api: RawApi, folder: int) -> None:
    item = api.upload(b"edit me", "old.txt")
    answer = api.ok(
        "file/edit",
        file_id=item["file_id"],
        filename="  new<i>er</i>.MD ",
        folder_id=folder,
        fileType="text/markdown",
    )
    assert answer["response"] == "File successfully updated."
    data = answer["data"]
    assert data["filename"] == "newer.MD"
    assert data["extension"] == "md"
    assert data["folderId"] == str(folder)
    assert data["fileType"] == "text/markdown"


def test_file_edit_blank_keeps_and_zero_moves_to_root(api: RawApi, folder: int) -> None:
    item = api.upload(b"keep", "keep.txt", folder)
    data = api.ok("file/edit", file_id=item["file_id"], filename="", folder_id="")["data"]
    assert (data["filename"], data["folderId"]) == ("keep.txt", str(folder))
    data = api.ok("file/edit", file_id=item["file_id"], folder_id="0")["data"]
    assert data["folderId"] is None
    api.ok("file/edit", file_id=item["file_id"], folder_id=folder)
    data = api.ok("file/edit", file_id=item["file_id"], folder_id="null")["data"]
    assert data["folderId"] is None


def test_file_edit_unknown_folder_is_silently_ignored(api: RawApi, folder: int) -> None:
    item = api.upload(b"stay", "stay.txt", folder)
    data = api.ok("file/edit", file_id=item["file_id"], folder_id="99999999")["data"]
    assert data["folderId"] == str(folder)


def test_file_delete_trashes(api: RawApi, folder: int) -> None:
    item = api.upload(b"trash me", "t.txt", folder)
    answer = api.ok("file/delete", file_id=item["file_id"])
    assert answer["response"] == "File successfully set as deleted."
    assert answer["data"]["file_status"] == "trash"
    assert api.ok("folder/listing", parent_folder_id=folder)["data"]["files"] == []
    info = api.ok("file/info", file_id=item["file_id"])["data"]
    assert info["file_status"] == "trash"


def test_file_move(api: RawApi, folder: int) -> None:
    item = api.upload(b"move", "m.txt")
    assert_error(
        api.call("file/move", file_id=item["file_id"]),
        "Please provide the new_parent_folder_id param.",
    )
    assert_error(
        api.call("file/move", file_id=item["file_id"], new_parent_folder_id="99999999"),
        "Could not find the destination folder id defined by new_parent_folder_id.",
    )
    answer = api.ok("file/move", file_id=item["file_id"], new_parent_folder_id=folder)
    assert answer["response"] == "File successfully moved."
    assert answer["data"]["folderId"] == str(folder)
    for root in ("null", "0"):
        api.ok("file/move", file_id=item["file_id"], new_parent_folder_id=folder)
        data = api.ok("file/move", file_id=item["file_id"], new_parent_folder_id=root)["data"]
        assert data["folderId"] is None


def test_file_copy(api: RawApi, folder: int) -> None:
    content = b"copy me"
    item = api.upload(content, "c.txt")
    assert_error(
        api.call("file/copy", file_id=item["file_id"]),
        "Please provide the copy_to_folder_id param.",
    )
    assert_error(
        api.call("file/copy", file_id=item["file_id"], copy_to_folder_id="99999999"),
        "Could not find the destination folder id defined by copy_to_folder_id.",
    )
    answer = api.ok("file/copy", file_id=item["file_id"], copy_to_folder_id=folder)
    assert answer["response"] == "File successfully copyied."
    assert answer["original_file"]["data"]["id"] == item["file_id"]
    new = answer["new_file"]["data"]
    assert new["id"] != item["file_id"]
    assert new["folderId"] == str(folder)
    assert new["filename"] == "c.txt"
    url = api.ok("file/download", file_id=new["id"])["data"]["download_url"]
    assert httpx.get(url).content == content


# ------------------------------------------------------------------- folders
def test_folder_create_shape_and_cleaning(api: RawApi) -> None:
    answer = api.ok(
        "folder/create",
        folder_name="  a<b>c  ",
        is_public="2",
        access_password="d9729feb74992cc3482b350163a1a010",
    )
    assert answer["response"] == "Folder successfully created."
    data = answer["data"]
    assert list(data) == [
        "id", "parentId", "folderName", "totalSize", "isPublic", "accessPassword", "date_added",
        "date_updated", "url_folder", "total_downloads", "child_folder_count", "file_count",
    ]  # fmt: skip
    assert data["folderName"] == "ac"
    assert data["parentId"] is None
    assert data["isPublic"] == "2"
    assert data["accessPassword"] == "d9729feb74992cc3482b350163a1a010"
    assert all_strings_or_null(data)


def test_folder_create_details(api: RawApi, folder: int) -> None:
    assert_error(api.call("folder/create"), "Please provide the folder_name param.")
    assert_error(
        api.call("folder/create", folder_name=" <b></b> "), "Please provide the folder_name param."
    )
    data = api.ok(
        "folder/create", folder_name="sub", parent_id=folder, is_public="7", access_password="short"
    )["data"]
    assert data["parentId"] == str(folder)
    assert data["isPublic"] == "0"
    assert data["accessPassword"] is None
    for root in ("", "0"):
        assert api.ok("folder/create", folder_name="r", parent_id=root)["data"]["parentId"] is None


def test_duplicates_are_allowed(api: RawApi, folder: int) -> None:
    a = api.ok("folder/create", folder_name="Photos", parent_id=folder)["data"]["id"]
    b = api.ok("folder/create", folder_name="Photos", parent_id=folder)["data"]["id"]
    assert a != b
    api.upload(b"1", "same.txt", folder)
    api.upload(b"2", "same.txt", folder)
    listing = api.ok("folder/listing", parent_folder_id=folder)["data"]
    assert [f["folderName"] for f in listing["folders"]] == ["Photos", "Photos"]
    assert [f["filename"] for f in listing["files"]] == ["same.txt", "same.txt"]


def test_folder_listing_shape_order_and_counts(api: RawApi, folder: int) -> None:
    for name in ("beta", "Alpha", "gamma"):
        api.ok("folder/create", folder_name=name, parent_id=folder)
    for name in ("b.txt", "a.txt", "C.txt"):
        api.upload(b"12345", name, folder)
    trashed = api.upload(b"x", "0-trashed.txt", folder)
    api.ok("file/delete", file_id=trashed["file_id"])
    listing = api.ok("folder/listing", parent_folder_id=folder)["data"]
    assert [f["folderName"] for f in listing["folders"]] == ["Alpha", "beta", "gamma"]
    assert [f["filename"] for f in listing["files"]] == ["a.txt", "b.txt", "C.txt"]
    assert list(listing["folders"][0]) == [
        "id", "parentId", "folderName", "totalSize", "isPublic", "date_added", "date_updated",
        "url_folder", "total_downloads", "child_folder_count", "file_count",
    ]  # fmt: skip
    assert list(listing["files"][0]) == [
        "id", "filename", "shortUrl", "fileType", "extension", "fileSize", "status",
        "downloads", "folderId", "keywords", "url_file",
    ]  # fmt: skip
    assert all(f["status"] == "active" for f in listing["files"])
    assert all_strings_or_null(listing)
    parent = api.ok("folder/info", folder_id=folder)["data"]
    assert parent["file_count"] == 3
    assert parent["child_folder_count"] == 3
    assert parent["totalSize"] == "15"


def test_folder_listing_root_and_errors(api: RawApi) -> None:
    root = api.ok("folder/listing")["data"]
    assert isinstance(root["folders"], list) and isinstance(root["files"], list)
    assert api.ok("folder/listing", parent_folder_id="0")["data"] == root
    assert_error(
        api.call("folder/listing", parent_folder_id="99999999"),
        "Could not find folder based on folder_id.",
    )


def test_folder_info(api: RawApi, folder: int) -> None:
    data = api.ok("folder/info", folder_id=folder)["data"]
    assert data["id"] == str(folder)
    assert "accessPassword" in data
    assert_error(api.call("folder/info"), "Please provide the folder_id param.")
    assert_error(
        api.call("folder/info", folder_id="99999999"), "Could not find folder based on folder_id."
    )


def test_folder_edit(api: RawApi, folder: int) -> None:
    other = api.ok("folder/create", folder_name="other")["data"]["id"]
    answer = api.ok(
        "folder/edit", folder_id=folder, folder_name=" renamed<br> ", parent_id=other, is_public="1"
    )
    assert answer["response"] == "Folder successfully updated."
    data = answer["data"]
    assert (data["folderName"], data["parentId"], data["isPublic"]) == ("renamed", other, "1")
    assert data["date_updated"] is not None
    kept = api.ok("folder/edit", folder_id=folder, folder_name="", parent_id="")["data"]
    assert (kept["folderName"], kept["parentId"]) == ("renamed", other)
    assert api.ok("folder/edit", folder_id=folder, parent_id="0")["data"]["parentId"] is None
    # An unknown parent, or one below the folder itself, is silently ignored.
    child = api.ok("folder/create", folder_name="child", parent_id=folder)["data"]["id"]
    assert api.ok("folder/edit", folder_id=folder, parent_id=child)["data"]["parentId"] is None
    assert api.ok("folder/edit", folder_id=folder, parent_id="99999999")["data"]["parentId"] is None


def test_folder_move(api: RawApi, folder: int) -> None:
    dest = api.ok("folder/create", folder_name="dest")["data"]["id"]
    assert_error(
        api.call("folder/move", new_parent_folder_id=dest), "Please provide the folder_id param."
    )
    assert_error(
        api.call("folder/move", folder_id=folder), "Please provide the new_parent_folder_id param."
    )
    assert_error(
        api.call("folder/move", folder_id=folder, new_parent_folder_id=folder),
        "Param folder_id can not match new_parent_folder_id.",
    )
    assert_error(
        api.call("folder/move", folder_id=folder, new_parent_folder_id="99999999"),
        "Could not find the destination folder id defined by new_parent_folder_id.",
    )
    assert_error(
        api.call("folder/move", folder_id="99999999", new_parent_folder_id=dest),
        "Could not find folder based on folder_id.",
    )
    answer = api.ok("folder/move", folder_id=folder, new_parent_folder_id=dest)
    assert answer["response"] == "Folder successfully moved."
    assert answer["data"]["parentId"] == dest
    assert (
        api.ok("folder/move", folder_id=folder, new_parent_folder_id="null")["data"]["parentId"]
        is None
    )


def test_folder_move_into_own_descendant_refused(api: RawApi, folder: int) -> None:
    child = api.ok("folder/create", folder_name="child", parent_id=folder)["data"]["id"]
    grandchild = api.ok("folder/create", folder_name="gc", parent_id=child)["data"]["id"]
    assert_error(
        api.call("folder/move", folder_id=folder, new_parent_folder_id=grandchild),
        "Param new_parent_folder_id can not be a sub-folder of folder_id.",
    )
    assert api.ok("folder/info", folder_id=folder)["data"]["parentId"] is None


def test_folder_delete_trashes_the_subtree(emu: EmulatorProcess, api: RawApi, folder: int) -> None:
    child = api.ok("folder/create", folder_name="child", parent_id=folder)["data"]["id"]
    top_file = api.upload(b"top", "top.txt", folder)
    deep_file = api.upload(b"deep", "deep.txt", int(child))
    assert_error(api.call("folder/delete"), "Please provide the folder_id param.")
    answer = api.ok("folder/delete", folder_id=folder)
    assert answer["response"] == "Folder successfully set as deleted."
    assert "data" not in answer
    for fid in (folder, child):
        assert_error(
            api.call("folder/info", folder_id=fid), "Could not find folder based on folder_id."
        )
        assert_error(
            api.call("folder/listing", parent_folder_id=fid),
            "Could not find folder based on folder_id.",
        )
    root = api.ok("folder/listing")["data"]
    assert str(folder) not in [f["id"] for f in root["folders"]]
    for item in (top_file, deep_file):
        assert api.ok("file/info", file_id=item["file_id"])["data"]["file_status"] == "trash"
    tree = emu.admin.tree()
    statuses = {f["id"]: f["status"] for f in tree["folders"]}
    assert statuses[folder] == statuses[int(child)] == "trash"
    assert_error(
        api.call("folder/delete", folder_id=folder), "Could not find folder based on folder_id."
    )


def test_get_requests_use_query_parameters(api: RawApi) -> None:
    response = api.http.get(
        api.api_url + "account/info",
        params={"access_token": api.access_token, "account_id": api.account_id},
    )
    assert response.json()["_status"] == "success"
