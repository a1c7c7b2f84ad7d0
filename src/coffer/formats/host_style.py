"""AWS host-style repository URLs, mapped onto Coffer's path-style routes.

AWS names a repository endpoint by host, ``https://{domain}-{owner}.d.codeartifact.{region}.amazonaws.com/{format}/
{repository}/``, and tools written for AWS parse that host (``keyrings.codeartifact`` does). ``HostStyleLayer`` sits
in front of the app: a request whose ``Host`` is ``{domain}-{owner}.d.codeartifact.{region}.{any suffix}[:port]``
(owner: the 12 digits after the last '-'; the domain may contain hyphens) and whose path is ``/{format}/{repo}/...``
for a CodeArtifact format goes on as ``/{format}/d/{domain}-{owner}/{repo}/...``, the path-style route, with the same
authentication and responses. The endpoint code gives a client back the paths it sent through ``public_path`` (the
301s of the simple index, the paths in 404 texts).

Anything else passes through untouched: other hosts, malformed ones, and paths that are not a format's (``/v1/...``,
``/health``, ``/``, so the CodeArtifact API answers on these hosts too), or that are path style already
(``/{format}/d/...``: ``d`` is not a valid repository name, being one character). A host naming a region other than
Coffer's gets a 404 saying so. For requests that are not host style the layer costs one scan of the header list
for ``host`` and a substring test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from starlette.types import ASGIApp, Receive, Scope, Send

from coffer.core.codeartifact.repositories import ENDPOINT_FORMATS
from coffer.formats.reason import ReasonResponse

SCOPE_KEY = "coffer.host_style"
"""The ``HostStyle`` of a request the layer mapped (absent for every other request)."""

# the cheap first test on every Host: a compiled search (about 40 ns) is faster than `in` on bytes, whose
# __contains__ first tries the needle as an int (about 140 ns), or than lower() and find()
_MARKER = re.compile(rb"\.d\.codeartifact\.", re.IGNORECASE).search
_HOST = re.compile(
    r"(?P<domain>[a-z][a-z0-9\-]{0,48}[a-z0-9])-(?P<owner>[0-9]{12})"
    r"\.d\.codeartifact\.(?P<region>[a-z0-9\-]+)\.(?P<suffix>[a-z0-9\-]+(?:\.[a-z0-9\-]+)*)\.?(?::[0-9]{1,5})?"
)
_FORMATS = frozenset(ENDPOINT_FORMATS)


@dataclass(frozen=True)
class HostStyle:
    """What a host-style request named, and how its path was mapped."""

    host: str  # the Host header, lower case
    domain: str
    owner: str
    region: str
    internal_prefix: str  # /{format}/d/{domain}-{owner}
    public_prefix: str  # /{format}


def public_path(scope: Scope, path: str) -> str:
    """``path`` (a path-style path of this request's repository) as the client spells it: the host-style path for a
    host-style request, else ``path`` itself."""
    style: HostStyle | None = scope.get(SCOPE_KEY)
    if style is None:
        return path
    internal = style.internal_prefix
    if path.startswith(internal) and (len(path) == len(internal) or path[len(internal)] == "/"):
        return style.public_prefix + path[len(internal) :]
    return path


def parse_host(host: str) -> tuple[str, str, str] | None:
    """``(domain, owner, region)`` of a host-style ``Host`` value (port allowed, any DNS suffix), else None."""
    m = _HOST.fullmatch(host.lower())
    return (m["domain"], m["owner"], m["region"]) if m else None


class HostStyleLayer:
    """The ASGI layer; ``region`` is Coffer's (a host naming another gets a 404)."""

    def __init__(self, app: ASGIApp, region: str) -> None:
        self._app = app
        self._region = region

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"host":
                    if _MARKER(value) is not None:
                        mapped = self._map(scope, value.decode("latin-1"))
                        if isinstance(mapped, ReasonResponse):
                            await mapped(scope, receive, send)
                            return
                        scope = mapped
                    break
        await self._app(scope, receive, send)

    def _map(self, scope: Scope, host: str) -> Scope | ReasonResponse:
        parsed = parse_host(host)
        if parsed is None:
            return scope
        path: str = scope["path"]
        fmt, sep, rest = path[1:].partition("/")
        if not sep or fmt not in _FORMATS:
            return scope
        repository = rest.partition("/")[0]
        if not repository or repository == "d":  # no repository, or path style already
            return scope
        domain, owner, region = parsed
        if region != self._region:
            return ReasonResponse(
                f"No such repository endpoint: {host.lower()} names region {region}, "
                f"and this Coffer server serves region {self._region}",
                404,
            )
        internal = f"/{fmt}/d/{domain}-{owner}"
        style = HostStyle(host.lower(), domain, owner, region, internal, f"/{fmt}")
        mapped = dict(scope)
        mapped["path"] = internal + path[len(fmt) + 1 :]
        raw: bytes | None = scope.get("raw_path")
        if raw is not None:  # optional in ASGI; nothing in Coffer routes by it, but keep it consistent
            prefix = f"/{fmt}/".encode("ascii")
            if raw.startswith(prefix):
                mapped["raw_path"] = internal.encode("ascii") + raw[len(prefix) - 1 :]
            else:  # the format's name percent-encoded
                mapped["raw_path"] = quote(mapped["path"]).encode("ascii")
        mapped[SCOPE_KEY] = style
        return mapped
