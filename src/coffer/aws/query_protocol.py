"""The query protocol (STS and IAM on ``/``) as the service endpoint uses it: pick the service (by ``Action``, else
the credential scope), route by ``Action``, parse the form, answer XML.

One endpoint serves both, as ``--endpoint-url`` clients send both to the same URL, standing for AWS's two hosts.
The ``Action`` names the service when it is an operation of exactly one of them (IAM's and STS's are disjoint), else
the credential scope does; a scope naming another service than the one the request is for is refused as AWS does
(``SignatureDoesNotMatch``, "Credential should be scoped to correct service: 'iam'. "). Errors raised before the
service is known (an unsigned request, a malformed signature) still answer in the namespace of the service the
request names, by its ``Action``, else its ``Version``. Which regions a scope may name is the verifiers' business
(the composition root accepts Coffer's region and us-east-1, where IAM and the global STS endpoint sign).

An action the model does not know answers ``InvalidAction`` (400), as AWS does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.types import Receive, Scope

from coffer.aws.auth import read_body
from coffer.aws.protocol import Exchange, ServiceHandlers, WireProtocol, WireResponse
from coffer.aws.query_form import MAX_FORM_BYTES, operation_for, parse_form, parse_params, validate_params
from coffer.aws.query_model import QueryOperation, QuerySpec
from coffer.aws.query_xml import XML_CONTENT_TYPE, serialize_error, serialize_result
from coffer.aws.sigv4 import IncomingRequest, ParsedAuthorization
from coffer.core.shared.errors import (
    CofferError,
    InvalidSignatureError,
    MalformedQueryStringError,
    RequestTooLargeError,
)


@dataclass(frozen=True, slots=True)
class QueryService:
    """One query service as the endpoint serves it: its compiled model and its handlers."""

    spec: QuerySpec
    handlers: ServiceHandlers


@dataclass(frozen=True, slots=True)
class QueryRequest:
    service: QueryService | None  # None: the credential scope names a service not served here
    signed_for: str  # the credential scope's service
    form: Mapping[str, str]
    form_error: CofferError | None  # reported once the caller is authenticated


class QueryProtocol(WireProtocol[QueryRequest, QueryOperation]):
    """``services`` maps a signing name (``sts``, ``iam``) to its :class:`QueryService`."""

    max_body = MAX_FORM_BYTES

    def __init__(self, services: Mapping[str, QueryService]) -> None:
        self._services = dict(services)
        owners: dict[str, list[str]] = {}
        for name, service in self._services.items():
            for action in service.spec.operations:
                owners.setdefault(action, []).append(name)
        # an action of exactly one service names it (IAM's and STS's operations are disjoint)
        self._by_action = {action: names[0] for action, names in owners.items() if len(names) == 1}
        self._by_version: dict[str, str] = {}
        for name, service in self._services.items():
            self._by_version.setdefault(service.spec.api_version, name)

    async def refusing(self, error: CofferError, exchange: Exchange, receive: Receive) -> None:
        """Unsigned or malformed: answer in the namespace of the service the request names."""
        body = b""
        if not isinstance(error, RequestTooLargeError):
            with contextlib.suppress(CofferError):  # the first refusal stands
                body = await read_body(exchange.scope, receive, MAX_FORM_BYTES)
        named = self._named_service(self._peek_form(exchange.scope, body), by_version=True)
        if named is not None:
            exchange.error_context = self._services[named].spec

    def accept(
        self, exchange: Exchange, request: IncomingRequest, parsed: ParsedAuthorization, body: bytes
    ) -> QueryRequest:
        try:
            form: Mapping[str, str] = _form(exchange.scope, body)
            form_error: CofferError | None = None
        except CofferError as exc:
            form, form_error = {}, exc
        name = self._named_service(form, by_version=False)
        if name is None:
            name = parsed.service if parsed.service in self._services else self._named_service(form, by_version=True)
        service = self._services.get(name) if name is not None else None
        if service is not None:
            exchange.error_context = service.spec
            if parsed.service != name:  # e.g. an IAM action signed for s3, codeartifact or sts
                raise InvalidSignatureError(f"Credential should be scoped to correct service: '{name}'. ")
        return QueryRequest(service, parsed.service, form, form_error)

    def operation(self, request: QueryRequest) -> QueryOperation:
        if request.service is None:  # the verifiers accept a signing name no service here answers to
            raise InvalidSignatureError(f"Credential should be scoped to correct service: '{request.signed_for}'. ")
        if request.form_error is not None:
            raise request.form_error
        return operation_for(request.service.spec, request.form)

    def handlers(self, request: QueryRequest) -> ServiceHandlers:
        assert request.service is not None  # operation() refused the request otherwise
        return request.service.handlers

    def parse(self, request: QueryRequest, operation: QueryOperation) -> Mapping[str, Any]:
        assert request.service is not None
        params = parse_params(request.service.spec, operation, request.form)
        validate_params(operation, params)
        return params

    def serialize_result(
        self, request: QueryRequest, operation: QueryOperation, result: Any, request_id: str
    ) -> WireResponse:
        assert request.service is not None
        return _xml(200, request_id, serialize_result(request.service.spec, operation, result, request_id))

    def serialize_error(self, error: CofferError, exchange: Exchange) -> WireResponse:
        status, body = serialize_error(error, exchange.request_id, exchange.error_context)
        return _xml(status, exchange.request_id, body)

    def _named_service(self, form: Mapping[str, str], *, by_version: bool) -> str | None:
        """The service the request is for by its ``Action`` (and, with ``by_version``, else its ``Version``)."""
        name = self._by_action.get(form.get("Action") or "")
        if name is None and by_version:
            name = self._by_version.get(form.get("Version") or "")
        return name

    @staticmethod
    def _peek_form(scope: Scope, body: bytes) -> Mapping[str, str]:
        """The request's parameters as far as they can be read; empty if they cannot."""
        try:
            return _form(scope, body)
        except CofferError:
            return {}


def _xml(status: int, request_id: str, body: bytes) -> WireResponse:
    return WireResponse(status, [("content-type", XML_CONTENT_TYPE), ("x-amzn-requestid", request_id)], body)


def _form(scope: Scope, body: bytes) -> dict[str, str]:
    return parse_form(body if scope["method"] == "POST" else b"", _query_text(scope), _content_type(scope))


def _query_text(scope: Scope) -> str:
    raw: bytes = scope.get("query_string") or b""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedQueryStringError("The query string is not valid UTF-8.") from None


def _content_type(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"content-type":
            text: str = value.decode("latin-1")
            return text
    return None


__all__ = ["QueryProtocol", "QueryRequest", "QueryService"]
