"""`config init`'s rendering: the packaged example with the answers filled in, valid for the
real loader, with every value escaped as TOML."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syncd.cli.config_init import (
    InitAnswers,
    example_text,
    field_problem,
    local_as_written,
    pair_name_for,
    render_config,
    toml_string,
    with_environment,
)
from syncd.config import load_config

KEY1 = "a" * 64
KEY2 = "b" * 64
ANSWERS = InitAnswers(
    api_url="https://files.example.com/api/v2/",
    auth="keys",
    key1=KEY1,
    key2=KEY2,
    username=None,
    password=None,
    name="docs",
    local="/srv/docs",
    remote="Backup/Docs",
    mode="backup",
)


def _load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, env={}, warn=False)


def test_keys_answers_render_a_valid_complete_file(tmp_path: Path) -> None:
    text = render_config(ANSWERS, now=datetime(2026, 12, 2, 11, 50, tzinfo=UTC))
    assert text.startswith("# syncd configuration, written by `syncd config init` on 2026-12-02")
    assert max(len(line) for line in text.splitlines()) <= 100
    config = _load(tmp_path, text)
    assert config.remote.credentials().key1 == KEY1
    pair = config.pair("docs")
    assert (pair.local, pair.remote, pair.mode, pair.ignore) == (
        Path("/srv/docs"),
        "Backup/Docs",
        "backup",
        (),
    )
    # Every section of the reference is there, commented as in the reference.
    for section in ("[remote]", "[state]", "[sync]", "[log]", "[daemon]", "[[pairs]]"):
        assert f"\n{section}\n" in text
    assert text.count("\n#") >= example_text().count("\n#") - 2


def test_password_answers_comment_the_keys_out(tmp_path: Path) -> None:
    answers = replace(ANSWERS, auth="password", key1=None, key2=None, username="me", password="p")
    text = render_config(answers)
    config = _load(tmp_path, text)
    assert config.remote.auth_method == "password"
    assert config.remote.credentials().password == "p"
    assert "\nkey1 =" not in text and '# key1 = "<64 characters>"' in text


@pytest.mark.parametrize(
    "value", ['say "hi"', "back\\slash", "tab\tnew\nline", "del\x7f", "ünïcode ☃", "ctl\x01"]
)
def test_toml_string_round_trips(value: str) -> None:
    assert tomllib.loads(f"v = {toml_string(value)}")["v"] == value


def test_odd_local_path_and_remote_survive(tmp_path: Path) -> None:
    answers = replace(ANSWERS, local='/srv/my "docs"\\x', remote="Back up/Ünï")
    config = _load(tmp_path, render_config(answers))
    assert config.pairs[0].local == Path('/srv/my "docs"\\x')
    assert config.pairs[0].remote == "Back up/Ünï"


def test_pair_name_from_the_directory() -> None:
    assert pair_name_for("~/My Documents/") == "My-Documents"
    assert pair_name_for("/") == "main"
    assert pair_name_for("/srv/ph.otos") == "ph.otos"


def test_local_path_kept_with_tilde_and_made_absolute_otherwise(tmp_path: Path) -> None:
    assert local_as_written("~/Documents") == "~/Documents"
    assert local_as_written("/srv/x") == "/srv/x"
    assert Path(local_as_written("rel")).is_absolute()


def test_field_problem_names_the_schema_rule() -> None:
    assert field_problem({"remote": {"api_url": "https://h/api/v2/"}}, "remote.api_url") is None
    problem = field_problem({"remote": {"api_url": "https://h/"}}, "remote.api_url")
    assert problem is not None and "does not end with /api/v2/" in problem
    problem = field_problem(
        {"remote": {"api_url": "https://h/api/v2/", "key1": "x"}}, "remote.key1"
    )
    assert problem is not None and problem.startswith("must be 64 characters, got 1")


def test_options_for_one_method_leave_the_other_methods_variables_unused(tmp_path: Path) -> None:
    key_file = tmp_path / "k2"
    key_file.write_text(KEY2 + "\n", encoding="utf-8")
    env = {"SYNCD_KEY1": KEY1, "SYNCD_KEY2_FILE": str(key_file), "SYNCD_PASSWORD": "pw"}
    assert with_environment({"username": "me"}, env) == {"username": "me", "password": "pw"}
    assert with_environment({"key1": "x"}, env) == {"key1": "x", "key2": KEY2}
    # No option: everything the environment has (init then refuses the mix in one line).
    assert with_environment({}, env) == {"key1": KEY1, "key2": KEY2, "password": "pw"}
