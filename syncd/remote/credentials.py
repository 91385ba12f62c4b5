"""What the host's authorize call takes. Plain data, importable without the HTTP stack (the config
builds it)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Credentials:
    """key1/key2 API keys, or username/password for hosts configured that way. Never printed."""

    key1: str | None = field(default=None, repr=False)
    key2: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def method(self) -> str:
        """'keys' or 'password'."""
        return "keys" if self.key1 or self.key2 else "password"

    def form_fields(self) -> dict[str, str]:
        if self.key1 or self.key2:
            return {"key1": self.key1 or "", "key2": self.key2 or ""}
        if self.username or self.password:
            return {"username": self.username or "", "password": self.password or ""}
        raise ValueError("Credentials need key1/key2 or username/password")
