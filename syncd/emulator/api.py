"""The `/api/v2/...` endpoints, with the answers and quirks of the real PHP application.

Semantics follow the host's own source where we have it (docs/architecture.md, "The host,
as it really behaves"):
every parameter is `trim(strip_tags())`-ed, errors are HTTP 200 `{"status": "error", ...}`,
token checks come first, file lookups ignore the file's status (so `file/info` shows a trashed
file), folder lookups see only active folders, destinations `null`/`0` mean the root.
"""

from __future__ import annotations

import json
import mimetypes
import re
import sqlite3
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from syncd.emulator.host import Host
from syncd.emulator.sanitize import clean_field
from syncd.emulator.store import TRASH, sql_now
from syncd.emulator.upload_stream import MalformedUpload, ReceivedFile, receive_upload

NEVER = "0000-00-00 00:00:00"

MSG_NO_TOKEN = "Please provide the access_token param."
MSG_NO_ACCOUNT = "Please provide the account_id param."
MSG_BAD_TOKEN = (
    "Could not validate access_token and account_id, please reauthenticate or try again."
)
MSG_BAD_KEYS = (
    "Could not authenticate user. The key pair may be invalid or your account may be locked "
    "from too many failed logins."
)
MSG_BAD_PASSWORD = (
    "Could not authenticate user. The username and password may be invalid or your account may "
    "be locked from too many failed logins."
)
MSG_NO_API_ACCESS = (
    "Your account level does not have access to the file upload API. Please contact site "
    "support for more information."
)
MSG_FILE_NOT_FOUND = "Could not find file based on file_id."
MSG_FOLDER_NOT_FOUND = "Could not find folder based on folder_id."
MSG_NO_FILE = "Did not receive uploaded file."
MSG_ZERO_SIZE = "Filesize received was zero."
MSG_TOKEN_REMOVED = "Token removed or no longer available."

_ENDPOINTS_WITH_TOKEN = ("account", "file", "folder", "disable_access_token")
_PHP_INT = re.compile(r"\s*([+-]?\d+)")
_DECIMAL = re.compile(r"[1-9]\d*")


class ApiError(Exception):
    """A refusal: answered HTTP 200 with `{"status": "error", "response": message}`."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def php_json(payload: dict[str, Any]) -> bytes:
    # PHP's json_encode escapes '/' and non-ASCII by default; do the same.
    return json.dumps(payload, ensure_ascii=True).replace("/", "\\/").encode("ascii")


def json_response(payload: dict[str, Any], status: int = 200) -> Response:
    return Response(php_json(payload), status_code=status, media_type="application/json")


def success(payload: dict[str, Any]) -> Response:
    payload["_status"] = "success"
    payload["_datetime"] = sql_now()
    return json_response(payload)


def refusal(message: str) -> Response:
    return json_response({"status": "error", "response": message, "_datetime": sql_now()})


def php_int(value: str | None) -> int:
    """PHP's (int) cast of a string: leading digits, else 0."""
    if not value:
        return 0
    match = _PHP_INT.match(value)
    return int(match.group(1)) if match else 0


def _s(value: Any) -> str | None:
    """Numbers inside `data` are strings; absent values are null."""
    return None if value is None else str(value)


