"""Per-pair filters against the emulator: ``max_size`` and ``exclude_if_present`` skip what they
name (reported with the reason, never uploaded), and a directory synced before it gained a
marker is frozen remotely — kept as it was, never trashed, even in mirror mode — until the
marker goes. Real `syncd reconcile` / `syncd status` subprocesses, real directories."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from syncd.emulator import DEMO_KEY1, DEMO_KEY2
from syncd.emulator.testing import EmulatorProcess
from tests.support.cli import run_syncd
from tests.support.daemon import running_daemon, wait_converged
from tests.support.waiting import wait_for


def write_config(tmp_path: Path, api_url: str, root: Path, filters: str) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[remote]\napi_url = "{api_url}"\nkey1 = "{DEMO_KEY1}"\nkey2 = "{DEMO_KEY2}"\n'
        f'[state]\npath = "{tmp_path / "state.db"}"\n[sync]\nquiet_period = 0.2\n'
        f'[[pairs]]\nname = "docs"\nlocal = "{root}"\nremote = "Docs"\nmode = "mirror"\n'
        f"{filters}\n",
        encoding="utf-8",
    )
    config.chmod(0o600)
    return config


def syncd(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_syncd(*args, config=config)


def remote_files(emulator: EmulatorProcess) -> dict[str, str]:
    return {path: md5 for path, md5 in emulator.admin.active_paths().items() if md5}


def test_oversized_files_and_marked_directories_are_skipped_with_reasons(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    (root / "cache" / "deep").mkdir(parents=True)
    (root / "sub").mkdir()
    (root / "keep.txt").write_text("keep\n")
    (root / "sub" / "x.txt").write_text("x\n")
    (root / "big.bin").write_bytes(b"b" * 3000)
    (root / "cache" / "CACHEDIR.TAG").write_text("Signature: 8a477f597d28d172789f06886806bc55\n")
    (root / "cache" / "deep" / "blob.bin").write_bytes(b"c" * 10)
    config = write_config(
        tmp_path, emulator.api_url, root, 'max_size = "2K"\nexclude_if_present = ["CACHEDIR.TAG"]'
    )
    check = syncd(config, "config", "check")
    assert check.returncode == 0, check.stderr

    done = syncd(config, "reconcile")
    assert done.returncode == 0, done.stderr
    assert sorted(remote_files(emulator)) == ["/Docs/keep.txt", "/Docs/sub/x.txt"]
    assert not any("cache" in path for path in emulator.admin.active_paths())
    summary = " ".join(done.stdout.split())
    assert "skipped big.bin: not synced: over max size (3000 bytes, over max_size 2048)" in summary
    assert "skipped cache: not synced: excluded by marker (holds CACHEDIR.TAG)" in summary

    again = syncd(config, "reconcile")  # stays skipped, nothing sent twice
    assert again.returncode == 0 and "uploaded 0," in again.stdout
    status = syncd(config, "status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    # The run's counts say how many were not synced (paths are in the run's summary above).
    assert json.loads(status.stdout)["pairs"][0]["last_run"]["counts"]["not synced"] == 2


def test_a_synced_directory_that_gains_a_marker_is_frozen_not_trashed(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    (root / "build").mkdir(parents=True)
    (root / "build" / "a.o").write_text("a1\n")
    (root / "build" / "b.o").write_text("b1\n")
    (root / "main.c").write_text("int main;\n")
    config = write_config(tmp_path, emulator.api_url, root, 'exclude_if_present = [".nobackup"]')
    assert syncd(config, "reconcile").returncode == 0
    before = remote_files(emulator)
    assert sorted(before) == ["/Docs/build/a.o", "/Docs/build/b.o", "/Docs/main.c"]

    (root / "build" / ".nobackup").touch()
    (root / "build" / "a.o").unlink()
    (root / "build" / "b.o").write_text("b2, changed while excluded\n")
    frozen = syncd(config, "reconcile")
    assert frozen.returncode == 0, frozen.stderr
    assert "trashed 0," in frozen.stdout and "uploaded 0," in frozen.stdout
    assert "skipped build: not synced: excluded by marker (holds .nobackup)" in " ".join(
        frozen.stdout.split()
    )
    assert remote_files(emulator) == before  # kept exactly as it was

    (root / "build" / ".nobackup").unlink()  # included again: synced as usual
    thawed = syncd(config, "reconcile")
    assert thawed.returncode == 0, thawed.stderr
    assert sorted(remote_files(emulator)) == ["/Docs/build/b.o", "/Docs/main.c"]


def test_the_daemon_leaves_changes_inside_a_marked_directory_alone(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    (root / "build").mkdir(parents=True)
    (root / "build" / "a.o").write_text("a1\n")
    config = write_config(tmp_path, emulator.api_url, root, 'exclude_if_present = [".nobackup"]')
    with running_daemon(config, tmp_path) as daemon:
        wait_converged(emulator.admin, root, "Docs", daemon)
        (root / "build" / ".nobackup").touch()
        (root / "build" / "a.o").unlink()  # watcher events inside the now-excluded directory
        (root / "build" / "new.o").write_text("new\n")
        (root / "marker-seen.txt").write_text("a later change outside it\n")
        wait_for(
            lambda: "/Docs/marker-seen.txt" in remote_files(emulator),
            30,
            "the change outside the excluded directory",
            daemon.log_tail,
        )
        remote = remote_files(emulator)
        assert "/Docs/build/a.o" in remote and "/Docs/build/new.o" not in remote
        assert daemon.stop() == 0
    status = json.loads(syncd(config, "status", "--json").stdout)
    assert status["pairs"][0]["counts"]["failed"] == 0
