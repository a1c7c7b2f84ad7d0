"""Downloads of npm tarballs through an external connection, on the real SqlStore and FileBlobStore: the fetch is
checked against the SHA-512 or SHA-1 the packument announced, and the version retained as the registry listed it,
with the tarball's README."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import threading
from pathlib import Path
from typing import Any

import pytest

from coffer.core.codeartifact.resources import ExternalConnection
from coffer.core.packages.npm_manifest import DEPRECATED_KEY, MANIFEST_KEY
from coffer.core.packages.package_models import PackageRef, RepoRef
from coffer.core.packages.package_service import PackageService
from coffer.core.packages.package_store import FETCHED_FIRST, PendingBlob
from coffer.core.packages.upstream_cache import UpstreamCaches
from coffer.core.packages.upstreams import UpstreamIndex, UpstreamIntegrityError, UpstreamProject
from coffer.store.blobs import FileBlobStore
from coffer.store.sql_store import SqlStore
from coffer.upstreams.npm_registry import parse_packument
from tests.unit.package_services import DOMAIN, OWNER, make_deps, make_repo

CONNECTION = "public:npmjs"
REGISTRY = "https://registry.example/"


def tarball(name: str, version: str, readme: str = "# ui\n\nButtons.") -> bytes:
    """An npm tarball as ``npm pack`` makes it: ``package/package.json`` and a README."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for path, text in (
            ("package/package.json", json.dumps({"name": name, "version": version})),
            ("package/README.md", readme),
        ):
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def packument(name: str, versions: dict[str, dict[str, Any]]) -> bytes:
    return json.dumps(
        {
            "name": name,
            "dist-tags": {"latest": max(versions)},
            "versions": {
                v: {
                    "name": name,
                    "version": v,
                    "description": f"the {name} widgets",
                    "license": "MIT",
                    "homepage": "https://acme.example/ui",
                    "dependencies": {"left-pad": "^1.3.0"},
                    **fields,
                }
                for v, fields in versions.items()
            },
            "time": {v: f"2024-01-0{i + 1}T00:00:00.000Z" for i, v in enumerate(versions)},
        }
    ).encode()


def dist(data: bytes, *, sha512: bool = True, sha1: bool = True, url: str) -> dict[str, Any]:
    found: dict[str, Any] = {"tarball": url}
    if sha512:
        found["integrity"] = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    if sha1:
        found["shasum"] = hashlib.sha1(data).hexdigest()
    return found


class FakeRegistry:
    """One npm registry in memory: packuments parsed by the real parser, tarballs served by URL (``served``
    may differ from what the packument announces: a tampered or corrupted download)."""

    def __init__(self) -> None:
        self.projects: dict[str, UpstreamProject] = {}
        self.served: dict[str, bytes] = {}
        self.downloads: list[str] = []
        self.gate: threading.Event | None = None  # set: downloads wait for it

    @property
    def connection(self) -> str:
        return CONNECTION

    def publish(self, name: str, versions: dict[str, dict[str, Any]]) -> None:
        self.projects[name] = parse_packument(name, REGISTRY, packument(name, versions))

    def project(self, name: str) -> UpstreamProject | None:
        return self.projects.get(name)

    def download(self, url: str, sink: PendingBlob, max_bytes: int) -> None:
        self.downloads.append(url)
        if self.gate is not None:
            self.gate.wait(5)
        sink.write(self.served[url])

    def index(self, connection: str) -> UpstreamIndex | None:
        return self if connection == CONNECTION else None


@pytest.fixture
def registry() -> FakeRegistry:
    return FakeRegistry()


@pytest.fixture
def blobs(tmp_path: Path) -> FileBlobStore:
    return FileBlobStore(tmp_path / "blobs")


@pytest.fixture
def svc(store: SqlStore, blobs: FileBlobStore, registry: FakeRegistry) -> PackageService:
    deps = make_deps(store)
    make_repo(store, "npm-store", connections=(ExternalConnection(CONNECTION, "npm"),))
    make_repo(store, "app", ("npm-store",))
    return PackageService(deps, blobs, UpstreamCaches(registry, deps.clock, ttl=300))


STORE = RepoRef(OWNER, DOMAIN, "npm-store")
APP = RepoRef(OWNER, DOMAIN, "app")


def ui(repo: RepoRef) -> PackageRef:
    return PackageRef(repo=repo, format="npm", namespace="acme", name="ui")


