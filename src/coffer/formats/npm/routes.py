"""The npm registry of every npm repository, path style as CodeArtifact's VPC endpoints spell it::

    /npm/d/{domain}-{owner}/{repo}/{name}                     GET: packument (full or abbreviated); PUT: publish,
                                                              deprecate
    /npm/d/{domain}-{owner}/{repo}/@{scope}/{name}            the same for a scoped package (also @scope%2fname)
    /npm/d/{domain}-{owner}/{repo}/{name}/-/{name}-{v}.tgz    the tarball, through upstreams
    /npm/d/{domain}-{owner}/{repo}/{name}/{version|tag}       one version's manifest
    /npm/d/{domain}-{owner}/{repo}/-/package/{name}/dist-tags[/{tag}]   npm dist-tag ls | add | rm
    /npm/d/{domain}-{owner}/{repo}/-/ping                     npm ping

Every request is authenticated by token first (401 with the challenge otherwise), then authorized for the
repository (403), and only then is the path looked at. Writes are authorized for the package from the URL before
their body is read, and the body is bounded as it arrives. The commands CodeArtifact does not support (audit,
search, login/adduser, logout, whoami, token, owner, access, team, star, hook, unpublish) get an immediate 404
(405 for unpublish's writes) naming the command and what to use instead: npm retries neither, and prints the
message.

Packuments are rendered once and kept (``packument_cache``).
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from coffer.core.identity.callers import Caller
from coffer.core.packages.npm_names import NpmName, clean_version, parse_name
from coffer.core.packages.package_models import PackageRef, PackageView, RepoRef
from coffer.core.packages.package_service import PackageService
from coffer.core.packages.package_store import PendingBlob
from coffer.core.shared.blocking import run_inline_first
from coffer.core.shared.clock import Clock
from coffer.core.shared.errors import CofferError
from coffer.formats.auth import TokenAuthenticator
from coffer.formats.blob_responses import send_blob
from coffer.formats.host_style import SCOPE_KEY, HostStyle, public_path
from coffer.formats.locations import Location, parse_location, repository_routes
from coffer.formats.npm import packument
from coffer.formats.npm.bodies import BadLength, BodyTooLarge, check_length, read_bounded
from coffer.formats.npm.packument_cache import GZIP_MIN, PackumentCache, accepts_gzip
from coffer.formats.npm.publish import NpmPublisher
from coffer.formats.npm.publish_body import PublishBodyError, PublishBodyReader
from coffer.formats.npm.replies import JSON, error_reply, refuse, reply
from coffer.request_context import note_principal

FORMAT = "npm"
PREFIX = "/npm/d"
_READ_METHODS = frozenset({"GET", "HEAD"})
MAX_TAG_BODY = 64 * 1024
MANIFEST_ALLOWANCE = 16 * 1024 * 1024  # a publish body's JSON besides the base64 tarball
FEED_BATCH = 1024 * 1024  # body bytes handed to the publish reader at once

_UNSUPPORTED: tuple[tuple[str, str, str], ...] = (
    ("-/npm/v1/security/", "npm audit", "audit your dependencies with a scanner of your own"),
    ("-/v1/search", "npm search", "use ListPackages (aws codeartifact list-packages --format npm)"),
    ("-/whoami", "npm whoami", "use aws sts get-caller-identity"),
    ("-/v1/login", "npm login and npm adduser", "log in with aws codeartifact login --tool npm"),
    ("-/user/", "npm login, npm adduser and npm logout", "log in with aws codeartifact login --tool npm"),
    ("-/npm/v1/tokens", "npm token", "tokens come from aws codeartifact get-authorization-token"),
    ("-/npm/v1/user", "npm profile", "identities are managed with IAM"),
    ("-/org/", "npm org and npm access", "permissions are IAM and repository policies"),
    ("-/team/", "npm team and npm access", "permissions are IAM and repository policies"),
    ("-/npm/v1/hooks", "npm hook", "nothing replaces it"),
    ("-/_view/", "npm star and npm stars", "nothing replaces it"),
)


def _unsupported(command: str, instead: str) -> str:
    return f"{command} is not supported by CodeArtifact repositories (nor by Coffer); {instead}"


def _split_package(parts: list[str], *, legacy: bool = False) -> tuple[NpmName, list[str]] | None:
    """The package named at the start of ``parts`` (``name`` or ``@scope``, ``name``) and what follows it;
    ``legacy`` accepts old upper-case names (reads)."""
    if not parts or not parts[0]:
        return None
    if parts[0].startswith("@"):
        if len(parts) < 2:
            return None
        text, rest = f"{parts[0]}/{parts[1]}", parts[2:]
    else:
        text, rest = parts[0], parts[1:]
    name = parse_name(text, legacy=legacy)
    return None if name is None else (name, rest)


class NpmEndpoint:
    """The routes of every npm repository; mount them with ``routes()``."""

    def __init__(
        self,
        packages: PackageService,
        authenticator: TokenAuthenticator,
        clock: Clock,
        *,
        max_upload_bytes: int,
        public_url: str | None = None,
    ) -> None:
        """``public_url``: the URL clients reach Coffer at (``Settings.public_url``), which tarball URLs then
        start with; without it they follow the request's own scheme and ``Host``."""
        self._packages = packages
        self._public_url = public_url.rstrip("/") if public_url else None
        self._auth = authenticator
        self._publisher = NpmPublisher(packages, clock)
        self._max_tarball = max_upload_bytes
        # base64 of the largest tarball, JSON-escaped at worst ("\/" for "/"), and the rest of the document
        self._max_publish_body = (max_upload_bytes + 2) // 3 * 4 * 2 + MANIFEST_ALLOWANCE
        self._packuments = PackumentCache()

    def routes(self) -> list[BaseRoute]:
        return repository_routes(PREFIX, self.handle)

    async def handle(self, request: Request) -> Response:
        location = parse_location(PREFIX, request.path_params["domain_owner"], request.path_params["repository"])
        if location is None:
            return refuse(404, f"No such repository: {public_path(request.scope, request.url.path)}")
        rest: str = request.path_params.get("rest") or ""
        if request.method.upper() in _READ_METHODS:
            return await run_inline_first(self._handle_read, request, location, rest)
        repo = location.repo
        try:
            auth = await self._auth.authenticate(request.headers, repo.domain_owner, repo.domain)
        except CofferError as exc:
            return error_reply(exc, repo, close=True)
        note_principal(request.scope, auth.caller)
        try:
            return await self._write(request, location, rest, auth.caller)
        except CofferError as exc:
            return error_reply(exc, repo, close=True)
        except BodyTooLarge as exc:
            return refuse(413, str(exc), close=True)
        except BadLength as exc:
            return refuse(400, str(exc), close=True)
        except ClientDisconnect:  # nothing was kept (the reader's pending blob is discarded); nobody to tell
            return refuse(400, "The client closed the connection before the request body was complete", close=True)

    # --- reads -------------------------------------------------------------------------------------------

    def _handle_read(self, request: Request, location: Location, rest: str) -> Response:
        repo = location.repo
        try:
            auth = self._auth.verify(request.headers, repo.domain_owner, repo.domain)
            note_principal(request.scope, auth.caller)
            self._packages.authorize_read(auth.caller, repo)
            return self._read(request, location, rest)
        except CofferError as exc:
            return error_reply(exc, repo)

    def _read(self, request: Request, location: Location, rest: str) -> Response:
        parts = rest.split("/")
        if parts[0] == "-":
            return self._special_read(request, location, parts)
        split = _split_package(parts, legacy=True)
        if split is None:
            return refuse(404, f"Not found: {rest!r} is not an npm package name")
        name, tail = split
        match tail:
            case [] | [""]:
                return self._packument(request, location, name)
            case ["-", filename] if filename:
                return self._tarball(request, location.repo, name, filename)
            case [wanted] if wanted and wanted != "-rev":
                return self._one_version(request, location, name, wanted)
        return self._unpublish_or_404(request, tail)

    def _unpublish_or_404(self, request: Request, tail: list[str]) -> Response:
        if tail and tail[0] == "-rev":
            return refuse(404, _unsupported("npm unpublish", "use aws codeartifact delete-package-versions"))
        return refuse(404, f"No such resource: {public_path(request.scope, request.url.path)}")

    def _special_read(self, request: Request, location: Location, parts: list[str]) -> Response:
        path = "/".join(parts)
        if path == "-/ping":
            return reply({})
        if parts[:2] == ["-", "package"]:
            split = _split_package(parts[2:], legacy=True)
            if split is not None and split[1] == ["dist-tags"]:
                name = split[0]
                view = self._view(location.repo, name)
                if not view.versions:
                    return self._no_package(location.repo, name)
                return reply(packument.tags_of(view), headers={"Cache-Control": "no-cache"})
        return self._unsupported_or_404(request, path)

    def _unsupported_or_404(self, request: Request, path: str) -> Response:
        for prefix, command, instead in _UNSUPPORTED:
            if path.startswith(prefix) or path == prefix.rstrip("/"):
                return refuse(404, _unsupported(command, instead))
        if path.startswith("-/package/"):
            return refuse(404, _unsupported("npm access and npm owner", "permissions are IAM and repository policies"))
        return refuse(404, f"No such resource: {public_path(request.scope, request.url.path)}")

    def _view(self, repo: RepoRef, name: NpmName) -> PackageView:
        return self._packages.package_view(repo, FORMAT, name.scope, name.name)

    def _no_package(self, repo: RepoRef, name: NpmName) -> Response:
        return refuse(404, f"Not found: {name.full} is not in {repo.domain}/{repo.name} or its upstreams")

    def _tarball_base(self, request: Request, location: Location, name: NpmName) -> str:
        """Where the package's tarballs are, under the registry URL the client uses: the public URL when one is
        configured (the scheme behind a TLS proxy is then right), the host-style host for a host-style request
        (that host was checked by ``HostStyleLayer``), else the request's own scheme and ``Host``."""
        path = public_path(request.scope, location.base) + quote(name.full, safe="@/") + "/-/"
        style: HostStyle | None = request.scope.get(SCOPE_KEY)
        if style is not None:
            scheme = urlsplit(self._public_url).scheme if self._public_url else request.url.scheme
            return f"{scheme}://{style.host}{path}"
        if self._public_url is not None:
            return self._public_url + path
        host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
        return f"{request.url.scheme}://{host}{path}"

    def _packument(self, request: Request, location: Location, name: NpmName) -> Response:
        view = self._view(location.repo, name)
        if not view.versions:
            return self._no_package(location.repo, name)
        abbreviated = packument.wants_abbreviated(request.headers.get("accept"))
        base = self._tarball_base(request, location, name)
        rendered = self._packuments.get(view, (location.repo, name, abbreviated, base), name.full, base, abbreviated)
        media_type = packument.ABBREVIATED if abbreviated else JSON
        headers = {"ETag": rendered.etag, "Vary": "Accept, Accept-Encoding", "Cache-Control": "private, max-age=0"}
        body = rendered.body
        if len(body) >= GZIP_MIN and accepts_gzip(request.headers.get("accept-encoding")):
            body = self._packuments.gzipped(rendered)
            headers["Content-Encoding"] = "gzip"
            headers["ETag"] = rendered.etag[:-1] + '-gzip"'  # another representation: another entity tag
        if_none_match = request.headers.get("if-none-match")
        if if_none_match and headers["ETag"] in (t.strip() for t in if_none_match.split(",")):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=media_type, headers=headers)

    def _one_version(self, request: Request, location: Location, name: NpmName, wanted: str) -> Response:
        view = self._view(location.repo, name)
        base = self._tarball_base(request, location, name)
        found = packument.version_document(view, name.full, base, wanted)
        if found is None:
            return refuse(404, f"Not found: version or tag {wanted!r} of {name.full}")
        return reply(found)

    def _tarball(self, request: Request, repo: RepoRef, name: NpmName, filename: str) -> Response:
        prefix = f"{name.name}-"
        version = (
            filename[len(prefix) : -len(".tgz")] if filename.startswith(prefix) and filename.endswith(".tgz") else ""
        )
        if not version or clean_version(version) != version:
            return refuse(404, f"Not found: {filename} is not a tarball name of {name.full}")
        found = self._packages.find_asset(repo, FORMAT, name.scope, name.name, version, filename)
        if found is None:
            return refuse(404, f"Not found: {filename} of {name.full}")
        resolved, asset = found
        asset = self._packages.local_asset(repo, resolved, asset)
        return send_blob(self._packages, request, asset.blob.sha256, filename)

    # --- writes ------------------------------------------------------------------------------------------

    async def _write(self, request: Request, location: Location, rest: str, caller: Caller) -> Response:
        method = request.method.upper()
        parts = rest.split("/")
        if parts[:2] == ["-", "package"]:
            split = _split_package(parts[2:])
            if split is not None and len(split[1]) == 2 and split[1][0] == "dist-tags" and split[1][1]:
                return await self._tag_write(request, location.repo, split[0], split[1][1], caller)
        if parts[0] == "-":
            return self._unsupported_or_404(request, "/".join(parts))
        split = _split_package(parts)
        if split is None:
            return refuse(404, f"Not found: {rest!r} is not an npm package name", close=True)
        name, tail = split
        if tail and tail[0] == "-rev":
            return refuse(
                405, _unsupported("npm unpublish", "use aws codeartifact delete-package-versions"), close=True
            )
        if tail not in ([], [""]) or method != "PUT":
            return refuse(405, "Method not allowed", close=True, headers={"Allow": "GET, HEAD, PUT"})
        ref = PackageRef(location.repo, FORMAT, name.scope, name.name)
        # limits before work: the caller may publish this package, then a bounded body; the package's origin
        # rules are checked when the tarball begins (a deprecation is a PUT too: only a tarball makes a publish),
        # before a byte of it is stored
        await run_in_threadpool(self._packages.authorize_publish, caller, ref)

        def begin_tarball() -> PendingBlob:
            self._packages.check_publish_allowed(caller, ref)
            return self._packages.begin_blob()

        reader = PublishBodyReader(begin_tarball, max_json=MANIFEST_ALLOWANCE, max_tarball=self._max_tarball)
        try:
            await self._stream_into(request, reader)
            skeleton = reader.finish()
            return await run_in_threadpool(
                self._publisher.put, caller, ref, name, skeleton, reader.tarball, reader.tarball_size
            )
        except PublishBodyError as exc:
            return refuse(exc.status, str(exc), close=True)
        finally:
            if reader.tarball is not None:
                reader.tarball.discard()  # nothing once kept

    async def _stream_into(self, request: Request, reader: PublishBodyReader) -> None:
        """The body into ``reader``, in batches of ``FEED_BATCH`` handed to a worker thread (the tarball's bytes
        are written to disk there, off the event loop); the declared length is checked first."""
        check_length(request, self._max_publish_body)
        batch: list[bytes] = []
        held = 0
        async for chunk in request.stream():
            batch.append(chunk)
            held += len(chunk)
            if held >= FEED_BATCH:
                await run_in_threadpool(reader.feed, b"".join(batch))
                batch, held = [], 0
        if batch:
            await run_in_threadpool(reader.feed, b"".join(batch))

    async def _tag_write(self, request: Request, repo: RepoRef, name: NpmName, tag: str, caller: Caller) -> Response:
        ref = PackageRef(repo, FORMAT, name.scope, name.name)
        method = request.method.upper()
        if method == "DELETE":
            if tag == "latest":
                return refuse(400, "The latest tag cannot be removed; point it at another version instead")
            removed = await run_in_threadpool(self._packages.delete_tag, caller, ref, tag)
            if not removed:
                return refuse(404, f"{name.full} has no tag {tag!r} in {repo.name}")
            return reply({"ok": True})
        if method != "PUT":
            return refuse(405, "Method not allowed", close=True, headers={"Allow": "GET, HEAD, PUT, DELETE"})
        await run_in_threadpool(self._packages.authorize_publish, caller, ref)
        body = await read_bounded(request, MAX_TAG_BODY)
        try:
            version = _json_string(body)
        except ValueError:
            return refuse(400, "The body of a dist-tag PUT is the version as a JSON string")
        await run_in_threadpool(self._packages.set_tag, caller, ref, tag, version)
        return reply({"ok": True}, status=201)


def _json_string(body: bytes) -> str:
    try:
        value = json.loads(body)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if not isinstance(value, str):
        raise ValueError("not a string")
    return value
