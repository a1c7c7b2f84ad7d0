"""A package file sent from a file already open (:class:`OpenFileResponse`): byte ranges, HEAD, and no worker
thread per chunk.

The file is opened before the response begins, so a blob removed meanwhile (the store's sweep) is still read
whole: an open file keeps its bytes. The length in the head is the open file's; a file that ends early anyway
ends the connection instead of the response (the app raises, the server closes), so no short body passes for a
whole one.

How the bytes go out:

- when the server offers the ASGI extension ``http.response.zerocopysend`` (Coffer's uvicorn protocol does,
  ``coffer.app.zero_copy_cycle``), each range is one message: the server sends it from the page cache to the socket
  (``sendfile``), as fast as the client reads, holding no copy of it;
- otherwise (another ASGI server) in body messages of :data:`CHUNK` bytes, each read on the event loop when it is
  in the page cache (``coffer.formats.page_cache``) and in a worker thread only when the disk must be read; the
  server's flow control paces them, and a client that goes away stops the reading.

Ranges (RFC 9110, section 14): ``Range: bytes=...`` on a GET or HEAD, honoured when ``If-Range`` (if any) names
this file's ETag or Last-Modified. One satisfiable range is a 206 with ``Content-Range``; several are a 206
``multipart/byteranges`` (sorted, and merged where they overlap or touch); none satisfiable is a 416 with
``Content-Range: bytes */<size>``. A Range header that is not about bytes, is malformed, or asks for more than
:data:`MAX_RANGES` ranges is ignored: the whole file, 200.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from collections.abc import Mapping
from email.utils import formatdate
from typing import Final, Protocol

import anyio.to_thread
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from coffer.formats.page_cache import in_memory

ZERO_COPY: Final = "http.response.zerocopysend"
CHUNK: Final = 256 * 1024
"""Bytes of one body message when the server sends no files itself."""
MAX_RANGES: Final = 100

CRLF: Final = "\r\n"
_SPEC = re.compile(r"^(\d*)-(\d*)$")


class OpenFile(Protocol):
    def fileno(self) -> int: ...

    def close(self) -> None: ...


def parse_ranges(value: str, size: int) -> list[tuple[int, int]] | None:
    """The byte ranges ``[start, end)`` a ``Range`` header value asks of a file of ``size`` bytes, sorted and merged;
    ``[]`` when none is satisfiable; None when the header is to be ignored (another unit, malformed, too many)."""
    unit, sep, specs = value.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    parts = [p.strip() for p in specs.split(",")]
    parts = [p for p in parts if p]
    if not parts or len(parts) > MAX_RANGES:
        return None
    ranges: list[tuple[int, int]] = []
    for part in parts:
        found = _SPEC.match(part)
        if found is None:
            return None
        first, last = found.groups()
        if first:
            start = int(first)
            if last and int(last) < start:
                return None
            end = min(int(last) + 1, size) if last else size
            if start < size:
                ranges.append((start, end))
        elif last:
            suffix = int(last)
            if suffix and size:
                ranges.append((max(0, size - suffix), size))
        else:
            return None  # "-"
    ranges.sort()
    merged: list[tuple[int, int]] = []
    for start, end in ranges:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


class OpenFileResponse(Response):
    """``size`` bytes of ``file`` (open, owned by this response from now on: closed when it is sent, or when it is
    dropped unsent) with ``headers``; ``etag`` and ``mtime`` also decide ``If-Range``."""

    def __init__(
        self,
        file: OpenFile,
        size: int,
        *,
        etag: str,
        mtime: float,
        headers: Mapping[str, str] | None = None,
        media_type: str = "application/octet-stream",
    ) -> None:
        self._file = file
        self._size = size
        self._etag = etag
        self._last_modified = formatdate(mtime, usegmt=True)
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        own = {"ETag": etag, "Last-Modified": self._last_modified, "Accept-Ranges": "bytes"}
        self.init_headers({**(headers or {}), **own, "Content-Length": str(size)})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._respond(scope, receive, send)
        finally:
            self._file.close()

    def _ranges(self, scope: Scope) -> list[tuple[int, int]] | None:
        if scope["method"].upper() not in ("GET", "HEAD"):
            return None
        wanted = if_range = None
        for name, value in scope["headers"]:
            if name == b"range":
                wanted = value.decode("latin-1")
            elif name == b"if-range":
                if_range = value.decode("latin-1").strip()
        if wanted is None or (if_range is not None and if_range not in (self._etag, self._last_modified)):
            return None
        return parse_ranges(wanted, self._size)

    async def _respond(self, scope: Scope, receive: Receive, send: Send) -> None:
        head_only = scope["method"].upper() == "HEAD"
        size = self._size
        ranges = self._ranges(scope)
        headers = self.headers.mutablecopy()
        status = 200
        parts: list[tuple[bytes, int, int]] = [(b"", 0, size)]  # (what goes before, start, end)
        closing = b""
        if ranges is not None and not ranges:
            text = f"Range not satisfiable: the file has {size} bytes\n".encode()
            refused = [
                (b"content-range", f"bytes */{size}".encode()),
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(text)).encode()),
            ]
            await send({"type": "http.response.start", "status": 416, "headers": refused})
            await send({"type": "http.response.body", "body": b"" if head_only else text})
            return
        if ranges is not None and len(ranges) == 1:
            (start, end), status = ranges[0], 206
            headers["content-range"] = f"bytes {start}-{end - 1}/{size}"
            headers["content-length"] = str(end - start)
            parts = [(b"", start, end)]
        elif ranges is not None:
            status, boundary = 206, secrets.token_hex(16)
            kind = headers.get("content-type", self.media_type)
            parts = [
                (
                    f"{'' if i == 0 else CRLF}--{boundary}{CRLF}Content-Type: {kind}{CRLF}"
                    f"Content-Range: bytes {start}-{end - 1}/{size}{CRLF}{CRLF}".encode("latin-1"),
                    start,
                    end,
                )
                for i, (start, end) in enumerate(ranges)
            ]
            closing = f"\r\n--{boundary}--\r\n".encode("latin-1")
            headers["content-type"] = f"multipart/byteranges; boundary={boundary}"
            headers["content-length"] = str(sum(len(p) + e - s for p, s, e in parts) + len(closing))
        await send({"type": "http.response.start", "status": status, "headers": headers.raw})
        if head_only:
            await send({"type": "http.response.body", "body": b""})
        elif ZERO_COPY in scope.get("extensions", {}):
            await self._send_zero_copy(send, parts, closing)
        else:
            await self._send_buffered(receive, send, parts, closing)

    async def _send_zero_copy(self, send: Send, parts: list[tuple[bytes, int, int]], closing: bytes) -> None:
        last = len(parts) - 1
        for i, (before, start, end) in enumerate(parts):
            if before:
                await send({"type": "http.response.body", "body": before, "more_body": True})
            more = bool(closing) or i < last
            if end > start:
                message: Message = {"type": ZERO_COPY, "file": self._file, "offset": start, "count": end - start}
                await send({**message, "more_body": more})
            elif not more:
                await send({"type": "http.response.body", "body": b""})
        if closing:
            await send({"type": "http.response.body", "body": closing})

    async def _send_buffered(
        self, receive: Receive, send: Send, parts: list[tuple[bytes, int, int]], closing: bytes
    ) -> None:
        gone = asyncio.Event()

        async def watch() -> None:  # the server keeps taking the body after the client left: stop reading
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.ensure_future(watch())
        fd = self._file.fileno()
        try:
            for before, start, end in parts:
                pieces = [before] if before else []
                at = start
                while at < end:
                    n = min(CHUNK, end - at)
                    if in_memory(fd, at, n):
                        data = os.pread(fd, n, at)
                    else:
                        data = await anyio.to_thread.run_sync(os.pread, fd, n, at)
                    if not data:
                        raise EOFError(f"the file ended at byte {at} of the {self._size} announced")
                    at += len(data)
                    pieces.append(data)
                    body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
                    pieces = []
                    if not await _sent(send, {"type": "http.response.body", "body": body, "more_body": True}):
                        return
                    if gone.is_set():
                        return
            await _sent(send, {"type": "http.response.body", "body": closing})
        finally:
            watcher.cancel()


async def _sent(send: Send, message: Message) -> bool:
    """Send; False when the client is gone (a server of ASGI 2.4 says so by raising ``OSError``)."""
    try:
        await send(message)
    except OSError:
        return False
    return True


__all__ = ["CHUNK", "MAX_RANGES", "ZERO_COPY", "OpenFile", "OpenFileResponse", "parse_ranges"]
