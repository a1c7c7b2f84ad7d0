"""The package revisions of repositories (``PackageStore.package_revisions``) and read snapshots
(``Snapshots.snapshot``), checked on every backend (see conftest.py).

The read path serves a package view built before as long as the revisions of its search order are the same, so
every write to a repository's packages must renew its revision, in the write's own transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from sqlalchemy import event, inspect

from coffer.core.packages.package_models import RepoRef
from coffer.core.packages.package_store import FETCHED_FIRST
from coffer.core.ports import Store
from coffer.core.shared.errors import ConflictError
from coffer.store import schema
from coffer.store.engine import create_engine_for
from coffer.store.migrations.runner import LATEST_VERSION, MIGRATIONS, apply_migrations, schema_version
from coffer.store.sql_store import SqlStore, open_store

from .test_package_store_contract import REPO, asset, gref, pref, pver
from .test_store_contract import OWNER, make_domain, make_repo

OTHER = RepoRef(OWNER, "acme", "other")


@pytest.fixture
def pstore(store: SqlStore) -> SqlStore:
    """Domain ``acme`` with repositories ``main`` and ``other``; ``main`` holds ``demo`` 1.0 and 2.0 (tagged
    ``latest``), an npm package, and an Unfinished generic version."""
    store.create_domain(make_domain("acme"), {})
    store.create_repository(make_repo("acme", "main"), {})
    store.create_repository(make_repo("acme", "other"), {})
    store.add_asset(pver("1.0"), asset("demo-1.0.tar.gz"))
    store.add_asset(pver("2.0"), asset("demo-2.0.tar.gz"))
    npm = pref("ui", fmt="npm")
    store.add_asset(pver("1.0.0", npm), asset("ui-1.0.0.tgz"))
    store.set_package_tag(npm, "latest", "1.0.0")
    store.add_asset_to_unfinished(pver("1.0", gref(), status="Unfinished"), asset("a.bin"), finish=False)
    return store


WRITES: dict[str, Callable[[Store], object]] = {
    "add_asset (new version)": lambda s: s.add_asset(pver("3.0"), asset("demo-3.0.tar.gz")),
    "add_asset (new file of a version)": lambda s: s.add_asset(pver("1.0"), asset("demo-1.0-py3-none-any.whl")),
    "put_origin_configuration": lambda s: s.put_origin_configuration(pref(), FETCHED_FIRST, "demo"),
    "set_status": lambda s: s.set_status(pref(), "1.0", "Unlisted", None),
    "delete_version": lambda s: s.delete_version(pref(), "1.0", None),
    "delete_package": lambda s: s.delete_package(pref()),
    "set_package_tag": lambda s: s.set_package_tag(pref("ui", fmt="npm"), "beta", "1.0.0"),
    "delete_package_tag": lambda s: s.delete_package_tag(pref("ui", fmt="npm"), "latest"),
    "update_version_extra": lambda s: s.update_version_extra(pref(), "1.0", {"note": "x"}),
    "add_asset_to_unfinished": lambda s: s.add_asset_to_unfinished(pver("1.0", gref()), asset("b.bin"), finish=True),
}


@pytest.mark.parametrize("write", list(WRITES))
def test_every_package_write_renews_its_repository_revision(pstore: Store, write: str) -> None:
    main, other = pstore.package_revisions([REPO, OTHER])
    assert main is not None and other is not None
    WRITES[write](pstore)
    renewed, other_after = pstore.package_revisions([REPO, OTHER])
    assert renewed not in (None, main)
    assert other_after == other  # another repository's packages did not change
    pstore.add_asset(pver("9.0", pref("second")), asset("second-9.0.tar.gz"))
    assert pstore.package_revisions([REPO])[0] not in (main, renewed)  # each write a new value


def test_reads_and_refused_writes_keep_the_revision(pstore: Store) -> None:
    before = pstore.package_revisions([REPO, OTHER])
    pstore.get_package(pref())
    pstore.list_versions(pref(), status=None, after=None, limit=10)
    pstore.list_package_assets(pref())
    pstore.get_package_tags(pref("ui", fmt="npm"))
    with pytest.raises(ConflictError):  # the same file again: the whole transaction is rolled back
        pstore.add_asset(pver("1.0"), replace(asset("demo-1.0.tar.gz"), blob=asset("other").blob))
    assert pstore.package_revisions([REPO, OTHER]) == before


def test_revisions_of_missing_and_recreated_repositories(pstore: Store) -> None:
    missing = RepoRef(OWNER, "acme", "absent")
    elsewhere = RepoRef(OWNER, "nowhere", "main")
    assert pstore.package_revisions([missing, REPO, elsewhere])[0::2] == (None, None)
    assert pstore.package_revisions([]) == ()
    untouched = pstore.package_revisions([OTHER])[0]
    pstore.delete_repository(OWNER, "acme", "other")
    assert pstore.package_revisions([OTHER]) == (None,)
    pstore.create_repository(make_repo("acme", "other"), {})
    again = pstore.package_revisions([OTHER])[0]
    assert again is not None and again != untouched  # never written either, yet not the same repository


def test_repositories_of_two_domains_in_one_call(pstore: Store) -> None:
    pstore.create_domain(make_domain("beta"), {})
    pstore.create_repository(make_repo("beta", "main"), {})
    beta = RepoRef(OWNER, "beta", "main")
    first = pstore.package_revisions([beta, REPO, OTHER])
    assert None not in first and len(set(first)) == 3
    pstore.add_asset(pver("1.0", pref(repo=beta)), asset("demo-1.0.tar.gz"))
    second = pstore.package_revisions([beta, REPO, OTHER])
    assert second[0] != first[0] and second[1:] == first[1:]


def test_another_store_sees_a_write_at_once(stores: Callable[[], SqlStore], pstore: SqlStore) -> None:
    reader = stores()
    before = reader.package_revisions([REPO])
    WRITES["set_status"](pstore)
    assert reader.package_revisions([REPO]) != before


# --- snapshots ------------------------------------------------------------------------------------------------


def _begins(store: SqlStore) -> list[object]:
    seen: list[object] = []
    event.listen(store.engine, "begin", seen.append)
    return seen


def test_reads_in_a_snapshot_take_one_transaction(pstore: SqlStore) -> None:
    begins = _begins(pstore)
    pstore.get_package(pref())
    pstore.list_package_assets(pref())
    assert len(begins) == 2
    begins.clear()
    with pstore.snapshot():
        pstore.get_package(pref())
        pstore.list_versions(pref(), status=None, after=None, limit=10)
        with pstore.snapshot():  # nested: joins the outer one
            pstore.list_package_assets(pref())
        pstore.package_revisions([REPO])
    assert len(begins) == 1


def test_a_snapshot_sees_one_state(stores: Callable[[], SqlStore], pstore: SqlStore) -> None:
    writer = stores()
    with pstore.snapshot():
        first = pstore.get_version(pref(), "1.0")
        writer.set_status(pref(), "1.0", "Archived", None)  # committed by another connection meanwhile
        assert pstore.get_version(pref(), "1.0") == first
        assert pstore.get_package(pref()) is not None
    after = pstore.get_version(pref(), "1.0")
    assert first is not None and first.status == "Published"
    assert after is not None and after.status == "Archived"


def test_a_write_in_a_snapshot_has_its_own_transaction(pstore: SqlStore) -> None:
    with pstore.snapshot():
        before = pstore.get_version(pref(), "1.0")
        pstore.set_status(pref(), "1.0", "Unlisted", None)  # commits on its own
        assert pstore.get_version(pref(), "1.0") == before  # the snapshot still sees its state
    after = pstore.get_version(pref(), "1.0")
    assert after is not None and after.status == "Unlisted"


def test_an_error_in_a_snapshot_leaves_the_store_usable(pstore: SqlStore) -> None:
    with pytest.raises(RuntimeError), pstore.snapshot():
        pstore.get_package(pref())
        raise RuntimeError("boom")
    assert pstore.get_package(pref()) is not None


# --- migration 7 ------------------------------------------------------------------------------------------------


def test_migration_7_upgrades_a_version_6_database(db_url: str) -> None:
    assert LATEST_VERSION == 7
    engine = create_engine_for(db_url)
    try:
        with engine.begin() as conn:  # a database as Coffer 6 made it
            schema_version.create(conn)
            for number in range(1, 7):
                MIGRATIONS[number - 1](conn)
                conn.execute(schema_version.insert().values(version=number, applied_at=1.0))
        assert "package_revision" not in {c["name"] for c in inspect(engine).get_columns("repositories")}
        assert apply_migrations(engine) == 1
        columns = {c["name"]: c for c in inspect(engine).get_columns("repositories")}
        assert columns["package_revision"]["nullable"]
        assert set(columns) == set(schema.repositories.c.keys())
    finally:
        engine.dispose()
    upgraded = open_store(db_url)
    try:
        upgraded.create_domain(make_domain("acme"), {})
        upgraded.create_repository(make_repo("acme", "main"), {})
        before = upgraded.package_revisions([REPO])[0]
        upgraded.add_asset(pver("1.0"), asset("demo-1.0.tar.gz"))
        assert upgraded.package_revisions([REPO])[0] not in (None, before)
    finally:
        upgraded.close()
