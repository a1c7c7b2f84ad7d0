"""The PackageGroupStore contract (coffer.core.ports), checked on every backend (see conftest.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import inspect, select

from coffer.core.packages.package_groups import NEW_GROUP_MODES, ROOT_MODES, PackageGroup
from coffer.core.ports import Store
from coffer.core.shared.arns import package_group_arn
from coffer.core.shared.errors import ConflictError, ResourceNotFoundError
from coffer.store import schema
from coffer.store.engine import create_engine_for
from coffer.store.migrations import m0005_package_groups
from coffer.store.migrations.runner import LATEST_VERSION, MIGRATIONS, apply_migrations, schema_version
from coffer.store.sql_store import SqlStore, open_store

from .test_package_store_contract import asset, pref, pver
from .test_store_contract import OWNER, REGION, TRICKY_NAMES, make_domain, make_repo, race


def make_group(pattern: str, domain: str = "acme", **kw: object) -> PackageGroup:
    kw.setdefault("modes", ROOT_MODES if pattern == "/*" else NEW_GROUP_MODES)
    return PackageGroup(
        domain_owner=OWNER,
        domain_name=domain,
        pattern=pattern,
        arn=package_group_arn(REGION, OWNER, domain, pattern),
        created_time=1_700_000_000.5,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def gstore(store: SqlStore) -> Store:
    store.create_domain(make_domain("acme"), {})
    store.create_repository(make_repo("acme", "main"), {})
    store.create_repository(make_repo("acme", "other"), {})
    return store


def test_create_get_list_round_trip(gstore: Store) -> None:
    npm = make_group(
        "/npm/space/*",
        description="UI",
        contact_info="ui@example.com",
        modes={"PUBLISH": "ALLOW_SPECIFIC_REPOSITORIES", "EXTERNAL_UPSTREAM": "BLOCK", "INTERNAL_UPSTREAM": "INHERIT"},
        allowed={"PUBLISH": ("other", "main"), "INTERNAL_UPSTREAM": ("main",)},
    )
    gstore.create_package_group(npm, {"team": "ui"})
    gstore.create_package_group(make_group("/*"), {})
    got = gstore.get_package_group(OWNER, "acme", "/npm/space/*")
    assert got == replace(npm, allowed={"PUBLISH": ("main", "other"), "INTERNAL_UPSTREAM": ("main",)})
    assert gstore.get_tags(npm.arn) == {"team": "ui"}
    assert [g.pattern for g in gstore.list_package_groups(OWNER, "acme")] == ["/*", "/npm/space/*"]
    assert gstore.get_package_group(OWNER, "acme", "/npm/*") is None
    assert gstore.get_package_group(OWNER, "nope", "/*") is None
    assert gstore.list_package_groups(OWNER, "nope") == ()


def test_patterns_are_ordered_bytewise(gstore: Store) -> None:
    patterns = [f"/generic/{n}/*" for n in TRICKY_NAMES if " " not in n]
    for p in patterns:
        gstore.create_package_group(make_group(p), {})
    assert [g.pattern for g in gstore.list_package_groups(OWNER, "acme")] == sorted(patterns)


def test_create_conflicts_and_needs_the_domain(gstore: Store) -> None:
    gstore.create_package_group(make_group("/npm/*"), {})
    with pytest.raises(ConflictError) as dup:
        gstore.create_package_group(make_group("/npm/*"), {})
    assert dup.value.resource_type == "package-group"
    with pytest.raises(ResourceNotFoundError):
        gstore.create_package_group(make_group("/npm/*", domain="nope"), {})
    # the same pattern in another domain is another group
    gstore.create_domain(make_domain("beta"), {})
    gstore.create_package_group(make_group("/npm/*", domain="beta"), {})


def test_concurrent_creates_one_wins(gstore: Store) -> None:
    outcomes = race(4, lambda i: gstore.create_package_group(make_group("/pypi/*"), {}))
    assert outcomes.count(None) == 1
    assert all(isinstance(o, ConflictError) for o in outcomes if o is not None)


def test_update_fields_and_origin(gstore: Store) -> None:
    gstore.create_package_group(make_group("/npm/*", description="d"), {})
    got = gstore.update_package_group(OWNER, "acme", "/npm/*", description=None, contact_info="me")
    assert (got.description, got.contact_info) == ("d", "me")
    got = gstore.update_package_group(OWNER, "acme", "/npm/*", description="", contact_info=None)
    assert (got.description, got.contact_info) == ("", "me")
    got = gstore.update_package_group_origin(
        OWNER,
        "acme",
        "/npm/*",
        modes={"PUBLISH": "ALLOW_SPECIFIC_REPOSITORIES"},
        add=[("PUBLISH", "main"), ("PUBLISH", "other"), ("PUBLISH", "main"), ("EXTERNAL_UPSTREAM", "main")],
        remove=[],
    )
    assert got.mode("PUBLISH") == "ALLOW_SPECIFIC_REPOSITORIES" and got.mode("EXTERNAL_UPSTREAM") == "INHERIT"
    assert got.allowed == {"PUBLISH": ("main", "other"), "EXTERNAL_UPSTREAM": ("main",)}
    got = gstore.update_package_group_origin(
        OWNER,
        "acme",
        "/npm/*",
        modes={"EXTERNAL_UPSTREAM": "BLOCK"},
        add=[("PUBLISH", "main")],  # already there: nothing changes
        remove=[("PUBLISH", "other"), ("INTERNAL_UPSTREAM", "absent")],
    )
    assert got.allowed == {"PUBLISH": ("main",), "EXTERNAL_UPSTREAM": ("main",)}
    assert got.mode("PUBLISH") == "ALLOW_SPECIFIC_REPOSITORIES" and got.mode("EXTERNAL_UPSTREAM") == "BLOCK"
    assert gstore.get_package_group(OWNER, "acme", "/npm/*") == got
    for call in (
        lambda: gstore.update_package_group(OWNER, "acme", "/pypi/*", description="x", contact_info=None),
        lambda: gstore.update_package_group_origin(OWNER, "acme", "/pypi/*", modes={}, add=[], remove=[]),
        lambda: gstore.delete_package_group(OWNER, "acme", "/pypi/*"),
    ):
        with pytest.raises(ResourceNotFoundError):
            call()


def test_delete_drops_lists_and_tags(gstore: Store) -> None:
    group = make_group("/npm/*", allowed={"PUBLISH": ("main",)})
    gstore.create_package_group(group, {"t": "1"})
    assert gstore.delete_package_group(OWNER, "acme", "/npm/*") == group
    assert gstore.get_package_group(OWNER, "acme", "/npm/*") is None
    assert gstore.get_tags(group.arn) == {}
    gstore.create_package_group(make_group("/npm/*"), {})  # a namesake inherits nothing
    assert gstore.get_package_group(OWNER, "acme", "/npm/*") == make_group("/npm/*")


def test_deleting_the_domain_removes_its_groups(store: SqlStore) -> None:
    store.create_domain(make_domain("acme"), {})
    group = make_group("/npm/*", allowed={"PUBLISH": ("main",)})
    store.create_package_group(group, {"t": "1"})
    root_arn = package_group_arn(REGION, OWNER, "acme", "/*")
    store.tag_resource(root_arn, {"r": "1"})  # the root is tagged while only virtual
    store.delete_domain(OWNER, "acme")
    assert store.get_tags(group.arn) == {}
    assert store.get_tags(root_arn) == {}
    with store.engine.connect() as conn:
        assert conn.execute(select(schema.package_groups)).all() == []
        assert conn.execute(select(schema.package_group_allowed_repositories)).all() == []
    store.create_domain(make_domain("acme"), {})
    assert store.list_package_groups(OWNER, "acme") == ()


def test_list_domain_packages_is_distinct_ordered_and_paged(gstore: Store) -> None:
    main = make_repo("acme", "main")
    other = make_repo("acme", "other")
    from coffer.core.packages.package_models import RepoRef

    refs = {r: RepoRef(OWNER, "acme", r.name) for r in (main, other)}
    gstore.add_asset(pver(ref=pref("b", repo=refs[main])), asset("b-1.0.tar.gz"))
    gstore.add_asset(pver(ref=pref("b", repo=refs[other])), asset("b-1.0.tar.gz"))
    gstore.add_asset(pver(ref=pref("a", repo=refs[other])), asset("a-1.0.tar.gz"))
    gstore.add_asset(pver(ref=pref("ui", namespace="space", fmt="npm", repo=refs[main])), asset("ui-1.0.tgz"))
    gstore.add_asset(pver(ref=pref("react", fmt="npm", repo=refs[main])), asset("react-1.0.tgz"))
    everything = gstore.list_domain_packages(OWNER, "acme", None, None, 100)
    assert everything == (("npm", None, "react"), ("npm", "space", "ui"), ("pypi", None, "a"), ("pypi", None, "b"))
    assert gstore.list_domain_packages(OWNER, "acme", "pypi", None, 100) == (("pypi", None, "a"), ("pypi", None, "b"))
    first = gstore.list_domain_packages(OWNER, "acme", None, None, 2)
    assert first == everything[:2]
    assert gstore.list_domain_packages(OWNER, "acme", None, first[-1], 2) == everything[2:]
    assert gstore.list_domain_packages(OWNER, "acme", None, everything[-1], 2) == ()
    assert gstore.list_domain_packages(OWNER, "nope", None, None, 2) == ()


def test_migration_5_is_frozen_and_upgrades_a_version_4_database(db_url: str) -> None:
    engine = create_engine_for(db_url)
    try:
        with engine.begin() as conn:  # a database as Coffer 4 made it
            schema_version.create(conn)
            for number in (1, 2, 3, 4):
                MIGRATIONS[number - 1](conn)
                conn.execute(schema_version.insert().values(version=number, applied_at=1.0))
        old = SqlStore(engine)
        old.create_domain(make_domain("acme"), {})
        assert apply_migrations(engine) == LATEST_VERSION - 4
        tables = set(inspect(engine).get_table_names())
        assert {"package_groups", "package_group_allowed_repositories"} <= tables
        assert tables == set(schema.metadata.tables) | {"schema_version"}
        for name in ("package_groups", "package_group_allowed_repositories"):
            frozen = [(c.name, str(c.type), c.nullable) for c in m0005_package_groups.metadata.tables[name].columns]
            current = [(c.name, str(c.type), c.nullable) for c in schema.metadata.tables[name].columns]
            assert frozen == current, name
    finally:
        engine.dispose()
    upgraded = open_store(db_url)
    try:  # an old domain takes groups
        upgraded.create_package_group(make_group("/npm/*"), {})
        assert [g.pattern for g in upgraded.list_package_groups(OWNER, "acme")] == ["/npm/*"]
    finally:
        upgraded.close()
