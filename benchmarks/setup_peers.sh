#!/usr/bin/env bash
# Install the peer tools the benchmarks compare syncd with, from Debian packages:
# rclone (no-op and memory cases; the no-op case also runs its `rclone serve webdav`, part of
# Debian's rclone), syncthing (initial sync, latency, idle), lsyncd (latency, idle).
# Idempotent: installs only what is missing, so running it again changes nothing.
# Needs root (or sudo) for apt-get. A peer that stays missing is reported by name by the runner.
# `--profile` needs py-spy, from PyPI rather than Debian: `pip install py-spy`.
set -euo pipefail

check_rclone_webdav() {
    if command -v rclone >/dev/null 2>&1 && ! rclone serve webdav --help >/dev/null 2>&1; then
        echo "warning: this rclone has no 'serve webdav': the noop case reports rclone_webdav missing" >&2
    fi
}
trap check_rclone_webdav EXIT

want=(rclone syncthing lsyncd)
missing=()
for tool in "${want[@]}"; do
    if command -v "$tool" >/dev/null 2>&1; then
        echo "ok: $tool ($(command -v "$tool"))"
    else
        missing+=("$tool")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "all peers installed"
    exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo=(sudo); else
        echo "need root to install: ${missing[*]} (re-run as root)" >&2
        exit 1
    fi
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
for tool in "${missing[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || { echo "still missing: $tool" >&2; exit 1; }
done
echo "all peers installed"
