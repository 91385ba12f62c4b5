"""What every command and the daemon build from a config, written once: the client, the account's
package limits (cached in the journal) and the worker counts they imply.

httpx and the crypt package are imported inside the functions that use them, so a command that
needs neither (`syncd --help`, `syncd config check`) never loads them.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from syncd.config import Config, PairConfig
from syncd.remote.bandwidth import UNLIMITED, Bandwidth

if TYPE_CHECKING:
    from syncd.crypt import Cipher, CryptOptions
    from syncd.journal.store import Journal
    from syncd.remote.client import RemoteClient
    from syncd.remote.models import AccountPackage

log = logging.getLogger(__name__)

# Seconds a pair root's known location is reused before the next pass looks it up again (a root
# moved on the web site is followed by id anyway; this only keeps `syncd status`'s word fresh).
ROOT_LOCATION_MAX_AGE = 3600.0

# Seconds an account/package answer is reused (it changes when the account is upgraded, which is
# rare; a stale limit only makes the host refuse an upload, which is recorded and retried).
PACKAGE_MAX_AGE = 3600.0


def make_client(
    config: Config,
    *,
    one_shot: bool,
    max_connections: int | None = None,
    max_retry_time: float | None = None,
) -> RemoteClient:
    """A RemoteClient for ``config``. ``one_shot`` commands leave their token to expire instead
    of spending a `disable_access_token` on every run (see RemoteClient); the daemon revokes it
    when it stops. ``max_retry_time`` overrides the config's (interactive commands answer
    sooner)."""
    from syncd.remote.client import RemoteClient

    remote = config.remote
    client = RemoteClient(
        remote.api_url,
        remote.credentials(),
        allow_insecure_http=remote.allow_insecure_http,
        verify_tls=remote.verify_tls,
        timeout=remote.timeout,
        max_retry_time=remote.max_retry_time if max_retry_time is None else max_retry_time,
        max_connections=max_connections or max(32, config.sync.workers * 2),
        revoke_on_close=not one_shot,
    )
    # A one-shot run keeps the rate of its start; the daemon follows the time table (cron jobs).
    bandwidth = bandwidth_now(config)
    if bandwidth.limited and one_shot:  # the daemon logs its own
        log.info("bandwidth limit: %s", bandwidth)
    client.set_bandwidth(bandwidth)
    return client


def bandwidth_now(config: Config, when: datetime | None = None) -> Bandwidth:
    """The ``[sync] bwlimit`` in force at local time ``when`` (default: now)."""
    limit = config.sync.bwlimit
    if limit is None:
        return UNLIMITED
    return limit.at(when or datetime.now())


def upload_workers(configured: int, package: AccountPackage | None) -> int:
    """The configured workers, capped by the account's ``concurrent_uploads`` when it states one
    (0 = no limit stated; None = the host has not answered yet)."""
    if package is not None and package.concurrent_uploads > 0:
        return max(1, min(configured, package.concurrent_uploads))
    return max(1, configured)


def download_workers(config: Config, client: RemoteClient) -> int:
    """Restore and verify use the same rule as uploads; the package is advisory here (the
    listings surface real failures), so a host that does not answer it leaves the config's."""
    from syncd.remote.errors import RemoteError

    try:
        package: AccountPackage | None = client.account_package()
    except RemoteError:
        package = None
    return upload_workers(config.sync.workers, package)


def cached_package(client: RemoteClient, journal: Journal, api_url: str) -> AccountPackage:
    """The account's package limits, asked of the host at most once per ``PACKAGE_MAX_AGE``
    (kept in the journal, so one-shot runs and a restarted daemon share the answer)."""
    from syncd.remote.models import AccountPackage

    cached = journal.cached_host_answer(api_url, "account/package", PACKAGE_MAX_AGE)
    if cached is not None:
        return AccountPackage.from_api(cached)
    package = client.account_package()
    journal.store_host_answer(api_url, "account/package", package.raw)
    return package


def pair_client(client: RemoteClient, pair: PairConfig) -> RemoteClient:
    """The client a pair's pass, restore or verify uses: ``client`` itself, or for a pair with
    ``[pairs.encryption]`` an :class:`~syncd.remote.encrypted.EncryptedClient` over it (the same
    methods, plain names and sizes in and out). Keys are derived once per process and options."""
    if pair.encryption is None:
        return client
    from syncd.remote.encrypted import EncryptedClient

    cipher = _cipher(pair.encryption.options())
    return EncryptedClient(client, cipher, pair=pair.name)  # type: ignore[return-value]


@functools.cache
def _cipher(options: CryptOptions) -> Cipher:
    # scrypt costs ~0.1 s: a daemon running a pass every few seconds derives the keys once.
    from syncd.crypt import Cipher

    return Cipher(options)


def root_location_key(pair_name: str) -> str:
    """The host cache's key for where a pair's remote root lives (see :func:`moved_root`)."""
    return f"root-location:{pair_name}"


def moved_root(
    pair_name: str, configured: tuple[str, ...], now: tuple[str, ...] | None, folder_id: int
) -> str | None:
    """The warning for a pair whose remote root (``folder_id``, tracked by the journal) was
    moved or renamed on the web site; None when it is where the config says."""
    if now is None or tuple(now) == tuple(configured):
        return None
    return (
        f"pair {pair_name}: its remote folder (id {folder_id}) was moved or renamed on the web "
        f"site: it now lives at /{'/'.join(now)}, not /{'/'.join(configured)}; syncd follows "
        f'it by id (set remote = "{"/".join(now)}" in its [[pairs]] to match, or move it back)'
    )


def find_pair_root(
    client: RemoteClient, pair_name: str, parts: tuple[str, ...], tracked_id: int | None
) -> tuple[int | None, str | None]:
    """A pair's remote root for `verify` and `restore --pair`: the folder the journal tracks,
    wherever it lives now (with :func:`moved_root`'s warning when it moved), else the folder at
    its path (raises RemoteFolderMissing). Returns (folder id, warning or None)."""
    from syncd.remote.paths import folder_path_of, resolve_remote_folder

    if tracked_id is not None and tracked_id != 0:  # 0: the account root, never moved
        now = folder_path_of(client, tracked_id)
        if now is not None:
            return tracked_id, moved_root(pair_name, tuple(parts), now, tracked_id)
    return resolve_remote_folder(client, parts, prefer=tracked_id), None
