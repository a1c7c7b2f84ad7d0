"""A request body read as it arrives, for an operation whose input payload streams (PublishPackageVersion's asset).

The endpoint authenticates such a request from its URL and headers and hands the handler a :class:`StreamedBody`
instead of bytes. The handler runs in a worker thread and iterates it when it is ready for the bytes (after its
own checks: nothing is read before the caller is authorized); each block is received on the event loop
(``anyio.from_thread``), so memory holds one block at a time, whatever the size of the body. The size limit holds
as bytes arrive: a declared ``Content-Length`` over it is refused before anything is read
(:func:`check_declared_length`), a chunked body as soon as it passes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Final

from anyio import from_thread
from starlette.types import Receive, Scope

from coffer.core.shared.errors import RequestTooLargeError, ValidationError

BLOCK: Final = 1024 * 1024  # what one hop to the event loop gathers before the handler's thread gets it


def too_large(limit: int) -> RequestTooLargeError:
    return RequestTooLargeError(f"Request body must be at most {limit} bytes.")


def check_declared_length(scope: Scope, limit: int) -> int | None:
    """The request's ``Content-Length``, None without one (chunked); RequestTooLargeError when it is over
    ``limit`` (or not a number): refused before any byte of the body is read. A body without one is limited as
    it streams."""
    declared: int | None = None
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                declared = -1
            if declared < 0 or declared > limit:
                raise too_large(limit)
    return declared


class StreamedBody:
    """The body of one request, iterated once from a worker thread: blocks of up to about ``BLOCK`` bytes.

    ``RequestTooLargeError`` as soon as more than ``limit`` bytes have arrived, ``ValidationError`` when the client
    goes away before the end; either stops the iteration (the handler then keeps nothing). ``on_end`` is called
    once the last byte has been received."""

    def __init__(self, receive: Receive, limit: int, on_end: Callable[[], None] = lambda: None) -> None:
        self._receive = receive
        self._limit = limit
        self._on_end = on_end
        self._received = 0
        self._more = True

    @property
    def complete(self) -> bool:
        """Whether the body has been read to its end."""
        return not self._more

    @property
    def received(self) -> int:
        """Bytes received so far."""
        return self._received

    def __iter__(self) -> Iterator[bytes]:
        while self._more:
            block = from_thread.run(self._next_block)
            if block:
                yield block

    async def _next_block(self) -> bytes:
        pieces: list[bytes] = []
        size = 0
        while self._more and size < BLOCK:
            message: Any = await self._receive()
            if message["type"] == "http.disconnect":
                raise ValidationError("The request body ended before it was complete: the client disconnected")
            chunk = message.get("body", b"")
            self._received += len(chunk)
            if self._received > self._limit:
                raise too_large(self._limit)
            if chunk:
                pieces.append(chunk)
                size += len(chunk)
            self._more = bool(message.get("more_body", False))
        if not self._more:
            self._on_end()
        return b"".join(pieces)


__all__ = ["BLOCK", "StreamedBody", "check_declared_length", "too_large"]
