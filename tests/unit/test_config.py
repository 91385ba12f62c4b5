"""Config loading and validation: every error is one line naming file, key, problem and fix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from syncd.config import (
    Config,
    MaxDelete,
    default_state_path,
    load_config,
    normalise_remote_path,
    parse_max_delete,
    resolve_config_path,
)
from syncd.errors import ConfigError, ExitCode
from syncd.logging import REDACTED, forget_secrets, redact_text
from syncd.remote.credentials import Credentials

REPO = Path(__file__).resolve().parents[2]
KEY1 = "a1" * 32
KEY2 = "b2" * 32
REMOTE = f'[remote]\napi_url = "https://host.example/api/v2/"\nkey1 = "{KEY1}"\nkey2 = "{KEY2}"\n'
PAIR = '[[pairs]]\nname = "docs"\nlocal = "docs"\nremote = "Backup/Docs"\n'


@pytest.fixture(autouse=True)
def _clean_secrets() -> Iterator[None]:
    forget_secrets()
    yield
    forget_secrets()


def write(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None, **kw: object) -> Config:
    return load_config(write(tmp_path, text), env=env or {}, **kw)  # type: ignore[arg-type]


def error_of(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text, env)
    return info.value


def assert_one_line(err: ConfigError, file: Path, key: str | None) -> None:
    message = str(err)
    assert "\n" not in message
    prefix = f"config error: {file}: {key}: " if key else f"config error: {file}: "
    assert message.startswith(prefix), message
    assert " — " in message, "every error names a fix after the dash"
    assert err.exit_code == ExitCode.USAGE == 2


# ---- a valid file and its defaults -----------------------------------------------------------


def test_minimal_config_gets_documented_defaults(tmp_path: Path) -> None:
    config = load(tmp_path, REMOTE + PAIR)
    assert config.source == tmp_path / "config.toml"
    assert config.remote.api_url == "https://host.example/api/v2/"
    assert config.remote.allow_insecure_http is False
    assert config.remote.verify_tls is True
    assert config.remote.timeout == 30.0
    assert config.remote.max_retry_time == 120.0
    assert config.remote.auth_method == "keys"
    assert config.state.path == default_state_path()
    assert config.sync.workers == 16
    assert config.sync.max_delete == MaxDelete(percent=50.0)
    assert config.sync.quiet_period == 0.5
    assert config.sync.reconcile_interval == 900
    assert config.sync.follow_symlinks is False
    assert (config.log.level, config.log.format, config.log.file) == ("info", "auto", None)
    pair = config.pair("docs")
    assert pair.local == tmp_path / "docs"  # relative to the config file's directory
    assert pair.remote == "Backup/Docs"
    assert pair.remote_parts == ("Backup", "Docs")
    assert pair.mode == "mirror"
    assert pair.ignore == ()
    assert config.warnings == ()


def test_full_config_with_every_option(tmp_path: Path) -> None:
    text = (
        REMOTE
        + "allow_insecure_http = true\nverify_tls = true\ntimeout = 5\nmax_retry_time = 0\n"
        + '[state]\npath = "~/st/state.db"\n'
        + "[sync]\nworkers = 3\nmax_delete = 25\nquiet_period = 0\nreconcile_interval = 60\n"
        + "follow_symlinks = true\n"
        + '[log]\nlevel = "DEBUG"\nformat = "json"\nfile = "logs/syncd.log"\n'
        + '[[pairs]]\nname = "a.b_c-1"\nlocal = "/srv/a"\nremote = "/"\nmode = "backup"\n'
        + 'ignore = ["*.tmp", "node_modules/", "!keep.tmp"]\n'
    )
    config = load(tmp_path, text)
    assert config.remote.timeout == 5.0
    assert config.state.path == Path.home() / "st" / "state.db"
    assert config.sync.max_delete == MaxDelete(count=25)
    assert config.sync.workers == 3
    assert config.log.level == "debug"
    assert config.log.file == tmp_path / "logs" / "syncd.log"
    pair = config.pair("a.b_c-1")
    assert (pair.remote, pair.remote_parts, pair.mode) == ("", (), "backup")
    assert pair.ignore == ("*.tmp", "node_modules/", "!keep.tmp")


def test_api_url_gets_its_trailing_slash(tmp_path: Path) -> None:
    config = load(tmp_path, REMOTE.replace("/api/v2/", "/api/v2"))
    assert config.remote.api_url == "https://host.example/api/v2/"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Backup/Docs", "Backup/Docs"),
        ("/Backup//Docs/", "Backup/Docs"),
        ("", ""),
        ("/", ""),
        ("  Photos  ", "Photos"),
        ("Ünïcode/名前", "Ünïcode/名前"),
    ],
)
def test_remote_path_normalisation(given: str, expected: str) -> None:
    assert normalise_remote_path(given) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (0, MaxDelete(count=0)),
        (100, MaxDelete(count=100)),
        ("100", MaxDelete(count=100)),
        ("50%", MaxDelete(percent=50.0)),
        ("12.5 %", MaxDelete(percent=12.5)),
        ("0%", MaxDelete(percent=0.0)),
    ],
)
def test_max_delete_parsing(given: object, expected: MaxDelete) -> None:
    assert parse_max_delete(given) == expected


def test_max_delete_limits() -> None:
    assert MaxDelete(percent=50).limit(10) == 5
    assert MaxDelete(percent=50).allows(5, 10) and not MaxDelete(percent=50).allows(6, 10)
    assert MaxDelete(count=3).limit(1000) == 3
    assert str(MaxDelete(percent=50.0)) == "50%" and str(MaxDelete(count=7)) == "7"


def test_dump_round_trips_and_hides_secrets(tmp_path: Path) -> None:
    config = load(tmp_path, REMOTE + '[sync]\nmax_delete = "20%"\n' + PAIR)
    dumped = config.model_dump(mode="json")
    assert dumped["sync"]["max_delete"] == "20%"
    assert KEY1 not in config.model_dump_json() and KEY2 not in str(dumped)
    assert type(config).model_validate(config.model_dump()).sync == config.sync


def test_example_config_parses() -> None:
    config = load_config(REPO / "syncd" / "config.example.toml", env={}, warn=False)
    assert config.pair("documents").ignore == ("*.tmp", "node_modules/")
    assert config.sync.max_delete == MaxDelete(percent=50.0)


def test_credentials_from_keys_and_from_password(tmp_path: Path) -> None:
    config = load(tmp_path, REMOTE)
    assert config.remote.credentials() == Credentials(key1=KEY1, key2=KEY2)
    text = '[remote]\napi_url = "https://h/api/v2/"\nusername = "me"\npassword = "pw-123456"\n'
    config = load(tmp_path, text)
    assert config.remote.auth_method == "password"
    assert config.remote.credentials() == Credentials(username="me", password="pw-123456")


def test_secrets_never_in_repr_and_are_registered_for_redaction(tmp_path: Path) -> None:
    config = load(tmp_path, REMOTE)
    for text in (repr(config), str(config), repr(config.remote), repr(config.remote.credentials())):
        assert KEY1 not in text and KEY2 not in text
    assert redact_text(f"x {KEY1} y {KEY2}") == f"x {REDACTED} y {REDACTED}"


# ---- environment ------------------------------------------------------------------------------


def test_env_overrides_keys_in_the_file(tmp_path: Path) -> None:
    env_key1, env_key2 = "c3" * 32, "d4" * 32
    config = load(tmp_path, REMOTE, env={"SYNCD_KEY1": env_key1, "SYNCD_KEY2": env_key2 + "\n"})
    assert config.remote.credentials() == Credentials(key1=env_key1, key2=env_key2)


def test_env_alone_supplies_credentials(tmp_path: Path) -> None:
    text = '[remote]\napi_url = "https://h/api/v2/"\n'
    config = load(tmp_path, text, env={"SYNCD_USERNAME": "me", "SYNCD_PASSWORD": "secret-pw"})
    assert config.remote.credentials() == Credentials(username="me", password="secret-pw")


def test_bad_env_key_is_named_as_coming_from_env(tmp_path: Path) -> None:
    err = error_of(tmp_path, REMOTE, env={"SYNCD_KEY1": "short"})
    assert_one_line(err, tmp_path / "config.toml", "remote.key1 (from SYNCD_KEY1)")
    assert "64 characters, got 5" in str(err)


def test_config_file_from_env_then_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, REMOTE)
    assert resolve_config_path(None, {"SYNCD_CONFIG": str(path)}) == (path, "SYNCD_CONFIG")
    assert load_config(env={"SYNCD_CONFIG": str(path)}).source == path
    explicit = tmp_path / "other.toml"
    assert resolve_config_path(explicit, {"SYNCD_CONFIG": str(path)}) == (explicit, "--config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    default, origin = resolve_config_path(None, {})
    assert (default, origin) == (tmp_path / "xdg" / "syncd" / "config.toml", "default")


# ---- errors: one line each, with file, key and fix ------------------------------------------

ERROR_CASES = [
    # (file text, key path, fragment of the message)
    (
        "colour = 1\n" + REMOTE,
        "colour",
        "unknown key — check the spelling; valid keys here: remote",
    ),
    (REMOTE + "tiemout = 3\n", "remote.tiemout", "valid keys here: api_url, key1"),
    (REMOTE + "[sync]\nworker = 3\n", "sync.worker", "valid keys here: workers"),
    (REMOTE + PAIR + "locl = 1\n", "pairs[0].locl", "valid keys here: name, local"),
    ("[remote]\nkey1 = 1\n", "remote.api_url", "required key is missing"),
    ('[state]\npath = "x"\n', "remote", "required key is missing"),
    (REMOTE + '[[pairs]]\nname = "a"\nremote = "x"\n', "pairs[0].local", "missing"),
    (REMOTE.replace("/api/v2/", "/api/"), "remote.api_url", "does not end with /api/v2/"),
    (REMOTE.replace("https://", "ftp://"), "remote.api_url", "is not an http(s) URL"),
    (REMOTE.replace("https://", "http://"), "remote.api_url", "would send your keys in clear"),
    (REMOTE + 'timeout = "30"\n', "remote.timeout", "expected a number"),
    (REMOTE + "timeout = 0\n", "remote.timeout", "must be greater than 0"),
    (REMOTE + 'verify_tls = "no"\n', "remote.verify_tls", "expected true or false"),
    (REMOTE + "[sync]\nworkers = 0\n", "sync.workers", "greater than or equal to 1"),
    (REMOTE + "[sync]\nworkers = 2.5\n", "sync.workers", "expected a whole number"),
    (REMOTE + '[sync]\nmax_delete = "lots"\n', "sync.max_delete", "count or a percent"),
    (REMOTE + '[sync]\nmax_delete = "150%"\n', "sync.max_delete", "between 0 and 100"),
    (REMOTE + "[sync]\nmax_delete = -1\n", "sync.max_delete", "must not be negative"),
    (REMOTE + "[sync]\nmax_delete = true\n", "sync.max_delete", "count or a percent"),
    (REMOTE + '[log]\nlevel = "loud"\n', "log.level", "is not a log level"),
    (REMOTE + '[log]\nformat = "xml"\n', "log.format", "is not a log format"),
    (REMOTE + "sync = 3\n", "remote.sync", "unknown key"),
    (REMOTE + "[sync]\nx = 3\n", "sync.x", "unknown key"),
    (REMOTE + "[pairs]\nname = 'a'\n", "pairs", "[[pairs]]"),
    (REMOTE + PAIR.replace('"docs"', '"my docs"'), "pairs[0].name", "not a valid pair name"),
    (REMOTE + PAIR.replace("Backup/Docs", "Backup/../x"), "pairs[0].remote", "'..'"),
    (REMOTE + PAIR.replace("Backup/Docs", "Backup/ Docs"), "pairs[0].remote", "trims"),
    (REMOTE + PAIR.replace("Backup/Docs", "A<b>B"), "pairs[0].remote", "strips as HTML"),
    (REMOTE + PAIR + 'mode = "sync"\n', "pairs[0].mode", "must be 'mirror' or 'backup'"),
    (REMOTE + PAIR + 'ignore = "*.tmp"\n', "pairs[0].ignore", "list of patterns"),
    (REMOTE + PAIR + "ignore = [1]\n", "pairs[0].ignore", "not a string"),
    (REMOTE + PAIR.replace('"docs"\nlocal = "docs"', '"d"\nlocal = 5'), "pairs[0].local", "path"),
    (REMOTE + PAIR + PAIR, "pairs[1].name", "already used by pairs[0]"),
    (
        REMOTE + PAIR + PAIR.replace('"docs"', '"sub"').replace("Backup/Docs", "/Backup/Docs/x"),
        "pairs[1].remote",
        '"/Backup/Docs/x" overlaps "/Backup/Docs" of pair \'docs\'',
    ),
    (
        REMOTE + PAIR + PAIR.replace('"docs"', '"all"').replace("Backup/Docs", ""),
        "pairs[1].remote",
        "own remote folder",
    ),
    (REMOTE + 'key1 = "x"\n', "line 5, column 11", "TOML syntax error"),
    (REMOTE.replace(f'key1 = "{KEY1}"', 'key1 = "short"'), "remote.key1", "64 characters"),
    (REMOTE.replace(f'key2 = "{KEY2}"\n', ""), "remote.key2", "missing while key1 is set"),
    (REMOTE + 'username = "me"\npassword = "pw"\n', "remote", "both key1/key2 and username"),
    ('[remote]\napi_url = "https://h/api/v2/"\nusername = "me"\n', "remote.password", "missing"),
    ('[remote]\napi_url = "https://h/api/v2/"\n', "remote", "no credentials"),
]


@pytest.mark.parametrize(("text", "key", "fragment"), ERROR_CASES, ids=[c[1] for c in ERROR_CASES])
def test_every_error_is_one_line_with_file_key_and_fix(
    tmp_path: Path, text: str, key: str | None, fragment: str | None
) -> None:
    err = error_of(tmp_path, text)
    file = tmp_path / "config.toml"
    assert_one_line(err, file, key)
    assert fragment in str(err), str(err)
    assert KEY1 not in str(err) and KEY2 not in str(err)


def test_toml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    err = error_of(tmp_path, '[remote]\napi_url = "https://h/api/v2/\n')
    assert_one_line(err, tmp_path / "config.toml", "line 2, column 29")
    assert "TOML syntax error" in str(err)


def test_bad_key_value_is_never_echoed(tmp_path: Path) -> None:
    secret = "x" * 63 + "!"  # 64 chars: valid length; make it a wrong *type* instead
    err = error_of(tmp_path, REMOTE.replace(f'"{KEY1}"', "[1, 2]") + f'password = "{secret}"\n')
    assert "remote.key1" in str(err) and secret not in str(err) and "[1, 2]" not in str(err)


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_config(missing, env={})
    assert_one_line(info.value, missing, None)
    assert "config file not found — check the path given to --config" in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_config(env={"SYNCD_CONFIG": str(missing)})
    assert "$SYNCD_CONFIG" in str(info.value)


def test_directory_and_non_utf8(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path, env={})
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b'[remote]\napi_url = "\xff"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(bad, env={})


def test_unknown_pair_lists_known_names_and_require_pairs(tmp_path: Path) -> None:
    photos = PAIR.replace('"docs"', '"photos"').replace("Backup/Docs", "Backup/Docs2")
    config = load(tmp_path, REMOTE + PAIR + photos)
    with pytest.raises(ConfigError) as info:
        config.pair("music")
    assert_one_line(info.value, tmp_path / "config.toml", "pairs")
    assert "no pair named 'music' — use one of: docs, photos" in str(info.value)
    assert [p.name for p in config.select_pairs(None)] == ["docs", "photos"]
    assert config.select_pairs("photos") == (config.pair("photos"),)
    empty = load(tmp_path, REMOTE)
    with pytest.raises(ConfigError, match=r"no \[\[pairs\]\] defined"):
        empty.require_pairs()


def test_credentials_optional_for_commands_that_do_not_talk_to_the_host(tmp_path: Path) -> None:
    config = load(tmp_path, '[remote]\napi_url = "https://h/api/v2/"\n', require_credentials=False)
    with pytest.raises(ConfigError, match="no complete set of credentials"):
        config.remote.credentials()


def test_loopback_http_is_allowed_and_insecure_http_can_be_opted_into(tmp_path: Path) -> None:
    for host in ("127.0.0.1:8765", "localhost", "[::1]:9000"):
        load(tmp_path, REMOTE.replace("https://host.example", f"http://{host}"))
    text = REMOTE.replace("https://", "http://") + "allow_insecure_http = true\n"
    assert load(tmp_path, text).remote.allow_insecure_http


# ---- warnings ---------------------------------------------------------------------------------


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]


def test_warns_when_file_with_keys_is_readable_by_others(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, REMOTE, mode=0o644)
    config = load_config(path, env={})
    warnings = _warnings(caplog)
    assert len(warnings) == 1
    assert f"chmod 600 {path}" in warnings[0]
    assert "key1/key2" in warnings[0]
    assert config.warnings == (warnings[0],)


def test_no_permission_warning_for_private_file_or_secrets_from_env(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    load(tmp_path, REMOTE)  # mode 600
    path = write(tmp_path, '[remote]\napi_url = "https://h/api/v2/"\n', mode=0o644)
    load_config(path, env={"SYNCD_KEY1": KEY1, "SYNCD_KEY2": KEY2})
    assert _warnings(caplog) == []


def test_tls_verification_off_warns_every_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = REMOTE + "verify_tls = false\n"
    for _ in range(2):
        caplog.clear()
        load(tmp_path, text)
        assert any("TLS certificate verification is DISABLED" in m for m in _warnings(caplog))


def test_warnings_can_be_deferred(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = load_config(write(tmp_path, REMOTE, mode=0o640), env={}, warn=False)
    assert _warnings(caplog) == []
    config.log_warnings()
    assert len(_warnings(caplog)) == 1


def test_structlog_is_left_usable() -> None:
    structlog.get_logger("t").info("still fine")
