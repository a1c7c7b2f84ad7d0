"""The ASGI endpoint for the AWS query services (STS and IAM) on ``/``: pick the service (by ``Action``, else the
credential scope), authenticate (SigV4), route by ``Action``, parse, validate, call the handler, answer XML.

One endpoint serves both, as ``--endpoint-url`` clients send both to the same URL, standing for AWS's two hosts.
The ``Action`` names the service when it is an operation of exactly one of them (IAM's and STS's are disjoint), else
the credential scope does; a scope naming another service than the one the request is for is refused as AWS does
(``SignatureDoesNotMatch``, "Credential should be scoped to correct service: 'iam'. "). Errors raised before the
service is known (an unsigned request, a malformed signature) still answer in the namespace of the service the
request names, by its ``Action``, else its ``Version``. Which regions a scope may name is the verifiers' business
(app.py accepts Coffer's region and us-east-1, where IAM and the global STS endpoint sign).

Every failure becomes an XML ``ErrorResponse`` here, the one translation point for this dialect. An operation of
the model without a handler answers ``NotImplemented`` (501) naming the action; an action the model does not know
answers ``InvalidAction`` (400), as AWS does.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from anyio import to_thread
from starlette.types import Receive, Scope, Send

from coffer.aws.auth import RequestAuthenticator, new_request_id, read_body
from coffer.aws.query import (
    MAX_FORM_BYTES,
    XML_CONTENT_TYPE,
    QuerySpec,
    operation_for,
    parse_form,
    parse_params,
    serialize_error,
    serialize_result,
    validate_params,
)
from coffer.aws.sigv4 import IncomingRequest, parse_authorization
from coffer.core.identity.callers import Caller
from coffer.core.shared.errors import (
    CofferError,
    InternalServerError,
    InvalidSignatureError,
    MalformedQueryStringError,
    NotImplementedOperationError,
    RequestTooLargeError,
)
from coffer.request_context import note_principal, request_id_for

log = logging.getLogger("coffer.aws")

Handler = Callable[[Any, Caller, Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class QueryService:
    """One query service as the endpoint serves it: its compiled model, its handlers and what they are given."""

    spec: QuerySpec
    handlers: Mapping[str, Handler]
    services: Any  # passed to every handler as its first argument


ServiceBinding = QueryService | tuple[QuerySpec, Mapping[str, Handler], Any]


class QueryEndpoint:
    """``services`` maps a signing name (``sts``, ``iam``) to its :class:`QueryService` (or a
    ``(spec, handlers, services)`` tuple). ``inline`` names operations cheap enough to run on the event loop."""

    def __init__(
        self,
        services: Mapping[str, ServiceBinding],
        authenticator: RequestAuthenticator,
        inline: Collection[str] = (),
    ) -> None:
        self._services: dict[str, QueryService] = {
            name: binding if isinstance(binding, QueryService) else QueryService(*binding)
            for name, binding in services.items()
        }
        self._auth = authenticator
        self._inline = frozenset(inline)
        owners: dict[str, list[str]] = {}
        for name, service in self._services.items():
            for action in service.spec.operations:
                owners.setdefault(action, []).append(name)
        # an action of exactly one service names it (IAM's and STS's operations are disjoint)
        self._by_action = {action: names[0] for action, names in owners.items() if len(names) == 1}
        self._by_version: dict[str, str] = {}
        for name, service in self._services.items():
            self._by_version.setdefault(service.spec.api_version, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = request_id_for(scope) or new_request_id()  # the access log's id, when there is one
        current: list[QueryService] = []  # the service once the credential scope names it: its namespace for errors
        try:
            status, body = await self._handle(scope, receive, request_id, current)
        except CofferError as exc:
            status, body = serialize_error(exc, request_id, current[0].spec if current else None)
        except Exception:
            log.exception("internal error in %s %s", scope.get("method"), scope.get("path"))
            internal = InternalServerError("An internal error occurred.")
            status, body = serialize_error(internal, request_id, current[0].spec if current else None)
        headers = [
            (b"content-type", XML_CONTENT_TYPE.encode("ascii")),
            (b"x-amzn-requestid", request_id.encode("ascii")),
            (b"content-length", str(len(body)).encode("ascii")),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _handle(
        self, scope: Scope, receive: Receive, request_id: str, current: list[QueryService]
    ) -> tuple[int, bytes]:
        request = IncomingRequest.from_asgi(scope)
        try:
            parsed = parse_authorization(request)  # size limits and structure, before anything is hashed
        except CofferError as exc:  # unsigned or malformed: answer in the namespace of the service it names
            body = b""
            if not isinstance(exc, RequestTooLargeError):
                with contextlib.suppress(CofferError):  # the first refusal stands
                    body = await read_body(scope, receive, MAX_FORM_BYTES)
            named = self._named_service(self._peek_form(scope, body), by_version=True)
            if named is not None:
                current.append(self._services[named])
            raise
        body = await read_body(scope, receive, MAX_FORM_BYTES)
        try:
            form: Mapping[str, str] = _form(scope, body)
            form_error: CofferError | None = None
        except CofferError as exc:  # reported once the caller is authenticated, as before
            form, form_error = {}, exc
        name = self._named_service(form, by_version=False)
        if name is None:
            name = parsed.service if parsed.service in self._services else self._named_service(form, by_version=True)
        service = self._services.get(name) if name is not None else None
        if service is not None:
            current.append(service)
            if parsed.service != name:  # e.g. an IAM action signed for s3, codeartifact or sts
                raise InvalidSignatureError(f"Credential should be scoped to correct service: '{name}'. ")
        caller = self._auth.authenticate(scope, request, parsed, body)
        note_principal(scope, caller)
        if service is None:  # the verifiers accept a signing name no service here answers to
            raise InvalidSignatureError(f"Credential should be scoped to correct service: '{parsed.service}'. ")
        if form_error is not None:
            raise form_error

        op = operation_for(service.spec, form)
        handler = service.handlers.get(op.name)
        if handler is None:
            raise NotImplementedOperationError(op.name)
        params = parse_params(service.spec, op, form)
        validate_params(op, params)
        if op.name in self._inline:
            result = handler(service.services, caller, params)
        else:
            result = await to_thread.run_sync(handler, service.services, caller, params)
        return 200, serialize_result(service.spec, op, result, request_id)

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


__all__ = ["Handler", "QueryEndpoint", "QueryService", "ServiceBinding"]
