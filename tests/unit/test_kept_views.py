"""Package views served again while nothing they were built from changed (``PackageReads._load_view``): after the
caches' second, one read of the search order's package revisions instead of the view's reads, and every write,
through this service or another process, still shows as before (at once, or within the second). Through an
external connection, also while the registry's listings are the cache's same objects."""

from __future__ import annotations

import dataclasses
import gc
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from coffer.core.codeartifact.repositories import RepositoryService
from coffer.core.codeartifact.resources import ExternalConnection
from coffer.core.packages.package_group_service import PackageGroupService
from coffer.core.packages.package_models import Asset, PackageRef, PackageVersion, RepoRef
from coffer.core.packages.package_service import PackageService
from coffer.core.packages.package_store import PUBLISHED_FIRST
from coffer.core.packages.upstream_cache import ProjectCache, UpstreamCaches
from coffer.core.packages.upstreams import UpstreamIndex, UpstreamProject, UpstreamUnavailableError
from coffer.store.blobs import FileBlobStore
from coffer.store.sql_store import SqlStore, open_store
from tests.conftest import ManualClock
from tests.unit.package_services import ADMIN, deps_on, make_deps, make_repo
from tests.unit.test_npm_fetching import CONNECTION, FakeRegistry, dist, url

READS = ("get_package", "list_versions", "list_package_assets", "package_revisions")


class Counting:
    """The store, counting the read path's calls."""

    def __init__(self, inner: SqlStore) -> None:
        self._inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        if name not in READS:
            return found

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return found(*args, **kwargs)

        return counted


def service(store: SqlStore, clock: ManualClock, blobs: Path) -> tuple[PackageService, Counting]:
    counting = Counting(store)
    deps = deps_on(counting, clock, cache_ttl=1.0)
    return PackageService(deps, FileBlobStore(blobs), groups=PackageGroupService(deps)), counting


def publish(svc: PackageService, repo: RepoRef, version: str, name: str = "demo") -> None:
    blob = svc.store_bytes(f"{name}-{version}-{repo.name}".encode())
    pv = PackageVersion(
        package=PackageRef(repo=repo, format="pypi", namespace=None, name=name),
        version=version,
        display_version=version,
        status="Published",
        revision="",
        published_time=float(version.split(".")[0]),
    )
    svc.publish(ADMIN, pv, Asset(name=f"{name}-{version}-py3-none-any.whl", blob=blob, created_at=0.0))


def shown(svc: PackageService, repo: RepoRef, name: str = "demo") -> list[str]:
    return [v.version.version for v in svc.package_view(repo, "pypi", None, name).versions]


@pytest.fixture
def env(store: SqlStore, tmp_path: Path) -> dict[str, Any]:
    make_deps(store)  # the domain
    main = make_repo(store, "main")
    clock = ManualClock()
    svc, counting = service(store, clock, tmp_path / "blobs")
    # another process on the same database: its own store, caches and clock (its writes reach ours only there)
    other_store = open_store(str(store.engine.url))
    other, _ = service(other_store, ManualClock(), tmp_path / "blobs")
    groups = other._groups  # the other process's package groups
    yield {
        "main": main,
        "clock": clock,
        "svc": svc,
        "counting": counting,
        "other": other,
        "store": store,
        "groups": groups,
    }
    other_store.close()


def test_an_unchanged_view_is_served_again_after_the_second(env: dict[str, Any]) -> None:
    svc, counting, clock, main = env["svc"], env["counting"], env["clock"], env["main"]
    publish(svc, main, "1.0")
    first = svc.package_view(main, "pypi", None, "demo")
    assert [v.version.version for v in first.versions] == ["1.0"]
    counting.calls.clear()
    clock.now += 5  # every cache has expired
    again = svc.package_view(main, "pypi", None, "demo")
    assert again is first  # the same object: pages rendered from it are kept too
    assert counting.calls == Counter({"package_revisions": 1})
    # one revision read serves every package of the search order for the second
    publish(env["other"], main, "1.0", name="another")
    clock.now += 5
    counting.calls.clear()
    assert shown(svc, main, "another") == ["1.0"]  # changed: built anew
    assert counting.calls["get_package"] >= 1


