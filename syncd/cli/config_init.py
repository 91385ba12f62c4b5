"""`syncd config init`: a first config in one step.

The written file is the packaged example (`syncd config example`) with the user's host,
credentials and one pair filled in, so it documents every option exactly as the reference does
and cannot drift from it. Before anything is written the values are validated by the real
schema and checked with a real login; the file is created with mode 0600 and moved into place
atomically, so a failed init leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click

from syncd.errors import ConfigError, UserError

if TYPE_CHECKING:
    from syncd.cli.app import App

AuthMethod = Literal["keys", "password"]

# Schema key -> the `config init` option that sets it (errors name what the user typed).
OPTION_FOR_KEY = {
    "remote.api_url": "--api-url",
    "remote.key1": "--key1",
    "remote.key2": "--key2",
    "remote.username": "--username",
    "remote.password": "--password",
    "pairs[0].name": "--name",
    "pairs[0].local": "--local",
    "pairs[0].remote": "--remote",
    "pairs[0].mode": "--mode",
}
LOGIN_MAX_RETRY_TIME = 15.0
_PAIR_NAME_BAD = re.compile(r"[^A-Za-z0-9_.-]+")


def example_text() -> str:
    """The packaged example config: every option with its default (`syncd config example`)."""
    return files("syncd").joinpath("config.example.toml").read_text(encoding="utf-8")


@dataclass(frozen=True)
class InitAnswers:
    """Everything `config init` asks for; secrets are plain strings only in memory."""

    api_url: str
    auth: AuthMethod
    key1: str | None
    key2: str | None
    username: str | None
    password: str | None
    name: str
    local: str
    remote: str
    mode: str


# --------------------------------------------------------------------------------------------
# Rendering


def toml_string(value: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = ['"']
    for char in value:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char in "\b\t\n\f\r":
            out.append({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _set_key(lines: list[str], section: str, key: str, new_line: str) -> None:
    """Replace the first ``key = ...`` line (set or commented out) of the first ``section``.

    Raises if the example no longer has that line: a unit test renders the real example, so
    an edit of the example that breaks `config init` fails the tests, not a user."""
    start = lines.index(section) + 1
    pattern = re.compile(rf"^#?\s*{re.escape(key)} = ")
    for index in range(start, len(lines)):
        line = lines[index]
        if line.startswith("["):  # the next section
            break
        if pattern.match(line):
            lines[index] = new_line
            return
    raise AssertionError(f"the example config has no {key} line in {section}")


def render_config(answers: InitAnswers, *, now: datetime | None = None) -> str:
    """The example config with ``answers`` filled in (a complete, commented file)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    lines = example_text().splitlines()
    lines[0] = f"# syncd configuration, written by `syncd config init` on {stamp}."
    lines.insert(
        1, "# Every option is shown with its default; `syncd config example` prints the reference."
    )
    lines = [line for line in lines if "public demo keys" not in line]
    _set_key(lines, "[remote]", "api_url", f"api_url = {toml_string(answers.api_url)}")
    if answers.auth == "keys":
        assert answers.key1 is not None and answers.key2 is not None
        _set_key(lines, "[remote]", "key1", f"key1 = {toml_string(answers.key1)}")
        _set_key(lines, "[remote]", "key2", f"key2 = {toml_string(answers.key2)}")
    else:
        assert answers.username is not None and answers.password is not None
        _set_key(lines, "[remote]", "key1", '# key1 = "<64 characters>"')
        _set_key(lines, "[remote]", "key2", '# key2 = "<64 characters>"')
        _set_key(lines, "[remote]", "username", f"username = {toml_string(answers.username)}")
        _set_key(lines, "[remote]", "password", f"password = {toml_string(answers.password)}")
    _set_key(lines, "[[pairs]]", "name", f"name = {toml_string(answers.name)}")
    _set_key(lines, "[[pairs]]", "local", f"local = {toml_string(answers.local)}")
    _set_key(lines, "[[pairs]]", "remote", f"remote = {toml_string(answers.remote)}")
    _set_key(lines, "[[pairs]]", "mode", f"mode = {toml_string(answers.mode)}")
    _set_key(lines, "[[pairs]]", "ignore", "ignore = []")
    return "\n".join(lines) + "\n"


