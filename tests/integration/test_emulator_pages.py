"""The emulator answers in the shapes the hosts' own API pages show.

`tests/data/api_pages/` holds the two published API v2 pages (1cloudfile, mecloudnet) as text.
Every example answer on them is read straight from the page, the same call is made against a
real emulator over loopback, and the two answers are compared by *shape*: the same keys at every
level (in the same order) and the same JSON type per key (number, string, null, bool, list,
object). Values naturally differ. Where an example elides keys with `...` only the keys shown are
required. Where an example is itself inconsistent, `EXCEPTIONS` says what the emulator answers
instead and why.

The same examples also feed syncd's client models, once as the pages print them (numbers and
nulls) and once with every number turned into a string (what api-behaviour.md says hosts send):
both must parse to the same values.

Two places where the pages are not valid JSON are repaired before parsing, both as printed on
both pages: `...` standing for omitted keys, and unescaped `"` inside `url_html` (file/upload).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest

from syncd.emulator.testing import RawApi
from syncd.remote.answers import parse_answer, upload_entry
from syncd.remote.errors import AuthError
from syncd.remote.models import (
    AccountInfo,
    AccountPackage,
    CopyResult,
    DownloadLink,
    FolderListing,
    RemoteFile,
    RemoteFolder,
    UploadResult,
)

PAGES_DIR = Path(__file__).resolve().parent.parent / "data" / "api_pages"
PROFILE_OF_PAGE = {"1cloudfile-api-v2.txt": "1cloudfile", "mecloudnet-api-v2.txt": "mecloudnet"}

# The examples each page shows, in page order, keyed by the action of the section's
# "URL Structure" ("error": the error-handling sample; "authorize": the API-flow sample).
EXPECTED_EXAMPLES = {
    "1cloudfile-api-v2.txt": [
        "error",
        "disable_access_token",
        "file/upload",
        "file/info",
        "folder/create",
        "account/package",  # under the heading "Folders Listing"; its URL is account/package
    ],
    "mecloudnet-api-v2.txt": [
        "error",
        "authorize",
        "disable_access_token",
        "account/info",
        "account/package",
        "file/upload",
        "file/download",
        "file/info",
        "file/edit",
        "file/delete",
        "file/move",
        "file/copy",
        "folder/create",
        "folder/listing",
        "folder/info",
        "folder/edit",
        "folder/delete",
        "folder/move",
        "account/info",  # the page shows this section twice
    ],
}

# (action, path) -> (JSON type the emulator answers instead of the page's, one-line reason).
EXCEPTIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("folder/edit", "data.date_added"): (
        "string",
        "the example row has no creation date; every other folder example (and api-behaviour.md)"
        " shows date_added as a 'Y-m-d H:i:s' string, which a created folder always has",
    ),
    ("folder/edit", "data.date_updated"): (
        "string",
        "an edit stamps date_updated; the example row, which has no dates at all (see"
        " date_added), was never stamped",
    ),
}

MORE = "..."  # the key standing for keys an example elides
FOLDER_COUNTS = ("total_downloads", "child_folder_count", "file_count")  # numbers on the pages
_MARKER = re.compile(r"Sample (?:Successful |Error )?JSON Response:?|Example Response:")
_URL_STRUCTURE = re.compile(
    r"URL Structure\s*(?:-\s*)?https?://\S+?/api/v2/\s*([a-z_]+(?:/[a-z_]+)?)"
)
_ELLIPSIS = re.compile(r",\s*\.{3,}\s*(?=[}\]])")


@dataclass(frozen=True)
class PageExample:
    page: str
    action: str
    body: dict[str, Any]

    @property
    def profile(self) -> str:
        return PROFILE_OF_PAGE[self.page]


# ------------------------------------------------------------------ page reading
def _balanced_object(text: str, start: int) -> str:
    """The `{...}` starting at the first `{` from `start` (the examples hold no braces in
    strings)."""
    begin = text.index("{", start)
    depth = 0
    for index in range(begin, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return text[begin : index + 1]
    raise ValueError(f"unbalanced example at offset {begin}")


def _escape_stray_quotes(text: str) -> str:
    """Inside a string, a `"` closes it only when `,` `}` `]` `:` (or the end) follows; any other
    is a quote the page forgot to escape (`url_html`'s `<a href="...">`)."""
    out: list[str] = []
    in_string = False
    index = 0
    while index < len(text):
        char = text[index]
        if in_string and char == "\\":
            out.append(text[index : index + 2])
            index += 2
            continue
        if char == '"':
            if not in_string:
                in_string = True
            else:
                rest = text[index + 1 :].lstrip()
                if not rest or rest[0] in ",}]:":
                    in_string = False
                else:
                    char = '\\"'
        out.append(char)
        index += 1
    return "".join(out)


def parse_example(text: str) -> dict[str, Any]:
    """An example as printed -> JSON; elided keys become one `"...": true` entry."""
    repaired = _escape_stray_quotes(_ELLIPSIS.sub(f', "{MORE}": true', text))
    body = json.loads(repaired)
    assert isinstance(body, dict)
    return body


def _action_before(text: str, offset: int, marker: str) -> str:
    urls = [m.group(1) for m in _URL_STRUCTURE.finditer(text, 0, offset)]
    if urls:
        return urls[-1]
    # Before the first "URL Structure": the error-handling sample, and the API flow's sample.
    if marker.startswith("Example Response"):
        assert "/authorize" in text[max(0, offset - 200) : offset]
        return "authorize"
    assert "Standard API errors" in text[:offset]
    return "error"


@cache
def page_examples(page: str) -> tuple[PageExample, ...]:
    text = (PAGES_DIR / page).read_text(encoding="utf-8")
    examples = []
    for marker in _MARKER.finditer(text):
        action = _action_before(text, marker.start(), marker.group(0))
        body = parse_example(_balanced_object(text, marker.end()))
        examples.append(PageExample(page, action, body))
    return tuple(examples)


def all_examples() -> list[PageExample]:
    return [example for page in sorted(PROFILE_OF_PAGE) for example in page_examples(page)]


# ------------------------------------------------------------------ shapes
def json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    raise TypeError(f"not a JSON value: {value!r}")


def shape_differences(action: str, example: Any, answer: Any, path: str = "") -> list[str]:
    """Every way `answer` differs in shape from `example` (keys, key order, JSON types)."""
    want = json_kind(example)
    if (action, path) in EXCEPTIONS:
        want = EXCEPTIONS[(action, path)][0]
    got = json_kind(answer)
    where = path or "<top>"
    if want != got:
        return [f"{where}: page shows {json_kind(example)}, emulator answers {got} ({answer!r})"]
    problems: list[str] = []
    if want == "object":
        shown = [key for key in example if key != MORE]
        missing = [key for key in shown if key not in answer]
        if missing:
            problems.append(f"{where}: emulator lacks keys {missing}")
        if MORE not in example:
            extra = [key for key in answer if key not in example]
            if extra:
                problems.append(f"{where}: emulator has keys the page does not show {extra}")
        common = [key for key in shown if key in answer]
        if [key for key in answer if key in common] != common:
            problems.append(f"{where}: key order {list(answer)} differs from the page's {shown}")
        for key in common:
            child = f"{path}.{key}" if path else key
            problems += shape_differences(action, example[key], answer[key], child)
    elif want == "list":
        if not answer:
            problems.append(f"{where}: emulator answers an empty list; the scenario must fill it")
        for item in answer:
            for shown_item in example:
                problems += shape_differences(action, shown_item, item, f"{path}[]")
    return problems


# ------------------------------------------------------------------ the same calls
SAMPLE = b"sample content of a page example\n"
PASSWORD_MD5 = hashlib.md5(b"passw").hexdigest()


def _file(api: RawApi, name: str = "sample4_l.jpg", folder: str | None = None) -> str:
    return str(api.upload(SAMPLE, name, int(folder) if folder else None)["file_id"])


def _folder(api: RawApi, name: str, parent: str = "", **fields: str) -> str:
    data = api.ok("folder/create", folder_name=name, parent_id=parent, **fields)["data"]
    return str(data["id"])


def _listing(api: RawApi) -> httpx.Response:
    # The page's root: three folders (the first with one sub-folder), three files.
    first = _folder(api, "My Folder 1")
    _folder(api, "child", first)
    _folder(api, "My Folder 2")
    _folder(api, "My Folder 3")
    for name in ("button_back.gif", "button_cancel.gif", "button_cancel_over.gif"):
        _file(api, name)
    return api.call("folder/listing")


def _folder_info(api: RawApi) -> httpx.Response:
    folder = _folder(api, "My Folder 1")
    _folder(api, "child", folder)
    # The mecloudnet page names the parameter parent_folder_id; the host reads folder_id
    # (api-behaviour.md).
    return api.call("folder/info", folder_id=folder)


def _folder_edit(api: RawApi) -> httpx.Response:
    parent = _folder(api, "parent")
    folder = _folder(api, "My New Folder")
    _file(api, "inside.txt", folder)
    return api.call(
        "folder/edit",
        folder_id=folder,
        folder_name="My New Folder Name",
        parent_id=parent,
        is_public="1",
    )


SCENARIOS: dict[str, Callable[[RawApi], httpx.Response]] = {
    "error": lambda api: api.post("authorize", key1="0" * 64, key2="1" * 64),
    "authorize": lambda api: api.post("authorize", key1=api.key1, key2=api.key2),
    "disable_access_token": lambda api: api.call("disable_access_token"),
    "account/info": lambda api: api.call("account/info"),
    "account/package": lambda api: api.call("account/package"),
    "file/upload": lambda api: api.upload_response(SAMPLE, "sample4_l.jpg"),
    "file/download": lambda api: api.call("file/download", file_id=_file(api)),
    "file/info": lambda api: api.call("file/info", file_id=_file(api)),
    "file/edit": lambda api: api.call("file/edit", file_id=_file(api), filename="sample4.jpg"),
    "file/delete": lambda api: api.call("file/delete", file_id=_file(api)),
    "file/move": lambda api: api.call(
        "file/move", file_id=_file(api), new_parent_folder_id=_folder(api, "dest")
    ),
    "file/copy": lambda api: api.call(
        "file/copy", file_id=_file(api), copy_to_folder_id=_folder(api, "dest")
    ),
    "folder/create": lambda api: api.call(
        "folder/create", folder_name="My New Folder", is_public="2", access_password=PASSWORD_MD5
    ),
    "folder/listing": _listing,
    "folder/info": _folder_info,
    "folder/edit": _folder_edit,
    "folder/delete": lambda api: api.call("folder/delete", folder_id=_folder(api, "doomed")),
    "folder/move": lambda api: api.call(
        "folder/move",
        folder_id=_folder(api, "layered_png_files"),
        new_parent_folder_id=_folder(api, "dest"),
    ),
}


def _example_params() -> list[Any]:
    params = []
    for page in sorted(PROFILE_OF_PAGE):
        for index, example in enumerate(page_examples(page)):
            params.append(
                pytest.param(
                    example,
                    id=f"{example.profile}-{index}-{example.action}",
                    marks=pytest.mark.emulator(profile=example.profile),
                )
            )
    return params


# ------------------------------------------------------------------ tests
@pytest.mark.parametrize("page", sorted(PROFILE_OF_PAGE))
def test_every_example_on_the_pages_is_read(page: str) -> None:
    assert [example.action for example in page_examples(page)] == EXPECTED_EXAMPLES[page]
    assert set(EXPECTED_EXAMPLES[page]) <= set(SCENARIOS)


def test_every_exception_names_a_real_disagreement() -> None:
    for (action, path), (kind, reason) in EXCEPTIONS.items():
        assert reason
        shown = [example for example in all_examples() if example.action == action]
        assert shown, action
        for example in shown:
            value: Any = example.body
            for key in path.split("."):
                value = value[key]
            assert json_kind(value) != kind, f"{action} {path}: the page already shows {kind}"


def test_shape_comparison_sees_types_keys_and_order() -> None:
    """The comparison is not vacuous: it names the all-strings counters the emulator once
    answered, a missing key, an extra key (in a fully shown object only) and a swapped order."""
    (listing,) = [ex for ex in all_examples() if ex.action == "folder/listing"]
    body = _without_elisions(listing.body)
    full_rows = {"folders": body["data"]["folders"][:1], "files": body["data"]["files"][:1]}
    answer = _numbers_as_strings(body | {"data": full_rows})
    problems = shape_differences("folder/listing", listing.body, answer)
    counters = {problem.split(":")[0] for problem in problems}
    assert counters == {f"data.folders[].{key}" for key in FOLDER_COUNTS}
    row = dict(body["data"]["files"][0])
    del row["keywords"]
    assert shape_differences("x", body["data"]["files"][0], row) == [
        "<top>: emulator lacks keys ['keywords']"
    ]
    assert shape_differences("x", {"a": 1, MORE: True}, {"a": 2, "b": 3}) == []
    assert shape_differences("x", {"a": 1}, {"a": 2, "b": 3}) == [
        "<top>: emulator has keys the page does not show ['b']"
    ]
    assert len(shape_differences("x", {"a": 1, "b": None}, {"b": None, "a": 1})) == 1


@pytest.mark.parametrize("example", _example_params())
def test_emulator_answers_in_the_page_shape(example: PageExample, emulator: Any) -> None:
    with RawApi(emulator.api_url) as api:
        api.authorize()
        response = SCENARIOS[example.action](api)
    assert response.status_code == 200
    answer = response.json()
    problems = shape_differences(example.action, example.body, answer)
    assert not problems, f"{example.page} {example.action}:\n" + "\n".join(problems)


# ------------------------------------------------------------------ client tolerance
def _without_elisions(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_elisions(v) for k, v in value.items() if k != MORE}
    if isinstance(value, list):
        return [_without_elisions(v) for v in value]
    return value


def _numbers_as_strings(value: Any) -> Any:
    """What api-behaviour.md says hosts send: every number inside the answer as a string."""
    if isinstance(value, dict):
        return {k: _numbers_as_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers_as_strings(v) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


@pytest.mark.parametrize("as_strings", [False, True], ids=["as-printed", "numbers-as-strings"])
def test_client_parses_the_page_examples(as_strings: bool) -> None:
    bodies: dict[str, dict[str, Any]] = {}
    for example in page_examples("mecloudnet-api-v2.txt"):
        body = _without_elisions(example.body)
        bodies[example.action] = _numbers_as_strings(body) if as_strings else body

    def answer(action: str) -> dict[str, Any]:
        return parse_answer(action, 200, {}, json.dumps(bodies[action]).encode())

    with pytest.raises(AuthError):
        answer("error")
    listing = FolderListing.from_api(answer("folder/listing")["data"])
    first = listing.folders[0]
    assert (first.id, first.parent_id, first.name, first.is_public) == (123, None, "My Folder 1", 1)
    assert (first.total_size, first.file_count, first.child_folder_count) == (868689, 0, 1)
    assert first.date_added == datetime(2017, 2, 15, 20, 2, 5, tzinfo=UTC)
    assert first.date_updated is None
    assert [folder.id for folder in listing.folders] == [123, 107, 108]
    row = listing.files[0]
    assert (row.id, row.name, row.size, row.folder_id, row.status) == (
        1161, "button_back.gif", 1116, None, "active"
    )  # fmt: skip
    created = RemoteFolder.from_api(answer("folder/create")["data"])
    assert (created.id, created.is_public, created.file_count, created.date_updated) == (
        125, 2, 0, None
    )  # fmt: skip
    edited = RemoteFolder.from_api(answer("folder/edit")["data"])
    assert (edited.parent_id, edited.file_count, edited.date_added) == (117, 11, None)
    assert RemoteFolder.from_api(answer("folder/move")["data"]).parent_id == 99
    account = AccountInfo.from_api(answer("account/info")["data"])
    assert (account.id, account.level_id, account.status) == (158642, 20, "active")
    package = AccountPackage.from_api(answer("account/package")["data"])
    assert (package.max_upload_size, package.concurrent_uploads, package.can_upload) == (
        1073741824, 100, True
    )  # fmt: skip
    uploaded = UploadResult.from_api(upload_entry("file/upload", answer("file/upload")))
    assert (uploaded.file_id, uploaded.size, uploaded.md5) == (
        1253, 149084, "2f4105bc2c626232544275c2d890168b"
    )  # fmt: skip
    assert DownloadLink.from_api(answer("file/download")["data"]).file_id == 1253
    assert RemoteFile.from_api(answer("file/delete")["data"]).status == "trash"
    copied = CopyResult.from_api(answer("file/copy"))
    assert (copied.original.id, copied.new.id) == (1162, 1254)
