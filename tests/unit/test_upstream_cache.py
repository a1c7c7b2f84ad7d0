"""The project cache of an external connection (fresh, stale-while-revalidate, single flight, failures), and the
external connection as a package source (the names it asks, the versions it lists)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import pytest

from coffer.core.packages.external_sources import ExternalPackages
from coffer.core.packages.npm_manifest import DEPRECATED_KEY, MANIFEST_KEY
from coffer.core.packages.package_models import PackageRef, RepoRef
from coffer.core.packages.package_store import PendingBlob
from coffer.core.packages.upstream_cache import ProjectCache
from coffer.core.packages.upstreams import UpstreamFile, UpstreamProject, UpstreamTimeoutError, UpstreamUnavailableError
from coffer.core.shared.single_flight import SingleFlight


class Ticker:
    """A clock that stands still until advanced."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _project(name: str, *versions: str) -> UpstreamProject:
    files = tuple(
        UpstreamFile(
            filename=f"{name}-{v}-py3-none-any.whl",
            url=f"http://up/{name}-{v}.whl",
            version=v,
            sha256="0" * 64,
            upload_time=float(i),
        )
        for i, v in enumerate(versions)
    )
    return UpstreamProject(name=name, display_name=name, files=files)


class FakeIndex:
    def __init__(self) -> None:
        self.projects: dict[str, UpstreamProject] = {}
        self.calls: list[str] = []
        self.failure: Exception | None = None
        self.gate: threading.Event | None = None

    @property
    def connection(self) -> str:
        return "public:pypi"

    def project(self, name: str) -> UpstreamProject | None:
        self.calls.append(name)
        if self.gate is not None:
            self.gate.wait(5)
        if self.failure is not None:
            raise self.failure
        return self.projects.get(name)

    def download(self, url: str, sink: PendingBlob, max_bytes: int) -> None:
        raise NotImplementedError


def _cache(index: FakeIndex, clock: Ticker, spawned: list[Callable[[], None]] | None = None) -> ProjectCache:
    spawn: Callable[[Callable[[], None]], None] = (lambda task: spawned.append(task)) if spawned is not None else (
        lambda task: task()
    )  # fmt: skip
    return ProjectCache(index, clock, ttl=60, retry_after=10, spawn=spawn)


def test_fresh_listings_and_missing_projects_are_served_from_memory() -> None:
    index, clock = FakeIndex(), Ticker()
    index.projects["a"] = _project("a", "1.0")
    cache = _cache(index, clock)
    assert cache.get("a") == index.projects["a"]
    assert cache.get("nope") is None
    clock.advance(59)
    assert cache.get("a") == index.projects["a"] and cache.get("nope") is None
    assert index.calls == ["a", "nope"]


def test_a_stale_listing_is_served_at_once_and_refreshed_once_in_the_background() -> None:
    index, clock, spawned = FakeIndex(), Ticker(), []
    index.projects["a"] = _project("a", "1.0")
    cache = _cache(index, clock, spawned)
    cache.get("a")
    index.projects["a"] = _project("a", "1.0", "2.0")
    clock.advance(61)
    assert len(cache.get("a").files) == 1  # stale, at once
    assert len(cache.get("a").files) == 1
    assert len(spawned) == 1  # one refresh however many reads
    spawned.pop()()
    assert len(cache.get("a").files) == 2 and index.calls == ["a", "a"]


def test_a_failing_refresh_keeps_the_stale_listing_and_retries_later() -> None:
    index, clock, spawned = FakeIndex(), Ticker(), []
    index.projects["a"] = _project("a", "1.0")
    cache = _cache(index, clock, spawned)
    cache.get("a")
    clock.advance(61)
    index.failure = UpstreamUnavailableError("public:pypi is unreachable")
    assert cache.get("a") is not None
    spawned.pop()()  # fails quietly
    assert cache.get("a") is not None and not spawned  # not retried before retry_after
    clock.advance(11)
    assert cache.get("a") is not None and len(spawned) == 1


def test_an_unseen_project_fails_with_the_upstream_error_and_the_failure_is_remembered_briefly() -> None:
    index, clock = FakeIndex(), Ticker()
    index.failure = UpstreamTimeoutError("public:pypi did not answer in time")
    cache = _cache(index, clock)
    for _ in range(3):
        with pytest.raises(UpstreamTimeoutError):
            cache.get("a")
    assert index.calls == ["a"]  # a down registry answers fast, not once per timeout
    clock.advance(11)
    index.failure = None
    index.projects["a"] = _project("a", "1.0")
    assert cache.get("a") is not None


