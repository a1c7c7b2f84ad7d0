"""Package views served again while nothing they were built from changed (``PackageReads._load_view``): after the
caches' second, one read of the search order's package revisions instead of the view's reads, and every write,
through this service or another process, still shows as before (at once, or within the second)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from coffer.core.codeartifact.repositories import RepositoryService
from coffer.core.packages.package_group_service import PackageGroupService
from coffer.core.packages.package_models import Asset, PackageRef, PackageVersion, RepoRef
from coffer.core.packages.package_service import PackageService
from coffer.store.blobs import FileBlobStore
from coffer.store.sql_store import SqlStore, open_store
from tests.conftest import ManualClock
from tests.unit.package_services import ADMIN, deps_on, make_deps, make_repo

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
