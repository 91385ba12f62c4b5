"""Config checks that once let a mistake through: an IPv4 loopback written short (``127.1``)
was refused as plain http to a remote host, and two pairs on the same (or nested) local
directories were accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.config import load_config
from syncd.errors import ConfigError

KEYS = f'key1 = "{"a1" * 32}"\nkey2 = "{"b2" * 32}"\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.mark.parametrize(
    ("host", "canonical"),
    [("127.1", "127.0.0.1"), ("127.0.1", "127.0.0.1"), ("0x7f.1", "127.0.0.1")],
)
def test_short_ipv4_loopback_is_loopback(tmp_path: Path, host: str, canonical: str) -> None:
    text = f'[remote]\napi_url = "http://{host}:8765/api/v2/"\n{KEYS}'
    config = load_config(write(tmp_path, text), env={})
    assert config.remote.is_loopback
    # Written out in full, so every part of syncd (and the client's own URL check) agrees.
    assert config.remote.api_url == f"http://{canonical}:8765/api/v2/"


def test_short_ipv4_elsewhere_is_still_refused(tmp_path: Path) -> None:
    text = f'[remote]\napi_url = "http://10.1:8765/api/v2/"\n{KEYS}'
    with pytest.raises(ConfigError, match="plain http to a non-loopback host"):
        load_config(write(tmp_path, text), env={})


def pairs_config(tmp_path: Path, first: str, second: str) -> Path:
    return write(
        tmp_path,
        f'[remote]\napi_url = "https://host.example/api/v2/"\n{KEYS}'
        f'[[pairs]]\nname = "docs"\nlocal = "{first}"\nremote = "A"\n'
        f'[[pairs]]\nname = "work"\nlocal = "{second}"\nremote = "B"\n',
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("data", "data"),  # the same directory
        ("data", "./data/"),  # the same, spelled differently
        ("data", "data/work"),  # the second inside the first
        ("data/docs", "data"),  # the first inside the second
    ],
)
def test_overlapping_local_directories_are_refused(tmp_path: Path, first: str, second: str) -> None:
    (tmp_path / "data" / "work").mkdir(parents=True)
    (tmp_path / "data" / "docs").mkdir(parents=True)
    path = pairs_config(tmp_path, first, second)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    message = str(info.value)
    assert "\n" not in message and "pairs[1].local" in message
    assert "'docs'" in message and "'work'" in message, message
    assert "its own local directory" in message, message


def test_same_directory_through_a_symlink_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "data")
    with pytest.raises(ConfigError, match="'docs'"):
        load_config(pairs_config(tmp_path, "data", "link"), env={})


def test_sibling_local_directories_are_fine(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data2").mkdir()
    config = load_config(pairs_config(tmp_path, "data", "data2"), env={})
    assert [p.name for p in config.pairs] == ["docs", "work"]
