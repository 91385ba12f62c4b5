"""The daemon helpers' former import path, still used by benchmarks/daemon_idle.py and
benchmarks/daemon_latency.py. Tests import :mod:`tests.support.daemon`."""

from __future__ import annotations

from tests.support.daemon import DaemonProcess, wait_converged

__all__ = ["DaemonProcess", "wait_converged"]
