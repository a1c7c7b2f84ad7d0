"""create_app(settings) -> ASGI app: builds the store and services, mounts the two wire dialects."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from coffer import __version__
from coffer.app.bootstrap import Bootstrapped, open_data
from coffer.app.direct_routes import DirectRoutesApp
from coffer.app.services import build_services
from coffer.aws.auth import RequestAuthenticator
from coffer.aws.endpoint import ServiceEndpoint
from coffer.aws.handlers import codeartifact as codeartifact_handlers
from coffer.aws.handlers import iam as iam_handlers
from coffer.aws.handlers import sts as sts_handlers
from coffer.aws.protocol import ServiceHandlers
from coffer.aws.query_model import load_query_service
from coffer.aws.query_protocol import QueryProtocol, QueryService
from coffer.aws.restjson_model import load_service
from coffer.aws.restjson_protocol import RestJsonProtocol
from coffer.aws.sigv4 import SigV4Verifier
from coffer.core.codeartifact.repositories import UNSERVED_FORMATS, unserved_format_message
from coffer.core.shared.clock import system_clock
from coffer.formats.auth import TokenAuthenticator
from coffer.formats.host_style import HostStyleLayer
from coffer.formats.npm import NpmEndpoint
from coffer.formats.pypi import PypiEndpoint
from coffer.formats.reason import ReasonResponse
from coffer.settings import Settings, SettingsError
from coffer.store.blobs import FileBlobStore
from coffer.store.gc import BackgroundCollector, GcSettings
from coffer.store.keyfiles import KeyRingFiles
from coffer.upstreams import HttpUpstreams, UnknownConnectionError, connection_urls


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "service": "coffer", "version": __version__})


def worker_health(worker: int) -> Callable[[Request], Awaitable[JSONResponse]]:
    """``/health`` of worker process ``worker`` (1 to N) of ``coffer serve --workers N``: the same answer, and the
    worker's number (nothing else about the process)."""
    body = {"status": "ok", "service": "coffer", "version": __version__, "worker": worker}

    async def health(request: Request) -> JSONResponse:
        return JSONResponse(body)

    return health


async def not_found(request: Request) -> JSONResponse:
    return JSONResponse({"message": f"No such resource: {request.url.path}"}, status_code=404)


class RootDispatch:
    """``/``: the AWS query services (STS, IAM) take ``POST /`` and ``GET /?Action=...``; anything else is a 404."""

    def __init__(self, query: ASGIApp) -> None:
        self._query = query

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method == "POST" or (method == "GET" and _has_action(scope.get("query_string", b""))):
            await self._query(scope, receive, send)
        else:
            response = await not_found(Request(scope, receive))
            await response(scope, receive, send)


def _has_action(query_string: bytes) -> bool:
    return any(part.startswith(b"Action=") for part in query_string.split(b"&"))


_ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def unserved_format_routes() -> list[BaseRoute]:
    """``/{format}/...`` (path style ``/{format}/d/{domain}-{owner}/{repo}/...``, and host style through
    ``HostStyleLayer``) for the formats no endpoint serves yet: a 404 saying so, whatever the method, where the
    catch-all would answer a bare 404 or (an npm publish's PUT) a misleading 405."""
    routes: list[BaseRoute] = []
    for fmt in UNSERVED_FORMATS:
        message = unserved_format_message(fmt)

        async def unserved(request: Request, message: str = message) -> ReasonResponse:
            return ReasonResponse(message, 404)

        routes += [
            Route(f"/{fmt}", unserved, methods=_ANY_METHOD),
            Route(f"/{fmt}/{{rest:path}}", unserved, methods=_ANY_METHOD),
        ]
    return routes


def external_connections(settings: Settings) -> HttpUpstreams:
    """The registries each external connection fetches from: the public ones, or where the settings point them.
    SettingsError for a name that is not one of CodeArtifact's external connections."""
    try:
        urls = connection_urls(settings.external_connection_urls)
    except UnknownConnectionError as exc:
        raise SettingsError(str(exc)) from None
    return HttpUpstreams(urls, timeout=settings.upstream_timeout)


