"""The ASGI ``http.response.zerocopysend`` extension for uvicorn's httptools protocol (:class:`ZeroCopyCycle`).

uvicorn offers no file-sending extension, so a file response reads its file in chunks and sends each as a body
message. With this extension the app hands the server an open file, an offset and a count, and the bytes go from
the page cache to the socket with ``os.sendfile`` on the event loop (``coffer.http.sendfile``): no copy through
Python, no thread per chunk, and flow control by the socket itself.

:class:`coffer.app.uvicorn_fence.GuardedHttpToolsProtocol` turns each of uvicorn's request-response cycles into
this subclass just before its ASGI task is created (:meth:`ZeroCopyCycle.adopt`), and adds the extension to the
request's scope. The rest of uvicorn's ``send`` is untouched; a ``zerocopysend`` message does what an
``http.response.body`` message does (the same checks against Content-Length, the same completion), with the
file's bytes as the body. A connection lost while a file is sent stops the send: the app's later messages are
dropped, as uvicorn drops them, and the access log marks the line incomplete. The uvicorn attributes used here are
checked by the fence (``coffer.app.uvicorn_fence``: ``CYCLE_STATE`` and ``CYCLE_METHODS``).
"""

from __future__ import annotations

import os
from typing import Any, Final, cast

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from coffer.http.sendfile import SocketFileSender
from coffer.request_context import RECORD_KEY, RequestRecord

ZERO_COPY: Final = "http.response.zerocopysend"


class ZeroCopyCycle(RequestResponseCycle):
    """uvicorn's cycle, also sending ``http.response.zerocopysend`` messages (``file``: an object with
    ``fileno()`` or a descriptor; ``offset``: default the file's position, which then moves on; ``count``: default
    to the end of the file; ``more_body``)."""

    _sender: SocketFileSender | None = None  # an instance's own from its first file on (adopt skips __init__)

    @classmethod
    def adopt(cls, cycle: RequestResponseCycle) -> bool:
        """Make ``cycle`` (uvicorn's, its app not started yet) one of these and offer the extension in its scope;
        False, leaving it as it is, when its connection cannot send files (TLS) or it is not uvicorn's own class."""
        if type(cycle) is not RequestResponseCycle or not SocketFileSender.usable(cycle.transport):
            return False
        cycle.__class__ = cls
        extensions: dict[str, Any] = cycle.scope.setdefault("extensions", {})
        extensions[ZERO_COPY] = {}
        return True

    def connection_lost(self) -> None:
        """Called by the protocol when the connection is gone: a file being sent stops at once."""
        if self._sender is not None:
            self._sender.wake()

    async def send(self, message: ASGISendEvent) -> None:
        kind: str = message["type"]
        if kind != ZERO_COPY:
            await super().send(message)
            return
        body = cast(dict[str, Any], message)  # not one of the events uvicorn's types know
        if self.flow.write_paused and not self.disconnected:
            await self.flow.drain()
        if self.disconnected:
            return
        if not self.response_started:
            raise RuntimeError(f"Expected ASGI message 'http.response.start', but got '{ZERO_COPY}'.")
        if self.response_complete:
            raise RuntimeError(f"Unexpected ASGI message '{ZERO_COPY}' sent, after response already completed.")
        file = body["file"]
        fd: int = file if isinstance(file, int) else file.fileno()
        more_body = bool(body.get("more_body", False))
        offset: int | None = body.get("offset")
        start = os.lseek(fd, 0, os.SEEK_CUR) if offset is None else offset
        count: int | None = body.get("count")
        if count is None:
            count = max(0, os.fstat(fd).st_size - start)
        if self.scope["method"] == "HEAD":
            self.expected_content_length = 0
        elif self.chunked_encoding:
            if count:
                self.transport.write(b"%x\r\n" % count)
                if not await self._send_file(fd, start, count):
                    return
                self.transport.write(b"\r\n")
            if not more_body:
                self.transport.write(b"0\r\n\r\n")
        else:
            if count > self.expected_content_length:
                raise RuntimeError("Response content longer than Content-Length")
            self.expected_content_length -= count
            if not await self._send_file(fd, start, count):
                return
        if offset is None:
            os.lseek(fd, start + count, os.SEEK_SET)
        if not more_body:  # as uvicorn completes a response
            if self.expected_content_length != 0:
                raise RuntimeError("Response content shorter than Content-Length")
            self.response_complete = True
            self.message_event.set()
            if not self.keep_alive:
                self.transport.close()
            self.on_response()

    async def _send_file(self, fd: int, start: int, count: int) -> bool:
        """Send the bytes; False when the connection was lost meanwhile (then it is closed, and the response is
        over: the app's further messages are dropped)."""
        sender = self._sender
        if sender is None:
            sender = self._sender = SocketFileSender(self.transport, self.flow.drain)
        sent = await sender.send(fd, start, count)
        if sent == count:
            return True
        self.disconnected = True
        record = self.scope.get(RECORD_KEY)
        if isinstance(record, RequestRecord):
            record.sent += sent  # the log line: incomplete, with the bytes that went out
            record.disconnected = True
        if not self.transport.is_closing():
            self.transport.close()
        return False


__all__ = ["ZERO_COPY", "ZeroCopyCycle"]
