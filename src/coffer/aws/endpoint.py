"""The one ASGI endpoint of the AWS services, whatever their protocol: read, authenticate (SigV4), resolve the
operation, parse, call the handler, serialize. The protocol (:class:`~coffer.aws.protocol.WireProtocol`) says how
each step reads and writes its dialect; the handler tables come with it from the composition root.

Every failure becomes an error of the protocol's dialect here, the one place they are caught. An operation of the
model without a handler answers ``NotImplemented`` naming the operation.

An operation whose input payload streams (PublishPackageVersion) takes another path, in which limits come before
work: the declared length is checked against ``max_stream_bytes``, the caller authenticated with the payload hash
the request declares (``RequestAuthenticator.authenticate_streamed``) and the parameters parsed from the URL and
headers, all before any byte of the body is read; the handler then gets the body as a
:class:`~coffer.aws.streamed_body.StreamedBody`, which it reads only once it has authorized the caller, the size
limit holding as the bytes arrive. Its handlers run on threads of their own limiter (``max_streams`` at once), so
uploads in progress never take the worker threads every other request needs. A response sent before the body was
read to its end carries ``Connection: close``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterable, Collection, Iterable, Iterator, Mapping
from typing import Any, Final, cast

from anyio import CapacityLimiter, to_thread
from starlette.types import Receive, Scope, Send

from coffer.aws.auth import RequestAuthenticator, new_request_id, read_body
from coffer.aws.protocol import Body, Exchange, Handler, ServiceHandlers, WireProtocol, WireResponse
from coffer.aws.sigv4 import IncomingRequest, ParsedAuthorization, parse_authorization
from coffer.aws.streamed_body import StreamedBody, check_declared_length
from coffer.core.identity.callers import Caller
from coffer.core.shared.blocking import run_inline_first
from coffer.core.shared.errors import CofferError, InternalServerError, NotImplementedOperationError
from coffer.request_context import note_principal, request_id_for

log = logging.getLogger("coffer.aws")

Headers = list[tuple[bytes, bytes]]
Dispatched = tuple[Any, ServiceHandlers, Handler, Mapping[str, Any]]  # operation, handlers, handler, parameters

_ON_A_THREAD: Final = object()  # the result of an operation not answered on the event loop (yet)

DEFAULT_MAX_STREAM_BYTES = 5 * 1024**3  # CodeArtifact's asset size quota
DEFAULT_MAX_STREAMS = 32


class ServiceEndpoint:
    """``protocol`` reads and writes the wire; ``inline`` names operations run on the event loop instead of a
    worker thread while they need nothing that blocks (their work is cheaper than the hand-off; see
    ``coffer.core.shared.blocking``). ``max_stream_bytes``: the largest streamed payload
    (``Settings.max_upload_bytes``); ``max_streams``: how many handlers of streamed payloads run at once (more
    wait, their bodies unread)."""

    def __init__(
        self,
        protocol: WireProtocol[Any, Any],
        authenticator: RequestAuthenticator,
        inline: Collection[str] = (),
        *,
        max_stream_bytes: int = DEFAULT_MAX_STREAM_BYTES,
        max_streams: int = DEFAULT_MAX_STREAMS,
    ) -> None:
        self._protocol = protocol
        self._auth = authenticator
        self._inline = frozenset(inline)
        self._max_stream_bytes = max_stream_bytes
        self._max_streams = max_streams
        self._stream_limiter: CapacityLimiter | None = None  # made on the event loop, at first use

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
        if exchange.unread_body:
            response.headers.append(("Connection", "close"))
        await _send(send, response)

    async def _handle(self, exchange: Exchange, receive: Receive) -> WireResponse:
        protocol, scope = self._protocol, exchange.scope
        request = IncomingRequest.from_asgi(scope)
        try:
            parsed = parse_authorization(request)  # size limits and structure, before anything is hashed
        except CofferError as exc:
            await protocol.refusing(exc, exchange, receive)
            raise
        payload = protocol.streamed_payload(exchange, request)
        if payload is not None:
            return await self._handle_streamed(exchange, receive, request, parsed, payload)
        body = await read_body(scope, receive, protocol.max_body)
        wire_request = protocol.accept(exchange, request, parsed, body)
        # The caller's key and identity are in memory but for a cache miss; an operation of ``inline`` is then
        # answered on the event loop too. Both are tried in one go: if either would block, both run again on a
        # worker thread (each is safe to repeat); any other operation's handler runs on a worker thread.
        caller, dispatched, result = await run_inline_first(
            self._authenticate_and_serve, scope, request, parsed, body, wire_request
        )
        operation, handlers, handler, params = dispatched
        if result is _ON_A_THREAD:
            result = await to_thread.run_sync(handler, handlers.services, caller, params)
        return protocol.serialize_result(wire_request, operation, result, exchange.request_id)

    def _authenticate_and_serve(
        self, scope: Scope, request: IncomingRequest, parsed: ParsedAuthorization, body: bytes, wire_request: Any
    ) -> tuple[Caller, Dispatched, Any]:
        """Authenticate, resolve the operation and answer it if it is one of ``inline``: (caller, the
        operation with its handlers, handler and parameters, the result or ``_ON_A_THREAD``)."""
        caller = self._auth.authenticate(scope, request, parsed, body)
        note_principal(scope, caller)
        dispatched = self._dispatch(wire_request)
        operation, handlers, handler, params = dispatched
        if operation.name not in self._inline:
            return caller, dispatched, _ON_A_THREAD
        return caller, dispatched, handler(handlers.services, caller, params)

    async def _handle_streamed(
        self, exchange: Exchange, receive: Receive, request: IncomingRequest, parsed: ParsedAuthorization, payload: str
    ) -> WireResponse:
        """The request of an operation whose input member ``payload`` streams (see the module's docstring)."""
        protocol, scope = self._protocol, exchange.scope
        exchange.unread_body = True  # until the body has been received to its end
        check_declared_length(scope, self._max_stream_bytes)
        wire_request = protocol.accept(exchange, request, parsed, b"")
        caller = self._auth.authenticate_streamed(scope, request, parsed)
        note_principal(scope, caller)

        operation, handlers, handler, params = self._dispatch(wire_request)

        def ended() -> None:
            exchange.unread_body = False

        body = StreamedBody(receive, self._max_stream_bytes, ended)
        if self._stream_limiter is None:
            self._stream_limiter = CapacityLimiter(self._max_streams)
        result = await to_thread.run_sync(
            handler, handlers.services, caller, {**params, payload: body}, limiter=self._stream_limiter
        )
        return protocol.serialize_result(wire_request, operation, result, exchange.request_id)

    def _dispatch(self, wire_request: Any) -> Dispatched:
        """The request's operation, its handlers, the handler (NotImplemented if it has none) and its params."""
        protocol = self._protocol
        operation = protocol.operation(wire_request)
        handlers = protocol.handlers(wire_request)
        handler = handlers.table.get(operation.name)
        if handler is None:
            raise NotImplementedOperationError(operation.name)
        return operation, handlers, handler, protocol.parse(wire_request, operation)


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


__all__ = ["DEFAULT_MAX_STREAMS", "DEFAULT_MAX_STREAM_BYTES", "ServiceEndpoint"]
