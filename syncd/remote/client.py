"""The YetiShare API v2 client.

One instance per process, shared by all threads. Knows HTTP, tokens, retries and the host's quirks;
knows nothing of syncing.

- Every answer is classified by its body (:mod:`syncd.remote.answers`), not its HTTP status.
- Transient errors and 429s are retried with full-jitter exponential backoff (tenacity), honouring
  ``Retry-After``, for at most ``max_retry_time`` seconds. Non-idempotent actions (file/upload,
  folder/create, file/copy) are replayed only when the request certainly never reached the host;
  otherwise :class:`UploadOutcomeUnknown` tells the engine to look at the listing.
- An expired or revoked token is renewed once for all threads and the request replayed
  (:mod:`syncd.remote.auth`); requests are paced by an adaptive limiter
  (:mod:`syncd.remote.ratelimit`); uploads share a resizable concurrency cap.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import structlog
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_before_delay

from syncd.remote.answers import data_of, parse_answer, upload_entry
from syncd.remote.auth import Refusal, Session, TokenManager
from syncd.remote.bandwidth import Bandwidth, TokenBucket
from syncd.remote.credentials import Credentials
from syncd.remote.errors import (
    HashMismatch,
    NotFound,
    RateLimited,
    Refused,
    RemoteError,
    TokenInvalid,
    TransientError,
    UploadOutcomeUnknown,
)
from syncd.remote.models import (
    AccountInfo,
    AccountPackage,
    CopyResult,
    DownloadLink,
    FolderListing,
    RemoteFile,
    RemoteFolder,
    UploadResult,
)
from syncd.remote.ratelimit import (
    MAX_RATE,
    AdaptiveRateLimiter,
    RateLimiterStats,
    ResizableSemaphore,
)
from syncd.remote.redact import Redactor, install_http_log_filter
from syncd.remote.transport import (
    check_url,
    is_loopback_host,
    make_http_client,
    normalise_api_url,
    transport_error,
)
from syncd.remote.uploads import FileChangedError, UploadBody, multipart_body, multipart_frame

log = structlog.get_logger(__name__)
# syncd's logging drops records by the standard library's level (configure_logging); asking it
# first skips building a structlog event per request (~8 µs) that the filter would drop.
_debug_on = logging.getLogger(__name__).isEnabledFor

# Actions that create something: replaying one whose answer was lost could make a duplicate.
NON_IDEMPOTENT_ACTIONS = frozenset({"file/upload", "folder/create", "file/copy"})
UPLOAD_CONTENT_TYPE = "application/octet-stream"
# The default limiter holds no request back before the host's first 429: it starts at its
# ceiling (MAX_RATE) and lets an idle client send 16 at once; the first 429 cuts it to what was
# getting through. Slow start from 200 req/s made a no-op pass of 1,033 listings on loopback wait
# for slots (2.48 s wall against 2.05, medians of five); a host limited to 20 req/s still costs
# about one 429 per worker before the first cut.
INITIAL_RATE = MAX_RATE
INITIAL_BURST = 16


@dataclass(frozen=True, slots=True)
class ClientStats:
    """Counters since the client was made (for status output and benchmarks)."""

    requests: int  # HTTP exchanges attempted (API calls and download GETs)
    rate_limited: int  # answers with HTTP 429
    retries: int  # attempts repeated after a transient error or a 429
    token_renewals: int  # authorizations after the first
    limiter: RateLimiterStats


# A body factory opens what one attempt sends. Called again for each attempt, so a replay
# re-reads the file.
BodyFactory = Callable[[], UploadBody]


class RemoteClient:
    def __init__(
        self,
        api_url: str,
        credentials: Credentials,
        *,
        allow_insecure_http: bool = False,
        verify_tls: bool = True,
        timeout: float = 30.0,
        max_retry_time: float = 120.0,
        max_connections: int = 32,
        upload_concurrency: int | None = 4,
        rate_limiter: AdaptiveRateLimiter | None = None,
        token_give_up: float | None = None,
        backoff_base: float = 0.25,
        backoff_cap: float = 15.0,
        transport: httpx.BaseTransport | None = None,
        revoke_on_close: bool = True,
        upload_bucket: TokenBucket | None = None,
        download_bucket: TokenBucket | None = None,
    ) -> None:
        """``upload_concurrency``: concurrent uploads (0/None = unlimited); resize later with
        :meth:`set_upload_concurrency` from ``account_package().concurrent_uploads``.
        ``token_give_up``: how long one call keeps renewing tokens that other processes keep
        taking away before it raises :class:`TokenInvalid` (default ``max_retry_time``).
        ``transport``: an httpx transport (tests wrap the real one to record exchanges).
        ``revoke_on_close``: :meth:`close` disables the token. One-shot commands turn it off:
        the token only ever lived in memory and the host drops it after an hour idle, so a
        revocation would be one more request on every run (a no-op pass should cost its
        listings and one authorize).
        ``upload_bucket``/``download_bucket``: the bandwidth limit's buckets (tests pass ones
        with their own clock); set the rates with :meth:`set_bandwidth`.
        """
        self._allow_insecure_http = allow_insecure_http
        check_url(api_url, allow_insecure_http=allow_insecure_http)
        credentials.form_fields()  # fail early on empty credentials
        self._api_url = normalise_api_url(api_url)
        self._action_urls: dict[str, httpx.URL] = {}
        self._credentials = credentials
        self._redact = Redactor([credentials.key1, credentials.key2, credentials.password])
        install_http_log_filter()
        self._max_retry_time = max_retry_time
        self._token_give_up = max_retry_time if token_give_up is None else token_give_up
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._http = make_http_client(
            verify_tls=verify_tls,
            timeout=timeout,
            max_connections=max_connections,
            transport=transport,
        )
        self._limiter = rate_limiter or AdaptiveRateLimiter(
            initial_rate=INITIAL_RATE, burst=INITIAL_BURST
        )
        self._upload_slots = ResizableSemaphore(upload_concurrency)
        # One bucket per direction for the whole process: the limit holds across all workers.
        self._up_bucket = upload_bucket or TokenBucket()
        self._down_bucket = download_bucket or TokenBucket()
        self._tokens = TokenManager(self._authorize_request)
        self._deadlines = threading.local()  # the running call's deadline, per thread
        self._counter_lock = threading.Lock()
        self._requests = 0
        self._rate_limited = 0
        self._retries = 0
        self._closed = False
        self._revoke_on_close = revoke_on_close

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Disables the token (best effort, unless ``revoke_on_close`` is off) and closes the
        connection pool. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._revoke_on_close:
            with suppress(RemoteError, httpx.HTTPError, OSError):
                self.disable_access_token()
        self._http.close()

    def __enter__(self) -> RemoteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"RemoteClient(api_url={self._api_url!r}, auth={self._credentials.method}, "
            f"authorized={self._tokens.session is not None})"
        )

    # ------------------------------------------------------------------ knobs and counters

    @property
    def api_url(self) -> str:
        return self._api_url

    @property
    def rate_limiter(self) -> AdaptiveRateLimiter:
        return self._limiter

    @property
    def upload_slots(self) -> ResizableSemaphore:
        """The cap on concurrent uploads (shared by all threads)."""
        return self._upload_slots

    @property
    def bandwidth(self) -> Bandwidth:
        """The bandwidth limit in force (bytes per second; None: no limit)."""
        return Bandwidth(self._up_bucket.rate, self._down_bucket.rate)

    def set_bandwidth(self, bandwidth: Bandwidth) -> None:
        """Limit the bytes of uploads (multipart bodies) and downloads from now on; pieces
        already granted go out at the old rate."""
        self._up_bucket.set_rate(bandwidth.up)
        self._down_bucket.set_rate(bandwidth.down)

    @property
    def upload_bucket(self) -> TokenBucket:
        return self._up_bucket

    @property
    def download_bucket(self) -> TokenBucket:
        return self._down_bucket

    def set_upload_concurrency(self, limit: int | None) -> None:
        """Resize the upload cap, e.g. to ``min(package.concurrent_uploads, config)``."""
        self._upload_slots.resize(limit)

    @property
    def account_id(self) -> int | None:
        session = self._tokens.session
        return int(session.account_id) if session and session.account_id.isdigit() else None

    def stats(self) -> ClientStats:
        with self._counter_lock:
            return ClientStats(
                requests=self._requests,
                rate_limited=self._rate_limited,
                retries=self._retries,
                token_renewals=max(0, self._tokens.authorizations - 1),
                limiter=self._limiter.stats(),
            )

    # ------------------------------------------------------------------ auth

    def authorize(self, *, max_wait: float | None = None) -> None:
        """Authorize now (normally implicit on the first call). Raises AuthError/NoApiAccess.
        ``max_wait`` bounds the retries of an unreachable host below ``max_retry_time`` (a
        start-up check that must not hold the service back for minutes)."""
        with self._deadline(max_wait):
            self._tokens.authorize_now()

    def credential_refusal(self) -> Refusal | None:
        """The host's last answer to our credentials, if it was a refusal: until its backoff
        expires every call raises the same AuthError without a request (see
        :mod:`syncd.remote.auth`)."""
        return self._tokens.refusal()

    def retry_credentials_now(self) -> None:
        """The next call authorizes at once despite a remembered refusal (after SIGHUP)."""
        self._tokens.allow_retry_now()

    def set_refusal_backoff(self, base: float, cap: float) -> None:
        """How long a refused authorization waits before the next implicit try (seconds)."""
        self._tokens.set_refusal_backoff(base, cap)

    def disable_access_token(self) -> None:
        """Ask the host to drop our token; the next call authorizes again."""
        session = self._tokens.forget()
        if session is None:
            return
        fields = {"access_token": session.access_token, "account_id": session.account_id}
        with suppress(TokenInvalid):  # already gone is what we wanted
            self._exchange("disable_access_token", fields)

    def _authorize_request(self) -> tuple[str, str]:
        body = self._with_retries(
            "authorize", lambda: self._exchange("authorize", self._auth_fields())
        )
        data = data_of("authorize", body)
        token = str(data.get("access_token") or "")
        account_id = str(data.get("account_id") or "")
        self._redact.add(token)
        if not token or not account_id:
            raise TransientError("authorize answered without a token", action="authorize")
        log.debug("remote.authorized", account_id=account_id, method=self._credentials.method)
        return token, account_id

    def _auth_fields(self) -> dict[str, str]:
        return self._credentials.form_fields()

    # ------------------------------------------------------------------ account

    def account_info(self) -> AccountInfo:
        return AccountInfo.from_api(data_of("account/info", self._call("account/info")))

    def account_package(self) -> AccountPackage:
        return AccountPackage.from_api(data_of("account/package", self._call("account/package")))

    # ------------------------------------------------------------------ files

    def upload_file(
        self,
        path: Path,
        folder_id: int | None,
        *,
        filename: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> UploadResult:
        """Streams ``path`` (constant memory) and checks the host's MD5 against what was sent.

        Raises Refused (kind ZERO_BYTE / TOO_LARGE / OTHER), UploadOutcomeUnknown when the
        answer was lost after sending, HashMismatch (with ``file_id``) when the host stored
        other bytes than we sent.
        """
        path = Path(path)
        name = filename if filename is not None else path.name
        return self.upload_body(
            lambda: UploadBody.open(path, name, UPLOAD_CONTENT_TYPE, progress), folder_id
        )

    def upload_body(self, open_body: BodyFactory, folder_id: int | None) -> UploadResult:
        """:meth:`upload_file` for any body: ``open_body()`` opens what one attempt sends
        (called again for a replay). The host's MD5 is checked against the bytes sent."""
        bodies: list[UploadBody] = []

        def body() -> UploadBody:
            bodies.append(open_body())
            return bodies[-1]

        fields: dict[str, str] = {}
        if folder_id:
            fields["folder_id"] = str(folder_id)
        answer = self._call("file/upload", fields, body=body)
        with self._unknown_if_unreadable("file/upload"):
            entry = upload_entry("file/upload", answer, scrub=self._redact)
        result = UploadResult.from_api(entry)
        if not result.file_id:
            raise UploadOutcomeUnknown("upload answer without a file id", action="file/upload")
        sent = bodies[-1]
        if result.md5 != sent.hexdigest():
            raise HashMismatch(
                f"host stored MD5 {result.md5 or '(none)'} for {sent.bytes_sent} bytes sent "
                f"with MD5 {sent.hexdigest()} (file id {result.file_id})",
                action="file/upload",
                file_id=result.file_id,
            )
        if _debug_on(logging.DEBUG):
            log.debug(
                "remote.uploaded", file_id=result.file_id, size=result.size, folder_id=folder_id
            )
        return result

    def file_download(self, file_id: int) -> DownloadLink:
        data = data_of("file/download", self._call("file/download", {"file_id": str(file_id)}))
        link = DownloadLink.from_api(data)
        self._redact.add(httpx.URL(link.url).params.get("download_token") if link.url else None)
        return link

    def iter_download(self, link: DownloadLink, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Streams the content behind a :class:`DownloadLink`. Opening is retried; a failure
        after bytes were yielded raises TransientError (start again with a new link)."""
        url = self._download_url(link.url)
        response = self._with_retries("download", lambda: self._open_download(url))
        bucket = self._down_bucket
        try:
            try:
                if bucket.rate is None:
                    yield from response.iter_bytes(chunk_size)
                else:
                    # Read no faster than the limit: TCP then slows the sender down.
                    for chunk in response.iter_bytes(bucket.piece()):
                        bucket.take(len(chunk))
                        yield chunk
            except httpx.HTTPError as exc:
                raise transport_error(exc, "download", self._redact) from None
        finally:
            response.close()

    def file_info(self, file_id: int) -> RemoteFile:
        return self._file("file/info", {"file_id": str(file_id)})

    def file_edit(
        self,
        file_id: int,
        *,
        filename: str | None = None,
        file_type: str | None = None,
        folder_id: int | None = None,
    ) -> RemoteFile:
        """Rename and/or move in one call; None keeps the old value (the host keeps blanks).
        The host trims and strips tags from ``filename``: read the name back from the result."""
        fields = {"file_id": str(file_id)}
        if filename is not None:
            fields["filename"] = filename
        if file_type is not None:
            fields["fileType"] = file_type
        if folder_id is not None:
            fields["folder_id"] = str(folder_id)
        return self._file("file/edit", fields)

    def file_delete(self, file_id: int) -> RemoteFile:
        """Moves the file to the trash."""
        return self._file("file/delete", {"file_id": str(file_id)})

    def file_move(self, file_id: int, new_parent_folder_id: int | None) -> RemoteFile:
        """``None`` moves to the account root."""
        fields = {"file_id": str(file_id), "new_parent_folder_id": str(new_parent_folder_id or 0)}
        return self._file("file/move", fields)

    def file_relocate(
        self, file_id: int, folder_id: int | None, *, filename: str | None = None
    ) -> RemoteFile:
        """Put a file in ``folder_id`` (None = account root) under ``filename`` (None keeps it).
        One file/edit, except into the root, which file/edit cannot express (a blank folder_id
        keeps the old one): file/move, then a file/edit for the name if there is one."""
        if folder_id is None:
            moved = self.file_move(file_id, None)
            return moved if filename is None else self.file_edit(file_id, filename=filename)
        return self.file_edit(file_id, filename=filename, folder_id=folder_id)

    def file_copy(self, file_id: int, copy_to_folder_id: int | None) -> CopyResult:
        fields = {"file_id": str(file_id), "copy_to_folder_id": str(copy_to_folder_id or 0)}
        copy = CopyResult.from_api(self._call("file/copy", fields))
        if not copy.new.id:
            raise UploadOutcomeUnknown("copy answer without the new file", action="file/copy")
        return copy

    # ------------------------------------------------------------------ folders

    def folder_create(
        self,
        folder_name: str,
        parent_id: int | None = None,
        *,
        is_public: int = 0,
        access_password: str | None = None,
    ) -> RemoteFolder:
        """The host trims and strips tags from the name and allows duplicates: the result holds
        the stored name. UploadOutcomeUnknown if the answer was lost after sending."""
        fields = {
            "folder_name": folder_name,
            "parent_id": str(parent_id or 0),
            "is_public": str(is_public),
        }
        if access_password is not None:
            fields["access_password"] = access_password
        answer = self._call("folder/create", fields)
        with self._unknown_if_unreadable("folder/create"):
            folder = RemoteFolder.from_api(data_of("folder/create", answer))
        if not folder.id:
            raise UploadOutcomeUnknown("folder/create answer without an id", action="folder/create")
        return folder

    def folder_listing(self, parent_folder_id: int | None) -> FolderListing:
        fields = {"parent_folder_id": str(parent_folder_id or 0)}
        data = data_of("folder/listing", self._call("folder/listing", fields))
        return FolderListing.from_api(data)

    def folder_info(self, folder_id: int) -> RemoteFolder:
        return self._folder("folder/info", {"folder_id": str(folder_id)})

    def folder_edit(
        self,
        folder_id: int,
        *,
        folder_name: str | None = None,
        parent_id: int | None = None,
        is_public: int | None = None,
        access_password: str | None = None,
    ) -> RemoteFolder:
        fields = {"folder_id": str(folder_id)}
        if folder_name is not None:
            fields["folder_name"] = folder_name
        if parent_id is not None:
            fields["parent_id"] = str(parent_id)
        if is_public is not None:
            fields["is_public"] = str(is_public)
        if access_password is not None:
            fields["access_password"] = access_password
        return self._folder("folder/edit", fields)

    def folder_delete(self, folder_id: int) -> None:
        """Moves the folder (and what it holds) to the trash."""
        self._call("folder/delete", {"folder_id": str(folder_id)})

    def folder_move(self, folder_id: int, new_parent_folder_id: int | None) -> RemoteFolder:
        fields = {
            "folder_id": str(folder_id),
            "new_parent_folder_id": str(new_parent_folder_id or 0),
        }
        return self._folder("folder/move", fields)

    def folder_relocate(
        self, folder_id: int, parent_id: int | None, *, folder_name: str | None = None
    ) -> RemoteFolder:
        """Put a folder under ``parent_id`` (None = account root) as ``folder_name`` (None keeps
        it): one folder/edit, or folder/move (+ folder/edit for the name) into the root."""
        if parent_id is None:
            moved = self.folder_move(folder_id, None)
            if folder_name is None:
                return moved
            return self.folder_edit(folder_id, folder_name=folder_name)
        return self.folder_edit(folder_id, folder_name=folder_name, parent_id=parent_id)

    # ------------------------------------------------------------------ plumbing

    def _file(self, action: str, fields: dict[str, str]) -> RemoteFile:
        return RemoteFile.from_api(data_of(action, self._call(action, fields)))

    def _folder(self, action: str, fields: dict[str, str]) -> RemoteFolder:
        return RemoteFolder.from_api(data_of(action, self._call(action, fields)))

    def _call(
        self,
        action: str,
        fields: dict[str, str] | None = None,
        *,
        body: BodyFactory | None = None,
    ) -> dict[str, Any]:
        """One authenticated API call with token renewal, retries and idempotency rules."""
        if self._closed:
            raise RemoteError("client is closed", action=action)
        return self._with_retries(action, lambda: self._with_token(action, fields or {}, body))

    @contextmanager
    def _deadline(self, budget: float | None = None) -> Iterator[float]:
        """The monotonic time by which the outermost call on this thread gives up. Calls made
        inside it (the authorize inside a call, the link inside a download) share it, so
        ``max_retry_time`` bounds the whole call, not each nested retry loop."""
        outer: float | None = getattr(self._deadlines, "at", None)
        if outer is not None:
            yield outer
            return
        budget = self._max_retry_time if budget is None else min(budget, self._max_retry_time)
        self._deadlines.at = time.monotonic() + budget
        try:
            yield self._deadlines.at
        finally:
            self._deadlines.at = None

    def _with_retries(self, action: str, attempt: Callable[[], Any]) -> Any:
        with self._deadline() as deadline:
            # The first attempt runs bare: building tenacity's machinery costs about 20 µs, a
            # tenth of a small upload's CPU, and nearly every call succeeds at once.
            try:
                return attempt()
            except (TransientError, RateLimited) as exc:
                first: list[BaseException] = [exc]

            def replaying() -> Any:
                # Tenacity's attempt 1 is the one that just failed (re-raised, not re-sent), so
                # its waits, stop rule and retry log are exactly those of a call that began in it.
                if first:
                    raise first.pop()
                return attempt()

            retrying = Retrying(
                retry=retry_if_exception(lambda exc: isinstance(exc, TransientError | RateLimited)),
                wait=self._retry_wait,
                stop=stop_before_delay(max(0.0, deadline - time.monotonic())),
                before_sleep=lambda state: self._log_retry(action, state),
                reraise=True,
            )
            return retrying(replaying)

    def _retry_wait(self, state: RetryCallState) -> float:
        # Full jitter: uniform(0, min(cap, base * 2^n)).
        ceiling = min(self._backoff_cap, self._backoff_base * 2 ** (state.attempt_number - 1))
        backoff = random.uniform(0, ceiling)
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited):
            # The limiter already paused everyone until Retry-After; this request waits too.
            return exc.retry_after if exc.retry_after is not None else backoff / 4
        return backoff

    def _log_retry(self, action: str, state: RetryCallState) -> None:
        with self._counter_lock:
            self._retries += 1
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log_event = log.info if isinstance(exc, RateLimited) else log.warning
        log_event(
            "remote.retry",
            action=action,
            attempt=state.attempt_number,
            wait_s=round(wait, 3),
            error=type(exc).__name__,
            detail=str(exc) if exc else None,
        )

    def _with_token(
        self, action: str, fields: dict[str, str], body: BodyFactory | None
    ) -> dict[str, Any]:
        """Send with the shared token; on TokenInvalid renew (coordinated) and replay, for at
        most ``token_give_up`` seconds. A token rejection happens before the host acts, so
        replaying even an upload is safe."""
        give_up_at = time.monotonic() + self._token_give_up
        outer = getattr(self._deadlines, "at", None)
        if outer is not None:
            give_up_at = min(give_up_at, outer)
        session: Session = self._tokens.current()
        while True:
            signed = {"access_token": session.access_token, "account_id": session.account_id}
            signed.update(fields)
            try:
                answer = self._exchange(action, signed, body=body)
            except TokenInvalid:
                if time.monotonic() >= give_up_at:
                    log.warning("remote.token.give_up", action=action)
                    raise
                session = self._tokens.renew(session)
            else:
                self._tokens.worked(session)
                return answer

    def _exchange(
        self, action: str, fields: dict[str, str], *, body: BodyFactory | None = None
    ) -> dict[str, Any]:
        """One HTTP exchange: pace, send, classify. No retries here."""
        if action == "file/upload":
            with self._upload_slots:
                return self._exchange_paced(action, fields, body)
        return self._exchange_paced(action, fields, body)

    def _exchange_paced(
        self, action: str, fields: dict[str, str], body: BodyFactory | None
    ) -> dict[str, Any]:
        self._limiter.acquire()
        with self._counter_lock:
            self._requests += 1
        upload: UploadBody | None = None
        started = time.monotonic()
        try:
            try:
                if body is not None:
                    upload = body()
                response = self._post(self._action_url(action), fields, upload)
            except httpx.HTTPError as exc:
                raise self._unsafe_aware(
                    action, transport_error(exc, action, self._redact)
                ) from None
            except FileChangedError as exc:
                raise TransientError(str(exc), action=action, request_sent=False) from None
        finally:
            if upload is not None:
                upload.close()
        elapsed_ms = round((time.monotonic() - started) * 1000, 1)
        try:
            answer = parse_answer(
                action, response.status_code, response.headers, response.content, scrub=self._redact
            )
        except RateLimited as exc:
            with self._counter_lock:
                self._rate_limited += 1
            self._limiter.on_rate_limited(exc.retry_after)
            log.debug("remote.request", action=action, status=429, elapsed_ms=elapsed_ms)
            raise
        except TransientError as exc:
            log.debug(
                "remote.request", action=action, status=response.status_code, elapsed_ms=elapsed_ms
            )
            raise self._unsafe_aware(action, exc) from None
        except RemoteError as exc:
            self._limiter.on_success()  # served (with a refusal): not a rate signal
            log.debug(
                "remote.request",
                action=action,
                status=response.status_code,
                elapsed_ms=elapsed_ms,
                error=type(exc).__name__,
            )
            raise
        self._limiter.on_success()
        if _debug_on(logging.DEBUG):
            log.debug(
                "remote.request", action=action, status=response.status_code, elapsed_ms=elapsed_ms
            )
        return answer

    def _action_url(self, action: str) -> httpx.URL:
        # Parsed once per action: httpx parses a str URL twice per request (~25 µs).
        url = self._action_urls.get(action)
        if url is None:
            url = self._action_urls[action] = httpx.URL(self._api_url + action)
        return url

    def _post(
        self, url: httpx.URL, fields: dict[str, str], upload: UploadBody | None
    ) -> httpx.Response:
        if upload is None:
            return self._http.post(url, data=fields)
        bucket = self._up_bucket
        if upload.content is not None:
            content, content_type = multipart_body(
                fields, upload.filename, upload.content, upload.content_type
            )
            if bucket.rate is None:
                bucket.reserve(len(content))  # counted, not paced
                return self._http.post(url, content=content, headers={"Content-Type": content_type})
            headers = {"Content-Type": content_type, "Content-Length": str(len(content))}
            return self._http.post(url, content=bucket.paced([content]), headers=headers)
        prefix, suffix, content_type = multipart_frame(fields, upload.filename, upload.content_type)
        headers = {
            "Content-Type": content_type,
            "Content-Length": str(len(prefix) + upload.size + len(suffix)),
        }
        body = bucket.paced(upload.stream(prefix, suffix))
        return self._http.post(url, content=body, headers=headers)

    @contextmanager
    def _unknown_if_unreadable(self, action: str) -> Iterator[None]:
        """A success answer we cannot read, to a creating action: the outcome is unknown."""
        try:
            yield
        except TransientError as exc:
            raise UploadOutcomeUnknown(exc.message, action=action) from None

    def _unsafe_aware(self, action: str, exc: TransientError) -> RemoteError:
        """A lost answer to a creating action is an unknown outcome, never a blind replay."""
        if action in NON_IDEMPOTENT_ACTIONS and exc.request_sent:
            return UploadOutcomeUnknown(
                f"answer lost after sending ({exc.message}); check the listing before retrying",
                action=action,
            )
        return exc

    # ------------------------------------------------------------------ downloads

    def _download_url(self, url: str) -> str:
        if not url:
            raise Refused("file/download gave no download_url", action="file/download")
        parsed = httpx.URL(url)
        api_is_https = self._api_url.startswith("https://")
        if parsed.scheme == "http" and api_is_https and not is_loopback_host(parsed.host):
            parsed = parsed.copy_with(scheme="https")  # same host family; never send tokens bare
        check_url(str(parsed), allow_insecure_http=self._allow_insecure_http, what="download_url")
        return str(parsed)

    def _open_download(self, url: str) -> httpx.Response:
        self._limiter.acquire()
        with self._counter_lock:
            self._requests += 1
        request = self._http.build_request("GET", url)
        try:
            response = self._http.send(request, stream=True, follow_redirects=True)
        except httpx.HTTPError as exc:
            raise transport_error(exc, "download", self._redact) from None
        status = response.status_code
        log.debug("remote.request", action="download", status=status)
        if 200 <= status < 300:
            # The file's own bytes, whatever their content type (a .json file is served as
            # application/json): never sniffed, streamed as they come.
            self._limiter.on_success()
            return response
        try:
            content = response.read()[:65536] if status < 500 else b""
        except httpx.HTTPError as exc:
            raise transport_error(exc, "download", self._redact) from None
        finally:
            response.close()
        if status == 404:
            self._limiter.on_success()
            raise NotFound("download link not found or expired (HTTP 404)", action="download")
        try:
            parse_answer("download", status, response.headers, content, scrub=self._redact)
        except RateLimited as exc:
            with self._counter_lock:
                self._rate_limited += 1
            self._limiter.on_rate_limited(exc.retry_after)
            raise
        except TransientError:
            raise
        except RemoteError:
            self._limiter.on_success()
            raise
        raise Refused(f"download answered HTTP {status}", action="download")
