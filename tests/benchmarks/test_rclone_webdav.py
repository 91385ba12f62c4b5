"""The no-op case's HTTP peer: `rclone serve webdav` on loopback, a no-op `rclone sync --size-only`
to it, a change that it does see, and no server left running afterwards."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from benchmarks.peers import rclone
from benchmarks.peers.common import PeerError

pytestmark = pytest.mark.skipif(shutil.which("rclone") is None, reason="rclone not installed")


def make_tree(root: Path) -> None:
    for d in range(3):
        (root / f"d{d}").mkdir(parents=True)
        for i in range(5):
            (root / f"d{d}" / f"f{i}.txt").write_bytes(f"{d}/{i}\n".encode() * (i + 1))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def test_noop_sync_to_webdav_transfers_nothing_and_the_server_is_gone(tmp_path: Path) -> None:
    make_tree(tmp_path / "src")
    shutil.copytree(tmp_path / "src", tmp_path / "served")
    with rclone.serve_webdav(tmp_path / "served", tmp_path / "serve.log") as server:
        assert server.url.startswith("http://127.0.0.1:")
        result = rclone.sync_to_webdav(tmp_path / "src", server.url, extra=("-v",))
        assert rclone.transfers_of(result) == 0
        assert result.cpu_s > 0 and result.wall_s > 0
        pid = server.pid
    assert not alive(pid)


def test_a_changed_size_is_seen_over_webdav(tmp_path: Path) -> None:
    make_tree(tmp_path / "src")
    shutil.copytree(tmp_path / "src", tmp_path / "served")
    (tmp_path / "src" / "d1" / "f0.txt").write_bytes(b"now a different size\n")
    # The server is read-only: rclone must try to upload the changed file and fail.
    with (
        rclone.serve_webdav(tmp_path / "served", tmp_path / "serve.log") as server,
        pytest.raises(RuntimeError, match="rclone sync to webdav exited"),
    ):
        rclone.sync_to_webdav(tmp_path / "src", server.url)


def test_a_server_whose_port_is_taken_is_reported_not_used(tmp_path: Path) -> None:
    make_tree(tmp_path / "served")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with (
            pytest.raises(PeerError, match="exited"),
            rclone.serve_webdav(tmp_path / "served", tmp_path / "serve.log", port=port),
        ):
            pytest.fail("the port answered, but not rclone")
