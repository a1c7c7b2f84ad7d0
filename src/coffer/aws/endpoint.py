"""The ASGI endpoint for one AWS JSON service: authenticate (SigV4), route, parse, validate, call, serialize.

Every failure becomes an AWS-shaped error here, the one translation point for this dialect.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import AsyncIterable, Iterable, Iterator
from typing import cast
from urllib.parse import parse_qsl

from anyio import to_thread
from starlette.types import Receive, Scope, Send

from coffer.aws.auth import RequestAuthenticator, new_request_id, read_body
from coffer.aws.errors import serialize_error
from coffer.aws.handlers.codeartifact import HANDLERS, CodeArtifactServices
from coffer.aws.model import MethodNotAllowed, ServiceSpec
from coffer.aws.restjson import Body, WireResponse, parse_request, serialize_response
from coffer.aws.sigv4 import IncomingRequest, SigV4Verifier, parse_authorization
from coffer.aws.validate import validate_input
from coffer.core.identity.key_resolution import IdentityService
from coffer.core.shared.errors import (
    CofferError,
    InternalServerError,
    NotImplementedOperationError,
    UnknownOperationError,
)
from coffer.request_context import note_principal, request_id_for

log = logging.getLogger("coffer.aws")

MAX_JSON_BODY = 1024 * 1024  # JSON requests of CodeArtifact are small; assets will stream separately
Headers = list[tuple[bytes, bytes]]

# Operations run on the event loop instead of a worker thread: everything they read is cached in memory
# (identities, domain existence, resource policies; at most one indexed read on a miss), so the thread
# hand-off would cost more than the work. Measured in bench/ (GetAuthorizationToken throughput).
INLINE_OPERATIONS = frozenset({"GetAuthorizationToken"})


@functools.lru_cache(maxsize=1024)  # pure; clients repeat the same query strings (the verifier caches likewise)
def _query_pairs(raw_query: str) -> tuple[tuple[str, str], ...]:
    """The decoded query pairs in order, as a tuple: the cached value is shared, so it must be immutable."""
    return tuple(parse_qsl(raw_query, keep_blank_values=True, encoding="utf-8", errors="replace"))


class AwsEndpoint:
    def __init__(
        self,
        service: ServiceSpec,
        verifier: SigV4Verifier,
        identities: IdentityService,
        handlers_services: CodeArtifactServices,
    ) -> None:
        self._service = service
        self._auth = RequestAuthenticator(identities, [verifier])
        self._services = handlers_services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = request_id_for(scope) or new_request_id()  # the access log's id, when there is one
        try:
            status, headers, body = await self._handle(scope, receive)
            headers.append(("x-amzn-RequestId", request_id))
        except CofferError as exc:
            status, headers, body = serialize_error(exc, request_id, self._service)
        except Exception:
            log.exception("internal error in %s %s", scope.get("method"), scope.get("path"))
            internal = InternalServerError("An internal error occurred.")
            status, headers, body = serialize_error(internal, request_id, self._service)
        out: Headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        if isinstance(body, bytes):
            out.append((b"content-length", str(len(body)).encode("ascii")))
            await send({"type": "http.response.start", "status": status, "headers": out})
            await send({"type": "http.response.body", "body": body})
        else:
            await _send_stream(send, status, out, body)

    async def _handle(self, scope: Scope, receive: Receive) -> WireResponse:
        request = IncomingRequest.from_asgi(scope)
        parsed = parse_authorization(request)  # size limits and structure, before anything is hashed
        body = await read_body(scope, receive, MAX_JSON_BODY)
        caller = self._auth.authenticate(scope, request, parsed, body)
        note_principal(scope, caller)

        query = _query_pairs(request.raw_query)
        match = self._service.route(scope["method"], scope["path"], query)
        if match is None or isinstance(match, MethodNotAllowed):
            raise UnknownOperationError(scope["method"], scope["path"])
        op = match.operation
        handler = HANDLERS.get(op.name)
        if handler is None:
            raise NotImplementedOperationError(op.name)
        plan = op.input
        # Only operations with header members read headers (GetAuthorizationToken has none).
        wants_headers = plan is not None and bool(plan.headers or plan.header_maps)
        headers = {k.lower(): v for k, v in request.headers} if wants_headers else None
        params = parse_request(op, labels=match.labels, query=query, headers=headers, body=body)
        validate_input(op, params)
        if op.name in INLINE_OPERATIONS:
            result = handler(self._services, caller, params)
        else:
            result = await to_thread.run_sync(handler, self._services, caller, params)
        return serialize_response(op, result)


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
