"""The npm external connection's reading of full packuments, and its requests (httpx.MockTransport: no network)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from coffer.core.packages.npm_manifest import DEPRECATED_KEY, MANIFEST_KEY
from coffer.core.packages.upstreams import UpstreamTimeoutError, UpstreamUnavailableError
from coffer.store.blobs import FileBlobStore
from coffer.upstreams import HttpUpstreams
from coffer.upstreams.npm_registry import NpmRegistry, parse_packument, request_path
from coffer.upstreams.pypi_simple import SimpleIndex

REGISTRY = "https://registry.example/"


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def _manifest(name: str, version: str, dist: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "version": version,
        "_id": f"{name}@{version}",
        "_npmUser": {"name": "someone", "email": "someone@example.com"},
        "_nodeVersion": "20.11.0",
        "maintainers": [{"name": "someone", "email": "someone@example.com"}],
        "dist": dist,
        **fields,
    }


def _packument() -> dict[str, Any]:
    """left-pad as registry.npmjs.org serves it to ``Accept: application/json``, trimmed, with the cases a real
    registry has: integrity and shasum, shasum only, a relative tarball URL, versions that are not semver, a
    digest npm cannot check, tags pointing at versions that are not listed."""
    tgz = "https://registry.example/left-pad/-/left-pad-{}.tgz"
    return {
        "_id": "left-pad",
        "_rev": "123-abc",
        "name": "left-pad",
        "description": "String left pad",
        "dist-tags": {"latest": "1.3.0", "next": "2.0.0-beta.1", "old": "0.0.1", "broken": "v3.0.0", "": "1.3.0"},
        "versions": {
            "0.0.3": _manifest("left-pad", "0.0.3", {"shasum": "A" * 40, "tarball": tgz.format("0.0.3")}),
            "1.3.0": _manifest(
                "left-pad",
                "1.3.0",
                {
                    "integrity": _integrity(b"1.3.0 bytes"),
                    "shasum": "b" * 40,
                    "tarball": tgz.format("1.3.0"),
                    "fileCount": 6,
                    "unpackedSize": 5432,
                    "signatures": [{"keyid": "SHA256:x", "sig": "y"}],
                },
                description="String left pad",
                license="WTFPL",
                homepage="https://github.com/stevemao/left-pad#readme",
                repository={"type": "git", "url": "git+https://github.com/stevemao/left-pad.git"},
                scripts={"test": "node test", "postinstall": "node setup.js"},
                deprecated="use String.prototype.padStart()",
                readme="# left-pad",
            ),
            "2.0.0-beta.1": _manifest(
                "left-pad",
                "2.0.0-beta.1",
                {
                    "integrity": f"sha384-{'x' * 64} {_integrity(b'beta')}",
                    "tarball": "left-pad/-/left-pad-2.0.0-beta.1.tgz",
                },
                deprecated="",
            ),
            "v3.0.0": _manifest("left-pad", "v3.0.0", {"shasum": "c" * 40, "tarball": tgz.format("3.0.0")}),
            "1.2.0": _manifest(
                "left-pad", "1.2.0", {"integrity": "sha256-" + "A" * 44, "tarball": tgz.format("1.2.0")}
            ),
            "1.1.0": _manifest("left-pad", "1.1.0", {"shasum": "not-hex", "tarball": tgz.format("1.1.0")}),
            "1.0.0": _manifest("left-pad", "1.0.0", {"shasum": "d" * 40, "tarball": "ftp://mirror/left-pad-1.0.0.tgz"}),
        },
        "time": {
            "created": "2014-03-26T18:29:05.000Z",
            "modified": "2022-06-19T17:46:28.181Z",
            "0.0.3": "2014-03-26T18:29:05.583Z",
            "1.3.0": "2018-04-09T03:27:48.921Z",
            "2.0.0-beta.1": "not a time",
        },
        "readme": "# left-pad\n...",
        "license": "WTFPL",
    }


def _body(packument: dict[str, Any]) -> bytes:
    return json.dumps(packument).encode()


def test_a_full_packument_gives_a_tarball_per_listed_semver_version_with_a_digest() -> None:
    project = parse_packument("left-pad", REGISTRY, _body(_packument()))
    assert (project.name, project.display_name) == ("left-pad", "left-pad")
    files = {f.version: f for f in project.files}
    # not semver (v3.0.0), no digest npm checks (sha256 SRI only, a malformed shasum), not http(s): left out
    assert sorted(files) == ["0.0.3", "1.3.0", "2.0.0-beta.1"]
    old, current, beta = files["0.0.3"], files["1.3.0"], files["2.0.0-beta.1"]
    assert (old.filename, old.sha256, old.sha512, old.sha1) == ("left-pad-0.0.3.tgz", "", "", "a" * 40)
    assert old.size is None
    assert current.sha512 == hashlib.sha512(b"1.3.0 bytes").hexdigest() and current.sha1 == "b" * 40
    assert current.url == "https://registry.example/left-pad/-/left-pad-1.3.0.tgz"
    assert beta.sha512 == hashlib.sha512(b"beta").hexdigest() and beta.sha1 == ""  # sha384 passed over
    assert beta.url == "https://registry.example/left-pad/-/left-pad-2.0.0-beta.1.tgz"  # relative: against the registry


def test_times_become_upload_times_and_order_the_releases() -> None:
    project = parse_packument("left-pad", REGISTRY, _body(_packument()))
    files = {f.version: f for f in project.files}
    assert files["0.0.3"].upload_time == pytest.approx(1395858545.583)
    assert files["1.3.0"].upload_time == pytest.approx(1523244468.921)
    assert files["2.0.0-beta.1"].upload_time is None  # unreadable: no time
    assert list(project.releases) == ["2.0.0-beta.1", "0.0.3", "1.3.0"]
    assert project.releases["1.3.0"].first_upload == pytest.approx(1523244468.921)


def test_tags_point_only_at_listed_versions() -> None:
    project = parse_packument("left-pad", REGISTRY, _body(_packument()))
    assert dict(project.tags) == {"latest": "1.3.0", "next": "2.0.0-beta.1"}


def test_each_version_keeps_its_manifest_and_deprecation() -> None:
    project = parse_packument("left-pad", REGISTRY, _body(_packument()))
    assert set(project.version_extra) == {"0.0.3", "1.3.0", "2.0.0-beta.1"}
    current = project.version_extra["1.3.0"]
    manifest = json.loads(current[MANIFEST_KEY])
    assert current[DEPRECATED_KEY] == "use String.prototype.padStart()"
    assert manifest["description"] == "String left pad" and manifest["license"] == "WTFPL"
    assert manifest["hasInstallScript"] is True  # a postinstall script
    for registry_field in ("dist", "_id", "readme", "deprecated"):
        assert registry_field not in manifest
    assert manifest["_npmUser"]["name"] == "someone"  # the rest as the registry has it
    assert DEPRECATED_KEY not in project.version_extra["2.0.0-beta.1"]  # an empty message is no deprecation
    assert DEPRECATED_KEY not in project.version_extra["0.0.3"]


def test_scoped_packages_are_named_in_full_and_their_tarballs_without_the_scope() -> None:
    data = b"scoped tarball"
    body = _body(
        {
            "name": "@acme/ui",
            "dist-tags": {"latest": "1.0.0"},
            "versions": {
                "1.0.0": _manifest(
                    "@acme/ui",
                    "1.0.0",
                    {"integrity": _integrity(data), "tarball": "https://registry.example/@acme/ui/-/ui-1.0.0.tgz"},
                )
            },
            "time": {"1.0.0": "2024-01-02T03:04:05.000Z"},
        }
    )
    project = parse_packument("@acme/ui", REGISTRY, body)
    assert (project.name, project.display_name) == ("@acme/ui", "@acme/ui")
    (file,) = project.files
    assert (file.filename, file.version, file.sha512) == ("ui-1.0.0.tgz", "1.0.0", hashlib.sha512(data).hexdigest())
    assert dict(project.tags) == {"latest": "1.0.0"}


def test_a_packument_without_versions_lists_nothing() -> None:
    unpublished = {"name": "gone", "time": {"unpublished": {"time": "2020-01-01T00:00:00.000Z"}}}
    project = parse_packument("gone", REGISTRY, _body(unpublished))
    assert project.files == () and dict(project.tags) == {}


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"versions": []}', b"\xff\xfe\x00"])
def test_malformed_packuments_are_an_upstream_failure(body: bytes) -> None:
    with pytest.raises(UpstreamUnavailableError, match="left-pad"):
        parse_packument("left-pad", REGISTRY, body)


def test_request_paths_escape_the_scope_separator_and_refuse_what_no_registry_holds() -> None:
    assert request_path("left-pad") == "left-pad"
    assert request_path("@acme/ui") == "@acme%2fui"
    assert request_path("JSONStream") == "JSONStream"  # capitals of packages older than the lower-case rule
    for bad in ("..", ".hidden", "@acme", "@/ui", "@acme/", "a/b", "@acme/ui/x", "a b", "a?b", "a#b", "", "@acme/.."):
        assert request_path(bad) is None, bad


# --- the client over a mock transport ----------------------------------------------------------------------


def _ok(data: bytes) -> httpx.Response:
    """A 200 streamed as a server's would be (httpx reads ``content=`` bodies at once), its length declared."""
    return httpx.Response(200, headers={"Content-Length": str(len(data))}, stream=httpx.ByteStream(data))


