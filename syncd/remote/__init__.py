"""The host's API: HTTP, tokens, retries and quirks. Knows nothing of syncing."""

from syncd.remote.client import Credentials, RemoteClient
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

__all__ = [
    "AuthError",
    "Credentials",
    "HashMismatch",
    "InsecureURL",
    "NoApiAccess",
    "NotFound",
    "RateLimited",
    "Refused",
    "RemoteClient",
    "RemoteError",
    "TokenInvalid",
    "TransientError",
    "UnknownAction",
    "UploadOutcomeUnknown",
]
