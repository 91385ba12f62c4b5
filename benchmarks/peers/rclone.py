"""rclone as the peer of a one-shot sync: `rclone sync SRC DST` local→local, default settings.

    version()                    -> "rclone v1.60.1-DEV" or None
    require()                    -> path of the binary, or raises PeerMissing("rclone", ...)
    ensure_copy(cache, src, key) -> DST: rclone's own copy of SRC, made once and cached
    sync(src, dst)               -> Measured (wall_s, cpu_s, peak_rss_mb) of one `rclone sync`
    serve_webdav(root, log)      -> context: `rclone serve webdav ROOT` on a free loopback port
    sync_to_webdav(src, url)     -> Measured of one `rclone sync --size-only SRC :webdav:`

A no-op sync (DST already equal) is what the no-op and memory cases compare syncd with: rclone
lists both sides and compares size and modification time, like syncd compares the local tree
with its journal and one listing per remote folder. Local→local needs no network at all, so it
is a floor; the WebDAV pair is the same comparison over HTTP: `rclone serve webdav` serves a
copy of the tree on 127.0.0.1 (no auth: loopback only) and a second rclone syncs the tree to
it, one PROPFIND per remote directory where syncd makes one folder/listing per folder.
``--size-only`` because rclone's WebDAV backend with an unnamed vendor cannot read back
modification times (rclone would compare sizes only anyway; the flag says so explicitly).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks.core import Measured, PeerMissing, run_measured
from benchmarks.peers.common import PeerError, PeerProcess, free_port, wait_until

SERVE_START_TIMEOUT_S = 30.0

PEER = "rclone"
INSTALL_HINT = "rclone not installed: run `bash benchmarks/setup_peers.sh` (apt-get install rclone)"


def binary() -> str | None:
    return shutil.which("rclone")


def require() -> str:
    found = binary()
    if found is None:
        raise PeerMissing(PEER, INSTALL_HINT)
    return found


def version() -> str | None:
    found = binary()
    if found is None:
        return None
    out = subprocess.run([found, "version"], capture_output=True, text=True, timeout=30)
    first = out.stdout.splitlines()[0] if out.stdout else ""
    return first.strip() or None


def _env() -> dict[str, str]:
    # No remotes are needed for local paths; an empty config keeps the user's out of it and
    # silences the "config file not found" notice.
    env = dict(os.environ)
    env["RCLONE_CONFIG"] = os.devnull
    return env


def sync(
    source: Path, dest: Path, *, extra: tuple[str, ...] = (), timeout: float = 3600
) -> Measured:
    """One `rclone sync SRC DST` with rclone's defaults; raises if rclone fails."""
    command = [require(), "sync", str(source), str(dest), "--stats", "0", *extra]
    return run_measured(command, env=_env(), timeout=timeout).check("rclone sync")


def transfers_of(result: Measured) -> int | None:
    """Files rclone copied in a run made with ``-v`` (None if it did not say)."""
    match = re.search(r"Transferred:\s+(\d+)\s*/\s*\d+", result.stderr)
    if match:
        return int(match.group(1))
    if "There was nothing to transfer" in result.stderr:
        return 0
    return None


def ensure_copy(cache: Path, source: Path, key: str) -> Path:
    """rclone's own copy of ``source`` under ``cache/rclone/<key>/dest``, made once (by a first
    `rclone sync`) and reused; rebuilt if ``source``'s marker is newer than the copy's."""
    require()
    entry = cache / "rclone" / key
    dest = entry / "dest"
    marker = entry / ".complete"
    source_marker = source.parent / ".complete"
    source_stamp = source_marker.stat().st_mtime if source_marker.exists() else 0.0
    if marker.exists() and json.loads(marker.read_text()).get("source_stamp") == source_stamp:
        return dest
    shutil.rmtree(entry, ignore_errors=True)
    entry.mkdir(parents=True)
    print(f"    rclone: making its copy of {source} (once)", file=sys.stderr, flush=True)
    started = time.monotonic()
    first = sync(source, dest)
    marker.write_text(
        json.dumps(
            {
                "source": str(source),
                "source_stamp": source_stamp,
                "copy_s": round(time.monotonic() - started, 1),
                "copy_peak_rss_mb": round(first.peak_rss_mb, 1),
            }
        )
    )
    return dest


@dataclass(frozen=True)
class WebdavServer:
    """A running `rclone serve webdav`: its URL and pid (for its CPU seconds)."""

    url: str
    pid: int


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def serve_webdav(root: Path, log: Path, port: int | None = None) -> Iterator[WebdavServer]:
    """`rclone serve webdav ROOT` on 127.0.0.1 and a free port (or ``port``), read-only, no
    auth; waits (deadline SERVE_START_TIMEOUT_S) until rclone has logged that it serves on that
    address and the port accepts connections, so a process that grabbed the port in between
    is never mistaken for it, and kills the server (its whole process group) on the way out,
    whatever happened."""
    binary = require()
    port = port or free_port()
    address = f"127.0.0.1:{port}"

    def logged_start() -> bool:  # "WebDav Server started on http://127.0.0.1:PORT/" (1.60)
        lines = log.read_text(errors="replace").splitlines() if log.exists() else []
        return any("started" in line and address in line for line in lines)

    log.write_bytes(b"")  # PeerProcess appends: an older run's "started" line must not count
    server = PeerProcess(
        [binary, "serve", "webdav", str(root), "--addr", address, "--read-only"],
        log,
        env=_env(),
    )
    try:

        def listening() -> bool:
            server.check_alive()  # a server that died (port taken meanwhile) fails at once
            return logged_start() and _port_open(port)

        try:
            wait_until(listening, SERVE_START_TIMEOUT_S, f"rclone serve webdav on port {port}")
        except PeerError as exc:
            tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
            raise PeerError(f"{exc}\n{tail}") from None
        yield WebdavServer(url=f"http://127.0.0.1:{port}/", pid=server.pid)
    finally:
        server.stop(grace=5.0)


def sync_to_webdav(
    source: Path, url: str, *, extra: tuple[str, ...] = (), timeout: float = 3600
) -> Measured:
    """One `rclone sync --size-only SRC :webdav:` to the server at ``url`` (an on-the-fly
    remote configured by environment variables: no config file, nothing on the command line
    to quote); raises if rclone fails."""
    env = _env()
    env["RCLONE_WEBDAV_URL"] = url
    command = [require(), "sync", "--size-only", str(source), ":webdav:", "--stats", "0", *extra]
    return run_measured(command, env=env, timeout=timeout).check("rclone sync to webdav")
