"""`syncd verify` finds every kind of difference planted on a real emulator and real files."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from tests.support.cli import run_syncd
from tests.support.restore import add_file, add_folder, restore_config, upload_tree
from tests.support.trees import write_tree


def setup_pair(emulator: Any, client: Any, tmp_path: Path) -> tuple[Path, Path, dict[str, int]]:
    local = tmp_path / "local"
    write_tree(
        local,
        {
            "a.txt": b"alpha",
            "b.txt": b"bravo",
            "same-size.txt": b"12345678",
            "sub/c.txt": b"charlie",
            "sub/deeper/d.txt": b"delta",
        },
    )
    backup = client.folder_create("Backup", None)
    folder = client.folder_create("V", backup.id)
    ids = upload_tree(client, local, folder.id)
    ids["/folder"] = folder.id
    config = restore_config(
        tmp_path / "config.toml",
        emulator.api_url,
        tmp_path / "state.db",
        pairs={"p": (local, "Backup/V")},
    )
    with config.open("a") as fh:
        fh.write('ignore = ["*.tmp"]\n')
    (local / "scratch.tmp").write_bytes(b"ignored: never synced, never reported")
    return local, config, ids


def verify_json(config: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = run_syncd("verify", "--pair", "p", "--json", *args, config=config)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout)


def kinds(body: dict[str, Any]) -> set[tuple[str, str]]:
    (pair,) = body["pairs"]
    return {(d["kind"], d["path"]) for d in pair["differences"]}


def test_clean_pair_verifies_ok_with_and_without_deep(
    emulator: Any, client: Any, tmp_path: Path
) -> None:
    _, config, _ = setup_pair(emulator, client, tmp_path)
    code, body = verify_json(config)
    assert code == 0, body
    assert body["ok"] and body["pairs"][0]["files_compared"] == 5
    emulator.admin.reset_counts()
    code, body = verify_json(config, "--deep")
    assert code == 0, body
    assert body["pairs"][0]["deep_checked"] == 5
    assert emulator.admin.counts().get("file/download", 0) == 5

    text = run_syncd("verify", config=config)
    assert text.returncode == 0 and "p: OK" in text.stdout


def test_verify_reports_each_planted_difference(emulator: Any, client: Any, tmp_path: Path) -> None:
    local, config, ids = setup_pair(emulator, client, tmp_path)
    admin = emulator.admin
    folder = ids["/folder"]
    (local / "local-only.txt").write_bytes(b"never uploaded")
    (local / "local-dir").mkdir()
    add_file(admin, folder, "remote-only.txt", b"only up there")
    add_folder(admin, folder, "remote-dir")
    (local / "b.txt").write_bytes(b"bravo, longer now")
    add_file(admin, folder, "a.txt", b"a twin of a.txt")
    (local / "sub" / "deeper" / "d.txt").unlink()
    (local / "sub" / "deeper" / "d.txt").mkdir()  # a folder where the remote has a file
    same_size = base64.b64encode(b"87654321").decode()
    admin.drift("modify_file", file_id=ids["same-size.txt"], content_b64=same_size)

    code, body = verify_json(config)
    assert code == 1
    found = kinds(body)
    assert ("missing_remotely", "local-only.txt") in found
    assert ("missing_remotely", "local-dir/") in found
    assert ("extra_remotely", "remote-only.txt") in found
    assert ("extra_remotely", "remote-dir/") in found
    assert ("size_differs", "b.txt") in found
    assert ("duplicate_remote_name", "a.txt") in found
    assert ("type_differs", "sub/deeper/d.txt/") in found
    assert not any(path == "same-size.txt" for _, path in found)  # same size: shallow misses it
    assert not any("scratch" in path for _, path in found)  # ignored locally

    code, body = verify_json(config, "--deep")
    assert code == 1
    assert ("content_differs", "same-size.txt") in kinds(body)

    # --sample N deep-checks exactly N of the files present on both sides.
    for rel in ("b.txt", "sub/c.txt"):
        (local / rel).unlink()
    (local / "local-only.txt").unlink()
    code, body = verify_json(config, "--sample", "1")
    assert body["pairs"][0]["deep_checked"] == 1


def test_missing_remote_folder_is_one_difference(
    emulator: Any, client: Any, tmp_path: Path
) -> None:
    local = tmp_path / "local"
    write_tree(local, {"x.txt": b"x"})
    config = restore_config(
        tmp_path / "config.toml",
        emulator.api_url,
        tmp_path / "state.db",
        pairs={"p": (local, "Nowhere")},
    )
    code, body = verify_json(config)
    assert code == 1
    assert kinds(body) == {("missing_remotely", "/")}
