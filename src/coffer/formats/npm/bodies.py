"""Request bodies of the npm endpoint, read with their limit enforced as they arrive.

A declared ``Content-Length`` over the limit is refused before a byte is read; a body without one (chunked) is
refused as soon as it passes the limit. Either way nothing of it is kept.
"""

from __future__ import annotations

from starlette.requests import Request


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is larger than this server's limit of {limit} bytes")


class BadLength(Exception):
    pass


def check_length(request: Request, limit: int) -> None:
    """``BodyTooLarge`` when the declared ``Content-Length`` is over ``limit``, ``BadLength`` when malformed."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadLength("malformed Content-Length")
        if int(declared) > limit:
            raise BodyTooLarge(limit)


async def read_bounded(request: Request, limit: int) -> bytes:
    """The whole body, at most ``limit`` bytes (``BodyTooLarge`` otherwise; ``BadLength`` for a malformed
    Content-Length)."""
    check_length(request, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)
