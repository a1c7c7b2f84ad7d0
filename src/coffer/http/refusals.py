"""Transport-level refusals (400, 408, 414, 431, 503) as whole HTTP/1.1 responses, in the dialect of the path.

The HTTP layer refuses a request before the app sees it, often before the request line is even complete. It keeps
the first bytes of the request head, which is enough to tell the dialect from the method and target:

- ``/v1/...``: CodeArtifact's REST-JSON (``{"message": ..., "__type": code}`` with ``x-amzn-ErrorType``), as
  :func:`coffer.aws.restjson_errors.serialize_error` writes every other error of that API;
- ``POST /`` and ``GET /?Action=...``: the AWS Query protocol of STS and IAM (an XML ``ErrorResponse``, in IAM's
  namespace when the request shows it is for IAM), as :func:`coffer.aws.query_xml.serialize_error` writes it;
- anything else (``/pypi/...``, ``/health``, an unreadable request line): ``text/plain``.

Every refusal carries ``Connection: close``.
"""

from __future__ import annotations

import enum
import http
import re
from collections.abc import Iterable
from typing import Final

from coffer.aws.auth import new_request_id
from coffer.aws.query_xml import DEFAULT_NAMESPACE, XML_CONTENT_TYPE
from coffer.aws.query_xml import serialize_error as query_error
from coffer.aws.restjson_errors import serialize_error as restjson_error
from coffer.core.shared.errors import (
    CofferError,
    RequestHeaderSectionTooLargeError,
    RequestTimeoutError,
    RequestUriTooLongError,
    ServiceUnavailableError,
    ValidationError,
)

IAM_NAMESPACE: Final = "https://iam.amazonaws.com/doc/2010-05-08/"
"""IAM's XML namespace (the botocore model's ``xmlNamespace``; a test checks they agree)."""
_IAM_VERSION: Final = b"version=2010-05-08"
_IAM_SCOPE: Final = (b"/iam/aws4_request", b"%2fiam%2faws4_request")

CODES: Final[dict[int, type[CofferError]]] = {
    408: RequestTimeoutError,
    414: RequestUriTooLongError,
    431: RequestHeaderSectionTooLargeError,
    503: ServiceUnavailableError,
}
"""The errors of the refusals, by status (400 is each dialect's validation error)."""


class Dialect(enum.Enum):
    REST_JSON = "rest-json"
    QUERY = "query"
    PLAIN = "plain"


_TARGET = re.compile(rb"[ \r\n]*([A-Za-z]{1,20}) +([^ \r\n]*)")


def request_target(head: bytes) -> tuple[bytes, bytes]:
    """``(method, target)`` from the start of a request head, as far as it goes; empty bytes when unreadable."""
    m = _TARGET.match(head)
    if m is None:
        return b"", b""
    return m.group(1), m.group(2)


def dialect_of(method: bytes, target: bytes) -> Dialect:
    if target.startswith((b"http://", b"https://")):  # absolute form: drop scheme and authority
        slash = target.find(b"/", target.index(b"//") + 2)
        target = target[slash:] if slash >= 0 else b"/"
    path, _, query = target.partition(b"?")
    if path.startswith(b"/v1/"):
        return Dialect.REST_JSON
    if path == b"/" and (
        method == b"POST" or (method == b"GET" and any(p.startswith(b"Action=") for p in query.split(b"&")))
    ):
        return Dialect.QUERY
    return Dialect.PLAIN


def _is_iam(head: bytes) -> bool:
    lowered = head.lower()
    return _IAM_VERSION in lowered or any(scope in lowered for scope in _IAM_SCOPE)


def refusal(
    status: int,
    message: str,
    head: bytes = b"",
    *,
    method: bytes | None = None,
    target: bytes | None = None,
    extra_headers: Iterable[tuple[bytes, bytes]] = (),
) -> bytes:
    """The whole response: status line, headers (``extra_headers`` first, e.g. ``Date``) and body.

    ``head`` is the start of the request head as received (it may be cut anywhere); ``method`` and ``target``,
    when the request line was parsed, take precedence over what ``head`` shows.
    """
    if method is None or target is None:
        method, target = request_target(head)
    dialect = dialect_of(method, target)
    error = ValidationError(message, reason="CANNOT_PARSE") if status == 400 else CODES[status](message)
    headers: list[tuple[bytes, bytes]] = list(extra_headers)
    if dialect is Dialect.REST_JSON:
        wire = restjson_error(error, new_request_id())
        headers.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in wire.headers)
        assert isinstance(wire.body, bytes)  # errors are never streamed
        body = wire.body
    elif dialect is Dialect.QUERY:
        request_id = new_request_id()
        _, body = query_error(error, request_id)
        if _is_iam(target + b"\n" + head):
            body = body.replace(DEFAULT_NAMESPACE.encode(), IAM_NAMESPACE.encode(), 1)
        headers.append((b"content-type", XML_CONTENT_TYPE.encode("ascii")))
        headers.append((b"x-amzn-requestid", request_id.encode("ascii")))
    else:
        body = message.encode("utf-8") + b"\n"
        headers.append((b"content-type", b"text/plain; charset=utf-8"))
    if status == 503:
        headers.append((b"retry-after", b"1"))
    headers.append((b"content-length", str(len(body)).encode("ascii")))
    headers.append((b"connection", b"close"))
    phrase = http.HTTPStatus(status).phrase.encode("ascii")
    out = [b"HTTP/1.1 %d %s\r\n" % (status, phrase)]
    out.extend(b"%s: %s\r\n" % pair for pair in headers)
    out.append(b"\r\n")
    out.append(body)
    return b"".join(out)


__all__ = ["CODES", "IAM_NAMESPACE", "Dialect", "dialect_of", "refusal", "request_target"]
