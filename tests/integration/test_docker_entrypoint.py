"""deploy/docker-entrypoint.sh does what a NAS container needs, run for real outside a container.

There is no container engine on a CI machine, but the entrypoint is a plain POSIX script: run as
root with a throwaway uid/gid, a state directory in a temp dir and SYNCD_ENTRYPOINT_ROOT pointing
its /etc edits at a scratch copy, it really creates the user, really chowns, really drops
privileges with setpriv. The command it execs is `sh -c` printing what the process ended up
with (ids, groups, time zone, environment), which is what syncd would inherit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENTRYPOINT = REPO / "deploy" / "docker-entrypoint.sh"

# Throwaway ids no account here uses: the files they own live only in the temp dir.
PUID, PGID = 4711, 4712

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the entrypoint switches users: needs root"),
    pytest.mark.skipif(
        not all(shutil.which(t) for t in ("setpriv", "useradd", "groupadd", "usermod")),
        reason="needs setpriv (util-linux) and the shadow tools, as in Debian images",
    ),
]

REPORT = 'echo "ids=$(id -u):$(id -g) groups=$(id -G) tz=$(date +%Z) home=$HOME"; env'


class World:
    """A scratch /etc, a state dir and a neighbour dir, all reachable by the throwaway user."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "root"
        self.etc = self.root / "etc"
        self.state = base / "state"
        self.etc.mkdir(parents=True)
        (self.etc / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
        (self.etc / "group").write_text("root:x:0:\nusers:x:100:\n")
        (self.etc / "shadow").write_text("root:*:19000:0:99999:7:::\n")
        (self.etc / "gshadow").write_text("root:*::\n")
        # login.defs as in Debian, so useradd judges the ids as it would in the image.
        (self.etc / "login.defs").write_text("UID_MIN 1000\nUID_MAX 60000\nGID_MIN 1000\n")

    def run(
        self, *command: str, user: tuple[int, int] | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        full_env = {
            "PATH": os.environ["PATH"],
            "HOME": "/root",
            "SYNCD_STATE_DIR": str(self.state),
            "SYNCD_ENTRYPOINT_ROOT": str(self.root),
            **env,
        }
        argv = [str(ENTRYPOINT), *command]
        if user is not None:  # started by `docker run --user`: not root from the start
            argv = [
                "setpriv",
                f"--reuid={user[0]}",
                f"--regid={user[1]}",
                "--clear-groups",
                "--",
                *argv,
            ]
        return subprocess.run(
            argv, cwd=self.base, env=full_env, capture_output=True, text=True, timeout=60
        )

    def entry(self, file: str, name: str) -> list[str] | None:
        for line in (self.etc / file).read_text().splitlines():
            fields = line.split(":")
            if fields[0] == name:
                return fields
        return None


@pytest.fixture
def world() -> Iterator[World]:
    # Not pytest's tmp_path: its parents are mode 0700 and the dropped user must reach the dir.
    base = Path(tempfile.mkdtemp(prefix="syncd-entrypoint-"))
    base.chmod(0o755)
    try:
        yield World(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def report(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    assert done.returncode == 0, done.stderr
    first, *env_lines = done.stdout.splitlines()
    fields = dict(part.split("=", 1) for part in first.split(" ", 3))
    fields.update(line.split("=", 1) for line in env_lines if "=" in line)
    return fields


def test_runs_as_puid_pgid_owns_state_only_and_sets_tz(world: World) -> None:
    world.state.mkdir()
    (world.state / "state.db").write_text("")
    (world.state / "old").mkdir()
    os.chown(world.state / "old", 1234, 1234)  # left by a container that ran with other ids
    neighbour = world.base / "data"
    neighbour.mkdir()
    (neighbour / "photo.jpg").write_text("x")
    secret = world.base / "key1"
    secret.write_text("k" * 64)
    secret.chmod(0o600)
    os.chown(secret, PUID, PGID)

    done = world.run(
        "sh",
        "-c",
        REPORT,
        PUID=str(PUID),
        PGID=str(PGID),
        TZ="Asia/Tokyo",
        SYNCD_KEY1_FILE=str(secret),
        SYNCD_CONFIG="/config/config.toml",
    )
    seen = report(done)
    assert seen["ids"] == f"{PUID}:{PGID}"
    assert seen["groups"] == str(PGID)  # no supplementary groups kept from root
    assert seen["tz"] == "JST" and seen["TZ"] == "Asia/Tokyo"
    assert seen["home"] == str(world.state)
    # Secrets and config are passed through as given; reading *_FILE is syncd's job.
    assert seen["SYNCD_KEY1_FILE"] == str(secret)
    assert seen["SYNCD_CONFIG"] == "/config/config.toml"
    assert "k" * 64 not in done.stdout + done.stderr
    assert "not readable" not in done.stderr  # the secret is readable by PUID: no warning

    for path in (world.state, world.state / "state.db", world.state / "old"):
        st = path.lstat()
        assert (st.st_uid, st.st_gid) == (PUID, PGID), path
    assert world.state.stat().st_mode & 0o777 == 0o700
    for path in (neighbour, neighbour / "photo.jpg"):  # the synced tree is not touched
        assert (path.stat().st_uid, path.stat().st_gid) == (0, 0)

    user = world.entry("passwd", "syncd")
    group = world.entry("group", "syncd")
    assert user is not None and user[2:4] == [str(PUID), str(PGID)]
    assert group is not None and group[2] == str(PGID)
    assert os.readlink(world.etc / "localtime") == "/usr/share/zoneinfo/Asia/Tokyo"
    assert (world.etc / "timezone").read_text() == "Asia/Tokyo\n"


def test_changed_puid_pgid_adjust_the_user_and_defaults_are_1000(world: World) -> None:
    seen = report(world.run("sh", "-c", REPORT))
    assert seen["ids"] == "1000:1000" and seen["tz"] == "UTC"
    assert world.entry("passwd", "syncd")[2:4] == ["1000", "1000"]  # type: ignore[index]

    # The NAS user changed (PGID=100 is Debian's "users", already taken: still works).
    seen = report(world.run("sh", "-c", REPORT, PUID=str(PUID), PGID="100"))
    assert seen["ids"] == f"{PUID}:100"
    assert world.entry("passwd", "syncd")[2:4] == [str(PUID), "100"]  # type: ignore[index]
    assert (world.state.stat().st_uid, world.state.stat().st_gid) == (PUID, 100)
    passwd = (world.etc / "passwd").read_text()
    assert passwd.count("\nsyncd:") == 1, passwd


def test_bad_settings_are_one_line_each(world: World) -> None:
    done = world.run("true", PUID="abc")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "PUID must be a number, got 'abc'" in done.stderr

    done = world.run("sh", "-c", REPORT, PUID=str(PUID), PGID=str(PGID), TZ="Mars/Olympus")
    assert "unknown time zone TZ='Mars/Olympus' — using UTC" in done.stderr
    assert report(done)["TZ"] == "UTC"

    secret = world.base / "key2"
    secret.write_text("k" * 64)
    secret.chmod(0o600)  # root's, so PUID cannot read it
    done = world.run("true", PUID=str(PUID), PGID=str(PGID), SYNCD_KEY2_FILE=str(secret))
    assert done.returncode == 0
    assert f"SYNCD_KEY2_FILE: {secret} is not readable by uid {PUID}" in done.stderr
    assert "k" * 64 not in done.stderr

    assert world.run().returncode == 2  # no command at all


def test_started_as_non_root_runs_as_is(world: World) -> None:
    world.state.mkdir()
    os.chown(world.state, PUID, PGID)
    done = world.run("sh", "-c", REPORT, user=(PUID, PGID), PUID="1000", PGID="1000")
    seen = report(done)
    assert seen["ids"] == f"{PUID}:{PGID}"
    assert "not root: PUID/PGID cannot be applied" in done.stderr
    assert world.entry("passwd", "syncd") is None  # nothing edited without root


def test_execs_the_command_so_it_receives_signals(world: World) -> None:
    # exec, not a child: the pid the shell reports is the entrypoint's own pid.
    proc = subprocess.Popen(
        [str(ENTRYPOINT), "sh", "-c", 'echo "$$"; exec sleep 30'],
        cwd=world.base,
        env={
            **os.environ,
            "SYNCD_STATE_DIR": str(world.state),
            "SYNCD_ENTRYPOINT_ROOT": str(world.root),
            "PUID": str(PUID),
            "PGID": str(PGID),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert int(proc.stdout.readline()) == proc.pid
        proc.terminate()
        assert proc.wait(timeout=30) == -15
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