def test_concurrent_first_reads_make_one_request() -> None:
    index = FakeIndex()
    index.projects["a"] = _project("a", "1.0")
    index.gate = threading.Event()
    cache = ProjectCache(index, time.monotonic, ttl=60)
    results: list[UpstreamProject | None] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("a"))) for _ in range(20)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    index.gate.set()
    for t in threads:
        t.join(5)
    assert len(results) == 20 and all(r == index.projects["a"] for r in results)
    assert index.calls == ["a"]


def test_single_flight_shares_errors_and_forgets_finished_calls() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    gate = threading.Event()
    calls: list[int] = []
    errors: list[BaseException] = []

    def boom() -> int:
        calls.append(1)
        gate.wait(5)
        raise ValueError("upstream broke")

    def call() -> None:
        try:
            flights.do("k", boom)
        except ValueError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(5)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    gate.set()
    for t in threads:
        t.join(5)
    assert len(calls) == 1 and len(errors) == 5
    assert not flights.running("k")
    assert flights.do("k", lambda: 7) == 7


def test_releases_group_files_by_version_in_upload_order() -> None:
    project = _project("a", "2.0", "1.0", "2.0")
    assert list(project.releases) == ["2.0", "1.0"]
    assert len(project.releases["2.0"].files) == 2


def test_external_packages_ask_npm_by_full_name_and_never_ask_pypi_for_a_namespace() -> None:
    index, clock = FakeIndex(), Ticker()
    manifest = json.dumps({"name": "@acme/ui", "description": "Buttons", "license": "MIT"})
    npm_file = UpstreamFile(
        filename="ui-1.0.0.tgz", url="http://up/ui-1.0.0.tgz", version="1.0.0", sha256="", sha512="f" * 128,
        sha1="e" * 40, upload_time=5.0,
    )  # fmt: skip
    index.projects["@acme/ui"] = UpstreamProject(
        name="@acme/ui", display_name="@acme/ui", files=(npm_file,), tags={"latest": "1.0.0"},
        version_extra={"1.0.0": {MANIFEST_KEY: manifest, DEPRECATED_KEY: "old"}},
    )  # fmt: skip
    index.projects["requests"] = _project("requests", "2.0")
    repo = RepoRef("111122223333", "dom", "store")
    npm = ExternalPackages(repo, "public:npmjs", "npm", _cache(index, clock))
    pypi = ExternalPackages(repo, "public:pypi", "pypi", _cache(index, clock))

    ui = PackageRef(repo, "npm", "acme", "ui")
    package = npm.package(ui)
    assert package is not None and package.display_name == "ui"
    (version,) = npm.versions(ui)
    assert (version.version, version.summary, version.licenses, version.published_time) == (
        "1.0.0",
        "Buttons",
        ("MIT",),
        5.0,
    )
    assert version.origin_external == "public:npmjs" and version.package == ui
    assert version.extra == {MANIFEST_KEY: manifest, DEPRECATED_KEY: "old"}
    (asset,) = npm.assets(ui, version)
    assert (asset.blob.sha256, asset.blob.sha512, asset.blob.sha1) == ("", "f" * 128, "e" * 40)
    assert npm.tags(ui) == {"latest": "1.0.0"}
    assert npm.package(PackageRef(repo, "npm", None, "ui")) is None  # "ui" is another package than "@acme/ui"

    assert pypi.package(PackageRef(repo, "pypi", None, "requests")) is not None
    assert pypi.package(PackageRef(repo, "pypi", "acme", "requests")) is None
    assert npm.package(PackageRef(repo, "pypi", None, "requests")) is None  # another format: not asked
    assert index.calls == ["@acme/ui", "ui", "requests"]


def test_listings_kept_are_bounded_by_their_weight() -> None:
    index, clock = FakeIndex(), Ticker()
    for name in ("a", "b", "c"):
        index.projects[name] = _project(name, *(f"1.0.{i}" for i in range(100)))
    one = index.projects["a"].weight
    cache = ProjectCache(index, clock, ttl=60, spawn=lambda task: task(), max_bytes=int(one * 2.5))
    for name in ("a", "b", "c"):
        assert cache.get(name) is not None
    assert index.calls == ["a", "b", "c"]
    cache.get("c")
    cache.get("b")
    assert index.calls == ["a", "b", "c"]  # the two most recent are kept
    cache.get("a")  # the least recently used was dropped: fetched again
    assert index.calls == ["a", "b", "c", "a"]
    huge = ProjectCache(index, clock, ttl=60, spawn=lambda task: task(), max_bytes=1)
    assert huge.get("a") is not None and huge.get("a") is not None  # one listing over the bound is still kept
    assert index.calls.count("a") == 3
