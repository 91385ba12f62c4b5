"""Scanners for secrets in what syncd prints or logs.

syncd must never print key1, key2, a password, an access token or a download token. The known
values are the emulator's demo credentials; anything *shaped* like a token counts as well, so a
leak of a value the test never saw is caught too.
"""

from __future__ import annotations

import re

from syncd.emulator import DEMO_KEY1, DEMO_KEY2, DEMO_PASSWORD

# Access tokens are 128 alphanumerics, download tokens and API keys 64 hex: nothing syncd prints
# legitimately looks like that (MD5s are 32 hex).
TOKEN_SHAPES = re.compile(r"(?<![A-Za-z0-9])(?:[A-Za-z0-9]{128}|[0-9a-fA-F]{64})(?![A-Za-z0-9])")
KNOWN_SECRETS = (DEMO_KEY1, DEMO_KEY2, DEMO_PASSWORD)


def find_secrets(text: str, extra: tuple[str, ...] = ()) -> list[str]:
    """Secrets (known values, ``extra`` values, token-shaped strings) in ``text``; [] if clean."""
    found = [s for s in (*KNOWN_SECRETS, *extra) if s and s in text]
    found += TOKEN_SHAPES.findall(text)
    return found


def assert_no_secrets(text: str, what: str, extra: tuple[str, ...] = ()) -> None:
    """Fail naming ``what`` leaked; only the first 8 characters of each leak are shown."""
    leaks = find_secrets(text, extra)
    assert not leaks, f"secret-like values in {what}: {[leak[:8] + '...' for leak in leaks]}"
