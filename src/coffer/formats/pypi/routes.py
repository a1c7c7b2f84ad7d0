"""The PyPI repository endpoint, path style as CodeArtifact's VPC endpoints spell it::

    /pypi/d/{domain}-{owner}/{repo}/                                  POST: legacy upload (twine)
    /pypi/d/{domain}-{owner}/{repo}/simple/                           project list (PEP 503 / 691)
    /pypi/d/{domain}-{owner}/{repo}/simple/{project}/                 project page (301 when not normalized)
    /pypi/d/{domain}-{owner}/{repo}/simple/{project}/{version}/{file} the file, through upstreams
    /pypi/d/{domain}-{owner}/{repo}/simple/{project}/{version}/{file}.metadata   its core metadata (PEP 658)

Every request is authenticated by token first (401 otherwise, whatever the path), then the token's principal is
authorized for the repository (403), and only then is the path looked at.

AWS's host-style URLs (``{domain}-{owner}.d.codeartifact.{region}.{suffix}/pypi/{repo}/...``) reach these routes
through ``coffer.formats.host_style``; the paths given back to the client (301s, 404 texts) are spelt as it sent them.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute

from coffer.core.packages.package_models import RepoRef
from coffer.core.packages.package_service import PackageService
from coffer.core.packages.pypi_dists import METADATA_SUFFIX
from coffer.core.packages.pypi_names import canonical_version, is_valid_name, normalize_name
from coffer.core.shared.blocking import run_inline_first
from coffer.core.shared.clock import Clock
from coffer.core.shared.errors import CofferError
from coffer.formats.auth import TokenAuthenticator
from coffer.formats.blob_responses import send_blob
from coffer.formats.host_style import public_path
from coffer.formats.locations import Location, parse_location, repository_routes
from coffer.formats.pypi import simple
from coffer.formats.pypi.rendered_pages import RenderedPages
from coffer.formats.pypi.upload import Uploader
from coffer.formats.responses import plain, refusal, to_response
from coffer.request_context import note_principal

FORMAT = "pypi"
PREFIX = "/pypi/d"
_READ_METHODS = frozenset({"GET", "HEAD"})


def _no_such_resource(request: Request) -> Response:
    return plain(404, f"No such resource: {public_path(request.scope, request.url.path)}")


def _redirect(location: str, request: Request) -> Response:
    query = request.url.query
    return RedirectResponse(location + (f"?{query}" if query else ""), status_code=301)


class PypiEndpoint:
    """The routes of every PyPI repository; mount them with ``routes()``."""

    def __init__(
        self, packages: PackageService, authenticator: TokenAuthenticator, clock: Clock, *, max_upload_bytes: int
    ) -> None:
        self._packages = packages
        self._auth = authenticator
        self._upload = Uploader(packages, clock, max_file_bytes=max_upload_bytes)
        self._pages = RenderedPages()

    def routes(self) -> list[BaseRoute]:
        return repository_routes(PREFIX, self.handle)

    async def handle(self, request: Request) -> Response:
        location = parse_location(PREFIX, request.path_params["domain_owner"], request.path_params["repository"])
        if location is None:
            return _no_such_resource(request)
        method = request.method.upper()
        if method in _READ_METHODS:
            # On the event loop when the services' caches hold all of it (token, authorization, lookup), else on
            # a worker thread, where what is not cached is read from the database (coffer.core.shared.blocking)
            return await run_inline_first(self._handle_read, request, location)
        # A write: any answer before the upload handler reads the body closes the connection, which cannot carry
        # another request while the unread body is still arriving.
        repo = location.repo
        try:
            auth = await self._auth.authenticate(request.headers, repo.domain_owner, repo.domain)
        except CofferError as exc:
            return to_response(exc, repo, close=True)
        note_principal(request.scope, auth.caller)
        rest: str | None = request.path_params.get("rest")
        if method == "POST":
            if rest in (None, "", "legacy", "legacy/"):
                return await self._upload(request, repo, auth.caller)
            return refusal(405, "Uploads go to the repository endpoint itself", close=True)
        return PlainTextResponse(
            "Method not allowed\n", status_code=405, headers={"Allow": "GET, HEAD, POST", "Connection": "close"}
        )

    def _handle_read(self, request: Request, location: Location) -> Response:
        repo = location.repo
        try:
            auth = self._auth.verify(request.headers, repo.domain_owner, repo.domain)
            note_principal(request.scope, auth.caller)
            self._packages.authorize_read(auth.caller, repo)
            return self._read(request, location, request.path_params.get("rest") or "")
        except CofferError as exc:
            return to_response(exc, repo)

    def _read(self, request: Request, location: Location, rest: str) -> Response:
        parts = rest.split("/")
        if parts[0] != "simple":
            return _no_such_resource(request)
        simple_base = public_path(request.scope, location.base) + "simple/"
        match parts:
            case ["simple"]:
                return _redirect(simple_base, request)
            case ["simple", ""]:
                return self._index(request, location.repo)
            case ["simple", project] | ["simple", project, ""]:
                if not is_valid_name(project):
                    return plain(404, f"No project {project!r}: not a valid project name")
                normalized = normalize_name(project)
                if normalized != project or len(parts) == 2:
                    return _redirect(simple_base + quote(normalized) + "/", request)
                return self._project(request, location.repo, normalized)
            case ["simple", project, version, filename] if project and version and filename:
                return self._download(request, location.repo, project, version, filename)
        return _no_such_resource(request)

    # --- the index ---------------------------------------------------------------------------------------

    def _negotiate(self, request: Request) -> str | Response:
        media_type = simple.choose_media_type(request.headers.get("accept"))
        if media_type is None:
            return PlainTextResponse(
                "Not acceptable: this index serves " + ", ".join(simple.OFFERED) + "\n",
                status_code=406,
                headers={"Vary": "Accept"},
            )
        return media_type

    def _page(self, page: simple.Page, media_type: str) -> Response:
        return self._page_response(simple.render(page, media_type), media_type)

    def _page_response(self, body: bytes, media_type: str) -> Response:
        return Response(
            body,
            media_type=simple.CONTENT_TYPES[media_type],
            headers={"Vary": "Accept", "Cache-Control": "private, max-age=0"},
        )

    def _index(self, request: Request, repo: RepoRef) -> Response:
        media_type = self._negotiate(request)
        if isinstance(media_type, Response):
            return media_type
        packages = self._packages.index_packages(repo, FORMAT)
        return self._page(simple.project_list(packages), media_type)

    def _project(self, request: Request, repo: RepoRef, name: str) -> Response:
        media_type = self._negotiate(request)
        if isinstance(media_type, Response):
            return media_type
        view = self._packages.package_view(repo, FORMAT, None, name)
        if not view.versions:
            return plain(404, f"No versions of {name} in {repo.domain}/{repo.name} or its upstreams")
        body = self._pages.get(
            (repo, name, media_type), view, lambda: simple.render(simple.project_page(name, view.versions), media_type)
        )
        return self._page_response(body, media_type)

    # --- files -------------------------------------------------------------------------------------------

    def _download(self, request: Request, repo: RepoRef, project: str, version: str, filename: str) -> Response:
        if not is_valid_name(project):
            return plain(404, f"No project {project!r}")
        normalized_version = canonical_version(version)
        if normalized_version is None:
            return plain(404, f"No version {version!r} of {project}")
        name = normalize_name(project)
        wants_metadata = filename.endswith(METADATA_SUFFIX)
        asset_name = filename[: -len(METADATA_SUFFIX)] if wants_metadata else filename
        found = self._packages.find_asset(repo, FORMAT, None, name, normalized_version, asset_name)
        if found is None:
            return plain(404, f"No file {asset_name} in version {version} of {name}")
        resolved, asset = found
        if wants_metadata:
            # fetched on its own from the registry listing it, when the file itself is not here yet
            metadata_sha256 = self._packages.local_metadata(asset)
            if metadata_sha256 is None:
                return plain(404, f"No core metadata file for {asset_name}")
            return send_blob(self._packages, request, metadata_sha256, filename)
        # fetched from its registry on first download, and retained (package_fetching)
        asset = self._packages.local_asset(repo, resolved, asset)
        return send_blob(self._packages, request, asset.blob.sha256, filename)
