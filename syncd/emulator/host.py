"""The emulated host's account, access tokens and download tokens (the PHP application's state
that is not files and folders)."""

from __future__ import annotations

import secrets
import string
import time
from dataclasses import dataclass, field

from syncd.emulator import DEMO_ACCOUNT_ID, DEMO_KEY1, DEMO_KEY2, DEMO_PASSWORD, DEMO_USERNAME
from syncd.emulator.knobs import Knobs
from syncd.emulator.store import Store

_TOKEN_ALPHABET = string.digits + string.ascii_letters
DOWNLOAD_TOKEN_LIFETIME_S = 24 * 3600


@dataclass(frozen=True)
class Profile:
    """What differs between the two hosts we know: only cosmetic strings in answers."""

    name: str
    site_name: str


PROFILES = {
    "mecloudnet": Profile("mecloudnet", "File Upload Script"),
    "1cloudfile": Profile("1cloudfile", "1Cloud File"),
}


@dataclass
class Account:
    id: int = DEMO_ACCOUNT_ID
    username: str = DEMO_USERNAME
    password: str = field(default=DEMO_PASSWORD, repr=False)
    key1: str = field(default=DEMO_KEY1, repr=False)
    key2: str = field(default=DEMO_KEY2, repr=False)
    email: str = "[email protected]"
    level_id: int = 2
    date_created: str | None = None  # `datecreated`: null on the page's example


class Host:
    """State shared by the API, the download route and the admin API."""

    def __init__(
        self, store: Store, knobs: Knobs, account: Account, auth_method: str, profile: Profile
    ) -> None:
        self.store = store
        self.knobs = knobs
        self.account = account
        self.auth_method = auth_method
        self.profile = profile
        # token -> (account id, monotonic time of last use); persisted without the clock.
        self._tokens: dict[str, tuple[int, float]] = {}
        now = time.monotonic()
        for token, account_id in store.load_tokens():
            self._tokens[token] = (account_id, now)
        # download token -> (file id, expiry)
        self._download_tokens: dict[str, tuple[int, float]] = {}
        self.last_login: str | None = None
        self.failed_logins = 0  # in a row; see Knobs.lockout_after_failures

    # ------------------------------------------------------------ access tokens
    def issue_token(self, account_id: int) -> str:
        """A new 128-alphanumeric token; every other token of the account dies."""
        token = "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(128))
        self._tokens = {t: v for t, v in self._tokens.items() if v[0] != account_id}
        self._tokens[token] = (account_id, time.monotonic())
        self.store.replace_tokens(account_id, token)
        return token

    def validate_token(self, token: str, account_id_text: str) -> int | None:
        """The account id if the pair is valid (and refresh its idle clock), else None."""
        entry = self._tokens.get(token)
        if entry is None:
            return None
        account_id, last_used = entry
        now = time.monotonic()
        if now - last_used > self.knobs.token_lifetime_s:
            self.forget_token(token)
            return None
        if account_id_text != str(account_id):
            return None
        self._tokens[token] = (account_id, now)
        return account_id

    def forget_token(self, token: str) -> None:
        if self._tokens.pop(token, None) is not None:
            self.store.delete_token(token)

    def revoke_all_tokens(self) -> int:
        count = len(self._tokens)
        self._tokens.clear()
        self.store.replace_tokens(self.account.id, None)
        return count

    # ---------------------------------------------------------- download tokens
    def issue_download_token(self, file_id: int) -> str:
        token = secrets.token_hex(32)
        now = time.monotonic()
        if len(self._download_tokens) > 10_000:
            self._download_tokens = {t: v for t, v in self._download_tokens.items() if v[1] > now}
        self._download_tokens[token] = (file_id, now + DOWNLOAD_TOKEN_LIFETIME_S)
        return token

    def file_for_download_token(self, token: str) -> int | None:
        entry = self._download_tokens.get(token)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]
