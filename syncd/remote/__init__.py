"""The host's API: HTTP, tokens, retries and quirks. Knows nothing of syncing."""

from syncd.remote.client import NON_IDEMPOTENT_ACTIONS, ClientStats, Credentials, RemoteClient
from syncd.remote.errors import (
    AuthError,
    HashMismatch,
    InsecureURL,
    NoApiAccess,
    NotFound,
    RateLimited,
    Refused,
    RemoteError,
    TokenInvalid,
    TransientError,
    UnknownAction,
    UploadOutcomeUnknown,
)
from syncd.remote.ratelimit import AdaptiveRateLimiter, ResizableSemaphore

__all__ = [
    "NON_IDEMPOTENT_ACTIONS",
    "AdaptiveRateLimiter",
    "AuthError",
    "ClientStats",
    "Credentials",
    "HashMismatch",
    "InsecureURL",
    "NoApiAccess",
    "NotFound",
    "RateLimited",
    "Refused",
    "RemoteClient",
    "RemoteError",
    "ResizableSemaphore",
    "TokenInvalid",
    "TransientError",
    "UnknownAction",
    "UploadOutcomeUnknown",
]