class Recorder:
    """A MockTransport handler answering with ``respond`` and keeping each request."""

    def __init__(self, respond: Callable[[httpx.Request], httpx.Response]) -> None:
        self.respond = respond
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.respond(request)


def _registry(
    respond: Callable[[httpx.Request], httpx.Response], url: str = REGISTRY, **kwargs: Any
) -> tuple[NpmRegistry, Recorder]:
    recorder = Recorder(respond)
    return NpmRegistry("public:npmjs", url, timeout=1, transport=httpx.MockTransport(recorder), **kwargs), recorder


@pytest.fixture
def packument_body() -> bytes:
    return _body(_packument())


def test_the_full_packument_is_asked_for_at_the_escaped_name(packument_body: bytes) -> None:
    registry, recorder = _registry(lambda r: _ok(packument_body), "https://mirror.example/npm")
    try:
        assert registry.project("@acme/ui") is not None
        assert registry.project("left-pad") is not None
    finally:
        registry.close()
    scoped, plain = recorder.requests
    assert scoped.url.raw_path == b"/npm/@acme%2fui" and plain.url.raw_path == b"/npm/left-pad"
    assert scoped.headers["accept"] == "application/json"  # not npm's abbreviated document
    assert "authorization" not in scoped.headers


def test_a_name_no_registry_holds_is_not_asked() -> None:
    registry, recorder = _registry(lambda r: httpx.Response(500))
    try:
        assert registry.project("../../etc") is None
    finally:
        registry.close()
    assert recorder.requests == []


