"""create_app(settings) -> ASGI app: builds the store and services, mounts the two wire dialects."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from coffer import __version__
from coffer.settings import Settings


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "service": "coffer", "version": __version__})


def create_app(settings: Settings, bound_port: int | None = None) -> Starlette:
    return Starlette(routes=[Route("/health", health, methods=["GET", "HEAD"])])
