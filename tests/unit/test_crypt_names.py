"""Name encryption against rclone's published vectors (backend/crypt/cipher_test.go).

rclone's vectors use an empty password, which gives all-zero keys (rclone does the same).
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.crypt import (
    Cipher,
    CryptOptions,
    NameAuthError,
    NameEncryptError,
    NotEncryptedNameError,
    derive_keys,
)
from syncd.crypt.eme import EME
from syncd.crypt.encodings import ENCODINGS
from syncd.crypt.names import add_version, pkcs7_pad, pkcs7_unpad, split_version

ZERO_KEYS = derive_keys("")
OTHER_KEYS = derive_keys("another")  # once: scrypt takes ~0.07 s


def cipher(
    mode: str = "standard", encoding: str = "base32", dirs: bool = True, suffix: str = ".bin"
) -> Cipher:
    options = CryptOptions(
        password="",
        filename_encryption=mode,  # type: ignore[arg-type]
        directory_name_encryption=dirs,
        filename_encoding=encoding,
        suffix=suffix,
    )
    return Cipher(options, keys=ZERO_KEYS)


PLAIN = ["", *("1234567890123456"[:n] for n in range(1, 17))]

# TestEncodeFileNameBase32 / Base64 / Base32768
ENCODED = {
    "base32": ["", "64", "64p0", "64p36", "64p36d0", "64p36d1l", "64p36d1l6o", "64p36d1l6org",
               "64p36d1l6orjg", "64p36d1l6orjge8", "64p36d1l6orjge9g", "64p36d1l6orjge9g64",
               "64p36d1l6orjge9g64p0", "64p36d1l6orjge9g64p36", "64p36d1l6orjge9g64p36d0",
               "64p36d1l6orjge9g64p36d1l", "64p36d1l6orjge9g64p36d1l6o"],
    "base64": ["", "MQ", "MTI", "MTIz", "MTIzNA", "MTIzNDU", "MTIzNDU2", "MTIzNDU2Nw",
               "MTIzNDU2Nzg", "MTIzNDU2Nzg5", "MTIzNDU2Nzg5MA", "MTIzNDU2Nzg5MDE",
               "MTIzNDU2Nzg5MDEy", "MTIzNDU2Nzg5MDEyMw", "MTIzNDU2Nzg5MDEyMzQ",
               "MTIzNDU2Nzg5MDEyMzQ1", "MTIzNDU2Nzg5MDEyMzQ1Ng"],
    "base32768": ["", "㼿", "㻙ɟ", "㻙ⲿ", "㻙ⲍƟ", "㻙ⲍ⍟", "㻙ⲍ⍆ʏ", "㻙ⲍ⍆觟", "㻙ⲍ⍆觓ɧ",
                  "㻙ⲍ⍆觓栯", "㻙ⲍ⍆觓栩ɣ", "㻙ⲍ⍆觓栩朧", "㻙ⲍ⍆觓栩朤ʅ", "㻙ⲍ⍆觓栩朤談",
                  "㻙ⲍ⍆觓栩朤諆ɔ", "㻙ⲍ⍆觓栩朤諆媕", "㻙ⲍ⍆觓栩朤諆媕䆿"],
}  # fmt: skip

# TestEncryptSegmentBase32 / Base64 / Base32768
SEGMENTS = {
    "base32": ["", "p0e52nreeaj0a5ea7s64m4j72s", "l42g6771hnv3an9cgc8cr2n1ng",
               "qgm4avr35m5loi1th53ato71v0", "8ivr2e9plj3c3esisjpdisikos",
               "rh9vu63q3o29eqmj4bg6gg7s44", "bn717l3alepn75b2fb2ejmi4b4",
               "n6bo9jmb1qe3b1ogtj5qkf19k8", "u9t24j7uaq94dh5q53m3s4t9ok",
               "37hn305g6j12d1g0kkrl7ekbs4", "ot8d91eplaglb62k2b1trm2qv0",
               "h168vvrgb53qnrtvvmb378qrcs", "s3hsdf9e29ithrqbjqu01t8q2s",
               "cf3jimlv1q2oc553mv7s3mh3eo", "moq0uqdlqrblrc5pa5u5c7hq9g",
               "eeam3li4rnommi3a762h5n7meg",
               "mijbj0frqf6ms7frcr6bd9h0env53jv96pjaaoirk7forcgpt70g"],
    "base64": ["", "yBxRX25ypgUVyj8MSxJnFw", "qQUDHOGN_jVdLIMQzYrhvA", "1CxFf2Mti1xIPYlGruDh-A",
               "RL-xOTmsxsG7kuTy2XJUxw", "3FP_GHoeBJdq0yLgaED8IQ", "Xc4T1Gqrs3OVYnrE6dpEWQ",
               "uZeEzssOnDWHEOzLqjwpog", "8noiTP5WkkbEuijsPhOpxQ", "GeNxgLA0wiaGAKU3U7qL4Q",
               "x1DUhdmqoVWYVBLD3dha-A", "iEyP_3BZR6vvv_2WM6NbZw", "4OPGvS4SZdjvS568APUaFw",
               "Y8c5Wr8OhYYUo7fPwdojdg", "tjQPabXW112wuVF8Vh46TA", "c5Vh1kTd8WtIajmFEtz2dA",
               "tKa5gfvTzW4d-2bMtqYgdf5Rz-k2ZqViW6HfjbIZ6cE"],
    "base32768": ["", "詮㪗鐮僀伎作㻖㢧⪟", "竢朧䉱虃光塬䟛⣡蓟", "遶㞟鋅缕袡鲅ⵝ蝁ꌟ",
                  "䢟銮䵵狌㐜燳谒颴詟",
                  "钉Ꞇ㖃蚩憶狫朰杜㜿", "啇ᚵⵕ憗䋫➫➓肤卟", "茫螓翁連劘樓㶔抉矟", "龝☳䘊辄岅較络㧩襟",
                  "ⲱ苀㱆犂媐Ꮤ锇惫靟", "計宁憕偵匢皫╛纺ꌟ", "檆䨿鑫㪺藝ꡖ勇䦛婟", "雑頏䰂䲝淚哚鹡魺⪟",
                  "塃璶繁躸圅㔟䗃肃懟", "腺ᕚ崚鏕鏥讥鼌䑺䲿", "怪绕滻蕶肣但⠥荖惟",
                  "肳哀旚挶靏鏻㾭䱠慟㪳ꏆ賊兲铧敻塹魀ʟ"],
}  # fmt: skip


@pytest.mark.parametrize("encoding", sorted(ENCODED))
def test_encodings_match_rclone(encoding: str) -> None:
    codec = ENCODINGS[encoding]
    for plain, encoded in zip(PLAIN, ENCODED[encoding], strict=True):
        assert codec.encode(plain.encode()) == encoded
        assert codec.decode(encoded) == plain.encode()
        assert codec.encoded_length(len(plain)) == len(encoded)
    if encoding == "base32":  # case-insensitive: rclone upper-cases before decoding
        assert codec.decode("64P36D1L6ORJGE9G") == b"1234567890"


@pytest.mark.parametrize(
    ("encoding", "text"),
    [("base32", "64="), ("base32", "!"), ("base32", "hello=hello"), ("base32", "w"),
     ("base64", "64="), ("base64", "!"), ("base64", "Hello=Hello"), ("base64", "a+b/"),
     ("base32768", "㼿c"), ("base32768", "!"), ("base32768", "㻙ⲿ=㻙ⲿ")],
)  # fmt: skip
def test_encodings_refuse_what_rclone_refuses(encoding: str, text: str) -> None:
    with pytest.raises(ValueError):
        ENCODINGS[encoding].decode(text)


@pytest.mark.parametrize("encoding", sorted(SEGMENTS))
def test_segments_match_rclone(encoding: str) -> None:
    c = cipher(encoding=encoding)
    for plain, encrypted in zip(PLAIN, SEGMENTS[encoding], strict=True):
        assert c.encrypt_name(plain) == encrypted
        assert c.decrypt_name(encrypted) == plain
    if encoding == "base32":
        assert c.decrypt_name("P0E52NREEAJ0A5EA7S64M4J72S") == "1"


@pytest.mark.parametrize("encoding", sorted(SEGMENTS))
def test_segment_errors_match_rclone(encoding: str) -> None:
    c = cipher(encoding=encoding)
    codec = ENCODINGS[encoding]
    long_name = {"base32": "a" * 3328, "base64": "a" * 2816, "base32768": "怪" * 1280}[encoding]
    for bad in ["!", long_name, codec.encode(b"a"), codec.encode(b"123456789abcdef")]:
        with pytest.raises(NotEncryptedNameError):
            c.decrypt_name(bad)
    # Whole blocks whose padding is wrong: what a wrong password looks like.
    with pytest.raises(NameAuthError) as caught:
        c.decrypt_name(codec.encode(b"123456789abcdef0"))
    assert "wrong password" in str(caught.value)


STANDARD_PATHS = {
    "base32": ("p0e52nreeaj0a5ea7s64m4j72s", "l42g6771hnv3an9cgc8cr2n1ng",
               "qgm4avr35m5loi1th53ato71v0"),
    "base64": ("yBxRX25ypgUVyj8MSxJnFw", "qQUDHOGN_jVdLIMQzYrhvA", "1CxFf2Mti1xIPYlGruDh-A"),
    "base32768": ("詮㪗鐮僀伎作㻖㢧⪟", "竢朧䉱虃光塬䟛⣡蓟", "遶㞟鋅缕袡鲅ⵝ蝁ꌟ"),
}  # fmt: skip


@pytest.mark.parametrize("encoding", sorted(STANDARD_PATHS))
def test_paths_match_rclone(encoding: str) -> None:
    """TestStandardEncryptFileName*, TestStandardDecryptFileName*, *DirName*."""
    e1, e12, e123 = STANDARD_PATHS[encoding]
    v = "-v2001-02-03-040506-123"
    c = cipher(encoding=encoding)
    cases = {
        "1": e1,
        "1/12": f"{e1}/{e12}",
        "1/12/123": f"{e1}/{e12}/{e123}",
        f"1{v}": f"{e1}{v}",
        f"1/12{v}": f"{e1}/{e12}{v}",
    }
    for plain, encrypted in cases.items():
        assert c.encrypt_path(plain) == encrypted
        assert c.decrypt_path(encrypted) == plain
        assert c.encrypt_path(plain, is_dir=True) == encrypted
        assert c.decrypt_path(encrypted, is_dir=True) == plain
    no_dirs = cipher(encoding=encoding, dirs=False)
    no_dir_cases = {
        "1": e1,
        "1/12": f"1/{e12}",
        "1/12/123": f"1/12/{e123}",
        f"1{v}": f"{e1}{v}",
        f"1/12{v}": f"1/{e12}{v}",
    }
    for plain, encrypted in no_dir_cases.items():
        assert no_dirs.encrypt_path(plain) == encrypted
        assert no_dirs.decrypt_path(encrypted) == plain
    assert no_dirs.encrypt_path("1/12/123", is_dir=True) == "1/12/123"
    assert no_dirs.decrypt_path(f"{e1}/{e12}", is_dir=True) == f"{e1}/{e12}"
    # One encoded stray byte in front of a segment: not a whole number of blocks.
    with pytest.raises(NotEncryptedNameError):
        c.decrypt_path(ENCODINGS[encoding].encode(b"1") + e1)


def test_off_mode_matches_rclone() -> None:
    c = cipher(mode="off")
    assert c.encrypt_path("1/12/123") == "1/12/123.bin"
    assert c.encrypt_path("1/12/123", is_dir=True) == "1/12/123"
    assert c.decrypt_path("1/12/123.bin") == "1/12/123"
    v = "-v1970-01-01-010101-123-v2001-02-03-040506-123"
    assert c.decrypt_path(f"1/12/123{v}.txt.bin") == f"1/12/123{v}.txt"
    assert c.decrypt_path("1/12/123.bin", is_dir=True) == "1/12/123.bin"
    for bad in ["1/12/123.bix", ".bin", "-v2001-02-03-040506-123.bin"]:
        with pytest.raises(NotEncryptedNameError):
            c.decrypt_path(bad)
    assert cipher(mode="off", suffix=".jpg").encrypt_path("1/12/123") == "1/12/123.jpg"
    assert cipher(mode="off", suffix=".jpg").decrypt_path("1/12/123.jpg") == "1/12/123"
    assert cipher(mode="off", suffix="").encrypt_path("1/12/123") == "1/12/123"


def test_obfuscate_matches_rclone() -> None:
    c = cipher(mode="obfuscate")
    v = "-v2001-02-03-040506-123"
    cases = {
        "1/12/123/!hello": "49.6/99.23/150.890/53.!!lipps",
        f"1/12/123/!hello{v}": f"49.6/99.23/150.890/53{v}.!!lipps",
        f"1/12/123/hello{v}.txt": f"49.6/99.23/150.890/162.uryyB{v}.GKG",
        "\u00a1": "161.\u00e4",
        "\u03a0": "160.\u03c2",
    }  # fmt: skip
    for plain, encrypted in cases.items():
        assert c.encrypt_path(plain) == encrypted
        assert c.decrypt_path(encrypted) == plain
    no_dirs = cipher(mode="obfuscate", dirs=False)
    assert no_dirs.encrypt_path("1/12/123/!hello") == "1/12/123/53.!!lipps"
    assert no_dirs.decrypt_path("1/12/123/53.!!lipps") == "1/12/123/!hello"
    assert c.decrypt_path("!.hello") == "hello"
    with pytest.raises(NotEncryptedNameError):
        c.decrypt_path("hello")
    for plain in ["1/2/3/4/!hello\u03a0", "Avatar The Last Airbender"]:
        assert c.decrypt_path(c.encrypt_path(plain)) == plain


def test_version_suffix_needs_a_real_timestamp() -> None:
    assert split_version("a-v2001-02-03-040506-123.txt") == ("a.txt", "-v2001-02-03-040506-123")
    assert split_version("a-v2001-02-29-040506-123") == ("a-v2001-02-29-040506-123", "")
    assert split_version("a-v2000-02-29-235959-999") == ("a", "-v2000-02-29-235959-999")
    assert split_version("a-v2001-13-01-000000-000") == ("a-v2001-13-01-000000-000", "")
    assert split_version("a-v2001-01-01-240000-000") == ("a-v2001-01-01-240000-000", "")


def test_pkcs7_matches_rclone() -> None:
    assert pkcs7_pad(b"") == bytes([16]) * 16
    assert pkcs7_pad(b"123456789abcdef") == b"123456789abcdef\x01"
    for bad, reason in [(b"", "not padded"), (b"1" * 15, "not a multiple"),
                        (b"1" * 15 + b"\x11", "too long"), (b"1" * 15 + b"\x00", "too short"),
                        (b"1" * 14 + b"\x01\x02", "not all the same")]:  # fmt: skip
        with pytest.raises(ValueError, match=reason):
            pkcs7_unpad(bad)


def test_wrong_password_is_told_apart_from_a_foreign_name() -> None:
    right = Cipher(CryptOptions(password="potato", password2="sausage"))
    wrong = Cipher(CryptOptions(password="potato", password2="Sausage"))
    stored = [right.encrypt_name(f"file {i}.txt") for i in range(20)]
    assert [right.check_name(n) for n in stored] == [f"file {i}.txt" for i in range(20)]
    for name in stored:
        with pytest.raises(NameAuthError):
            wrong.check_name(name)
    assert right.check_name("IMG_0001.JPG") is None  # not crypt output: a foreign file
    assert right.check_password(["IMG_0001.JPG", *stored]) is True
    assert wrong.check_password(["IMG_0001.JPG", *stored]) is False
    assert wrong.check_password(["IMG_0001.JPG"]) is None


def test_unencryptable_names() -> None:
    c = cipher()
    with pytest.raises(NameEncryptError, match="UTF-8"):
        c.encrypt_name("bad\udcff.txt")  # an undecodable byte kept as a lone surrogate
    with pytest.raises(NameEncryptError, match="2047"):
        c.encrypt_name("x" * 2048)
    assert c.decrypt_name(c.encrypt_name("x" * 2047)) == "x" * 2047
    with pytest.raises(ValueError):
        c.encrypt_name("a/b")


names = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="/"), min_size=1, max_size=80
)


@given(name=names, mode=st.sampled_from(["standard", "obfuscate", "off"]),
       encoding=st.sampled_from(sorted(ENCODINGS)), dirs=st.booleans())  # fmt: skip
def test_round_trip(name: str, mode: str, encoding: str, dirs: bool) -> None:
    c = cipher(mode=mode, encoding=encoding, dirs=dirs)
    path = f"{name}/{name[::-1]}/{name}"
    assert c.decrypt_path(c.encrypt_path(path)) == path
    assert c.decrypt_path(c.encrypt_path(path, is_dir=True), is_dir=True) == path


def _one_by_one(c: Cipher, stored: list[str], is_dir: bool) -> list[object]:
    results: list[object] = []
    for name in stored:
        try:
            results.append(c.check_name(name, is_dir=is_dir))
        except NameAuthError as exc:
            results.append(("wrong", str(exc)))
    return results


def _batched(c: Cipher, stored: list[str], is_dir: bool) -> list[object]:
    return [
        ("wrong", str(r)) if isinstance(r, NameAuthError) else r
        for r in c.check_names(stored, is_dir=is_dir)
    ]


@given(
    plain=st.lists(names, max_size=12),
    foreign=st.lists(st.text(st.characters(blacklist_characters="/"), max_size=40), max_size=4),
    mode=st.sampled_from(["standard", "obfuscate", "off"]),
    encoding=st.sampled_from(sorted(ENCODINGS)),
    dirs=st.booleans(),
    is_dir=st.booleans(),
    versioned=st.booleans(),
    order=st.randoms(use_true_random=False),
)
def test_a_listing_decrypted_at_once_reads_as_name_by_name(
    plain: list[str],
    foreign: list[str],
    mode: str,
    encoding: str,
    dirs: bool,
    is_dir: bool,
    versioned: bool,
    order: random.Random,
) -> None:
    # Short and long names (one AES block or several), names from another key, foreign
    # names and rclone's version suffixes, in any order: the batch gives each what
    # check_name gives it alone.
    c = cipher(mode=mode, encoding=encoding, dirs=dirs)
    other = Cipher(
        CryptOptions(password="another", filename_encryption=mode, filename_encoding=encoding,
                     directory_name_encryption=dirs),  # type: ignore[arg-type]
        keys=OTHER_KEYS,
    )  # fmt: skip
    stamp = "-v2001-02-03-040506-123" if versioned else ""
    stored = [c.encrypt_name(n, is_dir=is_dir) for n in plain]
    stored += [other.encrypt_name(n, is_dir=is_dir) for n in plain[:3]]
    stored += [s[:-1] for s in stored[:2] if len(s) > 1]  # cut short: not whole blocks
    stored += [add_version(s, stamp) for s in stored[:3]] + foreign
    order.shuffle(stored)
    assert _batched(c, stored, is_dir) == _one_by_one(c, stored, is_dir)


def test_a_listing_of_one_block_names_decrypts_them_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    c = cipher()
    plain = [f"{i:04d}.jpg" for i in range(300)] + ["a name of more than one block.txt"]
    stored = [c.encrypt_name(n) for n in plain]
    calls: list[tuple[int, int]] = []  # (blocks each, messages) per decrypt_many
    real = EME.decrypt_many

    def counted(self: EME, tweak: bytes, joined: bytes, blocks_each: int) -> bytes:
        calls.append((blocks_each, len(joined) // (16 * blocks_each)))
        return real(self, tweak, joined, blocks_each)

    monkeypatch.setattr(EME, "decrypt_many", counted)
    assert c.check_names(stored) == plain
    assert sorted(calls) == [(1, 300), (3, 1)]  # one EME batch per length, not one per name
    with pytest.raises(ValueError):
        c.check_names(["a/b"])  # as check_name: a listed name has no '/'
