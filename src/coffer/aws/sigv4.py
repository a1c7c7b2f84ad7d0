"""Server-side AWS Signature Version 4 verification (Authorization-header form).

Two steps, so a caller can route on the credential scope and look up the secret in between::

    parsed = parse_authorization(request)           # structure, sizes, timestamp; no crypto
    secret, token = credentials_for(parsed.access_key_id)
    verifier.verify(request, parsed, secret_access_key=secret,
                    payload_sha256_hex=body_hash, session_token_expected=token)

Error texts follow what AWS's JSON services return (the project spec, codeartifact.md §2, §3). Query-string
(presigned) authentication is not supported. Canonicalisation lives in ``coffer.aws.sigv4_canonical``;
strings follow its latin-1 wire convention.
"""

from __future__ import annotations

import functools
import hmac
import math
from collections.abc import Callable, Collection, Sequence
from typing import NoReturn

from coffer.aws.sigv4_canonical import (
    ALGORITHM,
    canonical_headers,
    canonical_query,
    canonical_uri,
    derive_signing_key,
    hash_hex,
)
from coffer.aws.sigv4_parse import (
    IncomingRequest,
    ParsedAuthorization,
    format_amz_date,
    parse_authorization,
)
from coffer.core.shared.errors import IncompleteSignatureError, InvalidSignatureError, UnrecognizedClientError
from coffer.core.shared.signing import hmac_sha256

__all__ = [
    "CONTENT_SHA256_MISMATCH",
    "HOST_NOT_SIGNED",
    "SIGNATURE_MISMATCH",
    "IncomingRequest",
    "ParsedAuthorization",
    "SigV4Verifier",
    "canonical_query",
    "canonical_request",
    "canonical_uri",
    "parse_authorization",
    "string_to_sign",
]

SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)
HOST_NOT_SIGNED = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
CONTENT_SHA256_MISMATCH = "The provided 'x-amz-content-sha256' header does not match what was computed."


def canonical_request(request: IncomingRequest, signed_headers: Sequence[str], payload_sha256_hex: str) -> str:
    """The SigV4 canonical request; InvalidSignatureError if a signed header is absent."""
    headers = canonical_headers(request.headers, signed_headers)
    if headers is None:
        raise InvalidSignatureError(SIGNATURE_MISMATCH)
    return "\n".join(
        (
            request.method,
            canonical_uri(request.raw_path),
            canonical_query(request.raw_query),
            headers,
            ";".join(signed_headers),
            payload_sha256_hex,
        )
    )


def string_to_sign(amz_date: str, credential_scope: str, canonical_request: str) -> str:
    return f"{ALGORITHM}\n{amz_date}\n{credential_scope}\n{hash_hex(canonical_request)}"


def _signing_mac(secret_access_key: str, date: str, region: str, service: str) -> Callable[[bytes], bytes]:
    """HMAC-SHA256 under the derived signing key (cached per key and scope by the verifier)."""
    return hmac_sha256(derive_signing_key(secret_access_key, date, region, service))


def _constant_time_equal(a: str, b: str) -> bool:
    try:
        return hmac.compare_digest(a, b)  # both ASCII: the usual case (a signature, a session token)
    except TypeError:  # compare_digest takes ASCII strings only
        return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


class SigV4Verifier:
    """Checks parsed SigV4 requests for one region and a set of signing names.

    ``services`` are the accepted scope service names; the first (in iteration order) is the one
    named in the wrong-service error. Derived signing keys are cached per (secret, date, region,
    service) in a bounded LRU cache.
    """

    def __init__(
        self,
        region: str,
        services: Collection[str],
        clock: Callable[[], float],
        max_skew_seconds: int = 300,
        signing_key_cache_size: int = 256,
    ) -> None:
        if not services:
            raise ValueError("services must name at least one signing name")
        self.region = region
        self.services = frozenset(services)
        self._primary_service = next(iter(services))
        self._clock = clock
        self._max_skew = max_skew_seconds
        skew_minutes, rest = divmod(max_skew_seconds, 60)
        self._skew_text = f"{skew_minutes} min." if not rest else f"{max_skew_seconds} sec."
        self._signing_mac = functools.lru_cache(maxsize=signing_key_cache_size)(_signing_mac)

    def verify(
        self,
        request: IncomingRequest,
        parsed: ParsedAuthorization,
        *,
        secret_access_key: str,
        payload_sha256_hex: str,
        session_token_expected: str | None = None,
    ) -> None:
        """Raise unless ``request`` (parsed by ``parse_authorization``) is correctly signed.

        ``payload_sha256_hex`` is the server's own lower-case hex SHA-256 of the body.
        ``session_token_expected`` is the session token of temporary credentials; None for long-term
        keys, whose requests must then carry no X-Amz-Security-Token.
        """
        day = parsed.amz_date[:8]
        if parsed.credential_date != day:
            raise InvalidSignatureError(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                f"'{parsed.credential_date}' != '{day}', from '{parsed.amz_date}'."
            )
        if parsed.region != self.region:
            raise InvalidSignatureError("Credential should be scoped to a valid region. ")
        if parsed.service not in self.services:
            expected_service = self._primary_service
            raise InvalidSignatureError(f"Credential should be scoped to correct service: '{expected_service}'. ")
        now = math.floor(self._clock())
        if not now - self._max_skew <= parsed.timestamp <= now + self._max_skew:
            self._refuse_skew(parsed, now)
        if "host" not in parsed.signed_headers:
            raise IncompleteSignatureError(HOST_NOT_SIGNED)
        # The signer used this header's value as the payload hash, so it must be the body's real hash;
        # this also refuses UNSIGNED-PAYLOAD and STREAMING-*. (A streamed payload, not read yet, is verified with
        # the hash it declares, which its reader checks: RequestAuthenticator.authenticate_streamed.)
        if parsed.content_sha256 is not None and parsed.content_sha256 != payload_sha256_hex:
            raise InvalidSignatureError(CONTENT_SHA256_MISMATCH)
        token = parsed.security_token
        if session_token_expected is None:
            if token is not None:  # long-term keys: a stray token is invalid, as on AWS
                raise UnrecognizedClientError()
        elif token is None or not _constant_time_equal(token, session_token_expected):
            raise UnrecognizedClientError()

        creq = canonical_request(request, parsed.signed_headers, payload_sha256_hex)
        sts = string_to_sign(parsed.amz_date, parsed.credential_scope, creq)
        mac = self._signing_mac(secret_access_key, parsed.credential_date, parsed.region, parsed.service)
        expected = mac(sts.encode("utf-8", "surrogatepass")).hex()
        if not _constant_time_equal(expected, parsed.signature):
            raise InvalidSignatureError(SIGNATURE_MISMATCH)

    def _refuse_skew(self, parsed: ParsedAuthorization, now: int) -> NoReturn:
        """InvalidSignatureError for a request time more than the allowed skew from ``now`` (the caller checked)."""
        if parsed.timestamp < now - self._max_skew:
            raise InvalidSignatureError(
                f"Signature expired: {parsed.amz_date} is now earlier than "
                f"{format_amz_date(now - self._max_skew)} ({format_amz_date(now)} - {self._skew_text})"
            )
        raise InvalidSignatureError(
            f"Signature not yet current: {parsed.amz_date} is still later than "
            f"{format_amz_date(now + self._max_skew)} ({format_amz_date(now)} + {self._skew_text})"
        )
