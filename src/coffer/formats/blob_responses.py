"""A stored file sent to a package client: the one download response of every format.

Blobs are content-addressed, so a file's ETag is its SHA-256 and it may be cached for good; a client that has
it gets a 304. The blob's file is opened here, before anything is sent (a blob gone by then is a 503, never a
short body), and :class:`coffer.formats.file_response.OpenFileResponse` sends it: ranges, HEAD, and the bytes
straight from the page cache to the socket where the server offers that (Coffer's does).
"""

from __future__ import annotations

import os

from starlette.requests import Request
from starlette.responses import Response

from coffer.core.packages.package_service import PackageService
from coffer.formats.file_response import OpenFileResponse
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
    headers = {"Cache-Control": "private, max-age=31536000, immutable"}
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and etag in (t.strip() for t in if_none_match.split(",")):
        return Response(status_code=304, headers={"ETag": etag, **headers})
    path, _ = packages.open_blob(sha256)
    file = None
    if path is not None:
        try:
            file = open(path, "rb", buffering=0)  # noqa: SIM115 - the response owns it and closes it
        except FileNotFoundError:  # removed since it was found
            file = None
    if file is None:
        return plain(503, f"The content of {filename} is not available from this server")
    try:
        stat = os.fstat(file.fileno())
    except BaseException:
        file.close()
        raise
    return OpenFileResponse(file, stat.st_size, etag=etag, mtime=stat.st_mtime, headers=headers, media_type=media_type)
