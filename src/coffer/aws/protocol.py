"""What an AWS wire protocol is to the one service endpoint (:mod:`coffer.aws.endpoint`).

The endpoint runs every request through the same steps: read the signature's structure and the body, let the
protocol read the request (:meth:`WireProtocol.accept`, before the signature is checked), authenticate the caller,
resolve the operation and its handler, parse and validate the parameters, call the handler, serialize the result;
any failure is serialized by :meth:`WireProtocol.serialize_error`, the one translation point of each dialect.
An operation whose input streams (:meth:`WireProtocol.streamed_payload`) is authenticated and parsed from its URL
and headers before any byte of its body is read; its handler then reads the body as it arrives.
Rest-json (:mod:`coffer.aws.restjson_protocol`) and query (:mod:`coffer.aws.query_protocol`) implement it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from starlette.types import Receive, Scope

from coffer.aws.sigv4 import IncomingRequest, ParsedAuthorization
from coffer.core.identity.callers import Caller
from coffer.core.shared.errors import CofferError

Body = bytes | Iterable[bytes] | AsyncIterable[bytes]
Handler = Callable[[Any, Caller, Mapping[str, Any]], Any]


class WireResponse(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: Body  # bytes, or a sync/async iterator of chunks passed through from a streaming payload


@dataclass(frozen=True, slots=True)
class ServiceHandlers:
    """One service's handlers by operation name, and what every handler is given as its first argument."""

    table: Mapping[str, Handler]
    services: Any


@dataclass(slots=True)
class Exchange:
    """One request on its way through the endpoint."""

    scope: Scope
    request_id: str
    #: the service whose dialect errors answer in, once the protocol knows it (query: STS or IAM)
    error_context: Any = None
    #: the operation, when the protocol resolved it before reading the body (``streamed_payload``)
    route: Any = None
    #: the request's body was not read to its end (a streamed payload refused or failed on the way): the response
    #: carries ``Connection: close``
    unread_body: bool = False


class Named(Protocol):
    @property
    def name(self) -> str: ...


RequestT = TypeVar("RequestT")
OperationT = TypeVar("OperationT", bound=Named)


class WireProtocol(ABC, Generic[RequestT, OperationT]):
    """One dialect: how requests are read and responses written. ``RequestT`` is the request as the protocol reads
    it before authentication, ``OperationT`` the resolved operation (its ``name`` picks the handler)."""

    #: the largest request body read
    max_body: int

    async def refusing(self, error: CofferError, exchange: Exchange, receive: Receive) -> None:
        """The request is refused before its signature could be read (unsigned, malformed, too large): read what
        the error's dialect needs (``exchange.error_context``). Nothing by default."""

    def streamed_payload(self, exchange: Exchange, request: IncomingRequest) -> str | None:
        """Before the body is read: the name of the input member that takes the body as a stream, when the
        request's operation has one (then the body is not read by the endpoint, and ``accept`` is given none);
        None for every other request (by default, all of them). Never raises: a request that names no operation
        is refused on the usual path, after authentication."""
        return None

    @abstractmethod
    def accept(
        self, exchange: Exchange, request: IncomingRequest, parsed: ParsedAuthorization, body: bytes
    ) -> RequestT:
        """The request as this protocol reads it, before the signature is checked (which may refuse it)."""

    @abstractmethod
    def operation(self, request: RequestT) -> OperationT:
        """The operation the (authenticated) request calls; an error when there is none."""

    @abstractmethod
    def handlers(self, request: RequestT) -> ServiceHandlers:
        """The handlers of the service the request is for."""

    @abstractmethod
    def parse(self, request: RequestT, operation: OperationT) -> Mapping[str, Any]:
        """The operation's parameters, typed and validated."""

    @abstractmethod
    def serialize_result(
        self, request: RequestT, operation: OperationT, result: Any, request_id: str
    ) -> WireResponse: ...

    @abstractmethod
    def serialize_error(self, error: CofferError, exchange: Exchange) -> WireResponse: ...


__all__ = ["Body", "Exchange", "Handler", "ServiceHandlers", "WireProtocol", "WireResponse"]