def test_a_missing_package_is_none_and_failures_are_upstream_errors() -> None:
    answers: dict[str, Callable[[], httpx.Response]] = {
        "missing": lambda: httpx.Response(404, json={"error": "Not found"}),
        "broken": lambda: httpx.Response(503),
        "forbidden": lambda: httpx.Response(403),
    }

    def respond(request: httpx.Request) -> httpx.Response:
        name = request.url.path.strip("/")
        if name == "slow":
            raise httpx.ReadTimeout("timed out", request=request)
        if name == "unreachable":
            raise httpx.ConnectError("refused", request=request)
        if name == "slow-connect":
            raise httpx.ConnectTimeout("timed out", request=request)
        return answers[name]()

    registry, _ = _registry(respond)
    try:
        assert registry.project("missing") is None
        for name in ("broken", "forbidden", "unreachable"):
            with pytest.raises(UpstreamUnavailableError, match="public:npmjs") as caught:
                registry.project(name)
            assert not isinstance(caught.value, UpstreamTimeoutError)
        for name in ("slow", "slow-connect"):
            with pytest.raises(UpstreamTimeoutError, match="public:npmjs"):
                registry.project(name)
    finally:
        registry.close()


def test_the_packument_size_cap_is_enforced_declared_or_streamed(packument_body: bytes) -> None:
    def chunks() -> Iterator[bytes]:
        yield packument_body[:100]
        yield packument_body[100:]

    declared, _ = _registry(lambda r: _ok(packument_body), max_packument_bytes=1000)
    streamed, _ = _registry(lambda r: httpx.Response(200, content=chunks()), max_packument_bytes=1000)
    roomy, _ = _registry(lambda r: httpx.Response(200, content=chunks()), max_packument_bytes=len(packument_body))
    try:
        assert len(packument_body) > 1000
        for registry in (declared, streamed):
            with pytest.raises(UpstreamUnavailableError, match="larger than 1000 bytes"):
                registry.project("left-pad")
        project = roomy.project("left-pad")
        assert project is not None and len(project.files) == 3
    finally:
        for registry in (declared, streamed, roomy):
            registry.close()


