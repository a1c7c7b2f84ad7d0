"""What the registry clients share (``pypi_simple``, ``npm_registry``): one httpx client per registry, and the
rules every external connection follows on the wire.

- Timeouts: ``timeout`` seconds to connect, and between two reads. An answer is read to at most the limit the
  caller gives; larger answers are refused, not truncated. httpx's errors become ``UpstreamTimeoutError`` (no
  answer in time: 504) or ``UpstreamUnavailableError`` (refused, reset, DNS, a status other than 200: 502).
- Credentials in the registry URL (``https://user:secret@host/path/``) are sent to the registry's own origin
  (scheme, host and port) only, never to a file host elsewhere and never in clear to a plain-HTTP link on the
  same host; no message carries them. HTTP Basic by default; a client may read them otherwise (npm: a token).
- Files are fetched from the registry's host or from hosts that are not loopback, private or link-local
  addresses (``may_fetch``, also for every redirect), unless the registry itself is on that host. DNS names are
  not resolved first: a name that resolves to such an address is the network's business.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from coffer.core.packages.package_store import PendingBlob
from coffer.core.packages.upstreams import UpstreamError, UpstreamTimeoutError, UpstreamUnavailableError
from coffer.core.shared.blocking import may_block

CHUNK = 1024 * 1024
_HEX = frozenset("0123456789abcdefABCDEF")


def hex_digest(value: object, length: int) -> str | None:
    """A hex digest of ``length`` characters, lowercased; None for anything else."""
    if isinstance(value, str) and len(value) == length and all(c in _HEX for c in value):
        return value.lower()
    return None


def iso_timestamp(text: object) -> float | None:
    """An ISO 8601 time (``2023-05-22T15:12:42.313Z``) as seconds since the epoch; None when it is not one."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """``url`` without its user information, and the user name and password it carried (None when absent)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None, None
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=netloc)), parts.username, parts.password


class HttpIndex:
    """The connection to one registry at ``url`` (made to end in ``/``), serving ``connection``. ``transport``
    replaces the network (tests)."""

    def __init__(
        self,
        connection: str,
        url: str,
        *,
        timeout: float,
        max_connections: int = 32,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._connection = connection
        self._base, username, password = split_credentials(url if url.endswith("/") else url + "/")
        base = urlsplit(self._base)
        self._origin = (base.scheme, base.netloc)
        self._hostname = base.hostname or ""
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            follow_redirects=True,
            headers={"User-Agent": "coffer (external connection)"},
            transport=transport,
            # every request, redirects included: a public file host cannot redirect Coffer into its own network
            event_hooks={"request": [self._guard]},
        )
        self._auth = None if username is None and password is None else self._credentials(username, password)

    def _credentials(self, username: str | None, password: str | None) -> httpx.Auth | None:
        """How the credentials of the registry URL are sent: HTTP Basic."""
        return httpx.BasicAuth(username or "", password or "")

    @property
    def connection(self) -> str:
        return self._connection

    def close(self) -> None:
        self._client.close()

    def _auth_for(self, url: str) -> httpx.Auth | None:
        # credentials go to the registry's own origin only (scheme, host and port): never in clear to a plain-HTTP
        # link on the same host, never to a file host elsewhere
        parts = urlsplit(url)
        return self._auth if self._auth is not None and (parts.scheme, parts.netloc) == self._origin else None

    def _guard(self, request: httpx.Request) -> None:
        if not self._may_fetch(str(request.url)):
            raise UpstreamUnavailableError(
                f"{self._connection} sent Coffer to {request.url.host}, a loopback, private or link-local address "
                "other than the registry's own host: refused"
            )

    def _may_fetch(self, url: str) -> bool:
        """A listed file is fetched from the registry's own host, or from a host that is not a loopback, private or
        link-local address: a listing cannot make Coffer fetch from inside its own network (169.254.169.254, a
        database port on localhost) unless the registry itself is there."""
        host = urlsplit(url).hostname or ""
        if host == self._hostname:
            return True
        if host == "localhost" or host.endswith(".localhost"):
            return False
        try:
            address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(host)
        except ValueError:
            try:  # the other spellings of an IPv4 address the resolver accepts: 2130706433, 0x7f000001, 127.1
                address = ipaddress.IPv4Address(socket.inet_aton(host))
            except (OSError, ValueError):
                return True  # a DNS name: what it resolves to is the network's business
        return not (address.is_loopback or address.is_private or address.is_link_local or address.is_unspecified)

    def download(self, url: str, sink: PendingBlob, max_bytes: int) -> None:
        filename = urlsplit(url).path.rsplit("/", 1)[-1]
        with self._request(url, filename) as response:
            self._check(response, filename)
            for chunk in self._read(response, max_bytes, filename):
                sink.write(chunk)

    def _request(self, url: str, what: str, headers: dict[str, str] | None = None) -> _Guarded:
        may_block()
        if urlsplit(url).scheme not in ("http", "https"):
            raise UpstreamUnavailableError(f"{self._connection} lists {what} at a URL that is not http(s)")
        try:
            return _Guarded(self._client.stream("GET", url, headers=headers, auth=self._auth_for(url)), self, what)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self._error(exc, what) from None

    def _check(self, response: httpx.Response, what: str) -> None:
        if response.status_code != 200:
            raise UpstreamUnavailableError(
                f"{self._connection} answered {response.status_code} {response.reason_phrase} for {what}"
            )

    def _read(self, response: httpx.Response, limit: int, what: str) -> Iterator[bytes]:
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise UpstreamUnavailableError(f"{self._connection}: {what} is larger than {limit} bytes")
        seen = 0
        try:
            for chunk in response.iter_raw(CHUNK) if _identity(response) else response.iter_bytes(CHUNK):
                seen += len(chunk)
                if seen > limit:
                    raise UpstreamUnavailableError(f"{self._connection}: {what} is larger than {limit} bytes")
                yield chunk
        except httpx.HTTPError as exc:
            raise self._error(exc, what) from None

    def _error(self, exc: httpx.HTTPError | httpx.InvalidURL, what: str) -> UpstreamError:
        if isinstance(exc, httpx.TimeoutException):
            return UpstreamTimeoutError(f"{self._connection} did not answer in time for {what} (upstream timeout)")
        reason = type(exc).__name__
        return UpstreamUnavailableError(f"{self._connection} is unreachable for {what} ({reason})")


def _identity(response: httpx.Response) -> bool:
    return response.headers.get("content-encoding", "identity").lower() in ("", "identity")


class _Guarded:
    """``client.stream(...)`` whose entry maps httpx's errors to UpstreamError."""

    def __init__(self, stream: Any, index: HttpIndex, what: str) -> None:
        self._stream = stream
        self._index = index
        self._what = what

    def __enter__(self) -> httpx.Response:
        try:
            response: httpx.Response = self._stream.__enter__()
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self._index._error(exc, self._what) from None
        return response

    def __exit__(self, *exc: object) -> None:
        self._stream.__exit__(*exc)
