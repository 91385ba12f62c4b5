"""The loopback-only admin API under /admin (see docs/contracts.md). Never counted."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from syncd.emulator.host import Host
from syncd.emulator.knobs import Counts, FaultDice, KnobError
from syncd.emulator.store import TRASH


class AdminError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def is_loopback(client_host: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and IPv4-mapped loopback; anything else is refused."""
    if not client_host:
        return False
    try:
        address = ipaddress.ip_address(client_host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _b64(value: Any) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AdminError("content_b64 is not valid base64") from exc


def _opt_id(value: Any) -> int | None:
    """A folder id where null/0 mean the root."""
    if value in (None, "", 0, "0"):
        return None
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise AdminError(f"not an id: {value!r}") from exc


class Admin:
    def __init__(self, host: Host, counts: Counts, dice: FaultDice) -> None:
        self.host = host
        self.store = host.store
        self.counts = counts
        self.dice = dice

    def routes(self) -> list[Route]:
        def guard(
            handler: Callable[[Request], Awaitable[Any]],
        ) -> Callable[[Request], Awaitable[Response]]:
            async def endpoint(request: Request) -> Response:
                if not is_loopback(request.client.host if request.client else None):
                    return JSONResponse({"ok": False, "error": "admin is loopback only"}, 403)
                try:
                    return JSONResponse(await handler(request))
                except AdminError as exc:
                    return JSONResponse({"ok": False, "error": exc.message}, exc.status)

            return endpoint

        return [
            Route("/admin/tree", guard(self.tree), methods=["GET"]),
            Route("/admin/counts", guard(self.get_counts), methods=["GET"]),
            Route("/admin/counts/reset", guard(self.reset_counts), methods=["POST"]),
            Route("/admin/knobs", guard(self.get_knobs), methods=["GET"]),
            Route("/admin/knobs", guard(self.set_knobs), methods=["POST"]),
            Route("/admin/drift", guard(self.drift), methods=["POST"]),
            Route("/admin/revoke_tokens", guard(self.revoke_tokens), methods=["POST"]),
        ]

    async def _json(self, request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body() or b"{}")
        except json.JSONDecodeError as exc:
            raise AdminError(f"body is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise AdminError("body must be a JSON object")
        return body

    async def tree(self, request: Request) -> dict[str, Any]:
        return {
            "folders": [
                {
                    "id": r["id"],
                    "parent_id": r["parent_id"],
                    "name": r["name"],
                    "status": r["status"],
                }
                for r in self.store.all_folders()
            ],
            "files": [
                {
                    "id": r["id"],
                    "folder_id": r["folder_id"],
                    "name": r["name"],
                    "size": r["size"],
                    "md5": r["md5"],
                    "status": r["status"],
                }
                for r in self.store.all_files()
            ],
        }

    async def get_counts(self, request: Request) -> dict[str, int]:
        counts = {"429": 0, "faults": 0}
        counts.update(self.counts.snapshot())
        return counts

    async def reset_counts(self, request: Request) -> dict[str, Any]:
        self.counts.reset()
        return {"ok": True}

    async def get_knobs(self, request: Request) -> dict[str, Any]:
        return self.host.knobs.as_json()

    async def set_knobs(self, request: Request) -> dict[str, Any]:
        changes = await self._json(request)
        try:
            changed = self.host.knobs.update(changes)
        except KnobError as exc:
            raise AdminError(str(exc)) from exc
        if "fault_seed" in changed:
            self.dice.reseed(self.host.knobs.fault_seed)
        if "lockout_after_failures" in changed:
            self.host.failed_logins = 0  # setting the knob unlocks the account
        return self.host.knobs.as_json()

    async def revoke_tokens(self, request: Request) -> dict[str, Any]:
        return {"ok": True, "revoked": self.host.revoke_all_tokens()}

    # ------------------------------------------------------------------ drift
    async def drift(self, request: Request) -> dict[str, Any]:
        body = await self._json(request)
        op = body.get("op")
        handler = getattr(self, f"_drift_{op}", None) if isinstance(op, str) else None
        if handler is None:
            raise AdminError(f"unknown drift op: {op!r}")
        try:
            created = handler(body)
        except KeyError as exc:
            raise AdminError(f"drift {op}: missing field {exc.args[0]!r}") from exc
        result: dict[str, Any] = {"ok": True}
        if created is not None:
            result["id"] = created
        return result

    def _file(self, body: dict[str, Any]) -> int:
        file_id = int(body["file_id"])
        if self.store.file(self.host.account.id, file_id) is None:
            raise AdminError(f"no file {file_id}", 404)
        return file_id

    def _folder(self, value: Any, *, allow_root: bool = False) -> int | None:
        folder_id = _opt_id(value)
        if folder_id is None:
            if allow_root:
                return None
            raise AdminError("a folder id is required here")
        if self.store.folder(self.host.account.id, folder_id, active_only=False) is None:
            raise AdminError(f"no folder {folder_id}", 404)
        return folder_id

    def _drift_trash_file(self, body: dict[str, Any]) -> None:
        self.store.update_file(self._file(body), status=TRASH)

    def _drift_trash_folder(self, body: dict[str, Any]) -> None:
        folder_id = self._folder(body["folder_id"])
        assert folder_id is not None
        self.store.trash_folder_tree(folder_id)

    def _drift_rename_file(self, body: dict[str, Any]) -> None:
        self.store.rename_file(self._file(body), str(body["name"]))

    def _drift_move_file(self, body: dict[str, Any]) -> None:
        folder_id = self._folder(body.get("folder_id"), allow_root=True)
        self.store.update_file(self._file(body), folder_id=folder_id)

    def _drift_rename_folder(self, body: dict[str, Any]) -> None:
        folder_id = self._folder(body["folder_id"])
        self.store.update_folder(folder_id, name=str(body["name"]))  # type: ignore[arg-type]

    def _drift_move_folder(self, body: dict[str, Any]) -> None:
        folder_id = self._folder(body["folder_id"])
        assert folder_id is not None
        parent_id = self._folder(body.get("parent_id"), allow_root=True)
        if self.store.is_descendant_or_self(folder_id, parent_id):
            raise AdminError("cannot move a folder into itself or below itself")
        self.store.update_folder(folder_id, parent_id=parent_id)

    def _drift_add_file(self, body: dict[str, Any]) -> int:
        folder_id = self._folder(body.get("folder_id"), allow_root=True)
        content = _b64(body["content_b64"])
        blob = self.store.write_blob(content)
        return self.store.add_file(
            self.host.account.id,
            folder_id,
            str(body["name"]),
            blob,
            "application/octet-stream",
            "127.0.0.1",
        )

    def _drift_modify_file(self, body: dict[str, Any]) -> None:
        file_id = self._file(body)
        blob = self.store.write_blob(_b64(body["content_b64"]))
        self.store.update_file(file_id, blob=blob.blob, size=blob.size, md5=blob.md5)

    def _drift_add_folder(self, body: dict[str, Any]) -> int:
        parent_id = self._folder(body.get("parent_id"), allow_root=True)
        return self.store.create_folder(self.host.account.id, parent_id, str(body["name"]))
