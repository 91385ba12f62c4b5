"""An interrupted restore (SIGKILL) resumes without downloading completed files again."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

from tests.support.cli import run_syncd, start_syncd
from tests.support.restore import add_file, add_folder, restore_config
from tests.support.trees import md5_tree
from tests.support.waiting import wait_for

FILES = 40


def completed(dest: Path) -> dict[str, str]:
    if not dest.exists():
        return {}
    return {k: v for k, v in md5_tree(dest).items() if not k.rsplit("/", 1)[-1].startswith(".")}


def test_sigkill_mid_restore_then_resume(emulator: Any, tmp_path: Path) -> None:
    admin = emulator.admin
    root = add_folder(admin, None, "Slow")
    sub = add_folder(admin, root, "sub")
    for i in range(FILES):
        add_file(admin, sub if i % 2 else root, f"f{i:03}.bin", os.urandom(48 * 1024))
    expected = {
        path.removeprefix("/Slow/"): md5
        for path, md5 in admin.active_paths().items()
        if path.startswith("/Slow/")
    }
    assert len(expected) == FILES

    admin.set_knobs(latency_ms=120)  # slow enough to kill it half-way
    config = restore_config(
        tmp_path / "config.toml", emulator.api_url, tmp_path / "s.db", workers=2
    )
    dest = tmp_path / "dest"
    proc = start_syncd("restore", "--remote", "Slow", str(dest), config=config)
    try:
        wait_for(lambda: len(completed(dest)) >= 5 or proc.poll() is not None, 60, "5 files")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL, "the restore finished before it could be killed"

    done = completed(dest)
    assert 5 <= len(done) < FILES
    for rel, md5 in done.items():  # what is in place is complete: rename only after fsync
        assert expected[rel] == md5

    admin.set_knobs(latency_ms=0)
    admin.reset_counts()
    result = run_syncd("restore", "--remote", "Slow", "--json", str(dest), config=config)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["already_present"] == len(done)
    assert report["restored"] == FILES - len(done)
    assert admin.counts().get("file/download", 0) == FILES - len(done)
    assert md5_tree(dest) == expected  # no temp files left either
