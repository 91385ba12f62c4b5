"""8 threads push 200 uploads through one shared client into a host limited to 20 req/s and
4 concurrent uploads: everything arrives once, and the rate limiter's behaviour is reported."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from syncd.emulator import DEMO_KEY1, DEMO_KEY2
from syncd.emulator.testing import EmulatorProcess
from syncd.remote.client import RemoteClient
from syncd.remote.credentials import Credentials
from syncd.remote.recording import RecordingTransport

FILES = 200
THREADS = 8
LIMIT_RPS = 20


@pytest.mark.emulator(rate_limit_rps=LIMIT_RPS, upload_concurrency_limit=4, concurrent_uploads=4)
def test_eight_threads_200_uploads_under_rate_and_concurrency_limits(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    sources = []
    for i in range(FILES):
        path = tmp_path / f"file-{i:03d}.bin"
        path.write_bytes(f"content of file {i}\n".encode() * (1 + i % 7))
        sources.append(path)

    recorder = RecordingTransport()
    remote = RemoteClient(
        emulator.api_url, Credentials(key1=DEMO_KEY1, key2=DEMO_KEY2), transport=recorder
    )
    package = remote.account_package()
    remote.set_upload_concurrency(package.concurrent_uploads)
    assert remote.upload_slots.capacity == 4
    folder = remote.folder_create("load")

    peak = 0
    lock = threading.Lock()

    def upload(path: Path) -> str:
        nonlocal peak
        with lock:
            peak = max(peak, remote.upload_slots.in_use)
        return remote.upload_file(path, folder.id).md5

    with ThreadPoolExecutor(THREADS) as pool:
        md5s = list(pool.map(upload, sources))
    remote.close()

    assert md5s == [hashlib.md5(p.read_bytes()).hexdigest() for p in sources]
    assert emulator.admin.duplicates() == []
    remote_paths = emulator.admin.active_paths()
    assert remote_paths == {
        f"/load/{p.name}": hashlib.md5(p.read_bytes()).hexdigest() for p in sources
    }
    counts = emulator.admin.counts()
    assert counts["file/upload"] == FILES  # no upload was replayed after reaching the host

    uploads = [x for x in recorder.exchanges if x.action == "file/upload"]
    served = [x for x in uploads if x.status == 200]
    limited = [x for x in recorder.exchanges if x.status == 429]
    span = served[-1].finished - served[0].started
    achieved = (len(served) - 1) / span
    share = len(limited) / len(recorder.exchanges)
    stats = remote.stats()
    print(
        f"\n{FILES} uploads, {THREADS} threads, limit {LIMIT_RPS} req/s: "
        f"achieved {achieved:.1f} req/s ({achieved / LIMIT_RPS:.0%} of the limit) "
        f"over {span:.1f}s; "
        f"429s: {len(limited)} of {len(recorder.exchanges)} requests ({share:.1%}); "
        f"emulator counted {counts.get('429', 0)} 429s; limiter rate {stats.limiter.rate:.1f}, "
        f"ceiling {stats.limiter.ceiling}, cuts {stats.limiter.cuts}; peak uploads in use {peak}"
    )
    assert counts.get("429", 0) == len(limited)
    assert peak <= 4
