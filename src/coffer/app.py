"""create_app(settings) -> ASGI app: builds the store and services, mounts the two wire dialects."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from coffer import __version__
from coffer.aws.endpoint import AwsEndpoint
from coffer.aws.handlers.codeartifact import CodeArtifactServices
from coffer.aws.model import load_service
from coffer.aws.sigv4 import SigV4Verifier
from coffer.bootstrap import Bootstrapped, open_data
from coffer.core.clock import system_clock
from coffer.formats.auth import TokenAuthenticator
from coffer.formats.pypi import PypiEndpoint
from coffer.services import build_services
from coffer.settings import Settings
from coffer.store.keyfiles import KeyRingFiles


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "service": "coffer", "version": __version__})


async def not_found(request: Request) -> JSONResponse:
    return JSONResponse({"message": f"No such resource: {request.url.path}"}, status_code=404)


def create_app(settings: Settings, bound_port: int | None = None, boot: Bootstrapped | None = None) -> Starlette:
    """The whole server. ``boot`` (the opened data directory and store) is opened here unless given."""
    boot = boot or open_data(settings)
    ring = KeyRingFiles(boot.data.keys)
    base_url = settings.base_url(bound_port)
    services = build_services(boot.store, settings.region, ring, lambda: base_url, boot.blobs)
    codeartifact = AwsEndpoint(
        service=load_service("codeartifact"),
        verifier=SigV4Verifier(settings.region, ["codeartifact"], system_clock),
        identities=services.identities,
        handlers_services=CodeArtifactServices(
            domains=services.domains,
            repositories=services.repositories,
            tags=services.tags,
            tokens=services.tokens,
            packages=services.packages,
        ),
    )

    pypi = PypiEndpoint(services.packages, TokenAuthenticator(services.tokens), system_clock)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            boot.store.close()

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET", "HEAD"]),
            Route("/v1/{rest:path}", codeartifact),
            *pypi.routes(),  # /pypi/d/{domain}-{owner}/{repo}/...
            Route("/{rest:path}", not_found),
        ],
        lifespan=lifespan,
    )
