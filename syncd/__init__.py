"""syncd: keep a folder on a YetiShare-style file host identical to a local directory."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path


def _version() -> str:
    """The version in pyproject.toml, the only place it is written.

    Installed (also editable): from the distribution's metadata. Run from a source tree that
    was never installed: read from that tree's pyproject.toml, so the answer is still right.
    """
    try:
        return metadata.version("syncd")
    except metadata.PackageNotFoundError:
        pass
    try:
        import tomllib

        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        with pyproject.open("rb") as fh:
            return str(tomllib.load(fh)["project"]["version"])
    except (OSError, ValueError, KeyError):
        return "0+unknown"


__version__ = _version()