def create_app(
    settings: Settings,
    bound_port: int | None = None,
    boot: Bootstrapped | None = None,
    *,
    worker: int | None = None,
    collect_blobs: bool = True,
) -> Starlette:
    """The whole server. ``boot`` (the opened data directory and store) is opened here unless given. ``worker``:
    the number ``/health`` reports in worker process ``worker`` of several (``coffer.app.workers``);
    ``collect_blobs``: whether this app runs the background blob collection (one worker of several does)."""
    boot = boot or open_data(settings, create=True)
    ring = KeyRingFiles(boot.data.keys)
    base_url = settings.base_url(bound_port)
    services = build_services(
        boot.store,
        settings.region,
        ring,
        lambda: base_url,
        boot.blobs,
        endpoint_dns_suffix=settings.endpoint_dns_suffix,
        cache_ttl=settings.cache_ttl,
        upstreams=external_connections(settings),
        upstream_ttl=settings.upstream_ttl,
        max_fetch_bytes=settings.max_upload_bytes,
    )
    codeartifact = ServiceEndpoint(
        RestJsonProtocol(
            load_service("codeartifact"),
            ServiceHandlers(
                codeartifact_handlers.HANDLERS,
                codeartifact_handlers.CodeArtifactServices(
                    domains=services.domains,
                    repositories=services.repositories,
                    tags=services.tags,
                    tokens=services.tokens,
                    packages=services.packages,
                    package_groups=services.package_groups,
                ),
            ),
        ),
        RequestAuthenticator(services.identities, [SigV4Verifier(settings.region, ["codeartifact"], system_clock)]),
        # On the event loop instead of a worker thread: everything it reads is cached in memory (identities,
        # domain existence, resource policies; at most one indexed read on a miss), so the thread hand-off would
        # cost more than the work. Measured in bench/ (GetAuthorizationToken throughput).
        inline=["GetAuthorizationToken"],
        # PublishPackageVersion's asset streams into the blob store, limited as it arrives, like twine's uploads
        max_stream_bytes=settings.max_upload_bytes,
    )

    # STS and IAM on "/": the credential scope's service picks one. IAM signs for us-east-1 whatever the client's
    # region, and so may STS clients of the global endpoint: accept Coffer's region and us-east-1.
    query_regions = dict.fromkeys([settings.region, "us-east-1"])
    query = ServiceEndpoint(
        QueryProtocol(
            {
                "sts": QueryService(
                    load_query_service("sts"),
                    ServiceHandlers(sts_handlers.HANDLERS, sts_handlers.StsHandlerServices(sts=services.sts)),
                ),
                "iam": QueryService(
                    load_query_service("iam"),
                    ServiceHandlers(
                        iam_handlers.HANDLERS,
                        iam_handlers.IamHandlerServices(iam=services.iam, paginator=services.paginator),
                    ),
                ),
            }
        ),
        RequestAuthenticator(
            services.identities,
            [SigV4Verifier(region, ["sts", "iam"], system_clock) for region in query_regions],
        ),
    )

    # uploads in flight are written straight into the blob store's temporary files (PackageService.begin_blob)
    pypi = PypiEndpoint(
        services.packages,
        TokenAuthenticator(services.tokens),
        system_clock,
        max_upload_bytes=settings.max_upload_bytes,
    )

    npm = NpmEndpoint(
        services.packages,
        TokenAuthenticator(services.tokens),
        system_clock,
        max_upload_bytes=settings.max_upload_bytes,
        public_url=settings.public_url,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # unreferenced blobs, every COFFER_GC_INTERVAL seconds, on a thread of its own (off the event loop)
        collector = None
        if collect_blobs and isinstance(boot.blobs, FileBlobStore) and not boot.read_only:
            collector = BackgroundCollector(boot.blobs, boot.store, GcSettings(settings.gc_interval, settings.gc_grace))
            collector.start()
        # What is loaded by now (service models, route tables, caches' code) lives as long as the server: out of
        # the garbage collector's sight, each collection only walks what requests allocate (measured in bench/)
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if collector is not None:
                await run_in_threadpool(collector.stop)  # a collection in progress stops at its next batch
            boot.store.close()

    return DirectRoutesApp(
        direct=(("/v1/", codeartifact),),
        routes=[
            Route("/health", health if worker is None else worker_health(worker), methods=["GET", "HEAD"]),
            # reached only when the direct route above is not (a root_path mounted in front of the app)
            Route("/v1/{rest:path}", codeartifact),
            Route("/", RootDispatch(query), methods=["GET", "POST"]),
            *pypi.routes(),  # /pypi/d/{domain}-{owner}/{repo}/...
            *npm.routes(),  # /npm/d/{domain}-{owner}/{repo}/...
            *unserved_format_routes(),  # /maven/..., /nuget/..., ...: 404 "not served yet"
            Route("/{rest:path}", not_found),
        ],
        # {domain}-{owner}.d.codeartifact.{region}.{suffix}/{format}/{repo}/... onto the path-style routes above
        middleware=[Middleware(HostStyleLayer, region=settings.region)],
        lifespan=lifespan,
    )
