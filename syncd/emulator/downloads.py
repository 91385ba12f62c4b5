"""`GET /<shortUrl>?download_token=...`: the bytes behind a `file/download` answer."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

from syncd.emulator.host import Host
from syncd.emulator.store import ACTIVE

_NOT_FOUND = (
    "<html><head><title>File not found</title></head><body><h1>File not found</h1></body></html>"
)


def content_disposition(name: str) -> str:
    # Hostile names (quotes, newlines) must not break the header: RFC 5987 form only.
    return f"attachment; filename*=UTF-8''{quote(name, safe='')}"


async def download(request: Request, host: Host) -> Response:
    short_url = request.path_params["short_url"]
    token = request.query_params.get("download_token", "")
    file_id = host.file_for_download_token(token) if token else None
    row = host.store.file_by_short_url(short_url) if file_id is not None else None
    if row is None or row["id"] != file_id or row["status"] != ACTIVE:
        return HTMLResponse(_NOT_FOUND, status_code=404)
    host.store.count_download(row["id"])
    headers = {"content-disposition": content_disposition(row["name"])}
    if host.store.is_inline(row["blob"]):
        return Response(
            host.store.read_inline(row["blob"]), media_type=row["file_type"], headers=headers
        )
    return FileResponse(
        host.store.blob_path(row["blob"]),
        media_type=row["file_type"],
        headers=headers,
    )
