"""A file's bytes sent from the page cache straight to a connection's socket (``os.sendfile``), on the event loop.

This is how the server carries out the ASGI ``http.response.zerocopysend`` extension (offered by
``coffer.app.zero_copy_cycle``): no copy through Python, no worker thread per chunk. :class:`SocketFileSender`
writes beside an asyncio transport, which owns the socket, so it keeps to these rules:

- **order**: the transport's write buffer (the response head, say) is flushed before any byte of the file goes
  out, and nothing else writes to the transport while the file is sent (the server sends one response at a time).
- **its own descriptor**: the socket is used through a duplicate descriptor, made for each send and closed after
  it. The transport may close its descriptor at any moment (the client went away); that number may then be
  reused by another connection, never this one's duplicate.
- **waiting without blocking**: the socket is non-blocking; when it is full, the loop is asked to say when it is
  writable again (uvloop, like asyncio, refuses a reader or writer on a transport's own descriptor, hence the
  duplicate too). A slow client holds nothing but its own socket buffer: the file is read as the socket drains.
- **fairness**: at most :data:`PIECE` bytes per system call, and the loop runs other work between pieces.
- **pages not in memory**: ``sendfile`` would block the loop while the disk reads, so each piece is first probed
  (``coffer.formats.page_cache``); a piece that is not in the page cache is read once in a worker thread (on a
  duplicate of the file's descriptor, so that a send abandoned meanwhile cannot have its descriptor reused under
  the thread), then sent from the cache.
- **ends**: a connection that is lost or closed stops the send (:meth:`SocketFileSender.wake` stops a wait at
  once); a file that ends before the bytes promised raises :class:`FileShorterThanExpected`, and the caller must
  then close the connection rather than let a short body pass for a whole one.
"""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Final

from coffer.formats.page_cache import in_memory, read_into_cache

PIECE: Final = 1 << 20
"""Bytes of one ``sendfile`` call at most (the loop serves other connections between pieces)."""

_LOST: Final = (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.ESHUTDOWN, errno.ECONNABORTED)


class FileShorterThanExpected(Exception):
    """The file ended before the bytes to send did: the response cannot be completed."""


class SocketFileSender:
    """Sends file ranges to the socket under ``transport``. ``drain`` waits until the transport's protocol may
    write again (it is paused while the write buffer is above its high-water mark, and resumed on connection
    loss); the owner calls :meth:`wake` when the connection is lost."""

    def __init__(self, transport: asyncio.Transport, drain: Callable[[], Awaitable[None]]) -> None:
        self._transport = transport
        self._drain = drain
        self._waiter: asyncio.Future[None] | None = None
        self._lost = False

    @staticmethod
    def usable(transport: asyncio.Transport) -> bool:
        """Whether files can be sent under ``transport``: a plain TCP or Unix socket (no TLS in between)."""
        if transport.get_extra_info("sslcontext") is not None or transport.get_extra_info("ssl_object") is not None:
            return False
        sock = transport.get_extra_info("socket")
        return sock is not None and callable(getattr(sock, "fileno", None)) and hasattr(os, "sendfile")

    @property
    def lost(self) -> bool:
        return self._lost or self._transport.is_closing()

    def wake(self) -> None:
        """The connection is gone: stop sending, now or at the next piece."""
        self._lost = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def send(self, file_fd: int, offset: int, count: int) -> int:
        """Send ``count`` bytes of ``file_fd`` from ``offset``; the bytes sent (fewer when the connection was lost
        or closed meanwhile). Raises :class:`FileShorterThanExpected` when the file ends first."""
        if count <= 0 or self.lost:
            return 0
        await self._flush()
        if self.lost:
            return 0
        sock_fd = os.dup(self._transport.get_extra_info("socket").fileno())
        sent = 0
        try:
            while sent < count and not self.lost:
                size = min(PIECE, count - sent)
                position = offset + sent
                if not in_memory(file_fd, position, size):
                    read = partial(read_into_cache, os.dup(file_fd), position, size, close=True)
                    await asyncio.get_running_loop().run_in_executor(None, read)
                    if self.lost:
                        break
                try:
                    n = os.sendfile(sock_fd, file_fd, position, size)
                except BlockingIOError:
                    await self._writable(sock_fd)
                    continue
                except InterruptedError:
                    continue
                except OSError as exc:
                    if exc.errno in _LOST:
                        self._lost = True
                        break
                    raise
                if n == 0:
                    raise FileShorterThanExpected(f"the file ended {count - sent} bytes early (at byte {position})")
                sent += n
                if sent < count:
                    await asyncio.sleep(0)  # let the loop serve others between pieces
        finally:
            os.close(sock_fd)
        return sent

    async def _flush(self) -> None:
        """Wait until the transport has written everything it holds (the response head, the bytes sent before)."""
        transport = self._transport
        if not transport.get_write_buffer_size():
            return
        low, high = transport.get_write_buffer_limits()
        try:
            while transport.get_write_buffer_size() and not self.lost:
                transport.set_write_buffer_limits(high=0, low=0)  # pauses the protocol until the buffer is empty
                await self._drain()
        finally:
            if not transport.is_closing():
                transport.set_write_buffer_limits(high=high, low=low)

    async def _writable(self, sock_fd: int) -> None:
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()

        def ready() -> None:
            if not waiter.done():
                waiter.set_result(None)

        loop.add_writer(sock_fd, ready)
        try:
            await waiter
        finally:
            loop.remove_writer(sock_fd)
            self._waiter = None


__all__ = ["PIECE", "FileShorterThanExpected", "SocketFileSender"]
