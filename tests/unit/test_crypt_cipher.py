"""The Cipher facade: options in rclone's names, obscured passwords, the host's name limit."""

from __future__ import annotations

import pytest

from syncd.crypt import (
    HOST_NAME_MAX_CHARS,
    Cipher,
    CryptConfigError,
    CryptOptions,
    NameTooLongError,
    RevealError,
    derive_keys,
    obscure,
)


def test_options_from_an_rclone_conf_section() -> None:
    section = {
        "type": "crypt",
        "remote": "host:backup",
        "password": obscure("potato"),
        "password2": obscure("sausage"),
        "filename_encryption": "standard",
        "directory_name_encryption": "false",
        "filename_encoding": "base64",
    }
    options = CryptOptions.from_mapping(section, obscured=True)
    assert options.password == "potato" and options.password2 == "sausage"
    assert options.directory_name_encryption is False
    assert options.filename_encoding == "base64"
    cipher = Cipher(options)
    assert cipher.encrypt_path("a/b.txt").startswith("a/")


def test_defaults_are_rclones() -> None:
    options = CryptOptions.from_mapping({"password": "p"})
    assert (options.filename_encryption, options.directory_name_encryption) == ("standard", True)
    assert (options.filename_encoding, options.suffix, options.password2) == ("base32", ".bin", "")
    assert CryptOptions.from_mapping({"password": "p", "suffix": "none"}).suffix == ""
    assert CryptOptions.from_mapping({"password": "p", "directory_name_encryption": "0"}) == (
        CryptOptions(password="p", directory_name_encryption=False)
    )


@pytest.mark.parametrize(
    ("section", "words"),
    [
        ({}, "password is empty"),
        ({"password": ""}, "password is empty"),
        ({"password": "p", "filename_encryption": "strong"}, "filename_encryption"),
        ({"password": "p", "filename_encoding": "hex"}, "filename_encoding"),
        ({"password": "p", "directory_name_encryption": "maybe"}, "directory_name_encryption"),
        ({"password": "p", "pasword2": "typo"}, "unknown crypt option(s) pasword2"),
        ({"password": "p", "no_data_encryption": "true"}, "no_data_encryption"),
        ({"password": 5}, "must be a string"),
    ],
)
def test_bad_options_say_what_to_fix(section: dict[str, object], words: str) -> None:
    with pytest.raises(CryptConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        CryptOptions.from_mapping(section)


def test_plain_password_where_obscured_is_expected() -> None:
    with pytest.raises(RevealError, match=r"password.*is it obscured") as caught:
        CryptOptions.from_mapping({"password": "my secret passphrase!"}, obscured=True)
    assert "secret" not in str(caught.value)


def test_passwords_never_in_repr() -> None:
    options = CryptOptions(password="potato", password2="sausage")
    cipher = Cipher(options, keys=derive_keys(""))
    for text in (repr(options), repr(cipher)):
        assert "potato" not in text and "sausage" not in text


def test_obscured_and_plain_give_the_same_cipher() -> None:
    a = Cipher.from_options({"password": "potato", "password2": "sausage"})
    b = Cipher.from_options(
        {"password": obscure("potato"), "password2": obscure("sausage")}, obscured=True
    )
    assert a.encrypt_name("x") == b.encrypt_name("x")
    assert b.copy().encrypt_name("x") == a.encrypt_name("x")


def test_host_name_limit() -> None:
    """Names are encrypted per segment; the host stores at most 255 characters of each."""
    assert HOST_NAME_MAX_CHARS == 255
    keys = derive_keys("")
    base32 = Cipher(CryptOptions(password=""), keys=keys)
    # base32: 143 plain bytes pad to 144, 231 characters; 144 bytes pad to 160, 256 characters.
    assert base32.max_plain_name_bytes() == 143
    assert base32.name_fits("a" * 143) and not base32.name_fits("a" * 144)
    assert len(base32.check_name_fits("a" * 143)) == 231
    with pytest.raises(NameTooLongError) as caught:
        base32.check_name_fits("é" * 72)  # 144 UTF-8 bytes
    assert caught.value.encrypted_length == 256 and caught.value.max_plain_bytes == 143
    assert "at most 143 UTF-8 bytes" in str(caught.value)
    base64 = base32.with_options(filename_encoding="base64")
    assert base64.max_plain_name_bytes() == 175
    assert base64.name_fits("a" * 175) and not base64.name_fits("a" * 176)
    b32768 = base32.with_options(filename_encoding="base32768")
    assert b32768.max_plain_name_bytes() == 463
    assert b32768.name_fits("a" * 463) and not b32768.name_fits("a" * 464)
    off = base32.with_options(filename_encryption="off")
    assert off.max_plain_name_bytes() == 251
    assert off.name_fits("a" * 251) and not off.name_fits("a" * 252)
    assert off.name_fits("a" * 255, is_dir=True)  # directories get no suffix
    # 20 bytes pad to 32: 52 base32 characters.
    assert base32.name_fits("a" * 20, limit=52) and not base32.name_fits("a" * 20, limit=51)


def test_with_options_keeps_the_keys() -> None:
    c = Cipher(CryptOptions(password="potato"))
    other = c.with_options(directory_name_encryption=False)
    assert other.decrypt_path(other.encrypt_path("a/b")) == "a/b"
    assert other.encrypt_name("b") == c.encrypt_name("b")
    with pytest.raises(ValueError):
        c.with_options(password="x")
