"""`syncd verify` on pairs that keep versions: a healthy backup (either mode) verifies OK, the
versions area is checked for names syncd cannot read back, and backup mode lists files syncd
does not own as foreign instead of calling them differences."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from syncd.history.names import VERSIONS_DIR, versioned_name
from tests.support.cli import run_syncd
from tests.support.restore import add_file, add_folder, restore_config
from tests.support.trees import write_tree


def _pair(emulator: Any, tmp_path: Path, mode: str, versions: str | None) -> tuple[Path, Path]:
    local = tmp_path / "local"
    write_tree(local, {"a.txt": b"a one", "b.txt": b"b one", "sub/c.txt": b"c one"})
    config = restore_config(
        tmp_path / "config.toml",
        emulator.api_url,
        tmp_path / "state" / "state.db",
        pairs={"p": (local, "Backup/P")},
    )
    with config.open("a") as fh:
        fh.write(f'mode = "{mode}"\n')
        if versions is not None:
            fh.write(f'versions = "{versions}"\n')
    return local, config


def _reconcile(config: Path) -> None:
    result = run_syncd("reconcile", "--pair", "p", config=config)
    assert result.returncode == 0, result.stdout + result.stderr


def _history(local: Path, config: Path) -> None:
    """Three passes that leave a version of a file, of a deleted file and of a removed dir."""
    _reconcile(config)
    (local / "a.txt").write_bytes(b"a two, longer")
    (local / "b.txt").unlink()
    _reconcile(config)
    for child in (local / "sub").iterdir():
        child.unlink()
    (local / "sub").rmdir()
    _reconcile(config)


def _verify(config: Path) -> tuple[int, dict[str, Any]]:
    result = run_syncd("verify", "--pair", "p", "--json", config=config)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout)["pairs"][0]


def _folder(admin: Any, name: str) -> int:
    ids = [
        f["id"] for f in admin.tree()["folders"] if f["name"] == name and f["status"] == "active"
    ]
    assert len(ids) == 1, ids
    return int(ids[0])


@pytest.mark.parametrize(("mode", "versions"), [("backup", None), ("mirror", "keep")])
def test_healthy_pair_with_versions_verifies_ok(
    emulator: Any, tmp_path: Path, mode: str, versions: str | None
) -> None:
    local, config = _pair(emulator, tmp_path, mode, versions)
    _history(local, config)
    code, body = _verify(config)
    assert code == 0, body
    assert body["differences"] == []
    (history,) = [n for n in body["notes"] if n["kind"] == "history"]
    # a.txt's first upload, b.txt, and sub/ kept whole.
    assert history["path"] == f"{VERSIONS_DIR}/"
    assert history["detail"].startswith("3 versions"), history
    text = run_syncd("verify", "--pair", "p", config=config)
    assert text.returncode == 0 and "p: OK" in text.stdout, text.stdout


def test_backup_mode_lists_foreign_files_apart(emulator: Any, tmp_path: Path) -> None:
    local, config = _pair(emulator, tmp_path, "backup", None)
    _history(local, config)
    admin = emulator.admin
    live = _folder(admin, "P")
    other = add_file(admin, live, "from-the-web.txt", b"someone else's")
    twin = add_file(admin, live, "a.txt", b"someone else's a.txt")
    folder = add_folder(admin, live, "their-folder")

    code, body = _verify(config)
    assert code == 0, body
    foreign = {n["path"]: n["detail"] for n in body["notes"] if n["kind"] == "foreign"}
    assert set(foreign) == {"from-the-web.txt", "a.txt", "their-folder/"}, foreign
    assert str(other) in foreign["from-the-web.txt"] and str(twin) in foreign["a.txt"]
    assert str(folder) in foreign["their-folder/"]
    text = run_syncd("verify", "--pair", "p", config=config)
    assert text.returncode == 0, text.stdout + text.stderr
    assert "foreign (not syncd's, left alone): from-the-web.txt" in text.stdout

    # Mirror mode owns its folder: the same file is a difference there.
    mirror = config.read_text(encoding="utf-8").replace('mode = "backup"', 'mode = "mirror"')
    config.write_text(mirror, encoding="utf-8")
    code, body = _verify(config)
    assert code == 1
    assert ("extra_remotely", "from-the-web.txt") in {
        (d["kind"], d["path"]) for d in body["differences"]
    }


def test_malformed_names_in_the_versions_area_are_differences(
    emulator: Any, tmp_path: Path
) -> None:
    local, config = _pair(emulator, tmp_path, "backup", None)
    _history(local, config)
    admin = emulator.admin
    area = _folder(admin, VERSIONS_DIR)
    add_file(admin, area, "notes.txt", b"a live-looking stray")
    backwards = versioned_name("x.txt", 2_000_000_000 * 10**9, 1_000_000_000 * 10**9)
    assert backwards  # the helper writes what it is given: FROM after TO
    add_file(admin, area, backwards, b"time runs backwards here")
    mirror_dir = add_folder(admin, area, "deeper")
    add_file(admin, mirror_dir, "loose~v2024~.txt", b"a half tag")

    code, body = _verify(config)
    assert code == 1, body
    found = {(d["kind"], d["path"]): d["detail"] for d in body["differences"]}
    assert set(found) == {
        ("malformed_version", f"{VERSIONS_DIR}/notes.txt"),
        ("malformed_version", f"{VERSIONS_DIR}/{backwards}"),
        ("malformed_version", f"{VERSIONS_DIR}/deeper/loose~v2024~.txt"),
    }, found
    assert (
        "move it out of the versions area"
        in found[("malformed_version", f"{VERSIONS_DIR}/notes.txt")]
    )
    assert "FROM is after TO" in found[("malformed_version", f"{VERSIONS_DIR}/{backwards}")]
    text = run_syncd("verify", "--pair", "p", config=config)
    assert text.returncode == 1
    assert f"malformed version: {VERSIONS_DIR}/notes.txt" in text.stdout, text.stdout