def test_tarballs_inside_the_local_network_are_left_out_unless_the_registry_is_there() -> None:
    body = _body(
        {
            "name": "a",
            "dist-tags": {"latest": "1.0.1", "next": "1.0.2"},
            "versions": {
                "1.0.0": _manifest("a", "1.0.0", {"shasum": "a" * 40, "tarball": "https://cdn.example/a-1.0.0.tgz"}),
                "1.0.1": _manifest("a", "1.0.1", {"shasum": "a" * 40, "tarball": "http://169.254.169.254/a.tgz"}),
                "1.0.2": _manifest("a", "1.0.2", {"shasum": "a" * 40, "tarball": "http://127.0.0.1:4873/a/-/a.tgz"}),
            },
        }
    )
    public, _ = _registry(lambda r: _ok(body))
    local, _ = _registry(lambda r: _ok(body), "http://127.0.0.1:4873/")
    try:
        listed = public.project("a")
        assert listed is not None and [f.version for f in listed.files] == ["1.0.0"]
        assert dict(listed.tags) == {} and set(listed.version_extra) == {"1.0.0"}  # nothing of what was left out
        near = local.project("a")
        assert near is not None and [f.version for f in near.files] == ["1.0.0", "1.0.2"]
    finally:
        public.close()
        local.close()


def test_downloads_stream_into_the_sink_within_the_limit(tmp_path: Path) -> None:
    data = b"x" * 5000
    registry, recorder = _registry(lambda r: _ok(data))
    blobs = FileBlobStore(tmp_path / "blobs")
    try:
        with blobs.begin() as pending:
            registry.download("https://registry.example/a/-/a-1.0.0.tgz", pending, max_bytes=5000)
            assert pending.finish().sha256 == hashlib.sha256(data).hexdigest()
        with blobs.begin() as pending, pytest.raises(UpstreamUnavailableError, match=r"a-1\.0\.0\.tgz is larger than"):
            registry.download("https://registry.example/a/-/a-1.0.0.tgz", pending, max_bytes=4999)
    finally:
        registry.close()
    assert len(recorder.requests) == 2


def test_credentials_go_to_the_registry_origin_only_as_basic_or_a_token(packument_body: bytes) -> None:
    basic, basic_seen = _registry(lambda r: _ok(packument_body), "https://user:secret@registry.example/")
    token, token_seen = _registry(lambda r: _ok(b"tgz"), "https://:npm_TOKEN@registry.example/")
    try:
        basic.project("left-pad")
        expected = "Basic " + base64.b64encode(b"user:secret").decode()
        assert basic_seen.requests[0].headers["authorization"] == expected
        assert basic._auth_for("http://registry.example/a.tgz") is None  # never in clear
        assert basic._auth_for("https://cdn.example/a.tgz") is None
        assert basic._auth_for("https://registry.example:8443/a.tgz") is None
        sink = _Sink()
        token.download("https://registry.example/a/-/a-1.0.0.tgz", sink, max_bytes=100)  # type: ignore[arg-type]
        token.download("https://cdn.example/a-1.0.0.tgz", sink, max_bytes=100)  # type: ignore[arg-type]
        assert token_seen.requests[0].headers["authorization"] == "Bearer npm_TOKEN"
        assert "authorization" not in token_seen.requests[1].headers
        assert sink.data == b"tgztgz"
        assert "npm_TOKEN" not in str(token_seen.requests[0].url)
    finally:
        basic.close()
        token.close()


class _Sink:
    def __init__(self) -> None:
        self.data = b""

    def write(self, chunk: bytes) -> None:
        self.data += chunk


def test_npm_connections_get_the_npm_client() -> None:
    upstreams = HttpUpstreams(
        {"public:npmjs": "https://registry.npmjs.org/", "public:pypi": "https://pypi.org/simple/",
         "public:maven-central": "https://repo1.maven.org/maven2/"},
        timeout=1,
    )  # fmt: skip
    npm, pypi = upstreams.index("public:npmjs"), upstreams.index("public:pypi")
    assert isinstance(npm, NpmRegistry) and npm.connection == "public:npmjs"
    assert isinstance(pypi, SimpleIndex)
    assert upstreams.index("public:maven-central") is None
    npm.close()
    pypi.close()


@pytest.mark.parametrize(
    "target",
    ["http://169.254.169.254/latest/meta-data/", "http://2130706433/", "http://0x7f000001:8080/x", "http://127.1/"],
)
def test_a_redirect_into_the_local_network_is_refused(tmp_path: Path, target: str) -> None:
    """The address rule holds for every hop: a public file host cannot redirect Coffer to its own network."""

    def respond(request: httpx.Request) -> httpx.Response:
        if request.url.host == "cdn.example":
            return httpx.Response(302, headers={"Location": target})
        return _ok(b"secret")

    registry, recorder = _registry(respond)
    blobs = FileBlobStore(tmp_path / "blobs")
    try:
        with blobs.begin() as pending, pytest.raises(UpstreamUnavailableError, match="refused"):
            registry.download("https://cdn.example/a/-/a-1.0.0.tgz", pending, max_bytes=5000)
    finally:
        registry.close()
    assert [r.url.host for r in recorder.requests] == ["cdn.example"]
