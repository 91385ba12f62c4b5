"""The command line: one module per command family, loaded only when its command runs."""

from syncd.cli.main import main

__all__ = ["main"]
