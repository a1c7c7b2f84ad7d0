"""SigV4 request parsing: the Authorization header, the request timestamp and the size limits.

Nothing here hashes or verifies; see ``coffer.aws.sigv4`` for the verifier and the public API.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple
from urllib.parse import quote

from coffer.aws.sigv4_canonical import ALGORITHM, TERMINATOR
from coffer.core.shared.errors import (
    IncompleteSignatureError,
    InvalidSignatureError,
    MissingAuthenticationTokenError,
    RequestTooLargeError,
)

# Limits checked before anything is parsed or hashed.
MAX_AUTHORIZATION_LENGTH = 8 * 1024
MAX_SIGNED_HEADERS = 64
MAX_HEADER_COUNT = 128
MAX_HEADERS_LENGTH = 64 * 1024  # names + values
MAX_PATH_LENGTH = 8 * 1024
MAX_QUERY_LENGTH = 16 * 1024

# Headers parse_authorization picks out, in one pass over the request.
_WANTED = frozenset({"authorization", "x-amz-date", "date", "x-amz-security-token", "x-amz-content-sha256"})


@dataclass(frozen=True, slots=True)
class IncomingRequest:
    """An HTTP request as received, before any decoding.

    ``raw_path`` and ``raw_query`` are exactly as on the wire (still percent-encoded, no ``?``);
    ``headers`` are (name, value) pairs in arrival order, names in any case, repeats allowed.
    """

    method: str
    raw_path: str
    raw_query: str
    headers: Sequence[tuple[str, str]]

    @classmethod
    def from_asgi(cls, scope: Mapping[str, Any]) -> IncomingRequest:
        """Build from an ASGI HTTP scope, decoding its bytes as latin-1 (lossless)."""
        raw: bytes | None = scope.get("raw_path")
        if raw is None:  # raw_path is optional in ASGI; re-encode the decoded path the way SDKs do
            raw = quote(scope["path"], safe="/").encode("ascii")
        path, _, query = raw.partition(b"?")  # a few servers leave the query in raw_path
        query = scope.get("query_string") or query
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]]
        return cls(scope["method"], path.decode("latin-1"), query.decode("latin-1"), headers)


class ParsedAuthorization(NamedTuple):  # a tuple: built per request, a frozen dataclass costs 4x as much
    """What ``parse_authorization`` found; nothing here is verified yet."""

    access_key_id: str
    credential_date: str  # YYYYMMDD from the credential scope, as sent
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str  # request time, ISO-8601 basic (from X-Amz-Date, else converted from Date)
    timestamp: int  # the same instant, epoch seconds
    security_token: str | None  # X-Amz-Security-Token, signed or not (never shown by repr)
    content_sha256: str | None  # X-Amz-Content-SHA256 as sent

    def __repr__(self) -> str:
        shown = self._replace(security_token=None if self.security_token is None else "***")
        return "ParsedAuthorization" + tuple.__repr__(shown)

    @property
    def credential_scope(self) -> str:
        return f"{self.credential_date}/{self.region}/{self.service}/{TERMINATOR}"


def parse_authorization(request: IncomingRequest) -> ParsedAuthorization:
    """Parse and size-check the SigV4 Authorization header and the request timestamp."""
    if len(request.raw_path) > MAX_PATH_LENGTH:
        raise RequestTooLargeError(f"The request path is longer than {MAX_PATH_LENGTH} bytes.")
    if len(request.raw_query) > MAX_QUERY_LENGTH:
        raise RequestTooLargeError(f"The query string is longer than {MAX_QUERY_LENGTH} bytes.")
    if len(request.headers) > MAX_HEADER_COUNT:
        raise RequestTooLargeError(f"The request has more than {MAX_HEADER_COUNT} headers.")
    header: dict[str, str] = {}
    total = 0
    for name, value in request.headers:
        total += len(name) + len(value)
        lowered = name.lower()
        if lowered in _WANTED:
            seen = header.get(lowered)
            header[lowered] = value if seen is None else f"{seen},{value}"
    if total > MAX_HEADERS_LENGTH:
        raise RequestTooLargeError(f"The request headers are larger than {MAX_HEADERS_LENGTH} bytes.")

    authorization = header.get("authorization")
    if authorization is None:
        if any(part.partition("=")[0] == "X-Amz-Algorithm" for part in request.raw_query.split("&")):
            raise IncompleteSignatureError(
                "Query-string (presigned) authentication is not supported; use the Authorization header."
            )
        raise MissingAuthenticationTokenError("Missing Authentication Token")
    if len(authorization) > MAX_AUTHORIZATION_LENGTH:
        raise RequestTooLargeError(f"The Authorization header is longer than {MAX_AUTHORIZATION_LENGTH} bytes.")

    algorithm, params = _split_authorization(authorization)
    date_value = header.get("x-amz-date")
    date_is_amz = date_value is not None
    if date_value is None:
        date_value = header.get("date")
    if date_value is None or "Credential" not in params or "Signature" not in params or "SignedHeaders" not in params:
        missing = [
            f"Authorization header requires '{key}' parameter. "
            for key in ("Credential", "Signature", "SignedHeaders")
            if key not in params
        ]
        if date_value is None:
            missing.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ")
        raise IncompleteSignatureError("".join(missing) + f"Authorization={authorization}")
    if algorithm != ALGORITHM:
        raise IncompleteSignatureError(f"Unsupported AWS 'algorithm': '{algorithm}'. Use '{ALGORITHM}'.")

    credential = params["Credential"]
    scope = credential.split("/")
    if len(scope) != 5:
        raise IncompleteSignatureError(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
            f"got '{credential}'"
        )
    if scope[4] != TERMINATOR:
        raise InvalidSignatureError(
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{scope[4]}'. "
        )
    signed = params["SignedHeaders"]
    if signed.count(";") >= MAX_SIGNED_HEADERS:
        raise RequestTooLargeError(f"SignedHeaders names more than {MAX_SIGNED_HEADERS} headers.")

    amz_date, timestamp = _parse_amz_date(date_value) if date_is_amz else _parse_http_date(date_value)
    return ParsedAuthorization(  # positionally (this runs per request): the fields in order
        scope[0],  # access_key_id
        scope[1],  # credential_date
        scope[2],  # region
        scope[3],  # service
        tuple(signed.split(";")),  # signed_headers
        params["Signature"],
        amz_date,
        timestamp,
        header.get("x-amz-security-token"),
        header.get("x-amz-content-sha256"),
    )


def _split_authorization(authorization: str) -> tuple[str, dict[str, str]]:
    """``ALG Key=value, Key=value ...`` into the algorithm and a dict; separators are commas/whitespace."""
    head = authorization.split(None, 1)
    algorithm, rest = (head[0], head[1]) if len(head) == 2 else ("".join(head), "")
    params: dict[str, str] = {}
    for part in rest.replace(",", " ").split():  # separated by commas, whitespace
        key, equals, value = part.partition("=")
        if not equals:
            raise IncompleteSignatureError(
                f"'{part}' not a valid key=value pair (missing equal-sign) in Authorization header: '{authorization}'."
            )
        if key in params:
            raise IncompleteSignatureError(f"Duplicate '{key}' parameter in Authorization header.")
        params[key] = value
    return algorithm, params


def _bad_date(value: str) -> IncompleteSignatureError:
    return IncompleteSignatureError(
        f"Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601"
    )


@functools.lru_cache(maxsize=256)  # pure; one value per second of traffic
def _parse_amz_date(value: str) -> tuple[str, int]:
    """``YYYYMMDDTHHMMSSZ`` into (itself, epoch seconds)."""
    digits = value[:8] + value[9:15]
    if len(value) != 16 or value[8] != "T" or value[15] != "Z" or not (digits.isascii() and digits.isdigit()):
        raise _bad_date(value)
    try:
        moment = datetime(
            int(value[0:4]), int(value[4:6]), int(value[6:8]),
            int(value[9:11]), int(value[11:13]), int(value[13:15]), tzinfo=UTC,
        )  # fmt: skip
    except ValueError:
        raise _bad_date(value) from None
    return value, int(moment.timestamp())


def _parse_http_date(value: str) -> tuple[str, int]:
    """An RFC 7231 ``Date`` header into (ISO-8601 basic, epoch seconds)."""
    try:
        moment = parsedate_to_datetime(value)
        if moment.tzinfo is None:  # "-0000" means UTC with no zone information
            moment = moment.replace(tzinfo=UTC)
        moment = moment.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        raise _bad_date(value) from None
    return format_amz_date(moment.timestamp()), int(moment.timestamp())


def format_amz_date(epoch: float) -> str:
    """Epoch seconds as ISO-8601 basic (``YYYYMMDDTHHMMSSZ``), UTC."""
    t = time.gmtime(epoch)  # formatted by hand: strftime does not zero-pad years below 1000 everywhere
    return f"{t.tm_year:04d}{t.tm_mon:02d}{t.tm_mday:02d}T{t.tm_hour:02d}{t.tm_min:02d}{t.tm_sec:02d}Z"
