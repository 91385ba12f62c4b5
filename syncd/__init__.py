"""syncd: keep a folder on a YetiShare-style file host identical to a local directory."""

from __future__ import annotations

import functools
from pathlib import Path


@functools.cache
def version() -> str:
    """The version in pyproject.toml, the only place it is written.

    Installed (also editable): from the distribution's metadata. Run from a source tree that
    was never installed: read from that tree's pyproject.toml, so the answer is still right.
    """
    # importlib.metadata costs tens of milliseconds to import: only when the version is asked.
    from importlib import metadata

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


def __getattr__(name: str) -> str:
    if name == "__version__":
        return version()
    raise AttributeError(f"module 'syncd' has no attribute {name!r}")
