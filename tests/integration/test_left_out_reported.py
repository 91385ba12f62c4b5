"""Nothing left out silently: what the ignore rules leave out (the built-in list, documented in
the README), and what cannot be synced (symlinks, special files, unreadable entries), is counted
with its reason in every run's summary, in `syncd status` and in `syncd verify`, and listed on
request; the counts agree with the lists. Real subprocesses against the emulator."""

from __future__ import annotations

import json
import os
from pathlib import Path

from syncd.emulator.testing import EmulatorProcess
from syncd.local.ignore import DEFAULT_PATTERNS
from tests.support.cli import REPO, run_syncd
from tests.support.reconcile import pair_config

BUILT_IN_HITS = ("thesis.part", "report.doc~", "4913", "desktop.ini")
UNPRIVILEGED = os.geteuid() != 0
NOT_SYNCED = 3 if UNPRIVILEGED else 2  # link.txt, pipe (and secret.txt, unreadable)


def make_tree(local: Path) -> None:
    local.mkdir()
    (local / "a.txt").write_text("a\n")
    for name in BUILT_IN_HITS:
        (local / name).write_text(f"{name}\n")
    (local / ".syncdignore").write_text("*.log\n")
    (local / "debug.log").write_text("log\n")
    (local / "link.txt").symlink_to(local / "a.txt")
    os.mkfifo(local / "pipe")
    (local / "empty.txt").write_bytes(b"")  # the host refuses zero-byte files: skipped
    (local / "spaced ").mkdir()  # a folder name the host cannot hold: skipped
    (local / "spaced " / "in.txt").write_text("in\n")
    if UNPRIVILEGED:  # root reads everything: the symlink and the FIFO take the same path
        (local / "secret.txt").write_text("s\n")
        (local / "secret.txt").chmod(0)


def test_ignored_and_not_synced_are_counted_and_listed_everywhere(
    tmp_path: Path, emulator: EmulatorProcess
) -> None:
    local = tmp_path / "local"
    make_tree(local)
    config = pair_config(tmp_path, emulator.api_url, local)

    run = run_syncd("reconcile", "--list-ignored", config=config)
    assert run.returncode == 0, run.stderr
    assert "ignored 5" in run.stdout and f"not synced {NOT_SYNCED}" in run.stdout, run.stdout
    assert "ignored: 4 by built-in ignore, 1 by ignore pattern" in run.stdout
    for name in BUILT_IN_HITS:
        assert f"ignored {name} (built-in ignore)" in run.stdout
    assert "ignored debug.log (ignore pattern)" in run.stdout

    done = run_syncd("status", "--json", config=config)
    entry = json.loads(done.stdout)["pairs"][0]
    left = {x["path"]: (x["kind"], x["reason"]) for x in entry["left_out"]}
    assert {p for p, (k, _) in left.items() if k == "ignored"} == {*BUILT_IN_HITS, "debug.log"}
    assert entry["counts"]["ignored"] == 5
    assert entry["counts"]["not_synced"] == NOT_SYNCED
    if UNPRIVILEGED:
        assert "permission denied" in left["secret.txt"][1]
    assert "symlink" in left["link.txt"][1] and "special" in left["pipe"][1]
    skipped = [p for p in entry["problems"] if p["status"] == "skipped"]
    assert entry["counts"]["skipped"] == len(skipped) == 2, entry["problems"]

    text = run_syncd("status", config=config).stdout
    assert "5 ignored (4 built-in ignore, 1 ignore pattern)" in text, text
    assert f"{NOT_SYNCED} not synced" in text and "--list-skipped" in text
    listed = run_syncd("status", "--list-skipped", config=config).stdout
    assert "thesis.part: built-in ignore" in listed and "link.txt" in listed

    verified = run_syncd("verify", "--json", config=config)
    report = json.loads(verified.stdout)["pairs"][0]
    assert report["left_out_counts"] == {"ignored": 5, "not synced": NOT_SYNCED}, report
    assert len(report["left_out"]) == 5 + NOT_SYNCED
    plain = run_syncd("verify", config=config).stdout
    assert "left out: 5 ignored (4 built-in ignore, 1 ignore pattern)" in plain, plain


def test_the_built_in_ignore_list_is_documented() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## What is not synced") :]
    for pattern in DEFAULT_PATTERNS:
        shown = pattern.replace("\\#", "#")
        assert f"`{shown}`" in section, f"{pattern} is not in the README's ignore list"
