"""A stored file sent to a package client: the one download response of every format.

Blobs are content-addressed, so a file's ETag is its SHA-256 and it may be cached for good; a client that has
it gets a 304. The bytes go out from the blob store's local file (``FileResponse``: ranges, zero-copy where
the server can).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from coffer.core.packages.package_service import PackageService
from coffer.formats.responses import plain


def send_blob(
    packages: PackageService,
    request: Request,
    sha256: str,
    filename: str,
    *,
    media_type: str = "application/octet-stream",
) -> Response:
    etag = f'"{sha256}"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=31536000, immutable"}
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and etag in (t.strip() for t in if_none_match.split(",")):
        return Response(status_code=304, headers=headers)
    path, size = packages.open_blob(sha256)
    if path is None:
        return plain(503, f"The content of {filename} is not available from this server")
    headers["Content-Length"] = str(size)
    return FileResponse(path, headers=headers, media_type=media_type)
