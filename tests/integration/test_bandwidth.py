"""bwlimit on the wire: a limited upload and download through the real client to the emulator,
accounted by a bucket on a virtual clock (no test waits for the limit or times it); the one-shot
commands pick the table's rate; the daemon changes the rate and the full-pass window on SIGHUP
without restarting its pairs."""

from __future__ import annotations

import hashlib
import os
import signal
import threading
from pathlib import Path

import httpx
import pytest

from syncd.emulator import DEMO_KEY1, DEMO_KEY2
from syncd.emulator.testing import EmulatorProcess
from syncd.remote.bandwidth import KIB, TokenBucket
from syncd.remote.client import RemoteClient
from syncd.remote.credentials import Credentials
from syncd.remote.downloads import download_to
from tests.support.cli import run_syncd
from tests.support.config import write_config
from tests.support.daemon import daemon_config, running_daemon, wait_converged
from tests.support.waiting import wait_for

MIB = KIB * KIB


class VirtualClock:
    """The bucket's time: moves only when the bucket makes a caller "sleep", so the accounting
    is exact and nothing waits for real."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps += 1
            self.now += seconds


class CountingTransport(httpx.HTTPTransport):
    """The real transport, noting the Content-Length of every upload request it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.upload_bytes = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/file/upload"):
            self.upload_bytes += int(request.headers["content-length"])
        return super().handle_request(request)


def test_a_limited_upload_passes_every_byte_through_the_bucket(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    clock = VirtualClock()
    rate = 1 * MIB
    bucket = TokenBucket(rate, clock=clock, sleep=clock.sleep)
    transport = CountingTransport()
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * MIB + 12345))  # streamed in pieces
    small = tmp_path / "small.bin"
    small.write_bytes(os.urandom(100 * KIB))  # one prebuilt body, paced too
    with RemoteClient(
        emulator.api_url,
        Credentials(key1=DEMO_KEY1, key2=DEMO_KEY2),
        upload_bucket=bucket,
        transport=transport,
        max_retry_time=10.0,
    ) as client:
        assert client.bandwidth.up == rate and client.bandwidth.down is None
        results = [client.upload_file(path, None) for path in (big, small)]
    stored = {f["name"]: f["md5"] for f in emulator.admin.tree()["files"]}
    for path, result in zip((big, small), results, strict=True):
        assert stored[path.name] == hashlib.md5(path.read_bytes()).hexdigest() == result.md5
    # Every byte of both multipart bodies was granted, and at 1 MiB/s from an empty bucket
    # they took exactly bytes / rate of the bucket's time, in pieces of at most 64 KiB.
    assert bucket.granted == transport.upload_bytes > big.stat().st_size + small.stat().st_size
    assert clock.now == pytest.approx(bucket.granted / rate)
    assert clock.sleeps >= bucket.granted // bucket.piece()


def test_a_limited_download_is_read_at_the_limit(emulator: EmulatorProcess, tmp_path: Path) -> None:
    clock = VirtualClock()
    bucket = TokenBucket(512 * KIB, clock=clock, sleep=clock.sleep)
    data = os.urandom(2 * MIB + 7)
    source = tmp_path / "restore-me.bin"
    source.write_bytes(data)
    with RemoteClient(
        emulator.api_url,
        Credentials(key1=DEMO_KEY1, key2=DEMO_KEY2),
        download_bucket=bucket,
        max_retry_time=10.0,
    ) as client:
        uploaded = client.upload_file(source, None)  # uploads are not limited here
        got = download_to(client, uploaded.file_id)
    assert got.size == len(data) and got.md5 == hashlib.md5(data).hexdigest()
    assert bucket.granted == len(data)
    assert clock.now == pytest.approx(len(data) / (512 * KIB))


def test_a_one_shot_reconcile_takes_the_tables_rate(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.txt").write_text("a\n")
    config = write_config(
        tmp_path / "config.toml",
        api_url=emulator.api_url,
        state=tmp_path / "state.db",
        pairs={"docs": (root, "Backup/Docs")},
        sync={"bwlimit": "Mon-00:00,64M:32M"},  # one weekly entry: holds all week
    )
    result = run_syncd("reconcile", config=config)
    assert result.returncode == 0, result.stderr
    assert "bandwidth limit: upload 64 MiB/s, download 32 MiB/s" in result.stderr
    assert [f["name"] for f in emulator.admin.tree()["files"]] == ["a.txt"]


def test_sighup_changes_the_rate_and_the_window_without_restarting_pairs(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "one.txt").write_text("1\n")

    def config(**sync: str) -> Path:
        return daemon_config(
            tmp_path / "config.toml",
            api_url=emulator.api_url,
            state=tmp_path / "state.db",
            pairs={"docs": (root, "Backup/Docs")},
            sync=sync,
        )

    with running_daemon(config(bwlimit="00:00,1M"), tmp_path) as daemon:
        wait_for(
            lambda: "bandwidth limit now 1 MiB/s (start, time table 00:00,1M)" in daemon.log_text(),
            15,
            "the start's bandwidth limit in the log",
            daemon.log_tail,
        )
        wait_converged(emulator.admin, root, "Backup/Docs", daemon)

        config(bwlimit="4M:off", full_pass_window="01:00-06:00")
        daemon.signal(signal.SIGHUP)
        changed = "bandwidth limit now upload 4 MiB/s, download off (SIGHUP)"
        wait_for(
            lambda: changed in daemon.log_text(),
            15,
            "the new bandwidth limit in the log",
            daemon.log_tail,
        )
        log = daemon.log_text()
        assert "SIGHUP: full-pass window now 01:00-06:00" in log
        assert "restarting it with the new settings" not in log

        (root / "two.txt").write_text("2\n")  # incremental syncing goes on outside the window
        wait_converged(emulator.admin, root, "Backup/Docs", daemon)

        config()  # no limit at all
        daemon.signal(signal.SIGHUP)
        wait_for(
            lambda: "bandwidth limit now off (SIGHUP)" in daemon.log_text(),
            15,
            "the limit lifted",
            daemon.log_tail,
        )
        assert daemon.stop() == 0