def test_a_write_through_this_service_shows_at_once(env: dict[str, Any]) -> None:
    svc, main = env["svc"], env["main"]
    publish(svc, main, "1.0")
    assert shown(svc, main) == ["1.0"]
    publish(svc, main, "2.0")
    assert shown(svc, main) == ["1.0", "2.0"]
    svc.update_status(ADMIN, PackageRef(main, "pypi", None, "demo"), ["1.0"], "Unlisted", None)
    assert shown(svc, main) == ["2.0"]


def test_a_write_by_another_process_shows_within_the_second(env: dict[str, Any]) -> None:
    svc, clock, main, other = env["svc"], env["clock"], env["main"], env["other"]
    publish(svc, main, "1.0")
    assert shown(svc, main) == ["1.0"]
    clock.now += 5  # the view is now kept with the revision it was checked against
    assert shown(svc, main) == ["1.0"]
    publish(other, main, "2.0")
    clock.now += 1.01
    assert shown(svc, main) == ["1.0", "2.0"]
    other.update_status(ADMIN, PackageRef(main, "pypi", None, "demo"), ["2.0"], "Archived", None)
    clock.now += 1.01
    assert shown(svc, main) == ["1.0"]


def test_a_change_in_an_upstream_shows_through_it(env: dict[str, Any]) -> None:
    svc, clock, store, other = env["svc"], env["clock"], env["store"], env["other"]
    upstream = make_repo(store, "shared")
    team = make_repo(store, "team", upstreams=("shared",))
    publish(svc, upstream, "1.0")
    assert shown(svc, team) == ["1.0"]
    clock.now += 5
    assert shown(svc, team) == ["1.0"]
    publish(other, upstream, "2.0")  # the upstream's revision changes, the team repository's does not
    clock.now += 1.01
    assert shown(svc, team) == ["1.0", "2.0"]


def test_a_new_upstream_shows_within_the_second(env: dict[str, Any]) -> None:
    svc, clock, store, other, main = env["svc"], env["clock"], env["store"], env["other"], env["main"]
    upstream = make_repo(store, "shared")
    publish(other, upstream, "3.0")
    assert shown(svc, main) == []  # (a package published in main itself would block its upstreams)
    clock.now += 5
    assert shown(svc, main) == []
    current = store.get_repository(main.domain_owner, main.domain, main.name)
    assert current is not None
    store.update_repository(dataclasses.replace(current, upstreams=("shared",)))  # as another process would
    clock.now += 1.01
    assert shown(svc, main) == ["3.0"]  # a new search order: built anew


def test_a_group_rule_made_by_another_process_applies_within_the_second(env: dict[str, Any]) -> None:
    svc, clock, store, other, groups = env["svc"], env["clock"], env["store"], env["other"], env["groups"]
    upstream = make_repo(store, "shared")
    team = make_repo(store, "team", upstreams=("shared",))
    publish(other, upstream, "3.0")
    assert shown(svc, team) == ["3.0"]
    clock.now += 5
    assert shown(svc, team) == ["3.0"]  # kept
    # no package changes, so no revision does: the group rules the view was built with decide
    groups.create(ADMIN, team.domain, team.domain_owner, "/pypi//demo$", None, None)
    groups.update_origin(ADMIN, team.domain, team.domain_owner, "/pypi//demo$", {"INTERNAL_UPSTREAM": "BLOCK"}, [], [])
    clock.now += 1.01
    assert shown(svc, team) == []


def test_a_write_elsewhere_shows_within_the_second_whichever_package_read_the_revisions(
    env: dict[str, Any],
) -> None:
    # The revisions are read once per second for the whole search order; a page that finds them cached must not
    # keep its view longer than they are: a second after they were read, at the latest.
    svc, clock, main, other = env["svc"], env["clock"], env["main"], env["other"]
    publish(svc, main, "1.0", name="a")
    publish(svc, main, "1.0", name="b")
    shown(svc, main, "a"), shown(svc, main, "b")
    clock.now += 5
    assert shown(svc, main, "a") == ["1.0"]  # reads the revisions (cached until +1 s)
    clock.now += 0.1
    publish(other, main, "2.0", name="b")
    clock.now += 0.8
    assert shown(svc, main, "b") == ["1.0"]  # within the second: the old view may still show
    clock.now += 0.15  # 1.05 s after the revisions were read, 0.95 s after the write
    assert shown(svc, main, "b") == ["1.0", "2.0"]


