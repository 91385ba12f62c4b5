"""The pair's remote root renamed and moved on the web site: reconcile follows it by id, and so
do `status` (which says where it now lives), `verify` (no "missing remotely: /") and `restore
--pair` (the recovery path works while the data is there), each with a warning."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from syncd.emulator import DEMO_KEY1, DEMO_KEY2
from syncd.emulator.testing import EmulatorProcess
from syncd.remote.client import RemoteClient
from syncd.remote.credentials import Credentials
from syncd.remote.paths import resolve_remote_folder
from tests.support.cli import run_syncd
from tests.support.reconcile import mutating_calls, pair_config


def test_root_moved_on_the_web_site_is_followed_everywhere(
    tmp_path: Path, emulator: EmulatorProcess
) -> None:
    local = tmp_path / "local"
    (local / "sub").mkdir(parents=True)
    (local / "a.txt").write_text("a\n")
    (local / "sub" / "b.txt").write_text("b\n")
    config = pair_config(tmp_path, emulator.api_url, local)  # remote Backup/docs
    assert run_syncd("reconcile", config=config).returncode == 0

    # On the web site: Backup/docs becomes Archive/papers.
    with RemoteClient(emulator.api_url, Credentials(key1=DEMO_KEY1, key2=DEMO_KEY2)) as web:
        root = resolve_remote_folder(web, ("Backup", "docs"))
        assert root is not None
        archive = web.folder_create("Archive", None).id
        web.folder_edit(root, folder_name="papers", parent_id=archive)
    # An hour later (the pass looks the root's location up at most hourly).
    with sqlite3.connect(config.parent / "state.db") as db:
        db.execute("UPDATE host_cache SET fetched_at = fetched_at - 7200")

    emulator.admin.reset_counts()
    again = run_syncd("reconcile", config=config)
    assert again.returncode == 0, again.stderr
    assert mutating_calls(emulator.admin.counts()) == {}  # followed by id: nothing re-created
    assert "/Archive/papers" in again.stderr  # the pass's warning

    done = run_syncd("status", "--json", config=config)
    entry = json.loads(done.stdout)["pairs"][0]
    assert entry["remote_now"] == "Archive/papers" and entry["remote_folder_id"] == root
    assert "moved or renamed on the web site" in entry["root_moved"]
    text = run_syncd("status", config=config).stdout
    assert "WARNING" in text and "/Archive/papers" in text

    verified = run_syncd("verify", config=config)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "warning:" in verified.stdout and "/Archive/papers" in verified.stdout
    assert "missing remotely" not in verified.stdout

    dest = tmp_path / "restored"
    restored = run_syncd("restore", "--pair", "docs", str(dest), config=config)
    assert restored.returncode == 0, restored.stderr
    assert "/Archive/papers" in restored.stderr
    assert (dest / "a.txt").read_text() == "a\n" and (dest / "sub" / "b.txt").read_text() == "b\n"
