"""One module per case, each exposing ``CASE`` (see benchmarks/core.py)."""
