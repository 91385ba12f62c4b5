"""The reconcile helpers' former import path, still used by benchmarks/reconcile_10k.py (no tests
here). Tests import :mod:`tests.support.reconcile`, where ``write_config`` is ``pair_config``."""

from __future__ import annotations

from tests.support.reconcile import pair_config as write_config

__all__ = ["write_config"]