class Api:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.store = host.store
        self._actions: dict[tuple[str, str], Callable[[Context], dict[str, Any]]] = {
            ("authorize", "index"): self.authorize,
            ("disable_access_token", "index"): self.disable_access_token,
            ("account", "info"): self.account_info,
            ("account", "package"): self.account_package,
            ("file", "download"): self.file_download,
            ("file", "info"): self.file_info,
            ("file", "edit"): self.file_edit,
            ("file", "delete"): self.file_delete,
            ("file", "move"): self.file_move,
            ("file", "copy"): self.file_copy,
            ("folder", "create"): self.folder_create,
            ("folder", "listing"): self.folder_listing,
            ("folder", "info"): self.folder_info,
            ("folder", "edit"): self.folder_edit,
            ("folder", "delete"): self.folder_delete,
            ("folder", "move"): self.folder_move,
        }

    # ------------------------------------------------------------- dispatch
    async def handle(self, request: Request) -> Response:
        endpoint, action = split_action(request.path_params.get("path", ""))
        upload = (endpoint, action) == ("file", "upload")
        received: ReceivedFile | None = None
        try:
            if upload and request.method == "POST" and _is_multipart(request):
                parsed = await receive_upload(
                    request.headers.get("content-type"),
                    request.stream(),
                    self.store,
                    self.host.knobs.max_upload_size,
                )
                raw_fields, received = parsed.fields, parsed.file
            elif request.method == "POST":
                form = await request.form()
                raw_fields = {k: v for k, v in form.items() if isinstance(v, str)}
            else:
                raw_fields = dict(request.query_params)
        except MalformedUpload:
            return refusal(MSG_NO_FILE)
        params = {k: clean_field(v) for k, v in raw_fields.items()}
        ctx = Context(request, params)
        try:
            if endpoint in _ENDPOINTS_WITH_TOKEN:
                ctx.account_id = self._check_token(params)
            if upload:
                payload = self.file_upload(ctx, received)
                received = None  # stored: the blob now belongs to the file row
                return success(payload)
            handler = self._actions.get((endpoint, action))
            if handler is None:
                return json_response(
                    {
                        "0": f"No method found within endpoint ({endpoint}): {action}",
                        "_status": "error",
                        "_datetime": sql_now(),
                    },
                    status=404,
                )
            return success(handler(ctx))
        except ApiError as exc:
            return refusal(exc.message)
        finally:
            if received is not None and received.blob:
                self.store.discard_blob(received.blob)

    def _check_token(self, params: dict[str, str]) -> int:
        token = params.get("access_token", "")
        account_text = params.get("account_id", "")
        if not token:
            raise ApiError(MSG_NO_TOKEN)
        if not account_text:
            raise ApiError(MSG_NO_ACCOUNT)
        account_id = self.host.validate_token(token, account_text)
        if account_id is None:
            raise ApiError(MSG_BAD_TOKEN)
        return account_id

    # ----------------------------------------------------------------- auth
    def authorize(self, ctx: Context) -> dict[str, Any]:
        try:
            answer = self._authorize(ctx)
        except ApiError:
            self.host.failed_logins += 1
            raise
        self.host.failed_logins = 0
        return answer

    def _authorize(self, ctx: Context) -> dict[str, Any]:
        account = self.host.account
        p = ctx.params
        bad_credentials = MSG_BAD_PASSWORD if self.host.auth_method == "password" else MSG_BAD_KEYS
        lockout = self.host.knobs.lockout_after_failures
        if lockout and self.host.failed_logins >= lockout:
            raise ApiError(bad_credentials)  # locked: the host says the same as for bad keys
        if self.host.auth_method == "password":
            if not p.get("username"):
                raise ApiError("Please provide a username.")
            if not p.get("password"):
                raise ApiError("Please provide a password.")
            if p["username"] != account.username or p["password"] != account.password:
                raise ApiError(MSG_BAD_PASSWORD)
        else:
            if len(p.get("key1", "")) != 64:
                raise ApiError("Please provide key1. It must be 64 characters in length.")
            if len(p.get("key2", "")) != 64:
                raise ApiError("Please provide key2. It must be 64 characters in length.")
            if p["key1"] != account.key1 or p["key2"] != account.key2:
                raise ApiError(MSG_BAD_KEYS)
        if not self.host.knobs.api_access:
            raise ApiError(MSG_NO_API_ACCESS)
        self.host.last_login = sql_now()
        token = self.host.issue_token(account.id)
        return {"data": {"access_token": token, "account_id": str(account.id)}}

    def disable_access_token(self, ctx: Context) -> dict[str, Any]:
        self.host.forget_token(ctx.params["access_token"])
        return {"response": MSG_TOKEN_REMOVED}

    # -------------------------------------------------------------- account
    def account_info(self, ctx: Context) -> dict[str, Any]:
        a = self.host.account
        return {
            "data": {
                "id": str(a.id),
                "username": a.username,
                "level_id": str(a.level_id),
                "email": a.email,
                "lastlogindate": self.host.last_login or NEVER,
                "lastloginip": ctx.client_ip,
                "status": "active",
                "title": "Mr",
                "firstname": "Demo",
                "lastname": "User",
                "languageId": "1",
                "datecreated": a.date_created,
                "lastPayment": NEVER,
                "paidExpiryDate": NEVER,
                "storageLimitOverride": None,
            }
        }

    def account_package(self, ctx: Context) -> dict[str, Any]:
        k = self.host.knobs
        return {
            "data": {
                "id": str(self.host.account.level_id),
                "label": "Premium Account",
                "max_upload_size": str(k.max_upload_size),
                "can_upload": "1",
                "wait_between_downloads": "0",
                "download_speed": "0",
                "max_storage_bytes": "0",
                "show_site_adverts": "0",
                "show_upgrade_screen": "1",
                "days_to_keep_inactive_files": "0",
                "concurrent_uploads": str(k.concurrent_uploads),
                "concurrent_downloads": "0",
                "downloads_per_24_hours": "0",
                "max_download_filesize_allowed": "0",
                "max_remote_download_urls": "50",
                "level_type": "paid user",
                "on_upgrade_page": "0",
            }
        }

    # ---------------------------------------------------------------- files
    def file_upload(self, ctx: Context, received: ReceivedFile | None) -> dict[str, Any]:
        if received is None:
            raise ApiError(MSG_NO_FILE)
        if received.size == 0:
            raise ApiError(MSG_ZERO_SIZE)
        limit = self.host.knobs.max_upload_size
        if received.too_large or received.size > limit:
            raise ApiError(
                f"Error on: {ctx.base_url}/core/page/ajax/api_upload_handler.ajax.php. "
                f"File received is larger than permitted. (max {limit} bytes)"
            )
        folder_id = php_int(ctx.params.get("folder_id")) or None
        if folder_id is not None and self.store.folder(ctx.account_id, folder_id) is None:
            raise ApiError(MSG_FOLDER_NOT_FOUND)
        name = received.filename  # from the multipart header: not trimmed, not stripped
        file_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        file_id = self.store.add_file(
            ctx.account_id, folder_id, name, received.blob_info(), file_type, ctx.client_ip
        )
        row = self.store.file(ctx.account_id, file_id)
        assert row is not None
        base, short = ctx.base_url, row["short_url"]
        url = f"{base}/{short}"
        site = self.host.profile.site_name
        stem = name.rsplit(".", 1)[0]
        return {
            "response": "File uploaded",
            "data": [
                {
                    "name": name,
                    "size": str(row["size"]),
                    "type": file_type,
                    "error": None,
                    "url": url,
                    "delete_url": f"{url}~d?{row['delete_hash']}",
                    "info_url": f"{url}~i?{row['delete_hash']}",
                    "delete_type": "DELETE",
                    "delete_hash": row["delete_hash"],
                    "hash": row["md5"],
                    "stats_url": f"{url}~s",
                    "short_url": short,
                    "file_id": str(file_id),
                    "unique_hash": row["unique_hash"],
                    "url_html": (
                        f'<a href="{url}" target="_blank" title="View image on {site}">'
                        f"view {stem} on {site}</a>"
                    ),
                    "url_bbcode": f"[url]{url}[/url]",
                }
            ],
        }

    def _file_row(self, ctx: Context) -> sqlite3.Row:
        text = ctx.params.get("file_id", "")
        if not text:
            raise ApiError("Please provide the file_id param.")
        row = self.store.file(ctx.account_id, php_int(text))
        if row is None:
            raise ApiError(MSG_FILE_NOT_FOUND)
        return row

    def _file_data(self, ctx: Context, file_id: int) -> dict[str, Any]:
        row = self.store.file(ctx.account_id, file_id)
        assert row is not None
        url = f"{ctx.base_url}/{row['short_url']}"
        return {
            "id": str(row["id"]),
            "filename": row["name"],
            "shortUrl": row["short_url"],
            "fileType": row["file_type"],
            "extension": row["extension"],
            "fileSize": str(row["size"]),
            "uploadedIP": row["uploaded_ip"],
            "uploadedDate": row["uploaded_date"],
            "file_status": row["status"],
            "downloads": str(row["downloads"]),
            "lastAccessed": row["last_accessed"] or NEVER,
            "folderId": _s(row["folder_id"]),
            "keywords": row["keywords"],
            "isPublic": "1",
            "uploadSource": "api",
            "url_file": url,
            "url_file_info": f"{url}~i?{row['delete_hash']}",
            "url_file_stats": f"{url}~s",
            "url_file_delete": f"{url}~d?{row['delete_hash']}",
        }

    def _destination(self, ctx: Context, value: str) -> tuple[bool, int | None]:
        """A move target: `null`/`0` = root, else an active folder of the account."""
        if value.lower() == "null" or value == "0":
            return True, None
        if _DECIMAL.fullmatch(value) and self.store.folder(ctx.account_id, int(value)):
            return True, int(value)
        return False, None

    def file_download(self, ctx: Context) -> dict[str, Any]:
        row = self._file_row(ctx)
        token = self.host.issue_download_token(row["id"])
        return {
            "data": {
                "file_id": ctx.params["file_id"],
                "filename": row["name"],
                "download_url": f"{ctx.base_url}/{row['short_url']}?download_token={token}",
            }
        }

    def file_info(self, ctx: Context) -> dict[str, Any]:
        return {"data": self._file_data(ctx, self._file_row(ctx)["id"])}

    def file_edit(self, ctx: Context) -> dict[str, Any]:
        row = self._file_row(ctx)
        p = ctx.params
        if p.get("filename"):
            self.store.rename_file(row["id"], p["filename"])
        if p.get("folder_id"):
            ok, folder_id = self._destination(ctx, p["folder_id"])
            if ok:  # an unknown folder is silently ignored, like the real host
                self.store.update_file(row["id"], folder_id=folder_id)
        if p.get("fileType"):
            self.store.update_file(row["id"], file_type=p["fileType"])
        return {"response": "File successfully updated.", "data": self._file_data(ctx, row["id"])}

    def file_delete(self, ctx: Context) -> dict[str, Any]:
        row = self._file_row(ctx)
        self.store.update_file(row["id"], status=TRASH)
        # The page's example shows `status` ("trash") after `shortUrl`, beside file/info's
        # `file_status`.
        data = self._file_data(ctx, row["id"])
        shown = dict(list(data.items())[:3])
        shown["status"] = data["file_status"]
        return {"response": "File successfully set as deleted.", "data": shown | data}

    def file_move(self, ctx: Context) -> dict[str, Any]:
        row = self._file_row(ctx)
        target = ctx.params.get("new_parent_folder_id", "")
        if not target:
            raise ApiError("Please provide the new_parent_folder_id param.")
        ok, folder_id = self._destination(ctx, target)
        if not ok:
            raise ApiError(
                "Could not find the destination folder id defined by new_parent_folder_id."
            )
        self.store.update_file(row["id"], folder_id=folder_id)
        return {"response": "File successfully moved.", "data": self._file_data(ctx, row["id"])}

    def file_copy(self, ctx: Context) -> dict[str, Any]:
        row = self._file_row(ctx)
        target = ctx.params.get("copy_to_folder_id", "")
        if not target:
            raise ApiError("Please provide the copy_to_folder_id param.")
        ok, folder_id = self._destination(ctx, target)
        if not ok:
            raise ApiError("Could not find the destination folder id defined by copy_to_folder_id.")
        original = {"data": self._file_data(ctx, row["id"])}
        new_id = self.store.copy_file(row, folder_id)
        return {
            "response": "File successfully copyied.",  # sic, as the host spells it
            "original_file": original,
            "new_file": {"data": self._file_data(ctx, new_id)},
        }

    # -------------------------------------------------------------- folders
    def _folder_id_param(self, ctx: Context) -> int:
        text = ctx.params.get("folder_id", "")
        if not text:
            raise ApiError("Please provide the folder_id param.")
        folder_id = php_int(text)
        if self.store.folder(ctx.account_id, folder_id) is None:
            raise ApiError(MSG_FOLDER_NOT_FOUND)
        return folder_id

    def _folder_data(
        self, ctx: Context, row: sqlite3.Row, stats: tuple[int, int, int], with_password: bool
    ) -> dict[str, Any]:
        total_size, file_count, child_count = stats
        data: dict[str, Any] = {
            "id": str(row["id"]),
            "parentId": _s(row["parent_id"]),
            "folderName": row["name"],
            "totalSize": str(total_size),
            "isPublic": str(row["is_public"]),
        }
        if with_password:
            data["accessPassword"] = row["access_password"]
        slug = quote(row["name"].replace(" ", "_"), safe="")
        data.update(
            {
                "date_added": row["date_added"],
                "date_updated": row["date_updated"],
                "url_folder": f"{ctx.base_url}/folder/{row['id']}/{slug}",
                # The pages show these three as JSON numbers (the rest of `data` is strings).
                "total_downloads": int(row["total_downloads"]),
                "child_folder_count": int(child_count),
                "file_count": int(file_count),
            }
        )
        return data

    def _folder_info_data(self, ctx: Context, folder_id: int) -> dict[str, Any]:
        row = self.store.folder(ctx.account_id, folder_id)
        if row is None:
            raise ApiError(MSG_FOLDER_NOT_FOUND)
        return self._folder_data(ctx, row, self.store.folder_stats(folder_id), True)

    def folder_create(self, ctx: Context) -> dict[str, Any]:
        p = ctx.params
        name = p.get("folder_name", "")
        if not name:
            raise ApiError("Please provide the folder_name param.")
        parent_id = php_int(p.get("parent_id")) or None
        if parent_id is not None and self.store.folder(ctx.account_id, parent_id) is None:
            raise ApiError("Could not find the parent folder defined by parent_id.")
        is_public = php_int(p.get("is_public"))
        if not 0 <= is_public <= 2:
            is_public = 0
        password = p.get("access_password", "")
        folder_id = self.store.create_folder(
            ctx.account_id, parent_id, name, is_public, password if len(password) == 32 else None
        )
        return {
            "response": "Folder successfully created.",
            "data": self._folder_info_data(ctx, folder_id),
        }

    def folder_listing(self, ctx: Context) -> dict[str, Any]:
        parent_id = php_int(ctx.params.get("parent_folder_id"))
        if parent_id > 0 and self.store.folder(ctx.account_id, parent_id) is None:
            raise ApiError(MSG_FOLDER_NOT_FOUND)
        parent = parent_id if parent_id > 0 else None
        base = ctx.base_url
        folders = [
            self._folder_data(
                ctx, row, (row["total_size"], row["file_count"], row["child_count"]), False
            )
            for row in self.store.list_folders(ctx.account_id, parent)
        ]
        files = [
            {
                "id": str(row["id"]),
                "filename": row["name"],
                "shortUrl": row["short_url"],
                "fileType": row["file_type"],
                "extension": row["extension"],
                "fileSize": str(row["size"]),
                "status": row["status"],
                "downloads": str(row["downloads"]),
                "folderId": _s(row["folder_id"]),
                "keywords": row["keywords"],
                "url_file": f"{base}/{row['short_url']}",
            }
            for row in self.store.list_files(ctx.account_id, parent)
        ]
        return {"data": {"folders": folders, "files": files}}

    def folder_info(self, ctx: Context) -> dict[str, Any]:
        return {"data": self._folder_info_data(ctx, self._folder_id_param(ctx))}

    def folder_edit(self, ctx: Context) -> dict[str, Any]:
        folder_id = self._folder_id_param(ctx)
        p = ctx.params
        changes: dict[str, object] = {}
        if p.get("folder_name"):
            changes["name"] = p["folder_name"]
        if p.get("parent_id"):
            ok, parent_id = self._destination(ctx, p["parent_id"])
            # An unknown parent (or one inside this folder) is silently ignored.
            if ok and not self.store.is_descendant_or_self(folder_id, parent_id):
                changes["parent_id"] = parent_id
        if p.get("is_public"):
            is_public = php_int(p["is_public"])
            changes["is_public"] = is_public if 0 <= is_public <= 2 else 0
        if p.get("access_password"):
            password = p["access_password"]
            changes["access_password"] = None if password.lower() == "null" else password
        self.store.update_folder(folder_id, **changes)
        return {
            "response": "Folder successfully updated.",
            "data": self._folder_info_data(ctx, folder_id),
        }

    def folder_delete(self, ctx: Context) -> dict[str, Any]:
        folder_id = self._folder_id_param(ctx)
        self.store.trash_folder_tree(folder_id)
        return {"response": "Folder successfully set as deleted."}

    def folder_move(self, ctx: Context) -> dict[str, Any]:
        p = ctx.params
        folder_text = p.get("folder_id", "")
        if not folder_text:
            raise ApiError("Please provide the folder_id param.")
        target = p.get("new_parent_folder_id", "")
        if not target:
            raise ApiError("Please provide the new_parent_folder_id param.")
        if folder_text == target or (
            folder_text.isdigit() and target.isdigit() and int(folder_text) == int(target)
        ):
            raise ApiError("Param folder_id can not match new_parent_folder_id.")
        ok, parent_id = self._destination(ctx, target)
        if not ok:
            raise ApiError(
                "Could not find the destination folder id defined by new_parent_folder_id."
            )
        folder_id = php_int(folder_text)
        if self.store.folder(ctx.account_id, folder_id) is None:
            raise ApiError(MSG_FOLDER_NOT_FOUND)
        if self.store.is_descendant_or_self(folder_id, parent_id):
            raise ApiError("Param new_parent_folder_id can not be a sub-folder of folder_id.")
        self.store.update_folder(folder_id, parent_id=parent_id)
        return {
            "response": "Folder successfully moved.",
            "data": self._folder_info_data(ctx, folder_id),
        }


class Context:
    """One API request: its cleaned parameters, the caller's account and URL base."""

    __slots__ = ("account_id", "base_url", "client_ip", "params")

    def __init__(self, request: Request, params: dict[str, str]) -> None:
        self.params = params
        self.account_id = 0
        self.client_ip = request.client.host if request.client else "127.0.0.1"
        self.base_url = f"{request.url.scheme}://{request.headers.get('host', 'localhost')}"


def split_action(path: str) -> tuple[str, str]:
    """`file/upload/` -> ("file", "upload"); `authorize` -> ("authorize", "index").

    Like PHP method lookup, the action is case-insensitive.
    """
    parts = path.rstrip("/").split("/")
    endpoint = parts[0]
    action = parts[1] if len(parts) > 1 else "index"
    return endpoint, action.lower()


def _is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")