def test_a_view_build_reads_the_group_rules_once(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    svc, store = env["svc"], env["store"]
    upstream = make_repo(store, "shared")
    team = make_repo(store, "team", upstreams=("shared",))
    publish(svc, upstream, "1.0")
    calls: list[object] = []
    rules_of = svc._group_rules

    def counted(ref: PackageRef) -> object:
        calls.append(ref)
        return rules_of(ref)

    monkeypatch.setattr(svc, "_group_rules", counted)
    assert shown(svc, team) == ["1.0"]
    assert len(calls) == 1  # the rules the view is kept with are the ones it was built with


def test_a_new_upstream_or_group_rule_made_through_this_process_shows_at_once(env: dict[str, Any]) -> None:
    svc, store = env["svc"], env["store"]
    upstream = make_repo(store, "shared")
    team = make_repo(store, "team")
    publish(svc, upstream, "1.0")
    assert shown(svc, team) == []
    repositories = RepositoryService(svc._d, lambda: "http://127.0.0.1")
    repositories.update(ADMIN, team.domain, team.domain_owner, team.name, None, ["shared"])
    assert shown(svc, team) == ["1.0"]  # no second to wait
    groups = svc._groups
    assert groups is not None
    groups.create(ADMIN, team.domain, team.domain_owner, "/pypi//demo$", None, None)
    groups.update_origin(ADMIN, team.domain, team.domain_owner, "/pypi//demo$", {"INTERNAL_UPSTREAM": "BLOCK"}, [], [])
    assert shown(svc, team) == []


# --- search orders with an external connection ---------------------------------------------------------------
# The view is kept while the repositories' revisions, the group rules and the registry's listings it was built
# from (the listing cache's very objects) are the same; the registry is asked only what a build would ask.


class CountingRegistry(FakeRegistry):
    """The fake npm registry, counting the listings asked and able to fail as a down registry does."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: Counter[str] = Counter()
        self.down = False
        self.other_names: set[str] = set()  # more connections this registry serves

    def index(self, connection: str) -> UpstreamIndex | None:
        return self if connection in self.other_names else super().index(connection)

    def project(self, name: str) -> UpstreamProject | None:
        self.asked[name] += 1
        if self.down:
            raise UpstreamUnavailableError(f"{CONNECTION} is down")
        return super().project(name)


@pytest.fixture
def external(store: SqlStore, tmp_path: Path) -> dict[str, Any]:
    make_deps(store)
    make_repo(store, "npm-store", connections=(ExternalConnection(CONNECTION, "npm"),))
    app = make_repo(store, "app", upstreams=("npm-store",))
    clock = ManualClock()
    counting = Counting(store)
    deps = deps_on(counting, clock, cache_ttl=1.0)
    registry = CountingRegistry()
    caches = UpstreamCaches(registry, clock, ttl=300)
    # refreshes run at once, on the request's thread: what a test sees next is the refreshed listing
    caches._caches[CONNECTION] = ProjectCache(registry, clock, 300, retry_after=10, spawn=lambda task: task())
    svc = PackageService(deps, FileBlobStore(tmp_path / "blobs"), caches, groups=PackageGroupService(deps))
    yield {"svc": svc, "app": app, "clock": clock, "registry": registry, "counting": counting, "store": store}


def npm_shown(svc: PackageService, repo: RepoRef, name: str = "ui") -> list[str]:
    return [v.version.version for v in svc.package_view(repo, "npm", "acme", name).versions]


def publish_npm(svc: PackageService, repo: RepoRef, version: str) -> None:
    blob = svc.store_bytes(f"ui-{version}".encode())
    pv = PackageVersion(
        package=PackageRef(repo=repo, format="npm", namespace="acme", name="ui"),
        version=version,
        display_version=version,
        status="Published",
        revision="",
        published_time=1.0,
    )
    svc.publish(ADMIN, pv, Asset(name=f"ui-{version}.tgz", blob=blob, created_at=0.0))


def listed(registry: CountingRegistry, *versions: str) -> None:
    registry.publish("@acme/ui", {v: {"dist": dist(b"x", url=url(v))} for v in versions})


def test_a_view_through_an_external_connection_is_kept_while_its_listing_is(external: dict[str, Any]) -> None:
    svc, app, clock, registry, counting = (external[k] for k in ("svc", "app", "clock", "registry", "counting"))
    listed(registry, "1.0.0")
    first = svc.package_view(app, "npm", "acme", "ui")
    assert [v.version.version for v in first.versions] == ["1.0.0"]
    counting.calls.clear()
    clock.now += 5  # the view's second has passed; the listing (300 s) is fresh
    assert svc.package_view(app, "npm", "acme", "ui") is first
    assert counting.calls == Counter({"package_revisions": 1})  # no stored package read again
    assert registry.asked["@acme/ui"] == 1  # the cached listing was looked at, the registry not asked


def test_a_refreshed_listing_shows(external: dict[str, Any]) -> None:
    svc, app, clock, registry = (external[k] for k in ("svc", "app", "clock", "registry"))
    listed(registry, "1.0.0")
    assert npm_shown(svc, app) == ["1.0.0"]
    listed(registry, "1.0.0", "2.0.0")
    clock.now += 5
    assert npm_shown(svc, app) == ["1.0.0"]  # the listing is fresh for 300 s: what the cache holds shows
    clock.now += 300  # stale: this read starts the refresh (at once here) and the next shows its result
    npm_shown(svc, app)
    clock.now += 1.01
    assert npm_shown(svc, app) == ["1.0.0", "2.0.0"]
    assert registry.asked["@acme/ui"] == 2


def test_a_view_built_while_the_registry_was_down_is_not_kept(external: dict[str, Any]) -> None:
    svc, app, clock, registry = (external[k] for k in ("svc", "app", "clock", "registry"))
    publish_npm(svc, app, "0.9.0")  # app has the package itself, so the view builds without the registry
    registry.down = True
    listed(registry, "1.0.0")
    # the package published in app blocks its upstreams; unblock them to let the registry be asked
    svc.put_origin_configuration(ADMIN, PackageRef(app, "npm", "acme", "ui"), "ALLOW", "ALLOW")
    assert npm_shown(svc, app) == ["0.9.0"]  # the registry passed over: it cannot answer
    registry.down = False
    clock.now += 11  # the remembered failure (retry_after 10 s) has passed
    assert npm_shown(svc, app) == ["0.9.0", "1.0.0"]  # not the view built without the registry


def test_the_registry_is_asked_only_what_a_build_asks(external: dict[str, Any]) -> None:
    svc, app, clock, registry = (external[k] for k in ("svc", "app", "clock", "registry"))
    listed(registry, "1.0.0")
    publish_npm(svc, app, "0.9.0")  # published first in app: its upstreams are blocked for the package
    for _ in range(3):
        assert npm_shown(svc, app) == ["0.9.0"]
        clock.now += 5
    assert registry.asked["@acme/ui"] == 0  # a private name is never sent to the public registry


def test_a_view_is_built_anew_when_the_connection_changes(external: dict[str, Any]) -> None:
    svc, app, clock, registry, store = (external[k] for k in ("svc", "app", "clock", "registry", "store"))
    listed(registry, "1.0.0")

    def fetched_through() -> str | None:
        (version,) = svc.package_view(app, "npm", "acme", "ui").versions
        (asset,) = version.assets
        return None if asset.fetch_from is None else asset.fetch_from.connection

    assert fetched_through() == CONNECTION
    # another process replaces the connection with one to a registry that lists the very same objects: the search
    # order's repositories and the listings are the same, the connection is not
    registry.other_names = {"public:mirror"}
    store.set_external_connections(
        app.domain_owner, app.domain, "npm-store", [ExternalConnection("public:mirror", "npm")], expected=[CONNECTION]
    )
    clock.now += 5
    assert fetched_through() == "public:mirror"


def test_the_check_asks_the_registry_nothing_within_another_process_s_second(external: dict[str, Any]) -> None:
    # Another process publishes the name privately: for up to a second this one may still serve the old view
    # (its revisions are cached), but it must not ask the public registry for the name meanwhile, as a fresh
    # build (which stops at the block) would not.
    svc, app, clock, registry, store = (external[k] for k in ("svc", "app", "clock", "registry", "store"))
    listed(registry, "1.0.0")
    assert npm_shown(svc, app) == ["1.0.0"]
    clock.now += 300.5  # the listing is stale now
    npm_shown(svc, app, "other")  # another package of the same search order: the revisions are cached
    blob = svc.store_bytes(b"private")
    pv = PackageVersion(
        package=PackageRef(app, "npm", "acme", "ui"),
        version="0.9.0",
        display_version="0.9.0",
        status="Published",
        revision="",
        published_time=1.0,
    )
    store.add_asset(pv, Asset(name="ui-0.9.0.tgz", blob=blob, created_at=0.0), origin=PUBLISHED_FIRST)
    asked = registry.asked["@acme/ui"]
    clock.now += 0.1
    npm_shown(svc, app)
    assert registry.asked["@acme/ui"] == asked
    clock.now += 1.01
    assert npm_shown(svc, app) == ["0.9.0"]


def dropping_cache(external: dict[str, Any]) -> ProjectCache:
    """A listing cache of one project: asking for another drops (and frees) the one held."""
    cache = ProjectCache(
        external["registry"], external["clock"], 300, retry_after=10, spawn=lambda t: t(), max_projects=1
    )
    external["svc"]._upstreams._caches[CONNECTION] = cache
    return cache


def test_a_project_not_found_then_listed_shows(external: dict[str, Any]) -> None:
    svc, app, clock, registry = (external[k] for k in ("svc", "app", "clock", "registry"))
    assert npm_shown(svc, app) == []  # the registry has no such project: None cached
    listed(registry, "1.0.0")
    clock.now += 5
    assert npm_shown(svc, app) == []  # the None listing is fresh
    clock.now += 300
    npm_shown(svc, app)  # starts the refresh (at once here)
    clock.now += 1.01
    assert npm_shown(svc, app) == ["1.0.0"]


def test_a_listing_dropped_and_fetched_again_shows(external: dict[str, Any]) -> None:
    svc, app, clock, registry = (external[k] for k in ("svc", "app", "clock", "registry"))
    cache = dropping_cache(external)
    listed(registry, "1.0.0")
    assert npm_shown(svc, app) == ["1.0.0"]
    listed(registry, "1.0.0", "2.0.0")
    cache.get("@acme/other")
    clock.now += 5
    assert npm_shown(svc, app) == ["1.0.0", "2.0.0"]


def test_a_dropped_listing_while_the_registry_is_down(external: dict[str, Any]) -> None:
    svc, app, clock, registry = (external[k] for k in ("svc", "app", "clock", "registry"))
    cache = dropping_cache(external)
    publish_npm(svc, app, "0.9.0")
    svc.put_origin_configuration(ADMIN, PackageRef(app, "npm", "acme", "ui"), "ALLOW", "ALLOW")
    listed(registry, "1.0.0")
    assert npm_shown(svc, app) == ["0.9.0", "1.0.0"]
    cache.get("@acme/other")
    registry.down = True
    clock.now += 5
    assert npm_shown(svc, app) == ["0.9.0"]  # as a fresh build: the registry passed over
    registry.down = False
    clock.now += 11
    assert npm_shown(svc, app) == ["0.9.0", "1.0.0"]


def test_a_listing_dropped_then_gone_from_the_registry(external: dict[str, Any]) -> None:
    svc, app, clock, registry = (external[k] for k in ("svc", "app", "clock", "registry"))
    cache = dropping_cache(external)
    listed(registry, "1.0.0")
    assert npm_shown(svc, app) == ["1.0.0"]
    del registry.projects["@acme/ui"]  # unpublished upstream
    cache.get("@acme/other")
    clock.now += 5
    assert npm_shown(svc, app) == []


def test_a_kept_view_whose_listing_the_cache_let_go_is_not_kept_alive(external: dict[str, Any]) -> None:
    svc, app, registry = (external[k] for k in ("svc", "app", "registry"))
    cache = dropping_cache(external)
    listed(registry, "1.0.0")
    npm_shown(svc, app)
    key = (app, "npm", "acme", "ui")
    assert key in svc._kept_views
    svc._index.invalidate()  # (the view cache would hold the view for its second anyway)
    listed(registry, "1.0.0")  # the fake registry holds a new listing object (as a real one returns per fetch)
    cache.get("@acme/other")  # the cache lets @acme/ui's listing go: nothing else holds it
    gc.collect()
    npm_shown(svc, app, "other")  # the next view kept drops the one that can never match again
    assert key not in svc._kept_views