def url(version: str) -> str:
    return f"{REGISTRY}@acme/ui/-/ui-{version}.tgz"


def download(svc: PackageService, version: str, *, listed: bool = True) -> str:
    """Download ``ui-<version>.tgz`` through ``app`` as the npm endpoint does (``listed``: as the registry lists
    it, not retained yet); the SHA-256 of the bytes served."""
    found = svc.find_asset(APP, "npm", "acme", "ui", version, f"ui-{version}.tgz")
    assert found is not None
    resolved, asset = found
    assert (asset.fetch_from is not None and asset.fetch_from.url == url(version)) is listed
    return svc.local_asset(APP, resolved, asset).blob.sha256


def test_a_tarball_checked_against_its_sha512_is_retained_with_the_listed_manifest_and_its_readme(
    svc: PackageService, store: SqlStore, blobs: FileBlobStore, registry: FakeRegistry
) -> None:
    data = tarball("@acme/ui", "1.0.0")
    registry.publish("@acme/ui", {"1.0.0": {"dist": dist(data, url=url("1.0.0")), "deprecated": "use 2.x"}})
    registry.served[url("1.0.0")] = data
    listed = svc.index_versions(APP, "npm", "acme", "ui")
    assert [v.version.version for v in listed] == ["1.0.0"]
    (asset,) = listed[0].assets
    assert asset.blob.sha512 == hashlib.sha512(data).hexdigest() and asset.blob.sha256 == ""
    assert listed[0].version.summary == "the @acme/ui widgets"  # read from the manifest before any fetch

    sha256 = download(svc, "1.0.0")
    assert sha256 == hashlib.sha256(data).hexdigest() and blobs.exists(sha256)
    for repo in (STORE, APP):  # retained where AWS retains it
        version = store.get_version(ui(repo), "1.0.0")
        assert version is not None, repo
        assert (version.summary, version.home_page, version.licenses) == (
            "the @acme/ui widgets",
            "https://acme.example/ui",
            ("MIT",),
        )
        assert version.readme == "# ui\n\nButtons." and version.readme_content_type == "text/markdown"
        assert version.origin_external == CONNECTION and version.origin_repository is None
        assert version.published_time == pytest.approx(1704067200.0)  # the registry's time, not the fetch's
        assert json.loads(version.extra[MANIFEST_KEY])["dependencies"] == {"left-pad": "^1.3.0"}
        assert version.extra[DEPRECATED_KEY] == "use 2.x"
        (stored,) = store.list_assets(ui(repo), "1.0.0")
        assert stored.blob.sha256 == sha256 and stored.blob.sha512 == hashlib.sha512(data).hexdigest()
        package = store.get_package(ui(repo))
        assert package is not None
        assert (package.publish, package.upstream) == (FETCHED_FIRST.publish, FETCHED_FIRST.upstream)
    assert download(svc, "1.0.0", listed=False) == sha256 and len(registry.downloads) == 1  # retained: served from here


def test_tampered_bytes_are_never_stored(svc: PackageService, store: SqlStore, registry: FakeRegistry) -> None:
    data = tarball("@acme/ui", "1.0.0")
    registry.publish("@acme/ui", {"1.0.0": {"dist": dist(data, sha1=False, url=url("1.0.0"))}})
    tampered = tarball("@acme/ui", "1.0.0", readme="# evil")
    registry.served[url("1.0.0")] = tampered
    with pytest.raises(UpstreamIntegrityError, match="SHA-512"):
        download(svc, "1.0.0")
    for repo in (STORE, APP):
        assert store.get_version(ui(repo), "1.0.0") is None
    assert not svc._blobs.exists(hashlib.sha256(tampered).hexdigest())


def test_every_announced_digest_must_match(svc: PackageService, store: SqlStore, registry: FakeRegistry) -> None:
    data = tarball("@acme/ui", "1.0.0")
    announced = dist(data, url=url("1.0.0"))
    announced["shasum"] = hashlib.sha1(b"something else").hexdigest()  # the SHA-512 matches, the SHA-1 does not
    registry.publish("@acme/ui", {"1.0.0": {"dist": announced}})
    registry.served[url("1.0.0")] = data
    with pytest.raises(UpstreamIntegrityError, match="SHA-1"):
        download(svc, "1.0.0")
    assert store.get_version(ui(STORE), "1.0.0") is None


