"""The README's set-up command installs syncd where users are: on a distribution's own Python.

Debian 12, Ubuntu 24.04 and their successors mark their Python EXTERNALLY-MANAGED (PEP 668):
`pip install` outside a virtual environment is refused. These tests take the first command of
README.md *as written there* (so they follow the README, not a copy of it), run its install part
with such a Python in a fresh clone of this repository, and check that the installed `syncd`
runs. Then, in that same environment (a second install would cost another minute of pip), the
`emulator` extra is removed: what remains must be a working daemon install, and the one-line
hint for the missing extra must name a command that really brings it back.

pip may use this machine's cache and PyPI; nothing else leaves the machine.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# pip resolving and installing the dependencies, with a warm cache, takes under a minute here; a
# cold cache on a slow mirror takes a few. Bounded either way.
INSTALL_TIMEOUT = 420

# Asks a Python whether it refuses pip outside a venv, and whether it can make a venv with pip
# (Debian's python3 cannot until `python3-venv` is installed).
_PROBE = """
import importlib.util, json, os, sys, sysconfig
print(json.dumps({
    "marker": os.path.isfile(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")),
    "version": list(sys.version_info[:2]),
    "prefix": sys.prefix,
    "in_venv": sys.prefix != sys.base_prefix,
    "ensurepip": importlib.util.find_spec("ensurepip") is not None,
    "pip": importlib.util.find_spec("pip") is not None,
}))
"""


def _probe(python: str) -> dict[str, object] | None:
    try:
        done = subprocess.run(
            [python, "-c", _PROBE], capture_output=True, text=True, timeout=60, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return json.loads(done.stdout)


def find_externally_managed_python() -> tuple[Path, dict[str, object]]:
    """The first Python 3.11+ here that carries the EXTERNALLY-MANAGED marker; skips if none."""
    candidates = ["/usr/bin/python3", shutil.which("python3"), sys.executable]
    looked: list[str] = []
    for candidate in dict.fromkeys(c for c in candidates if c):
        looked.append(candidate)
        info = _probe(candidate)
        if not info or not info["marker"] or info["in_venv"]:
            continue
        if tuple(info["version"]) < (3, 11):  # type: ignore[arg-type]
            continue
        if not info["ensurepip"]:
            pytest.skip(
                f"{candidate} is externally managed but has no venv support: install python3-venv"
            )
        return Path(candidate), info
    pytest.skip(
        "no Python 3.11+ with the EXTERNALLY-MANAGED marker (PEP 668) here; looked at "
        + ", ".join(looked)
    )


def readme_first_command() -> str:
    """The first command of README.md: the first line of its first ```sh block."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^```sh\n(.+?)\n```", text, flags=re.M | re.S)
    assert match, "README.md has no ```sh block"
    lines = match.group(1).splitlines()
    assert len(lines) == 1, f"the README's first command should be one line, got {lines}"
    return lines[0]


def install_part(command: str) -> str:
    """The steps of a `a && b && c` command up to and including its `pip install`."""
    steps = [step.strip() for step in command.split("&&")]
    for i, step in enumerate(steps):
        if re.search(r"\bpip\b.*\binstall\b", step):
            return " && ".join(steps[: i + 1])
    raise AssertionError(f"no pip install step in the README's first command: {command!r}")


def project_version(root: Path) -> str:
    with (root / "pyproject.toml").open("rb") as fh:
        return str(tomllib.load(fh)["project"]["version"])


def base_env(path_first: Path | None = None) -> dict[str, str]:
    """This environment minus what would hide the test's point (a forced pip, a venv)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PIP_BREAK_SYSTEM_PACKAGES", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}
    }
    if path_first is not None:
        env["PATH"] = f"{path_first}{os.pathsep}{env.get('PATH', '')}"
    return env


def fresh_clone(tmp_path: Path) -> Path:
    """A fresh `git clone` of this repository's HEAD: what a user gets, without local leftovers."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs git and a git checkout of syncd")
    dest = tmp_path / "syncd"
    subprocess.run(
        ["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(dest)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return dest


def _read_ready_line(proc: subprocess.Popen[str], deadline: float) -> str:
    """The emulator's `READY http://...` line, or whatever it printed before dying."""
    assert proc.stdout is not None
    seen: list[str] = []
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                break
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if line.startswith("READY "):
                return line.strip()
    raise AssertionError(f"the emulator printed no READY line: {''.join(seen)!r}")


def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    kwargs.setdefault("timeout", 120)
    return subprocess.run(args, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]


@pytest.mark.timeout(2 * INSTALL_TIMEOUT + 180)
def test_readme_install_on_an_externally_managed_python(tmp_path: Path) -> None:
    python, info = find_externally_managed_python()
    clone = fresh_clone(tmp_path)
    command = readme_first_command()
    install = install_part(command)
    assert "--break-system-packages" not in command

    # `python3` in the README's command must be the externally managed one.
    if python.name == "python3":
        bin_dir = python.parent
    else:
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        (bin_dir / "python3").symlink_to(python)
    env = base_env(path_first=bin_dir)
    assert Path(shutil.which("python3", path=env["PATH"]) or "").parent == bin_dir

    if info["pip"]:
        # The premise: this Python refuses a plain pip install (--dry-run: changes nothing even
        # if it did not refuse).
        refused = _run(
            ["python3", "-m", "pip", "install", "--dry-run", "--no-deps", "-e", "."],
            cwd=clone,
            env=env,
        )
        assert refused.returncode != 0
        assert "externally-managed-environment" in refused.stdout + refused.stderr

    done = _run(["/bin/sh", "-c", install], cwd=clone, env=env, timeout=INSTALL_TIMEOUT)
    assert done.returncode == 0, (
        f"`{install}` failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )

    venv_bin = clone / ".venv" / "bin"
    py = str(venv_bin / "python")
    syncd_bin = str(venv_bin / "syncd")
    base = _run([py, "-c", "import sys; print(sys.base_prefix)"], check=True)
    assert base.stdout.strip() == info["prefix"], "the venv was not made from the managed Python"
    env = base_env()
    version = _run([syncd_bin, "--version"], cwd=tmp_path, env=env)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"syncd {project_version(clone)}"

    # Without the emulator extra: a daemon install. Everything the daemon and the CLI import
    # still loads, and the web stack is really gone.
    extra = ["starlette", "uvicorn", "httptools", "python-multipart"]
    removed = _run([py, "-m", "pip", "uninstall", "--yes", "--quiet", *extra], env=env)
    assert removed.returncode == 0, removed.stderr
    probe = _run(
        [
            py,
            "-c",
            "import syncd.cli.main, syncd.daemon.backend, syncd.daemon.metrics; import starlette",
        ]
    )
    assert "No module named 'starlette'" in probe.stderr, probe.stderr
    assert _run([syncd_bin, "--version"], env=env).returncode == 0

    hint = _run(
        [
            py,
            "-c",
            "import sys\n"
            "from syncd.errors import UserError\n"
            "from syncd.cli.extras import require_emulator_packages\n"
            "try:\n"
            "    require_emulator_packages()\n"
            "except UserError as exc:\n"
            "    print(exc, file=sys.stderr)\n"
            "    sys.exit(exc.exit_code)\n",
        ],
        env=env,
    )
    assert hint.returncode == 2
    message = hint.stderr.strip()
    assert "\n" not in message
    assert all(name in message for name in ("starlette", "uvicorn", "python-multipart"))
    assert " — install them with: " in message
    fix = shlex.split(message.split(" — install them with: ", 1)[1])
    assert fix[:4] == [py, "-m", "pip", "install"], fix

    # The hint is a command that really fixes it: run it as printed, then the emulator starts.
    fixed = _run(fix, env=env, timeout=INSTALL_TIMEOUT)
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    proc = subprocess.Popen(
        [syncd_bin, "emulator", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        ready = _read_ready_line(proc, time.monotonic() + 60)
        assert re.fullmatch(r"READY http://127\.0\.0\.1:\d+/api/v2/", ready), ready
    finally:
        proc.terminate()
        proc.wait(timeout=30)
