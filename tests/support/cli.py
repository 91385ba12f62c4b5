"""The ``syncd`` command as users run it: ``python -m syncd ...`` in a real subprocess.

The environment is always clean: no ``SYNCD_*`` variable of the caller leaks in (it would
override the test's config), this checkout comes first on ``PYTHONPATH`` (whatever is installed),
and ``NO_COLOR`` keeps the output plain. With ``home``, ``HOME`` and the XDG config and state
directories point inside it, so a test can never read or write the user's real files.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from tests.support.leaks import assert_no_secrets

REPO = Path(__file__).resolve().parents[2]
DEADLINE = 60.0


def syncd_env(
    *, home: Path | None = None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of a syncd subprocess (see the module's docstring); ``extra`` last."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
    inherited = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + inherited if inherited else "")
    env["NO_COLOR"] = "1"
    if home is not None:
        env.update(
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_STATE_HOME=str(home / ".local" / "state"),
        )
    env.update(extra or {})
    return env


def syncd_command(*args: str, config: Path | None = None, module: str = "syncd") -> list[str]:
    """``python -m MODULE [--config FILE] ARGS`` with this interpreter."""
    options = ["--config", str(config)] if config is not None else []
    return [sys.executable, "-m", module, *options, *args]


def _cwd(cwd: Path | None, home: Path | None, config: Path | None) -> Path | None:
    # Relative paths in a test's arguments are meant relative to its own directory.
    if cwd is not None:
        return cwd
    if home is not None:
        return home
    return config.parent if config is not None else None


def run_syncd(
    *args: str,
    config: Path | None = None,
    home: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdin: str | None = None,
    timeout: float = DEADLINE,
    module: str = "syncd",
    check_secrets: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run the CLI to its end and return its exit code, stdout and stderr (text).

    Its stdout and stderr are scanned for secrets first (see :mod:`tests.support.leaks`): a leak
    fails whichever test caused it. ``check_secrets=False`` is for tests that print a secret on
    purpose (and assert on it themselves).
    """
    result = subprocess.run(
        syncd_command(*args, config=config, module=module),
        capture_output=True,
        text=True,
        env=syncd_env(home=home, extra=env),
        cwd=_cwd(cwd, home, config),
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )
    if check_secrets:
        assert_no_secrets(result.stdout, f"stdout of syncd {' '.join(args)}")
        assert_no_secrets(result.stderr, f"stderr of syncd {' '.join(args)}")
    return result


def start_syncd(
    *args: str,
    config: Path | None = None,
    log: Path | None = None,
    capture: bool = False,
    home: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    module: str = "syncd",
) -> subprocess.Popen[str]:
    """Start the CLI and return at once (to signal it, kill it, or watch it work).

    Its stdout and stderr go to the file ``log`` (appended), or to pipes with ``capture`` (then
    the caller must read them, or a chatty process blocks), or else nowhere.
    """
    command = syncd_command(*args, config=config, module=module)
    environment = syncd_env(home=home, extra=env)
    where = _cwd(cwd, home, config)
    with contextlib.ExitStack() as stack:
        out: int | IO[str] = subprocess.PIPE if capture else subprocess.DEVNULL
        err: int | IO[str] = out
        if log is not None:
            out = stack.enter_context(open(log, "a", encoding="utf-8"))
            err = subprocess.STDOUT
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=environment,
            cwd=where,
            text=True,
        )


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """Besides JSON log records, stderr holds exactly one line: ``syncd: error: ...``."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line and not line.startswith("{")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("syncd: error: "), lines[0]
    return lines[0]


def log_records(stderr: str) -> list[dict[str, object]]:
    """The JSON log records among ``stderr``'s lines (syncd logs JSON when not on a terminal)."""
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def tail(log: Path, lines: int = 40, title: str = "log") -> str:
    """The last ``lines`` lines of the file ``log`` under a title, for failure messages."""
    try:
        text = log.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return f"--- {title} (tail) ---\n" + "\n".join(text.splitlines()[-lines:])
