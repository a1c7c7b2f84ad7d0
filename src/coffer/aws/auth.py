"""The first steps every AWS endpoint takes, whatever its protocol: read the body (size-limited), check the SigV4
signature against the access key's secret, and say who the caller is.

The service endpoint (:mod:`coffer.aws.endpoint`) uses these for every protocol; the protocol turns the errors
raised here into its dialect.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Sequence
from typing import Any

from starlette.types import Receive, Scope

from coffer.aws.sigv4 import IncomingRequest, ParsedAuthorization, SigV4Verifier
from coffer.aws.streamed_body import check_declared_length, too_large
from coffer.core.identity.callers import Caller
from coffer.core.identity.key_resolution import IdentityService
from coffer.core.shared.errors import IncompleteSignatureError, UnrecognizedClientError
from coffer.request_context import new_request_id

log = logging.getLogger("coffer.aws")

_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


class RequestAuthenticator:
    """SigV4 verification plus identity resolution.

    ``verifiers`` are tried by the region of the credential scope (each verifier accepts one region and a set of
    signing names); a scope no verifier accepts is checked by the first, which then names the right region or
    service in its error.
    """

    def __init__(self, identities: IdentityService, verifiers: Sequence[SigV4Verifier]) -> None:
        if not verifiers:
            raise ValueError("at least one verifier is needed")
        self._identities = identities
        self._verifiers = tuple(verifiers)

    def _record_use(self, access_key_id: str, service: str, region: str) -> None:
        """Record the key's use off the event loop (a small write, once a minute per key)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside the server's loop (tests): record in place
            _record_quietly(self._identities, access_key_id, service, region)
            return
        loop.run_in_executor(None, _record_quietly, self._identities, access_key_id, service, region)

    def verifier_for(self, parsed: ParsedAuthorization) -> SigV4Verifier:
        for verifier in self._verifiers:
            if verifier.region == parsed.region and parsed.service in verifier.services:
                return verifier
        return self._verifiers[0]

    def authenticate(self, scope: Scope, request: IncomingRequest, parsed: ParsedAuthorization, body: bytes) -> Caller:
        """The verified caller of ``request`` (its source IP from the ASGI scope), or an AuthenticationError."""
        return self._authenticate(scope, request, parsed, hashlib.sha256(body).hexdigest() if body else _EMPTY_SHA256)

    def authenticate_streamed(self, scope: Scope, request: IncomingRequest, parsed: ParsedAuthorization) -> Caller:
        """``authenticate`` for a request whose body is not read yet (a streamed payload): the signature is checked
        with the payload hash the request declares in ``X-Amz-Content-SHA256``, which the signature covers; whoever
        reads the body must check it against that hash (PublishPackageVersion: its ``assetSHA256``).

        A request that declares no SHA-256 there (none, ``UNSIGNED-PAYLOAD``, ``STREAMING-*``) cannot be checked
        before its body is read, and is refused: IncompleteSignatureError."""
        declared = parsed.content_sha256
        if declared is None or not _SHA256_HEX.fullmatch(declared):
            shown = "no 'x-amz-content-sha256' header" if declared is None else f"'x-amz-content-sha256: {declared}'"
            raise IncompleteSignatureError(
                f"This operation streams its payload: sign the payload's SHA-256 (64 hex digits) in the "
                f"'x-amz-content-sha256' header; the request has {shown[:120]}."
            )
        return self._authenticate(scope, request, parsed, declared)

    def _authenticate(
        self, scope: Scope, request: IncomingRequest, parsed: ParsedAuthorization, payload_sha256_hex: str
    ) -> Caller:
        resolved = self._identities.resolve_access_key(parsed.access_key_id)
        if resolved is None:
            raise UnrecognizedClientError()
        self.verifier_for(parsed).verify(
            request,
            parsed,
            secret_access_key=resolved.secret_access_key,
            payload_sha256_hex=payload_sha256_hex,
            session_token_expected=resolved.session_token,
        )
        if self._identities.key_use_due(parsed.access_key_id):
            self._record_use(parsed.access_key_id, parsed.service, parsed.region)
        caller = resolved.caller
        client = scope.get("client")
        if client:
            caller = caller.with_source_ip(client[0])
        return caller


_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()  # most requests of the query and REST APIs' GETs


def _record_quietly(identities: IdentityService, access_key_id: str, service: str, region: str) -> None:
    try:
        identities.record_key_use(access_key_id, service, region)
    except Exception:  # last-used bookkeeping must never fail a request
        log.warning("could not record the use of access key %s", access_key_id, exc_info=True)


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole request body; RequestTooLargeError as soon as it (or its declared length) exceeds ``limit``."""
    if check_declared_length(scope, limit) == 0:
        return b""  # nothing to receive (the server has parsed the whole request; most API calls have no body)
    chunks: list[bytes] = []
    size = 0
    message: Any = await receive()
    while message["type"] != "http.disconnect":
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        if not message.get("more_body", False):
            if not chunks:  # the usual case: the body in one message
                return chunk
            chunks.append(chunk)
            break
        chunks.append(chunk)
        message = await receive()
    return b"".join(chunks)


__all__ = ["RequestAuthenticator", "new_request_id", "read_body"]
