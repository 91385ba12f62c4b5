"""`syncd verify` on awkward input: a local name that is not valid UTF-8, a local root that is
not there (an unmounted disk), and a host whose listings hold a folder cycle."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.parse
from pathlib import Path
from typing import Any

from tests.support.cli import syncd_command, syncd_env
from tests.support.hosts import scripted_host
from tests.support.restore import restore_config, upload_tree
from tests.support.trees import write_tree

INVALID_NAME = b"caf\xe9-latin1.txt"  # Latin-1 bytes: not valid UTF-8
INVALID_DIR = b"dir-\xff"


def run_bytes(config: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """The CLI with stdout as raw bytes, so that invalid output cannot hide behind decoding."""
    return subprocess.run(
        syncd_command(*args, config=config),
        cwd=config.parent,
        env=syncd_env(),
        capture_output=True,
        timeout=120,
        check=False,
    )


def make_pair(emulator: Any, client: Any, tmp_path: Path, local: Path) -> Path:
    backup = client.folder_create("Backup", None)
    folder = client.folder_create("E", backup.id)
    upload_tree(client, local, folder.id)
    return restore_config(
        tmp_path / "config.toml",
        emulator.api_url,
        tmp_path / "state.db",
        pairs={"p": (local, "Backup/E")},
    )


def test_invalid_utf8_local_names_give_valid_json_and_text(
    emulator: Any, client: Any, tmp_path: Path
) -> None:
    local = tmp_path / "local"
    write_tree(local, {"ok.txt": b"fine"})
    config = make_pair(emulator, client, tmp_path, local)
    raw_root = os.fsencode(local)
    with open(os.path.join(raw_root, INVALID_NAME), "wb") as fh:
        fh.write(b"not uploaded")
    os.mkdir(os.path.join(raw_root, INVALID_DIR))

    result = run_bytes(config, "verify", "--pair", "p", "--json")
    assert b"Traceback" not in result.stderr, result.stderr
    assert result.returncode == 1
    body = json.loads(result.stdout)  # bytes: decoded as strict UTF-8, the output must be valid
    (pair,) = body["pairs"]
    found = {(d["kind"], d["path"]) for d in pair["differences"]}
    assert found == {
        ("missing_remotely", "caf\\xe9-latin1.txt"),
        ("missing_remotely", "dir-\\xff/"),
    }

    text = run_bytes(config, "verify", "--pair", "p")
    assert text.returncode == 1
    shown = text.stdout.decode("utf-8")  # strict: raises on a raw invalid byte
    assert "caf\\xe9-latin1.txt" in shown and "dir-\\xff/" in shown


def test_missing_local_root_is_one_line_and_the_guard_exit_code(
    emulator: Any, client: Any, tmp_path: Path
) -> None:
    local = tmp_path / "local"
    write_tree(local, {f"f{i}.txt": b"x" * i for i in range(1, 30)} | {"sub/a.txt": b"a"})
    config = make_pair(emulator, client, tmp_path, local)
    assert run_bytes(config, "verify", "--pair", "p").returncode == 0
    shutil.rmtree(local)  # the disk is not mounted
    emulator.admin.reset_counts()

    text = run_bytes(config, "verify", "--pair", "p")
    assert text.returncode == 3, text.stderr
    lines = text.stdout.decode().splitlines()
    assert len(lines) == 1, lines
    assert str(local) in lines[0] and "missing" in lines[0] and "mounted" in lines[0]
    assert "extra" not in lines[0]
    assert emulator.admin.counts().get("folder/listing", 0) == 0  # no remote walk at all

    result = run_bytes(config, "verify", "--pair", "p", "--json")
    assert result.returncode == 3
    body = json.loads(result.stdout)
    (pair,) = body["pairs"]
    assert body["ok"] is False
    assert [d["kind"] for d in pair["differences"]] == ["local_root_missing"]
    assert pair["counts"] == {"local_root_missing": 1}

    local.write_bytes(b"a file where the root should be")
    assert run_bytes(config, "verify", "--pair", "p").returncode == 3


def test_a_folder_that_is_its_own_parent_stays_one_difference(
    emulator: Any, client: Any, tmp_path: Path
) -> None:
    # The emulator refuses cycles, so a scripted host serves them: R (100) lists itself as
    # "loop" and a child "sub" (200), which lists R again as "up".
    local = tmp_path / "local"
    write_tree(local, {"loop/x.txt": b"x", "sub/up/y.txt": b"y", "sub/z.txt": b"z"})
    listings = {
        "": {"folders": [folder_row(100, None, "R")], "files": []},
        "100": {"folders": [folder_row(100, 100, "loop"), folder_row(200, 100, "sub")]},
        "200": {"folders": [folder_row(100, 200, "up")], "files": [file_row(2001, 200, "z.txt")]},
    }
    with scripted_host() as host:
        host.answers["folder/listing"] = lambda body: listing_answer(listings, body)
        config = restore_config(
            tmp_path / "config.toml", host.url, tmp_path / "state.db", pairs={"p": (local, "R")}
        )
        result = run_bytes(config, "verify", "--pair", "p", "--json")
        listed = host.calls("folder/listing")
    assert b"Traceback" not in result.stderr, result.stderr
    body = json.loads(result.stdout)
    found = {(d["kind"], d["path"]) for d in body["pairs"][0]["differences"]}
    assert ("remote_folder_cycle", "loop/") in found
    assert ("remote_folder_cycle", "sub/up/") in found
    assert listed == 3  # the account root, R and sub: never R again
    assert result.returncode == 1


def folder_row(folder_id: int, parent: int | None, name: str) -> dict[str, Any]:
    return {
        "id": str(folder_id),
        "parentId": None if parent is None else str(parent),
        "folderName": name,
    }


def file_row(file_id: int, folder: int, name: str) -> dict[str, str]:
    return {"id": str(file_id), "filename": name, "fileSize": "1", "folderId": str(folder)}


def listing_answer(listings: dict[str, dict[str, Any]], body: bytes) -> bytes:
    form = urllib.parse.parse_qs(body.decode(), keep_blank_values=True)
    parent = form.get("parent_folder_id", [""])[0]
    parent = "" if parent in ("", "0") else parent
    data = {"folders": [], "files": [], **listings[parent]}
    return json.dumps({"data": data, "_status": "success"}).encode()
