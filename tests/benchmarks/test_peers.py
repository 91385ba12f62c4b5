"""The peer harnesses really run Syncthing and lsyncd: a tiny tree, short watcher delays (the
benchmarks keep the defaults), real processes, and nothing of them left afterwards."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from benchmarks.peers import lsyncd, syncthing
from tests.support.trees import write_tree

needs_syncthing = pytest.mark.skipif(
    shutil.which("syncthing") is None, reason="syncthing not installed"
)
needs_lsyncd = pytest.mark.skipif(
    shutil.which("lsyncd") is None or shutil.which("rsync") is None,
    reason="lsyncd or rsync not installed",
)


def make_tree(root: Path, dirs: int = 3, per_dir: int = 10) -> int:
    files = {f"d{d}/f{i}.txt": f"{d}/{i}\n" * 40 for d in range(dirs) for i in range(per_dir)}
    write_tree(root, files)
    return len(files)


def processes_under(path: Path) -> list[str]:
    """Command lines of live processes that mention ``path`` (ours would: their homes)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(path) in cmdline:
            found.append(cmdline)
    return found


def snapshot(root: Path) -> list[tuple[str, int, int]]:
    return sorted(
        (str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")
    )


@needs_syncthing
def test_syncthing_initial_sync_idle_and_latency(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    files = make_tree(tree)
    before = snapshot(tree)

    measured = syncthing.measure_initial_sync(tmp_path / "init", tree)
    assert measured["files"] == files
    assert measured["files_per_s"] > 0 and measured["cpu_s"] > 0
    assert syncthing.count_files(tmp_path / "init" / "syncthing-dest") == files
    assert snapshot(tree) == before  # the caller's tree is never touched (no .stfolder in it)

    idle = syncthing.measure_idle(tmp_path / "idle", tree, 1.0)
    assert idle["rss_mb"] > 1 and idle["receiver_rss_mb"] > 1 and idle["window_s"] >= 1.0
    assert idle["cpu_pct"] >= 0

    latencies = syncthing.measure_latency(tmp_path / "lat", 2, 0.0, watcher_delay_s=1)
    assert len(latencies) == 2 and all(0 < s < syncthing.ARRIVAL_TIMEOUT_S for s in latencies)
    assert processes_under(tmp_path) == []


@needs_syncthing
def test_syncthing_config_is_offline(tmp_path: Path) -> None:
    pair = syncthing.SyncthingPair(tmp_path, tmp_path / "src", tmp_path / "dst")
    (tmp_path / "src").mkdir()
    pair.prepare()
    pair.prepare()  # a second run in the same directory starts from scratch too
    for instance, other, kind in ((pair.a, pair.b, "sendonly"), (pair.b, pair.a, "receiveonly")):
        text = (instance.home / "config.xml").read_text()
        for option, value in syncthing._OFFLINE_OPTIONS.items():
            assert f"<{option}>{value}</{option}>" in text
        assert f"<listenAddress>tcp://127.0.0.1:{instance.listen_port}</listenAddress>" in text
        assert f"<address>127.0.0.1:{instance.gui_port}</address>" in text
        assert f"<address>tcp://127.0.0.1:{other.listen_port}</address>" in text
        assert f'type="{kind}"' in text and 'fsWatcherDelayS="10"' in text
        assert text.count(f'<folder id="{syncthing.FOLDER_ID}"') == 1


@needs_syncthing
def test_syncthing_takes_fresh_ports_when_one_was_taken(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    with syncthing.SyncthingPair(tmp_path, tmp_path / "src", tmp_path / "dst") as pair:
        pair.prepare()
        taken = (pair.b.gui_port, pair.a.listen_port)
        with socket.socket() as gui, socket.socket() as listen:
            # Someone else binds the ports we picked before Syncthing gets to them.
            gui.bind(("127.0.0.1", taken[0]))
            gui.listen()
            listen.bind(("127.0.0.1", taken[1]))
            listen.listen()
            pair.start_receiver()
            pair.start_sender()
            pair.wait_connected()
        assert pair.b.gui_port != taken[0] and pair.a.listen_port != taken[1]
    assert processes_under(tmp_path) == []


@needs_lsyncd
def test_lsyncd_latency_and_idle(tmp_path: Path) -> None:
    latencies = lsyncd.measure_latency(tmp_path / "lat", 2, 0.0, delay_s=1)
    assert len(latencies) == 2 and all(0 < s < lsyncd.ARRIVAL_TIMEOUT_S for s in latencies)

    tree = tmp_path / "tree"
    files = make_tree(tree)
    idle = lsyncd.measure_idle(tmp_path / "idle", tree, 1.0)
    assert idle["rss_mb"] > 0 and idle["window_s"] >= 1.0 and idle["cpu_pct"] >= 0
    assert syncthing.count_files(tmp_path / "idle" / "lsyncd-idle-dst") == files
    assert processes_under(tmp_path) == []


def test_lsyncd_config_quotes_paths(tmp_path: Path) -> None:
    source = tmp_path / 'a "b"'
    text = lsyncd.Lsyncd(source, tmp_path / "c'd", tmp_path).config_text()
    assert "source = [====[" + str(source) + "]====]" in text  # a long string: no escapes
    assert "delay" not in text  # lsyncd's default delay
