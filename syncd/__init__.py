"""syncd: keep a folder on a YetiShare-style file host identical to a local directory."""

__version__ = "0.1.0"
