"""rclone as the peer of a one-shot sync: `rclone sync SRC DST` local→local, default settings.

    version()                    -> "rclone v1.60.1-DEV" or None
    require()                    -> path of the binary, or raises PeerMissing("rclone", ...)
    ensure_copy(cache, src, key) -> DST: rclone's own copy of SRC, made once and cached
    sync(src, dst)               -> Measured (wall_s, cpu_s, peak_rss_mb) of one `rclone sync`

A no-op sync (DST already equal) is what the no-op and memory cases compare syncd with: rclone
lists both sides and compares size and modification time, like syncd compares the local tree
with its journal and one listing per remote folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.core import Measured, PeerMissing, run_measured

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