def pair_name_for(local: str) -> str:
    """A valid pair name from the local directory's name ('My Docs' -> 'My-Docs')."""
    base = Path(os.path.expanduser(local.rstrip("/"))).name
    name = _PAIR_NAME_BAD.sub("-", base).strip("-.")[:64]
    return name or "main"


def local_as_written(local: str) -> str:
    """The local path as the file should hold it: ``~`` kept (the config expands it),
    a relative path made absolute (the config would read it relative to its own directory)."""
    text = local.strip()
    if text.startswith("~") or os.path.isabs(text):
        return text
    return os.path.abspath(text)


# --------------------------------------------------------------------------------------------
# Validation: the real schema, on a partial config


def field_problem(raw: dict[str, object], key: str) -> str | None:
    """What the schema says about ``key`` in the partial config ``raw`` (None: valid)."""
    from pydantic import ValidationError

    from syncd.config import Config, _key_path

    try:
        Config.model_validate(raw, context={"base_dir": Path.cwd()})
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            if _key_path(tuple(error["loc"])) == key:
                return str(error["msg"]).removeprefix("Value error, ")
    return None


_BASE_REMOTE = {"api_url": "https://example.invalid/api/v2/"}


def _checker(key: str, build: Callable[[str], dict[str, object]]) -> Callable[[str], str]:
    """A click ``value_proc``: the answer, or BadParameter (click asks again)."""

    def check(value: str) -> str:
        problem = field_problem(build(value), key)
        if problem is not None:
            raise click.BadParameter(problem)
        return value

    return check


def _pair(**values: str) -> dict[str, object]:
    pair = {"name": "main", "local": "/", "remote": "x", **values}
    return {"remote": _BASE_REMOTE, "pairs": [pair]}


CHECKS: dict[str, Callable[[str], str]] = {
    "api_url": _checker("remote.api_url", lambda v: {"remote": {"api_url": v}}),
    "key1": _checker("remote.key1", lambda v: {"remote": {**_BASE_REMOTE, "key1": v}}),
    "key2": _checker("remote.key2", lambda v: {"remote": {**_BASE_REMOTE, "key2": v}}),
    "username": _checker("remote.username", lambda v: {"remote": {**_BASE_REMOTE, "username": v}}),
    "password": _checker("remote.password", lambda v: {"remote": {**_BASE_REMOTE, "password": v}}),
    "name": _checker("pairs[0].name", lambda v: _pair(name=v)),
    "remote": _checker("pairs[0].remote", lambda v: _pair(remote=v)),
}


# --------------------------------------------------------------------------------------------
# Asking


def _ask(text: str, key: str, *, default: str | None = None, hide: bool = False) -> str:
    # Hidden input needs a terminal; from a pipe nothing is echoed anyway, and getpass would
    # read the controlling terminal instead of the script's answers.
    hide = hide and sys.stdin.isatty()
    try:
        value: str = click.prompt(
            text, default=default, hide_input=hide, value_proc=CHECKS.get(key, str)
        )
    except click.Abort:  # EOF on stdin, or Ctrl-C
        raise UserError(
            f"no answer for {text!r} — run in a terminal, or pass {_option_for(key)} "
            "(`syncd config init --help` lists them)"
        ) from None
    return value


def _option_for(key: str) -> str:
    return {"api_url": "--api-url", "local": "--local", "auth": "--key1/--key2"}.get(
        key, f"--{key}"
    )


def with_environment(
    given: Mapping[str, str | None], env: Mapping[str, str]
) -> dict[str, str | None]:
    """The options, with the credentials they lack taken from where `syncd run` would read
    them (SYNCD_KEY1, SYNCD_KEY1_FILE, systemd credentials: :func:`secrets_from_environment`).
    Options for one method leave the other method's variables unused."""
    from syncd.config import secrets_from_environment

    out = dict(given)
    methods = (("key1", "key2"), ("username", "password"))
    chosen = [m for m in methods if any(given.get(k) for k in m)]
    for key, secret in secrets_from_environment(env).items():
        if not out.get(key) and (not chosen or any(key in m for m in chosen)):
            out[key] = secret.value
    return out


