"""`syncd restore` against a host whose listings hold folder cycles: every folder is entered once,
each repeated folder id is reported once as skipped, and the run ends.

The emulator refuses to build a cycle, so a scripted loopback host serves the listings."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

from tests.support.cli import run_syncd
from tests.support.hosts import scripted_host
from tests.support.restore import restore_config
from tests.support.trees import md5_tree

DOWNLOAD_TOKEN = "d0" * 32
CONTENT = {2001: b"top", 3001: b"in sub"}


def folder_row(folder_id: int, parent: int, name: str) -> dict[str, str]:
    return {"id": str(folder_id), "parentId": str(parent), "folderName": name}


def file_row(file_id: int, folder: int, name: str) -> dict[str, str]:
    size = str(len(CONTENT[file_id]))
    return {"id": str(file_id), "filename": name, "fileSize": size, "folderId": str(folder)}


# R (100) lists itself twice ("again", "again-too") and a child "sub" (300), which lists R as
# "up" and itself as "self": three cycles, two repeated ids.
LISTINGS: dict[str, dict[str, Any]] = {
    "100": {
        "folders": [
            folder_row(100, 100, "again"),
            folder_row(100, 100, "again-too"),
            folder_row(300, 100, "sub"),
        ],
        "files": [file_row(2001, 100, "top.txt")],
    },
    "300": {
        "folders": [folder_row(100, 300, "up"), folder_row(300, 300, "self")],
        "files": [file_row(3001, 300, "s.txt")],
    },
}


def form(body: bytes) -> dict[str, str]:
    return {
        k: v[0] for k, v in urllib.parse.parse_qs(body.decode(), keep_blank_values=True).items()
    }


def success(data: object) -> bytes:
    return json.dumps({"data": data, "_status": "success"}).encode()


def test_restore_enters_each_folder_once_and_reports_each_cycle_once(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    with scripted_host() as host:
        base = host.url.removesuffix("/api/v2/")
        host.answers["folder/info"] = success({"id": "100", "parentId": None, "folderName": "R"})
        host.answers["folder/listing"] = lambda body: success(
            {"folders": [], "files": [], **LISTINGS[form(body)["parent_folder_id"]]}
        )
        host.answers["file/download"] = lambda body: success(
            {
                "file_id": form(body)["file_id"],
                "download_url": f"{base}/f{form(body)['file_id']}?download_token={DOWNLOAD_TOKEN}",
            }
        )
        for file_id, data in CONTENT.items():
            host.answers[f"/f{file_id}?download_token={DOWNLOAD_TOKEN}"] = (200, {}, data)
        config = restore_config(tmp_path / "config.toml", host.url, tmp_path / "state.db")
        result = run_syncd(
            "restore", "--remote-id", "100", "--json", str(dest), timeout=60, config=config
        )
        listed = host.calls("folder/listing")

    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stderr
    assert listed == 2  # R and sub, once each
    report = json.loads(result.stdout)
    assert report["restored"] == 2 and report["folders"] == 2
    assert md5_tree(dest).keys() == {"top.txt", "sub/s.txt"}
    cycles = [s for s in report["skipped"] if "(cycle)" in s["reason"]]
    assert sorted(s["reason"] for s in cycles) == [
        "folder id 100 appears twice in the remote tree: skipped (cycle)",
        "folder id 300 appears twice in the remote tree: skipped (cycle)",
    ]
    assert not (dest / "again").exists() and not (dest / "sub" / "up").exists()
