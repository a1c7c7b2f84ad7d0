"""The one ASGI endpoint of the AWS services, whatever their protocol: read, authenticate (SigV4), resolve the
operation, parse, call the handler, serialize. The protocol (:class:`~coffer.aws.protocol.WireProtocol`) says how
each step reads and writes its dialect; the handler tables come with it from the composition root.

Every failure becomes an error of the protocol's dialect here, the one place they are caught. An operation of the
model without a handler answers ``NotImplemented`` naming the operation.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterable, Collection, Iterable, Iterator
from typing import Any, cast

from anyio import to_thread
from starlette.types import Receive, Scope, Send

from coffer.aws.auth import RequestAuthenticator, new_request_id, read_body
from coffer.aws.protocol import Body, Exchange, WireProtocol, WireResponse
from coffer.aws.sigv4 import IncomingRequest, parse_authorization
from coffer.core.shared.errors import CofferError, InternalServerError, NotImplementedOperationError
from coffer.request_context import note_principal, request_id_for

log = logging.getLogger("coffer.aws")

Headers = list[tuple[bytes, bytes]]


class ServiceEndpoint:
    """``protocol`` reads and writes the wire; ``inline`` names operations run on the event loop instead of a
    worker thread (their work is cheaper than the hand-off)."""

    def __init__(
        self, protocol: WireProtocol[Any, Any], authenticator: RequestAuthenticator, inline: Collection[str] = ()
    ) -> None:
        self._protocol = protocol
        self._auth = authenticator
        self._inline = frozenset(inline)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        exchange = Exchange(scope, request_id_for(scope) or new_request_id())  # the access log's id, if any
        try:
            response = await self._handle(exchange, receive)
        except CofferError as exc:
            response = self._protocol.serialize_error(exc, exchange)
        except Exception:
            log.exception("internal error in %s %s", scope.get("method"), scope.get("path"))
            internal = InternalServerError("An internal error occurred.")
            response = self._protocol.serialize_error(internal, exchange)
        await _send(send, response)

    async def _handle(self, exchange: Exchange, receive: Receive) -> WireResponse:
        protocol, scope = self._protocol, exchange.scope
        request = IncomingRequest.from_asgi(scope)
        try:
            parsed = parse_authorization(request)  # size limits and structure, before anything is hashed
        except CofferError as exc:
            await protocol.refusing(exc, exchange, receive)
            raise
        body = await read_body(scope, receive, protocol.max_body)
        wire_request = protocol.accept(exchange, request, parsed, body)
        caller = self._auth.authenticate(scope, request, parsed, body)
        note_principal(scope, caller)

        operation = protocol.operation(wire_request)
        handlers = protocol.handlers(wire_request)
        handler = handlers.table.get(operation.name)
        if handler is None:
            raise NotImplementedOperationError(operation.name)
        params = protocol.parse(wire_request, operation)
        if operation.name in self._inline:
            result = handler(handlers.services, caller, params)
        else:
            result = await to_thread.run_sync(handler, handlers.services, caller, params)
        return protocol.serialize_result(wire_request, operation, result, exchange.request_id)


async def _send(send: Send, response: WireResponse) -> None:
    status, headers, body = response
    out: Headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    if isinstance(body, bytes):
        out.append((b"content-length", str(len(body)).encode("ascii")))
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": body})
    else:
        await _send_stream(send, status, out, body)


def _next_chunk(iterator: Iterator[bytes]) -> bytes | None:
    return next(iterator, None)


async def _send_stream(send: Send, status: int, headers: Headers, body: Body) -> None:
    """Send a streamed body (``more_body``): a sync iterator is read in a worker thread (it may do file I/O).
    A body with a ``content_length`` attribute gets a Content-Length header, others go chunked. Once the
    headers are out an error can only cut the response short; the iterator is closed in every case."""
    length = getattr(body, "content_length", None)
    if isinstance(length, int):
        headers.append((b"content-length", str(length).encode("ascii")))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    try:
        if isinstance(body, AsyncIterable):
            async for chunk in body:
                if chunk:
                    await send({"type": "http.response.body", "body": bytes(chunk), "more_body": True})
        else:
            iterator: Iterator[bytes] = iter(cast("Iterable[bytes]", body))  # bytes bodies never get here
            while (piece := await to_thread.run_sync(_next_chunk, iterator)) is not None:
                if piece:
                    await send({"type": "http.response.body", "body": bytes(piece), "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        close = getattr(body, "close", None) or getattr(body, "aclose", None)
        if close is not None:
            result = close()
            if inspect.isawaitable(result):
                await result


__all__ = ["ServiceEndpoint"]
