"""Whether the emulator's web stack is installed, and how to install it when it is not.

The daemon never serves the host's API, so starlette, uvicorn and python-multipart are the
optional extra ``emulator`` (``pip install '.[emulator]'``): a NAS or systemd install carries no
web framework it does not run. ``syncd emulator`` and ``syncd demo`` need them; without them
they should stop with one line naming the missing packages and the command that installs them,
not with a ``ModuleNotFoundError`` traceback from deep inside uvicorn.

The check uses :func:`importlib.util.find_spec`, which locates a module without importing it.
It lives in the CLI: the emulator package imports only itself (docs/architecture.md, "Import
rules").
"""

from __future__ import annotations

import importlib.util
import json
import shlex
import sys
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

from syncd.errors import ExitCode, UserError

# Import name -> distribution name, for what the emulator cannot start without. httptools is in
# the extra too, but uvicorn falls back to h11 without it (the emulator is ~30 % slower, still
# correct), so its absence is not an error.
REQUIRED_MODULES: dict[str, str] = {
    "starlette": "starlette",
    "uvicorn": "uvicorn",
    "python_multipart": "python-multipart",
}


class EmulatorPackagesMissing(UserError):
    """The emulator's optional dependencies are not installed (the CLI prints one line, exit 2)."""

    exit_code = ExitCode.USAGE


def missing_emulator_packages() -> list[str]:
    """Distribution names of the emulator's required packages that cannot be imported."""
    return [dist for module, dist in REQUIRED_MODULES.items() if not _importable(module)]


def emulator_install_command() -> str:
    """The command that adds the ``emulator`` extra to the installation syncd runs from.

    It uses this interpreter's pip (``<python> -m pip``), so it lands in the same venv or pipx
    environment rather than in whatever ``pip`` is first on PATH. When syncd was installed from
    a local checkout (the usual case: it is not on PyPI under this name), the checkout's path is
    named, with ``-e`` if the install was editable.
    """
    source, editable = _install_source()
    target = shlex.quote(f"{source}[emulator]")
    return f"{shlex.quote(sys.executable)} -m pip install {'-e ' if editable else ''}{target}"


def require_emulator_packages() -> None:
    """Raise :class:`EmulatorPackagesMissing` (a one-line UserError) unless the emulator can run.

    Call it first in any command that starts the emulator (``syncd emulator``, ``syncd demo``).
    """
    missing = missing_emulator_packages()
    if missing:
        raise EmulatorPackagesMissing(
            f"the emulator needs extra packages that are not installed ({', '.join(missing)})"
            f" — install them with: {emulator_install_command()}"
        )


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or half-removed package counts as missing
        return False


def _install_source() -> tuple[str, bool]:
    """(what to give pip, whether editable): the local checkout when known, else ``syncd``."""
    try:
        raw = metadata.distribution("syncd").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        raw = None
    if raw:
        try:
            info = json.loads(raw)
        except ValueError:
            info = {}
        url = urlparse(str(info.get("url", "")))
        if url.scheme == "file" and "dir_info" in info:
            editable = bool(info["dir_info"].get("editable", False))
            return unquote(url.path), editable
    if raw is None:
        # Not installed at all: running from a source tree on sys.path.
        root = Path(__file__).resolve().parents[2]
        if (root / "pyproject.toml").is_file():
            return str(root), True
    return "syncd", False
