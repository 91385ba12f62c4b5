"""The scanner where the real system takes part: special files (a FIFO, a bound unix socket) in
the tree, and permission denial, which needs an unprivileged process (a subprocess as nobody when
the tests run as root). The pure listing rules are in tests/unit/test_scanner.py."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from syncd.local import scanner
from syncd.local.scanner import ScanIssue, ScannedDir, walk
from tests.support.trees import write_tree


def collect(root: Path) -> tuple[list[ScannedDir], list[ScanIssue]]:
    issues: list[ScanIssue] = []
    dirs = list(walk(root, on_issue=issues.append))
    return dirs, issues


def test_special_files_are_skipped(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(tmp_path / "sock"))
        (tmp_path / "f").write_bytes(b"")
        dirs, issues = collect(tmp_path)
    finally:
        sock.close()
    assert [e.name for e in dirs[0].entries] == ["f"]
    assert {(i.relpath, i.reason, i.detail) for i in issues} == {
        ("pipe", "special_file", "fifo"),
        ("sock", "special_file", "socket"),
    }


# --- permissions: need a non-root user, so as root the scan runs in a real subprocess as nobody.

_SCAN_SCRIPT = """
import json, sys
from syncd.local.scanner import walk
issues = []
dirs = [
    {"relpath": d.relpath, "names": [e.name for e in d.entries],
     "skipped": [[s.name, s.reason] for s in d.skipped], "error": d.error}
    for d in walk(sys.argv[1], on_issue=issues.append)
]
print(json.dumps({"dirs": dirs, "issues": [[i.relpath, i.reason] for i in issues]}))
"""


def _scan_as_unprivileged(root: Path) -> dict[str, object]:
    cmd = [sys.executable, "-c", _SCAN_SCRIPT, str(root)]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot test permission denial")
        cmd = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    env = {**os.environ, "PYTHONPATH": str(Path(scanner.__file__).parents[2])}
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, timeout=60)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_unreadable_directory_and_file_are_reported_not_fatal() -> None:
    base = Path(tempfile.mkdtemp(prefix="syncd-scan-perm-"))
    try:
        base.chmod(0o755)
        write_tree(base, {"locked/secret": b"s", "private.txt": b"p", "open/ok.txt": b"o"})
        (base / "locked").chmod(0o700)
        (base / "private.txt").chmod(0o600)
        for p in (base / "open", base / "open" / "ok.txt"):
            p.chmod(0o755)
        if os.geteuid() != 0:  # as a normal user, take the permissions away from ourselves
            (base / "locked").chmod(0o000)
            (base / "private.txt").chmod(0o000)
        result = _scan_as_unprivileged(base)
    finally:
        for p in (base / "locked", base / "private.txt"):
            p.chmod(0o700)
        shutil.rmtree(base)
    dirs = result["dirs"]
    assert isinstance(dirs, list)
    top = dirs[0]
    assert top["names"] == ["open"]
    assert sorted(map(tuple, top["skipped"])) == [
        ("locked", "permission_denied"),
        ("private.txt", "permission_denied"),
    ]
    assert [d["relpath"] for d in dirs] == ["", "open"]
    assert sorted(map(tuple, result["issues"])) == [  # type: ignore[arg-type]
        ("locked", "permission_denied"),
        ("private.txt", "permission_denied"),
    ]
