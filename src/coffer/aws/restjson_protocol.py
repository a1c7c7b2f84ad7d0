"""The rest-json protocol (CodeArtifact) as the service endpoint uses it: routing by method and uri template,
parameters from labels, query, headers and the JSON body, JSON responses and errors. An operation whose input
payload is a streaming blob (PublishPackageVersion) is routed before its body is read, and gets the body as a
stream (:meth:`RestJsonProtocol.streamed_payload`)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import parse_qsl

from coffer.aws.protocol import Exchange, ServiceHandlers, WireProtocol, WireResponse
from coffer.aws.restjson_errors import serialize_error
from coffer.aws.restjson_model import MessagePlan, ServiceSpec
from coffer.aws.restjson_parse import parse_request
from coffer.aws.restjson_serialize import serialize_response
from coffer.aws.routing import MethodNotAllowed, RouteMatch
from coffer.aws.sigv4 import IncomingRequest, ParsedAuthorization
from coffer.aws.validate import validate_input
from coffer.core.shared.errors import CofferError, UnknownOperationError

MAX_JSON_BODY: Final = 1024 * 1024  # JSON requests of CodeArtifact are small; assets will stream separately
MAX_PARSED: Final = 1024  # query-only inputs remembered parsed (all forgotten when full) ...
MAX_PARSED_BYTES: Final = 1024 * 1024  # ... or when their query strings add up to this
_SCALARS: Final = frozenset(("string", "integer", "long", "boolean", "float", "double", "timestamp"))


@functools.lru_cache(maxsize=1024)  # pure; clients repeat the same query strings (the verifier caches likewise)
def _query_pairs(raw_query: str) -> tuple[tuple[str, str], ...]:
    """The decoded query pairs in order, as a tuple: the cached value is shared, so it must be immutable."""
    return tuple(parse_qsl(raw_query, keep_blank_values=True, encoding="utf-8", errors="replace"))


@dataclass(frozen=True, slots=True)
class RestJsonRequest:
    method: str
    path: str
    request: IncomingRequest
    body: bytes
    query: tuple[tuple[str, str], ...]  # decoded query pairs, in order
    route: RouteMatch | None = None  # resolved before the body was read (a streamed payload)


class RestJsonProtocol(WireProtocol[RestJsonRequest, RouteMatch]):
    """One rest-json service: its compiled model and its handlers."""

    max_body = MAX_JSON_BODY

    def __init__(self, service: ServiceSpec, handlers: ServiceHandlers) -> None:
        self._service = service
        self._handlers = handlers
        # Parsing is a pure function of the request's parts. An input read from the query string alone (no body,
        # header or uri member, every member a scalar: GetAuthorizationToken's) is kept parsed and validated by
        # its exact query pairs; clients repeat the same ones. Handed out read-only; refusals are never kept.
        self._parsed: dict[tuple[str, tuple[tuple[str, str], ...]], Mapping[str, Any]] = {}
        self._parsed_bytes = 0
        # the operations whose input payload streams, and that member's name
        self._streamed = {
            name: op.input.payload.name
            for name, op in service.operations.items()
            if op.input is not None and op.input.payload is not None and op.input.streaming_payload
        }
        self._query_only = frozenset(
            name for name, op in service.operations.items() if op.input is not None and _query_only(op.input)
        )

    def accept(
        self, exchange: Exchange, request: IncomingRequest, parsed: ParsedAuthorization, body: bytes
    ) -> RestJsonRequest:
        scope = exchange.scope
        route = exchange.route if isinstance(exchange.route, RouteMatch) else None
        return RestJsonRequest(scope["method"], scope["path"], request, body, _query_pairs(request.raw_query), route)

    def streamed_payload(self, exchange: Exchange, request: IncomingRequest) -> str | None:
        """Routes the request (the match is kept for ``operation``); the payload member's name when the
        operation's input streams it."""
        scope = exchange.scope
        match = self._service.route(scope["method"], scope["path"], _query_pairs(request.raw_query))
        if not isinstance(match, RouteMatch):
            return None
        exchange.route = match
        return self._streamed.get(match.operation.name)

    def operation(self, request: RestJsonRequest) -> RouteMatch:
        if request.route is not None:
            return request.route
        match = self._service.route(request.method, request.path, request.query)
        if match is None or isinstance(match, MethodNotAllowed):
            raise UnknownOperationError(request.method, request.path)
        return match

    def handlers(self, request: RestJsonRequest) -> ServiceHandlers:
        return self._handlers

    def parse(self, request: RestJsonRequest, operation: RouteMatch) -> Mapping[str, Any]:
        op = operation.operation
        if op.name in self._query_only:
            key = (op.name, request.query)
            params = self._parsed.get(key)
            if params is None:
                params = MappingProxyType(self._parse(request, operation))
                size = len(request.request.raw_query)
                if len(self._parsed) >= MAX_PARSED or self._parsed_bytes + size > MAX_PARSED_BYTES:
                    self._parsed.clear()
                    self._parsed_bytes = 0
                self._parsed[key] = params
                self._parsed_bytes += size
            return params
        return self._parse(request, operation)

    def _parse(self, request: RestJsonRequest, operation: RouteMatch) -> dict[str, Any]:
        op = operation.operation
        plan = op.input
        # Only operations with header members read headers (GetAuthorizationToken has none).
        wants_headers = plan is not None and bool(plan.headers or plan.header_maps)
        headers = {k.lower(): v for k, v in request.request.headers} if wants_headers else None
        params = parse_request(op, labels=operation.labels, query=request.query, headers=headers, body=request.body)
        validate_input(op, params)
        return params

    def serialize_result(
        self, request: RestJsonRequest, operation: RouteMatch, result: Any, request_id: str
    ) -> WireResponse:
        response = serialize_response(operation.operation, result)
        response.headers.append(("x-amzn-RequestId", request_id))
        return response

    def serialize_error(self, error: CofferError, exchange: Exchange) -> WireResponse:
        return serialize_error(error, exchange.request_id, self._service)


def _query_only(plan: MessagePlan) -> bool:
    """Whether an input is read from the query string alone, every member of it a scalar."""
    wire = not (plan.uri or plan.headers or plan.header_maps or plan.body or plan.payload is not None)
    wire = wire and plan.query_map is None
    return wire and all(member.shape.type in _SCALARS for member in plan.query.values())


__all__ = ["MAX_JSON_BODY", "RestJsonProtocol", "RestJsonRequest"]
