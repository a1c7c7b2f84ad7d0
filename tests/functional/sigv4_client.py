"""Send hand-made SigV4 requests (skewed clocks, tampering) using botocore's own signer."""

from __future__ import annotations

import datetime
from typing import Any

import httpx
from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


class SkewedSigV4Auth(SigV4Auth):
    """botocore's signer with the clock moved by ``skew`` seconds (its add_auth, with a chosen timestamp)."""

    def __init__(self, credentials: Credentials, service: str, region: str, skew: float = 0.0) -> None:
        super().__init__(credentials, service, region)
        self._skew = skew

    def add_auth(self, request: AWSRequest) -> None:
        now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + datetime.timedelta(seconds=self._skew)
        request.context["timestamp"] = now.strftime(SIGV4_TIMESTAMP)
        self._modify_request_before_signing(request)
        canonical_request = self.canonical_request(request)
        string_to_sign = self.string_to_sign(request, canonical_request)
        signature = self.signature(string_to_sign, request)
        self._inject_signature_to_request(request, signature)


def signed(
    method: str,
    url: str,
    key: tuple[str, str],
    *,
    body: bytes = b"",
    service: str = "codeartifact",
    region: str = "us-east-1",
    skew: float = 0.0,
    headers: dict[str, str] | None = None,
) -> AWSRequest:
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    SkewedSigV4Auth(Credentials(*key), service, region, skew).add_auth(request)
    return request


def send(request: AWSRequest, **overrides: Any) -> httpx.Response:
    prepared = request.prepare()
    headers = dict(prepared.headers.items())
    headers.update(overrides.pop("headers", {}))
    return httpx.request(
        overrides.pop("method", prepared.method),
        overrides.pop("url", prepared.url),
        headers=headers,
        content=overrides.pop("body", prepared.body or b""),
        timeout=30,
    )