def gather_answers(given: Mapping[str, str | None]) -> InitAnswers:
    """The values from options and the environment; the missing ones are asked for."""
    api_url = given.get("api_url") or _ask("API URL of the host (ends in /api/v2/)", "api_url")
    keys_given = bool(given.get("key1") or given.get("key2"))
    login_given = bool(given.get("username") or given.get("password"))
    if keys_given and login_given:
        raise UserError(
            "both key1/key2 and username/password were given (options or SYNCD_* variables) — "
            "pass only the method your host uses"
        )
    auth: AuthMethod
    if keys_given:
        auth = "keys"
    elif login_given:
        auth = "password"
    else:
        try:
            chosen = click.prompt(
                "Sign in with API keys or username/password",
                type=click.Choice(["keys", "password"]),
                default="keys",
            )
        except click.Abort:
            raise UserError(
                "no answer for the sign-in method — pass --key1/--key2 or --username/--password"
            ) from None
        auth = "keys" if chosen == "keys" else "password"
    key1 = key2 = username = password = None
    if auth == "keys":
        key1 = given.get("key1") or _ask("key1 (64 characters, hidden)", "key1", hide=True)
        key2 = given.get("key2") or _ask("key2 (64 characters, hidden)", "key2", hide=True)
    else:
        username = given.get("username") or _ask("Username", "username")
        password = given.get("password") or _ask("Password (hidden)", "password", hide=True)
    local = given.get("local") or _ask("Local directory to sync", "local")
    local = local_as_written(local)
    name = given.get("name") or pair_name_for(local)
    remote = given.get("remote")
    if remote is None:
        remote = _ask("Remote folder (path from the account root)", "remote", default=name)
    mode = given.get("mode")
    if mode is None:
        try:
            mode = click.prompt(
                "Mode (mirror: the remote equals the local directory; backup: never delete "
                "remotely)",
                type=click.Choice(["mirror", "backup"]),
                default="mirror",
            )
        except click.Abort:
            raise UserError("no answer for the mode — pass --mode mirror|backup") from None
    return InitAnswers(
        api_url=api_url,
        auth=auth,
        key1=key1,
        key2=key2,
        username=username,
        password=password,
        name=name,
        local=local,
        remote=remote,
        mode=str(mode),
    )


# --------------------------------------------------------------------------------------------
# Writing


@contextlib.contextmanager
def private_temp_file(target: Path, text: str) -> Iterator[Path]:
    """``text`` in a mode-0600 file beside ``target``, removed on exit unless renamed."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    temp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)  # mkstemp's 0600 too, whatever the umask
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        yield temp
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def _validated(temp: Path, target: Path) -> object:
    """The written file through the full loader, exactly as `syncd config check` reads it
    (env={}: only the file counts). Errors name the option, not the temporary file."""
    from syncd.config import load_config

    try:
        return load_config(temp, env={}, warn=False)
    except ConfigError as exc:
        option = OPTION_FOR_KEY.get(exc.key or "")
        where = f"{option} ({exc.key})" if option else (exc.key or str(target))
        raise UserError(f"config init: {where}: {exc.problem} — {exc.fix}") from None


def run_init(app: App, given: Mapping[str, str | None], *, force: bool) -> int:
    """Ask, validate, log in, then write the config where `syncd config path` says."""
    from syncd.cli.account import show_account
    from syncd.config import resolve_config_path
    from syncd.errors import ExitCode

    app.configure_logging(None)  # the client logs through structlog
    target, _origin = resolve_config_path(app.config_path)
    if target.exists() and not force:
        raise UserError(
            f"{target} already exists — pass --force to overwrite it, or --config FILE to "
            "write another file"
        )
    answers = gather_answers(with_environment(given, os.environ))
    text = render_config(answers)
    with private_temp_file(target, text) as temp:
        config = _validated(temp, target)
        from syncd.config import Config

        assert isinstance(config, Config)
        click.echo(f"logging in to {config.remote.api_url} ...")
        retry = min(config.remote.max_retry_time, LOGIN_MAX_RETRY_TIME)
        with app.open_client(config, max_retry_time=retry) as client:
            show_account(client, config.remote.api_url)
        os.replace(temp, target)
    click.echo(f"wrote {target} (mode 600)")
    pair = config.pairs[0]
    if not pair.local.is_dir():
        click.echo(f"note: {pair.local} does not exist yet: create it before syncing")
    click.echo("next: `syncd config check`, then `syncd reconcile --dry-run` to see the first pass")
    sys.stdout.flush()
    return ExitCode.OK
