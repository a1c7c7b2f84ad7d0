"""A small, fast SigV4 signer for one fixed request shape, checked against botocore's SigV4Auth.

The load generator signs every GetAuthorizationToken request at send time (current ``X-Amz-Date``, a real
HMAC-SHA256 signature). Everything that does not depend on the time (canonical URI and query, the header
block up to the date, the payload hash) is built once; per request it costs two SHA-256 digests and one HMAC.
The derived signing key is cached per day, as every SDK and the server do.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import time
from dataclasses import dataclass
from unittest import mock
from urllib.parse import parse_qsl, quote

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"


def amz_date_now() -> str:
    return time.strftime(AMZ_DATE_FORMAT, time.gmtime())


def _quote(text: str) -> str:
    return quote(text, safe="-_.~")


def canonical_query(raw_query: str) -> str:
    pairs = parse_qsl(raw_query, keep_blank_values=True)
    return "&".join(f"{_quote(k)}={_quote(v)}" for k, v in sorted(pairs))


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str


class FastSigner:
    """Signs ``METHOD path?query`` with an empty body, signed headers ``host;x-amz-date`` (what boto3 signs
    for GetAuthorizationToken: it sends no Content-Type and adds Content-Length after signing)."""

    def __init__(
        self, creds: Credentials, *, region: str, service: str, method: str, host: str, path: str, query: str
    ) -> None:
        self.creds = creds
        self.region = region
        self.service = service
        self.method = method
        self.host = host
        self.path = path
        self.query = query
        # Canonical URI: every service but S3 encodes the (already encoded) path a second time.
        canonical_uri = quote(path, safe="/-_.~")
        self._creq_head = f"{method}\n{canonical_uri}\n{canonical_query(query)}\nhost:{host}\nx-amz-date:"
        self._creq_tail = f"\n\nhost;x-amz-date\n{EMPTY_SHA256}"
        self._keys: dict[str, bytes] = {}
        target = f"{path}?{query}" if query else path
        self._request_head = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nX-Amz-Date: "

    def _signing_key(self, day: str) -> bytes:
        key = self._keys.get(day)
        if key is None:
            k = hmac.new(("AWS4" + self.creds.secret_access_key).encode(), day.encode(), hashlib.sha256).digest()
            for part in (self.region, self.service, "aws4_request"):
                k = hmac.new(k, part.encode(), hashlib.sha256).digest()
            self._keys = {day: k}  # only today's key is ever needed
            key = k
        return key

    def authorization(self, amz_date: str) -> str:
        day = amz_date[:8]
        scope = f"{day}/{self.region}/{self.service}/aws4_request"
        creq_hash = hashlib.sha256((self._creq_head + amz_date + self._creq_tail).encode()).hexdigest()
        string_to_sign = f"{ALGORITHM}\n{amz_date}\n{scope}\n{creq_hash}"
        signature = hmac.new(self._signing_key(day), string_to_sign.encode(), hashlib.sha256).hexdigest()
        return (
            f"{ALGORITHM} Credential={self.creds.access_key_id}/{scope}, "
            f"SignedHeaders=host;x-amz-date, Signature={signature}"
        )

    def request_bytes(self, amz_date: str | None = None, *, tamper: bool = False) -> bytes:
        """The whole HTTP/1.1 request, signed now (or at ``amz_date``)."""
        date = amz_date or amz_date_now()
        auth = self.authorization(date)
        if tamper:  # flip the last hex digit of the signature
            auth = auth[:-1] + ("0" if auth[-1] != "0" else "1")
        return (
            f"{self._request_head}{date}\r\nAuthorization: {auth}\r\nContent-Length: 0\r\n"
            "User-Agent: coffer-bench\r\n\r\n"
        ).encode()


def botocore_authorization(signer: FastSigner, amz_date: str) -> tuple[str, str]:
    """(Authorization, X-Amz-Date) that botocore's own SigV4Auth.add_auth produces for the same request at
    ``amz_date`` (its clock is frozen there)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    url = f"http://{signer.host}{signer.path}" + (f"?{signer.query}" if signer.query else "")
    request = AWSRequest(method=signer.method, url=url, data=b"", headers={})
    frozen = datetime.datetime.strptime(amz_date, AMZ_DATE_FORMAT)
    auth = SigV4Auth(
        BotoCredentials(signer.creds.access_key_id, signer.creds.secret_access_key), signer.service, signer.region
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=frozen):
        auth.add_auth(request)
    return str(request.headers["Authorization"]), str(request.headers["X-Amz-Date"])


def check_against_botocore(signer: FastSigner) -> list[str]:
    """Sign at a few instants with both signers; return the mismatches (empty when they agree)."""
    problems = []
    for amz_date in (amz_date_now(), "20150830T123600Z", "20241231T235959Z"):
        ours = signer.authorization(amz_date)
        theirs, their_date = botocore_authorization(signer, amz_date)
        if their_date != amz_date:
            problems.append(f"botocore dated the request {their_date}, expected {amz_date}")
        if ours != theirs:
            problems.append(f"at {amz_date}:\n  bench:    {ours}\n  botocore: {theirs}")
    return problems
