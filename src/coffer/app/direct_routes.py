"""The app's entry: Starlette, except for the paths of an API that answers everything itself.

The CodeArtifact API (``/v1/...``) is one :class:`~coffer.aws.endpoint.ServiceEndpoint`, which turns every error
into an AWS error of its own and uses nothing Starlette adds (path parameters, exception handlers, the host-style
mapping, which concerns the package paths only). Its requests go straight to it: no route matching, and no
middleware wrapping each message sent, which is about a sixth of a GetAuthorizationToken's cost in the app
(measured in bench/). Everything else, and the lifespan, goes through Starlette as before.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send


class DirectRoutesApp(Starlette):
    """Starlette with ``direct``: ``(prefix, app)`` pairs; an HTTP request whose path starts with a prefix goes to
    its app (with ``scope["app"]`` set, as Starlette would), before Starlette's middleware and routes."""

    def __init__(self, *, direct: tuple[tuple[str, ASGIApp], ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._direct = direct

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            for prefix, app in self._direct:
                if path.startswith(prefix):
                    scope["app"] = self
                    await app(scope, receive, send)
                    return
        await super().__call__(scope, receive, send)


__all__ = ["DirectRoutesApp"]
