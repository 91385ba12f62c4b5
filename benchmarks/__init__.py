"""Reproducible benchmarks of syncd against the limits and the peers: `python -m benchmarks`."""