def test_a_shasum_only_tarball_is_checked_against_its_sha1(
    svc: PackageService, store: SqlStore, registry: FakeRegistry
) -> None:
    good, bad = tarball("@acme/ui", "0.1.0"), tarball("@acme/ui", "0.2.0")
    registry.publish(
        "@acme/ui",
        {
            "0.1.0": {"dist": dist(good, sha512=False, url=url("0.1.0"))},
            "0.2.0": {"dist": dist(bad, sha512=False, url=url("0.2.0"))},
        },
    )
    registry.served[url("0.1.0")] = good
    registry.served[url("0.2.0")] = bad + b"\0"
    assert download(svc, "0.1.0") == hashlib.sha256(good).hexdigest()
    stored = store.get_version(ui(STORE), "0.1.0")
    assert stored is not None and stored.readme == "# ui\n\nButtons."
    with pytest.raises(UpstreamIntegrityError, match="SHA-1"):
        download(svc, "0.2.0")
    assert store.get_version(ui(STORE), "0.2.0") is None


def test_a_tarball_of_another_package_or_version_is_kept_as_listed_without_its_readme(
    svc: PackageService, store: SqlStore, registry: FakeRegistry
) -> None:
    served = {
        "1.0.0": tarball("@evil/ui", "1.0.0", readme="# not ui"),  # another package
        "1.0.1": b"not a tarball at all",
        "1.0.2": tarball("@acme/ui", "9.9.9", readme="# not 1.0.2"),  # another version
    }
    registry.publish("@acme/ui", {number: {"dist": dist(data, url=url(number))} for number, data in served.items()})
    registry.served.update((url(number), data) for number, data in served.items())
    for number in served:
        download(svc, number)
        version = store.get_version(ui(STORE), number)
        assert version is not None
        assert version.readme == "" and version.summary == "the @acme/ui widgets"  # the registry's manifest
        assert version.origin_external == CONNECTION


def test_concurrent_downloads_of_one_tarball_fetch_it_once(
    svc: PackageService, store: SqlStore, registry: FakeRegistry
) -> None:
    data = tarball("@acme/ui", "1.0.0")
    registry.publish("@acme/ui", {"1.0.0": {"dist": dist(data, url=url("1.0.0"))}})
    registry.served[url("1.0.0")] = data
    registry.gate = threading.Event()
    found = svc.find_asset(APP, "npm", "acme", "ui", "1.0.0", "ui-1.0.0.tgz")
    assert found is not None
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(svc.local_asset(APP, *found).blob.sha256)) for _ in range(5)
    ]
    for t in threads:
        t.start()
    threading.Event().wait(0.2)
    registry.gate.set()
    for t in threads:
        t.join(5)
    assert results == [hashlib.sha256(data).hexdigest()] * 5 and len(registry.downloads) == 1


def test_two_packages_with_the_same_bytes_are_each_retained(
    svc: PackageService, store: SqlStore, registry: FakeRegistry
) -> None:
    """A flight is per package version and repository: a look-alike with identical bytes never stands in."""
    data = tarball("@acme/ui", "1.0.0")
    registry.publish("@acme/ui", {"1.0.0": {"dist": dist(data, url=url("1.0.0"))}})
    evil_url = REGISTRY + "@evil/ui/-/ui-6.6.6.tgz"
    registry.publish("@evil/ui", {"6.6.6": {"dist": dist(data, url=evil_url)}})
    registry.served[url("1.0.0")] = registry.served[evil_url] = data
    registry.gate = threading.Event()
    wanted = [("acme", "1.0.0", "ui-1.0.0.tgz"), ("evil", "6.6.6", "ui-6.6.6.tgz")]
    got: dict[str, str] = {}

    def fetch(scope: str, version: str, filename: str) -> None:
        found = svc.find_asset(APP, "npm", scope, "ui", version, filename)
        assert found is not None
        got[scope] = svc.local_asset(APP, *found).name

    threads = [threading.Thread(target=fetch, args=w) for w in wanted]
    for t in threads:
        t.start()
    threading.Event().wait(0.2)
    registry.gate.set()
    for t in threads:
        t.join(5)
    assert got == {"acme": "ui-1.0.0.tgz", "evil": "ui-6.6.6.tgz"}
    for repo in (STORE, APP):
        for scope, version, filename in wanted:
            ref = PackageRef(repo, "npm", scope, "ui")
            assert [a.name for a in store.list_assets(ref, version)] == [filename], (repo, scope)
