"""deploy/ stays valid: the systemd units pass `systemd-analyze verify` (where it exists) and the
Dockerfile copies only what exists and what `pip install .` needs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import REPO

DEPLOY = REPO / "deploy"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not here")
@pytest.mark.parametrize(("unit", "user"), [("syncd.service", False), ("syncd-user.service", True)])
def test_systemd_unit_verifies(tmp_path: Path, unit: str, user: bool) -> None:
    text = (DEPLOY / "systemd" / unit).read_text()
    assert "Type=notify" in text and "WatchdogSec=" in text and "Restart=on-failure" in text
    # The binary is not installed here: point ExecStart at one that exists, keep the rest.
    text = re.sub(r"^ExecStart=\S+", "ExecStart=/bin/true", text, flags=re.M)
    (tmp_path / unit).write_text(text)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}
    cmd = ["systemd-analyze", *(["--user"] if user else []), "verify", str(tmp_path / unit)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr


def test_system_unit_hardening() -> None:
    text = (DEPLOY / "systemd" / "syncd.service").read_text()
    for line in (
        "User=syncd",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/syncd",
        "ProtectHome=read-only",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "RestartPreventExitStatus=2",
    ):
        assert line in text.splitlines(), line


def test_dockerfile_copies_what_exists() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    for match in re.finditer(r"^COPY (.+) \S+$", text, flags=re.M):
        for source in match.group(1).split():
            assert (REPO / source).exists(), f"Dockerfile copies missing {source}"
    # Not `USER syncd`: the entrypoint drops root to PUID:PGID at run time
    # (test_docker_entrypoint.py runs it).
    assert 'ENTRYPOINT ["docker-entrypoint.sh", "syncd"]' in text and "HEALTHCHECK" in text
    assert 'CMD ["run"]' in text
    compose = (DEPLOY / "compose.yaml").read_text()
    assert ":ro" in compose and "stop_grace_period" in compose
