"""The PackageStore and RevocationStore contract (coffer.core.ports), checked on every backend (see conftest.py)."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from sqlalchemy import inspect, select

from coffer.core.packages.package_models import Asset, BlobInfo, PackageRef, PackageVersion, RepoRef
from coffer.core.packages.package_store import FETCHED_FIRST, PUBLISHED_FIRST, OriginConfiguration
from coffer.core.ports import Store
from coffer.core.shared.errors import ConflictError, ResourceNotFoundError, ValidationError
from coffer.store import schema
from coffer.store.engine import create_engine_for
from coffer.store.migrations import m0001_initial
from coffer.store.migrations.runner import LATEST_VERSION, MIGRATIONS, apply_migrations, schema_version
from coffer.store.sql_store import SqlStore, open_store

from .test_store_contract import OWNER, TRICKY_NAMES, make_domain, make_repo, race

REPO = RepoRef(OWNER, "acme", "main")


@pytest.fixture
def pstore(store: SqlStore) -> Store:
    """A store with domain ``acme`` holding repositories ``main`` and ``other``."""
    store.create_domain(make_domain("acme"), {})
    store.create_repository(make_repo("acme", "main"), {})
    store.create_repository(make_repo("acme", "other"), {})
    return store


def pref(name: str = "demo", namespace: str | None = None, fmt: str = "pypi", repo: RepoRef = REPO) -> PackageRef:
    return PackageRef(repo=repo, format=fmt, namespace=namespace, name=name)


def blob(tag: str) -> BlobInfo:
    h = f"{abs(hash(tag)):x}".rjust(16, "0")[:16]
    return BlobInfo(sha256=(h * 4), size=len(tag) * 1000 + 2**33, md5=h * 2, sha1=(h * 3)[:40], sha512=h * 8)


def asset(name: str = "demo-1.0.tar.gz", created: float = 1_700_000_500.25, metadata: str | None = None) -> Asset:
    return Asset(name=name, blob=blob(name), created_at=created, metadata_sha256=metadata)


def pver(
    version: str = "1.0",
    ref: PackageRef | None = None,
    *,
    published: float = 1_700_000_400.5,
    status: str = "Published",
    **fields: object,
) -> PackageVersion:
    return PackageVersion(
        package=ref or pref(),
        version=version,
        display_version=fields.pop("display_version", version),  # type: ignore[arg-type]
        status=status,
        revision="ignored",
        published_time=published,
        **fields,  # type: ignore[arg-type]
    )


def same_fields(a: PackageVersion, b: PackageVersion) -> bool:
    """Equal apart from the revision (which the store makes)."""
    return replace(a, revision="") == replace(b, revision="") and a.extra == b.extra


# --- add_asset and reads ------------------------------------------------------------------------------


def test_add_asset_creates_package_and_version(pstore: Store) -> None:
    ref = pref("my-pkg")
    version = pver(
        "1.0.0",
        ref,
        display_version="1.0",
        summary="A demo",
        home_page="https://example.com",
        source_code_repository="https://git.example.com/demo",
        licenses=("MIT", "Apache-2.0"),
        requires_python=">=3.9",
        readme="# Demo\n\nÜnïcode ✓",
        readme_content_type="text/markdown",
        origin_repository=RepoRef(OWNER, "acme", "main"),
        extra={"display_name": "My_Pkg", "k": "v"},
    )
    a = asset("my_pkg-1.0.tar.gz", metadata="f" * 64)
    stored = pstore.add_asset(version, a)
    assert same_fields(stored, version)
    assert stored.revision and stored.revision != "ignored"
    assert pstore.get_version(ref, "1.0.0") == stored
    assert pstore.get_version(ref, "1.0.0").extra == version.extra  # type: ignore[union-attr]
    package = pstore.get_package(ref)
    assert package is not None
    assert package.ref == ref
    assert package.display_name == "My_Pkg"
    assert (package.publish, package.upstream) == ("ALLOW", "BLOCK")  # published first: PUBLISHED_FIRST
    assert pstore.list_assets(ref, "1.0.0") == [a]
    assert pstore.list_assets(ref, "1.0.0")[0].blob.size > 2**32  # 64-bit sizes


def test_add_asset_defaults_round_trip(pstore: Store) -> None:
    version = pver()
    stored = pstore.add_asset(version, asset())
    got = pstore.get_version(pref(), "1.0")
    assert got is not None
    assert got == stored
    assert got.requires_python is None
    assert got.origin_repository is None
    assert got.licenses == ()
    assert got.extra == {}
    assert pstore.get_package(pref()).display_name == "demo"  # type: ignore[union-attr]


def test_more_assets_keep_the_version_and_change_the_revision(pstore: Store) -> None:
    first = pstore.add_asset(pver(summary="first"), asset("b.whl"))
    second = pstore.add_asset(
        pver(summary="second", status="Unfinished", published=1.0, extra={"display_name": "Other"}), asset("a.tar.gz")
    )
    assert second.revision != first.revision
    assert replace(second, revision=first.revision) == first  # every other field as first published
    assert second.summary == "first"
    assert pstore.get_version(pref(), "1.0") == second
    assert [x.name for x in pstore.list_assets(pref(), "1.0")] == ["a.tar.gz", "b.whl"]
    assert pstore.get_package(pref()).display_name == "demo"  # type: ignore[union-attr]


def test_revisions_are_fresh_url_safe_strings(pstore: Store) -> None:
    seen = set()
    for i in range(5):
        seen.add(pstore.add_asset(pver(), asset(f"f{i}")).revision)
    seen.add(pstore.set_status(pref(), "1.0", "Unlisted", None).revision)
    seen.add(pstore.set_status(pref(), "1.0", "Unlisted", None).revision)
    assert len(seen) == 7
    assert all(r and all(c.isalnum() or c in "-_" for c in r) for r in seen)


def test_asset_conflict(pstore: Store) -> None:
    stored = pstore.add_asset(pver(), asset("demo-1.0.tar.gz"))
    with pytest.raises(ConflictError) as err:
        pstore.add_asset(pver(), replace(asset("demo-1.0.tar.gz"), created_at=5.0))
    assert err.value.resource_id == "demo-1.0.tar.gz"
    assert err.value.resource_type == "asset"
    assert err.value.message == "File demo-1.0.tar.gz already exists in demo 1.0"
    # nothing changed, not even the revision
    assert pstore.get_version(pref(), "1.0") == stored
    assert pstore.list_assets(pref(), "1.0") == [asset("demo-1.0.tar.gz")]
    # the same file name in another version or package is fine
    pstore.add_asset(pver("2.0"), asset("demo-1.0.tar.gz"))
    pstore.add_asset(pver("1.0", pref("else")), asset("demo-1.0.tar.gz"))


def test_asset_conflict_message_names_the_namespace(pstore: Store) -> None:
    ref = pref("left-pad", "scope", "npm")
    pstore.add_asset(pver("1.0.0", ref), asset("left-pad-1.0.0.tgz"))
    with pytest.raises(ConflictError) as err:
        pstore.add_asset(pver("1.0.0", ref), asset("left-pad-1.0.0.tgz"))
    assert err.value.message == "File left-pad-1.0.0.tgz already exists in scope/left-pad 1.0.0"


def test_add_asset_to_a_missing_repository(pstore: Store) -> None:
    for repo in (
        RepoRef(OWNER, "acme", "nope"),
        RepoRef(OWNER, "nope", "main"),
        RepoRef("999999999999", "acme", "main"),
    ):
        with pytest.raises(ResourceNotFoundError) as err:
            pstore.add_asset(pver("1.0", pref(repo=repo)), asset())
        assert err.value.resource_type == "repository"
        assert err.value.resource_id == repo.name
    assert pstore.list_packages(REPO, format=None, namespace=None, prefix=None, after=None, limit=10).items == ()


def test_reads_of_absent_things(pstore: Store) -> None:
    missing_repo = RepoRef(OWNER, "acme", "nope")
    assert pstore.get_package(pref()) is None
    assert pstore.get_package(pref(repo=missing_repo)) is None
    assert pstore.get_version(pref(), "1.0") is None
    assert pstore.list_assets(pref(), "1.0") == []
    assert pstore.list_versions(pref(), status=None, after=None, limit=5).items == ()
    page = pstore.list_packages(missing_repo, format=None, namespace=None, prefix=None, after=None, limit=5)
    assert page.items == () and page.next_key is None
    pstore.add_asset(pver(), asset())
    assert pstore.get_version(pref(), "2.0") is None
    assert pstore.list_assets(pref(), "2.0") == []
    assert pstore.get_package(pref(fmt="npm")) is None
    assert pstore.get_package(pref(repo=RepoRef(OWNER, "acme", "other"))) is None


def test_packages_are_per_repository(pstore: Store) -> None:
    other = RepoRef(OWNER, "acme", "other")
    pstore.add_asset(pver("1.0"), asset("x"))
    pstore.add_asset(pver("2.0", pref(repo=other)), asset("x"))
    assert pstore.get_version(pref(), "2.0") is None
    assert pstore.get_version(pref(repo=other), "1.0") is None
    assert pstore.get_package(pref(repo=other)).ref.repo == other  # type: ignore[union-attr]
    pstore.delete_package(pref())
    assert pstore.get_version(pref(repo=other), "2.0") is not None


def test_namespace_none_and_empty_are_the_same(pstore: Store) -> None:
    stored = pstore.add_asset(pver("1.0", pref(namespace="")), asset("a"))
    assert stored.package.namespace is None
    again = pstore.add_asset(pver("1.0", pref(namespace=None)), asset("b"))
    assert again.package == pref()
    for ns in (None, ""):
        package = pstore.get_package(pref(namespace=ns))
        assert package is not None and package.ref.namespace is None
        assert pstore.get_version(pref(namespace=ns), "1.0") == again
        assert [x.name for x in pstore.list_assets(pref(namespace=ns), "1.0")] == ["a", "b"]
    # a namespaced package of the same name is another package
    pstore.add_asset(pver("1.0", pref(namespace="ns")), asset("a"))
    page = pstore.list_packages(REPO, format=None, namespace=None, prefix=None, after=None, limit=10)
    assert [p.ref.namespace for p in page.items] == [None, "ns"]
    only = pstore.list_packages(REPO, format=None, namespace="ns", prefix=None, after=None, limit=10)
    assert [p.ref for p in only.items] == [pref(namespace="ns")]
    assert pstore.delete_package(pref(namespace="")).ref.namespace is None
    assert pstore.get_package(pref()) is None
    assert pstore.get_package(pref(namespace="ns")) is not None


# --- origin configuration ------------------------------------------------------------------------------


def origin_of(store: Store, ref: PackageRef) -> tuple[str, str]:
    package = store.get_package(ref)
    assert package is not None
    return package.publish, package.upstream


def test_add_asset_gives_a_new_package_the_origin_it_is_told(pstore: Store) -> None:
    pstore.add_asset(pver("1.0", pref("published")), asset("a"))
    pstore.add_asset(pver("1.0", pref("fetched")), asset("b"), origin=FETCHED_FIRST)
    assert origin_of(pstore, pref("published")) == ("ALLOW", "BLOCK")
    assert origin_of(pstore, pref("fetched")) == ("BLOCK", "ALLOW")
    # later versions and files never change an existing package's configuration
    pstore.add_asset(pver("2.0", pref("published")), asset("c"), origin=FETCHED_FIRST)
    pstore.add_asset(pver("1.0", pref("fetched")), asset("d"), origin=PUBLISHED_FIRST)
    assert origin_of(pstore, pref("published")) == ("ALLOW", "BLOCK")
    assert origin_of(pstore, pref("fetched")) == ("BLOCK", "ALLOW")


def test_put_origin_configuration_on_a_missing_package_makes_a_record_without_versions(pstore: Store) -> None:
    ref = pref("future", "ns")
    made = pstore.put_origin_configuration(ref, OriginConfiguration("BLOCK", "BLOCK"), "Future")
    assert (made.ref, made.display_name, made.publish, made.upstream) == (ref, "Future", "BLOCK", "BLOCK")
    assert pstore.get_package(ref) == made
    assert pstore.list_versions(ref, status=None, after=None, limit=10).items == ()
    listed = pstore.list_packages(REPO, format=None, namespace=None, prefix=None, after=None, limit=10).items
    assert listed == (made,)
    assert pstore.get_package(replace(ref, repo=RepoRef(OWNER, "acme", "other"))) is None
    # the record keeps its restrictions (and display name) when the first version arrives
    pstore.add_asset(pver("1.0", ref), asset(), origin=PUBLISHED_FIRST)
    assert origin_of(pstore, ref) == ("BLOCK", "BLOCK")
    assert pstore.get_package(ref).display_name == "Future"  # type: ignore[union-attr]
    # the record can be deleted like any package
    pstore.delete_package(ref)
    assert pstore.get_package(ref) is None


def test_put_origin_configuration_changes_only_the_restrictions(pstore: Store) -> None:
    ref = pref("demo")
    stored = pstore.add_asset(pver("1.0", ref, extra={"display_name": "Demo"}), asset())
    changed = pstore.put_origin_configuration(ref, OriginConfiguration("ALLOW", "ALLOW"), "ignored")
    assert (changed.publish, changed.upstream, changed.display_name) == ("ALLOW", "ALLOW", "Demo")
    assert pstore.get_version(ref, "1.0") == stored
    assert pstore.put_origin_configuration(ref, FETCHED_FIRST, "x").publish == "BLOCK"
    assert origin_of(pstore, ref) == ("BLOCK", "ALLOW")


def test_put_origin_configuration_in_a_missing_repository(pstore: Store) -> None:
    with pytest.raises(ResourceNotFoundError):
        pstore.put_origin_configuration(pref(repo=RepoRef(OWNER, "acme", "ghost")), PUBLISHED_FIRST, "x")
    with pytest.raises(ResourceNotFoundError):
        pstore.put_origin_configuration(pref(repo=RepoRef(OWNER, "nodomain", "main")), PUBLISHED_FIRST, "x")


def test_concurrent_put_origin_configuration_on_a_missing_package(pstore: Store) -> None:
    modes = [FETCHED_FIRST, PUBLISHED_FIRST] * 3
    outcomes = race(6, lambda i: pstore.put_origin_configuration(pref("contested"), modes[i], "contested"))
    assert outcomes == [None] * 6
    assert origin_of(pstore, pref("contested")) in {("BLOCK", "ALLOW"), ("ALLOW", "BLOCK")}
    page = pstore.list_packages(REPO, format=None, namespace=None, prefix=None, after=None, limit=10)
    assert len(page.items) == 1


# --- concurrency --------------------------------------------------------------------------------------


def test_concurrent_uploads_of_one_file(pstore: Store) -> None:
    for round_ in range(4):
        ref = pref(f"race{round_}")
        version = pver("1.0", ref)

        def upload(i: int, v: PackageVersion = version) -> None:
            pstore.add_asset(v, replace(asset(), created_at=i))

        outcomes = race(2 if round_ == 0 else 6, upload)
        winners = [i for i, o in enumerate(outcomes) if o is None]
        assert len(winners) == 1, outcomes
        assert all(isinstance(o, ConflictError) and o.resource_type == "asset" for o in outcomes if o is not None)
        assert pstore.list_assets(ref, "1.0") == [replace(asset(), created_at=winners[0])]


def test_concurrent_uploads_of_different_files(pstore: Store) -> None:
    outcomes = race(6, lambda i: pstore.add_asset(pver("1.0"), asset(f"file{i}")))
    assert outcomes == [None] * 6
    assert [a.name for a in pstore.list_assets(pref(), "1.0")] == [f"file{i}" for i in range(6)]
    page = pstore.list_packages(REPO, format=None, namespace=None, prefix=None, after=None, limit=10)
    assert len(page.items) == 1


# --- statuses and deletion ----------------------------------------------------------------------------


def test_set_status(pstore: Store) -> None:
    stored = pstore.add_asset(pver(), asset())
    unlisted = pstore.set_status(pref(), "1.0", "Unlisted", None)
    assert unlisted.status == "Unlisted"
    assert unlisted.revision != stored.revision
    assert replace(unlisted, status="Published", revision=stored.revision) == stored
    assert pstore.get_version(pref(), "1.0") == unlisted
    archived = pstore.set_status(pref(), "1.0", "Archived", "Unlisted")
    assert archived.status == "Archived"
    with pytest.raises(ConflictError) as err:
        pstore.set_status(pref(), "1.0", "Published", "Unlisted")
    assert err.value.resource_type == "package-version"
    assert err.value.resource_id == "1.0"
    assert pstore.get_version(pref(), "1.0") == archived
    for ref, version in ((pref(), "2.0"), (pref("nope"), "1.0"), (pref(repo=RepoRef(OWNER, "acme", "nope")), "1.0")):
        for expected in (None, "Archived"):
            with pytest.raises(ResourceNotFoundError) as missing:
                pstore.set_status(ref, version, "Published", expected)
            assert missing.value.resource_type == "package-version"
    # the status survives more uploads
    assert pstore.add_asset(pver(), asset("second")).status == "Archived"


def test_concurrent_status_changes_with_one_expected_status(pstore: Store) -> None:
    pstore.add_asset(pver(), asset())
    targets = ["Unlisted", "Archived", "Disposed", "Unlisted", "Archived", "Disposed"]
    outcomes = race(6, lambda i: pstore.set_status(pref(), "1.0", targets[i], "Published"))
    winners = [i for i, o in enumerate(outcomes) if o is None]
    assert len(winners) == 1, outcomes
    assert all(isinstance(o, ConflictError) for o in outcomes if o is not None), outcomes
    assert pstore.get_version(pref(), "1.0").status == targets[winners[0]]  # type: ignore[union-attr]


def test_delete_version(pstore: Store) -> None:
    pstore.add_asset(pver("1.0"), asset("a"))
    stored = pstore.add_asset(pver("1.0"), asset("b"))
    pstore.add_asset(pver("2.0"), asset("a"))
    with pytest.raises(ConflictError):
        pstore.delete_version(pref(), "1.0", "Archived")
    assert pstore.delete_version(pref(), "1.0", "Published") == stored
    assert pstore.get_version(pref(), "1.0") is None
    assert pstore.list_assets(pref(), "1.0") == []
    assert pstore.get_version(pref(), "2.0") is not None
    with pytest.raises(ResourceNotFoundError) as err:
        pstore.delete_version(pref(), "1.0", None)
    assert err.value.resource_type == "package-version"
    pstore.delete_version(pref(), "2.0", None)
    # the package row stays, without versions
    assert pstore.get_package(pref()) is not None
    assert pstore.list_versions(pref(), status=None, after=None, limit=5).items == ()
    # and the version can be published again, from scratch
    again = pstore.add_asset(pver("1.0", summary="again"), asset("a"))
    assert again.summary == "again"
    assert [x.name for x in pstore.list_assets(pref(), "1.0")] == ["a"]


def test_delete_package(pstore: Store) -> None:
    pstore.add_asset(pver("1.0", extra={"display_name": "Demo"}), asset("a"))
    pstore.add_asset(pver("2.0"), asset("b"))
    pstore.add_asset(pver("1.0", pref("kept")), asset("a"))
    deleted = pstore.delete_package(pref())
    assert deleted.ref == pref() and deleted.display_name == "Demo"
    assert pstore.get_package(pref()) is None
    assert pstore.get_version(pref(), "1.0") is None
    assert pstore.list_assets(pref(), "2.0") == []
    with pytest.raises(ResourceNotFoundError) as err:
        pstore.delete_package(pref())
    assert err.value.resource_type == "package"
    assert err.value.resource_id == "demo"
    assert pstore.get_version(pref("kept"), "1.0") is not None
    # publishing again starts a new package
    pstore.add_asset(pver("3.0"), asset("c"))
    assert pstore.get_package(pref()).display_name == "demo"  # type: ignore[union-attr]
    assert [v.version for v in pstore.list_versions(pref(), status=None, after=None, limit=5).items] == ["3.0"]


def test_deleting_a_repository_deletes_its_packages(pstore: Store) -> None:
    other = RepoRef(OWNER, "acme", "other")
    pstore.add_asset(pver("1.0"), asset("a"))
    pstore.add_asset(pver("1.0", pref("second")), asset("a"))
    pstore.add_asset(pver("1.0", pref(repo=other)), asset("a"))
    pstore.delete_repository(OWNER, "acme", "main")
    pstore.create_repository(make_repo("acme", "main"), {})
    assert pstore.get_package(pref()) is None
    assert pstore.get_version(pref(), "1.0") is None
    assert pstore.list_assets(pref(), "1.0") == []
    assert pstore.list_packages(REPO, format=None, namespace=None, prefix=None, after=None, limit=10).items == ()
    assert pstore.get_version(pref(repo=other), "1.0") is not None
    # the domain goes once its repositories have
    with pytest.raises(ConflictError):
        pstore.delete_domain(OWNER, "acme")
    pstore.delete_repository(OWNER, "acme", "main")
    pstore.delete_repository(OWNER, "acme", "other")
    pstore.delete_domain(OWNER, "acme")
    assert pstore.get_package(pref(repo=other)) is None


def test_no_rows_are_left_behind(store: SqlStore, pstore: Store) -> None:
    pstore.add_asset(pver("1.0"), asset("a"))
    pstore.add_asset(pver("2.0", pref("x", "ns", "npm")), asset("b"))
    pstore.delete_repository(OWNER, "acme", "main")
    with store.engine.connect() as conn:
        for table in (schema.packages, schema.package_versions, schema.assets):
            assert conn.execute(select(table)).all() == [], table.name


# --- blobs in use (garbage collection) ---------------------------------------------------------------


def test_blobs_in_use_as_file_or_metadata_in_any_repository(pstore: Store) -> None:
    metadata = "4d" * 32
    wheel = asset("demo-1.0-py3-none-any.whl", metadata=metadata)
    pstore.add_asset(pver("1.0"), wheel)
    elsewhere = asset("demo-2.0.tar.gz")
    pstore.add_asset(pver("2.0", pref(repo=RepoRef(OWNER, "acme", "other"))), elsewhere)
    deleted = asset("demo-3.0.tar.gz")
    pstore.add_asset(pver("3.0"), deleted)
    shared = asset("demo-4.0.tar.gz")  # the same bytes in a kept and a deleted version
    pstore.add_asset(pver("4.0"), shared)
    pstore.add_asset(pver("4.0", pref("twin")), replace(shared, name="twin-4.0.tar.gz"))
    pstore.delete_version(pref(), "3.0", None)
    pstore.delete_version(pref(), "4.0", None)
    unknown = "f" * 64
    asked = iter([wheel.blob.sha256, metadata, elsewhere.blob.sha256, deleted.blob.sha256, shared.blob.sha256, unknown])
    assert pstore.blobs_in_use(asked) == {wheel.blob.sha256, metadata, elsewhere.blob.sha256, shared.blob.sha256}
    assert pstore.blobs_in_use([]) == set()
    # more digests than one query takes, duplicates included
    many = [f"{i:064x}" for i in range(1_200)] + [metadata, elsewhere.blob.sha256, metadata]
    assert pstore.blobs_in_use(many) == {metadata, elsewhere.blob.sha256}
    pstore.delete_package(pref())
    pstore.delete_package(pref("twin"))
    assert pstore.blobs_in_use([wheel.blob.sha256, metadata, shared.blob.sha256]) == set()


# --- listings -----------------------------------------------------------------------------------------


def walk_packages(store: Store, limit: int, **filters: str | None) -> list[PackageRef]:
    args: dict[str, str | None] = {"format": None, "namespace": None, "prefix": None}
    args.update(filters)
    out: list[PackageRef] = []
    after: str | None = None
    while True:
        page = store.list_packages(REPO, **args, after=after, limit=limit)
        out.extend(p.ref for p in page.items)
        if page.next_key is None:
            return out
        assert len(page.items) == limit
        after = page.next_key


def test_list_packages_order_filters_and_pages(pstore: Store) -> None:
    refs = [pref(n, ns, fmt) for fmt in ("pypi", "npm") for ns in (None, "b", "a") for n in TRICKY_NAMES]
    for ref in refs:
        pstore.add_asset(pver("1.0", ref), asset("f"))
    expected = sorted(refs, key=lambda r: (r.format.encode(), (r.namespace or "").encode(), r.name.encode()))
    for limit in (1, 2, 7, len(refs), len(refs) + 1):
        assert walk_packages(pstore, limit) == expected
    assert walk_packages(pstore, 5, format="npm") == [r for r in expected if r.format == "npm"]
    assert walk_packages(pstore, 5, namespace="a") == [r for r in expected if r.namespace == "a"]
    assert walk_packages(pstore, 3, format="pypi", namespace="b") == [
        r for r in expected if r.format == "pypi" and r.namespace == "b"
    ]
    assert walk_packages(pstore, 3, prefix="a") == [r for r in expected if r.name.startswith("a")]
    # literal and case-sensitive
    assert walk_packages(pstore, 3, prefix="a_") == [r for r in expected if r.name == "a_b"]
    assert walk_packages(pstore, 3, prefix="a%") == []
    assert walk_packages(pstore, 3, prefix="B") == [r for r in expected if r.name == "B"]
    assert walk_packages(pstore, 3, format="maven") == []


def test_list_packages_rejects_bad_tokens_and_limits(pstore: Store) -> None:
    for token in ("not base64!", "bm9wZQ", "WyJhIl0"):  # garbage, "nope", ["a"]
        with pytest.raises(ValidationError):
            pstore.list_packages(REPO, format=None, namespace=None, prefix=None, after=token, limit=5)
    with pytest.raises(ValidationError):
        pstore.list_packages(REPO, format=None, namespace=None, prefix=None, after=None, limit=0)
    with pytest.raises(ValidationError):
        pstore.list_versions(pref(), status=None, after=None, limit=0)
    with pytest.raises(ValidationError):
        pstore.list_versions(pref(), status=None, after="WyJhIl0", limit=5)


def walk_versions(store: Store, limit: int, status: str | None = None) -> list[str]:
    out: list[str] = []
    after: str | None = None
    while True:
        page = store.list_versions(pref(), status=status, after=after, limit=limit)
        out.extend(v.version for v in page.items)
        if page.next_key is None:
            return out
        assert len(page.items) == limit
        after = page.next_key


def test_list_versions_order_status_and_pages(pstore: Store) -> None:
    # published times with ties (then ordered by version, bytewise) and fractions that must survive tokens
    published = {
        "3.0": 1_700_000_000.1,
        "1.0": 1_700_000_000.1,
        "1.10": 1_700_000_000.1,
        "2.0": 1_600_000_000.3333333,
        "0.1": 1_800_000_000.0,
        "1.9": 1_700_000_000.1000001,
    }
    for version, t in published.items():
        pstore.add_asset(pver(version, published=t), asset("f"))
    expected = ["2.0", "1.0", "1.10", "3.0", "1.9", "0.1"]
    for limit in (1, 2, 4, 6, 7):
        assert walk_versions(pstore, limit) == expected
    pstore.set_status(pref(), "1.10", "Unlisted", None)
    pstore.set_status(pref(), "0.1", "Unlisted", None)
    assert walk_versions(pstore, 1, "Unlisted") == ["1.10", "0.1"]
    assert walk_versions(pstore, 2, "Published") == ["2.0", "1.0", "3.0", "1.9"]
    assert walk_versions(pstore, 2, "Archived") == []
    page = pstore.list_versions(pref(), status=None, after=None, limit=6)
    assert all(v.package == pref() for v in page.items)
    assert page.items[0] == pstore.get_version(pref(), "2.0")


# --- revoked tokens -----------------------------------------------------------------------------------


def test_revoked_tokens(store: Store) -> None:
    assert store.revoked_tokens(100.0) == set()
    store.revoke_token("t1", expires_at=200.0, revoked_at=50.0)
    store.revoke_token("t2", expires_at=150.5, revoked_at=60.0)
    store.revoke_token("t1", expires_at=200.0, revoked_at=70.0)  # idempotent
    store.revoke_token("t1", expires_at=200.0, revoked_at=70.0)
    assert store.revoked_tokens(100.0) == {"t1", "t2"}
    assert store.revoked_tokens(150.5) == {"t1"}  # expired at 150.5
    assert store.revoked_tokens(200.0) == set()
    now = time.time()
    store.revoke_token("t3", expires_at=now + 3600, revoked_at=now)
    store.revoke_token("old", expires_at=now - 1, revoked_at=now - 3600)
    assert store.revoked_tokens(now) == {"t3"}


def test_concurrent_revocations_of_one_token(store: Store) -> None:
    outcomes = race(6, lambda i: store.revoke_token("tok", expires_at=1e12, revoked_at=float(i)))
    assert outcomes == [None] * 6
    assert store.revoked_tokens(0.0) == {"tok"}


# --- migrations ---------------------------------------------------------------------------------------


def shape(engine: object, tables: list[str]) -> dict[str, object]:
    """Columns (name, nullable), unique keys, foreign keys and indexes of ``tables`` as the database has them."""
    insp = inspect(engine)
    out: dict[str, object] = {}
    for t in tables:
        out[t] = (
            sorted((c["name"], c["nullable"]) for c in insp.get_columns(t)),
            sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(t)),
            sorted(
                (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                for f in insp.get_foreign_keys(t)
            ),
            sorted(tuple(str(c) for c in i["column_names"]) for i in insp.get_indexes(t)),
        )
    return out


def test_version_1_is_frozen_and_a_version_1_database_upgrades(db_url: str) -> None:
    engine = create_engine_for(db_url)
    try:
        # a database as Coffer 1 made it: only migration 1
        with engine.begin() as conn:
            schema_version.create(conn)
            MIGRATIONS[0](conn)
            conn.execute(schema_version.insert().values(version=1, applied_at=1.0))
        v1_tables = sorted(m0001_initial.metadata.tables)
        assert sorted(t for t in inspect(engine).get_table_names() if t != "schema_version") == v1_tables
        v1_shape = shape(engine, v1_tables)
        old = SqlStore(engine)
        old.create_domain(make_domain("acme"), {"a": "1"})
        old.create_repository(make_repo("acme", "main"), {"r": "2"})
        policy = old.put_resource_policy(make_repo("acme", "main").arn, "{}", None)

        assert apply_migrations(engine) == LATEST_VERSION - 1
        assert apply_migrations(engine) == 0
        with engine.connect() as conn:
            assert list(conn.execute(select(schema_version.c.version)).scalars()) == list(range(1, LATEST_VERSION + 1))
        # version-1 tables keep their keys and indexes (migration 4 adds columns), later tables added
        assert {t: s[1:] for t, s in shape(engine, v1_tables).items()} == {t: s[1:] for t, s in v1_shape.items()}
        assert set(inspect(engine).get_table_names()) == set(schema.metadata.tables) | {"schema_version"}
    finally:
        engine.dispose()

    upgraded = open_store(db_url)
    try:
        assert upgraded.get_domain(OWNER, "acme") == replace(make_domain("acme"), repository_count=1)
        assert upgraded.get_tags(make_repo("acme", "main").arn) == {"r": "2"}
        assert upgraded.get_repository(OWNER, "acme", "main") == make_repo("acme", "main")
        assert upgraded.get_resource_policy(make_repo("acme", "main").arn) == policy
        stored = upgraded.add_asset(pver(), asset())
        assert upgraded.get_version(pref(), "1.0") == stored
        upgraded.delete_repository(OWNER, "acme", "main")
        assert upgraded.get_package(pref()) is None
    finally:
        upgraded.close()


def test_a_fresh_database_matches_the_schema(db_url: str) -> None:
    fresh = open_store(db_url)
    try:
        tables = sorted(schema.metadata.tables)
        got = shape(fresh.engine, tables)
        columns = {t: sorted((c.name, bool(c.nullable)) for c in schema.metadata.tables[t].columns) for t in tables}
        assert {t: got[t][0] for t in tables} == columns  # type: ignore[index]
        # version-1 tables as migration 1 defines them, the start of schema.py's (later migrations add columns)
        for name, table in m0001_initial.metadata.tables.items():
            current = [(c.name, str(c.type), c.nullable) for c in schema.metadata.tables[name].columns]
            assert [(c.name, str(c.type), c.nullable) for c in table.columns] == current[: len(table.columns)], name
    finally:
        fresh.close()


def test_package_data_survives_reopen(db_url: str) -> None:
    first = open_store(db_url)
    try:
        first.create_domain(make_domain("acme"), {})
        first.create_repository(make_repo("acme", "main"), {})
        stored = first.add_asset(pver(licenses=("MIT",)), asset(metadata="a" * 64))
        first.revoke_token("t", 2e9, 1e9)
    finally:
        first.close()
    second = open_store(db_url)
    try:
        assert second.get_version(pref(), "1.0") == stored
        assert second.list_assets(pref(), "1.0") == [asset(metadata="a" * 64)]
        assert second.revoked_tokens(1.5e9) == {"t"}
    finally:
        second.close()


# --- file names are never reused with other content (issue 7, defect 7) ---------------------------------


def other_bytes(a: Asset, tag: str = "other") -> Asset:
    """``a`` under its own name, with other content."""
    return replace(a, blob=blob(a.name + tag))


def test_a_deleted_file_name_is_never_reused_with_other_content(pstore: Store) -> None:
    wheel = asset("demo-1.0-py3-none-any.whl")
    pstore.add_asset(pver("1.0"), wheel)
    pstore.delete_version(pref(), "1.0", None)
    with pytest.raises(ConflictError) as err:
        pstore.add_asset(pver("1.0"), other_bytes(wheel))
    assert err.value.resource_type == "asset-name"
    assert err.value.resource_id == wheel.name
    message = err.value.message
    assert wheel.name in message and "already been used" in message and "other content" in message, message
    assert "https://pypi.org/help/#file-name-reuse" in message
    # the refusal wrote nothing: no version was created for it
    assert pstore.get_version(pref(), "1.0") is None
    assert pstore.list_versions(pref(), status=None, after=None, limit=5).items == ()
    # the same bytes again are welcome, as often as the version is deleted
    for _ in range(2):
        again = replace(wheel, created_at=wheel.created_at + 10)
        pstore.add_asset(pver("1.0"), again)
        assert pstore.list_assets(pref(), "1.0") == [again]
        pstore.delete_version(pref(), "1.0", None)
    # deleting the package keeps the names too
    pstore.add_asset(pver("1.0"), wheel)
    pstore.delete_package(pref())
    with pytest.raises(ConflictError) as err:
        pstore.add_asset(pver("1.0"), other_bytes(wheel))
    assert err.value.resource_type == "asset-name"


def test_a_live_file_is_still_a_plain_asset_conflict(pstore: Store) -> None:
    a = asset("demo-1.0.tar.gz")
    pstore.add_asset(pver("1.0"), a)
    for attempt in (a, other_bytes(a)):
        with pytest.raises(ConflictError) as err:
            pstore.add_asset(pver("1.0"), attempt)
        assert err.value.resource_type == "asset"


def test_file_names_are_per_package_and_repository_and_hold_across_versions(pstore: Store) -> None:
    a = asset("shared.tar.gz")
    pstore.add_asset(pver("1.0"), a)
    # another version of the package: the name is taken, whatever the version
    with pytest.raises(ConflictError) as err:
        pstore.add_asset(pver("2.0"), other_bytes(a))
    assert err.value.resource_type == "asset-name"
    pstore.add_asset(pver("2.0"), a)  # the same bytes are fine
    # another package, format, namespace or repository has names of its own
    pstore.add_asset(pver("1.0", pref("else")), other_bytes(a, "else"))
    pstore.add_asset(pver("1.0", pref("demo", fmt="generic", namespace="ns")), other_bytes(a, "generic"))
    pstore.add_asset(pver("1.0", pref(repo=RepoRef(OWNER, "acme", "other"))), other_bytes(a, "repo"))
    # a disposed version keeps its names
    pstore.add_asset(pver("3.0"), asset("three.tar.gz"))
    pstore.set_status(pref(), "3.0", "Disposed", None)
    pstore.delete_version(pref(), "3.0", None)
    with pytest.raises(ConflictError) as err:
        pstore.add_asset(pver("3.0"), other_bytes(asset("three.tar.gz")))
    assert err.value.resource_type == "asset-name"


def test_deleting_the_repository_forgets_its_file_names(store: SqlStore, pstore: Store) -> None:
    a = asset("demo-1.0.tar.gz")
    other = RepoRef(OWNER, "acme", "other")
    pstore.add_asset(pver("1.0"), a)
    pstore.add_asset(pver("1.0", pref(repo=other)), a)
    pstore.delete_version(pref(), "1.0", None)
    with store.engine.connect() as conn:
        assert len(conn.execute(select(schema.asset_names)).all()) == 2
    pstore.delete_repository(OWNER, "acme", "main")
    with store.engine.connect() as conn:
        rows = conn.execute(select(schema.asset_names.c.name, schema.asset_names.c.sha256)).all()
    assert [tuple(r) for r in rows] == [(a.name, a.blob.sha256)]  # the other repository's
    pstore.create_repository(make_repo("acme", "main"), {})
    pstore.add_asset(pver("1.0"), other_bytes(a))  # a new repository of the same name starts afresh
    with pytest.raises(ConflictError):
        pstore.add_asset(pver("2.0", pref(repo=other)), other_bytes(a))


def test_concurrent_first_uses_of_a_file_name_with_different_contents(pstore: Store) -> None:
    for round_ in range(3):
        ref = pref(f"race{round_}")
        name = f"race{round_}.tar.gz"

        def upload(i: int, ref: PackageRef = ref, name: str = name) -> None:
            # each in a version of its own, so that only the name record can decide
            pstore.add_asset(pver(f"{i + 1}.0", ref), other_bytes(asset(name), str(i)))

        outcomes = race(2 if round_ == 0 else 6, upload)
        winners = [i for i, o in enumerate(outcomes) if o is None]
        assert len(winners) == 1, outcomes
        assert all(isinstance(o, ConflictError) and o.resource_type == "asset-name" for o in outcomes if o), outcomes
        versions = pstore.list_versions(ref, status=None, after=None, limit=10).items
        assert [v.version for v in versions] == [f"{winners[0] + 1}.0"]


# --- the domain's asset size (issue 7, defect 8) ----------------------------------------------------------


def test_domain_asset_size_counts_each_content_once(pstore: Store) -> None:
    def size() -> int:
        domain = pstore.get_domain(OWNER, "acme", with_size=True)
        assert domain is not None
        return domain.asset_size_bytes

    assert size() == 0
    a, b, c = asset("a.tar.gz"), asset("b-1.0-py3-none-any.whl", metadata="9" * 64), asset("c.tar.gz")
    pstore.add_asset(pver("1.0"), a)
    pstore.add_asset(pver("1.0"), b)
    assert size() == a.blob.size + b.blob.size  # above 2**33 each: 64-bit sums
    # the same content in another repository, package or under another name is stored once per domain
    pstore.add_asset(pver("1.0", pref(repo=RepoRef(OWNER, "acme", "other"))), a)
    pstore.add_asset(pver("1.0", pref("twin")), replace(a, name="twin.tar.gz"))
    assert size() == a.blob.size + b.blob.size
    pstore.add_asset(pver("2.0"), c)
    assert size() == a.blob.size + b.blob.size + c.blob.size
    # another domain counts its own
    pstore.create_domain(make_domain("second"), {})
    pstore.create_repository(make_repo("second", "r"), {})
    pstore.add_asset(pver("1.0", pref(repo=RepoRef(OWNER, "second", "r"))), a)
    assert pstore.get_domain(OWNER, "second", with_size=True).asset_size_bytes == a.blob.size  # type: ignore[union-attr]
    # deleted and disposed versions no longer count; a content still used elsewhere does
    pstore.set_status(pref(), "2.0", "Disposed", None)
    assert size() == a.blob.size + b.blob.size
    pstore.delete_version(pref(), "1.0", None)
    assert size() == a.blob.size
    pstore.delete_repository(OWNER, "acme", "other")
    pstore.delete_package(pref("twin"))
    assert size() == 0
    # listings carry no size (DomainSummary has none), nor do the existence checks that every request makes
    assert {d.asset_size_bytes for d in pstore.list_domains(OWNER, None, 10).items} == {0}
    pstore.add_asset(pver("3.0"), c)
    assert pstore.get_domain(OWNER, "acme").asset_size_bytes == 0  # type: ignore[union-attr]
    assert size() == c.blob.size


# --- tags (npm dist-tags) and version extra -----------------------------------------------------------------


def test_tags_point_at_versions_of_the_repository(pstore: Store) -> None:
    ref = pref("ui", namespace="acme", fmt="npm")
    pstore.add_asset(pver(ref=ref, version="1.0.0"), asset("ui-1.0.0.tgz"))
    pstore.add_asset(pver(ref=ref, version="2.0.0"), asset("ui-2.0.0.tgz"))
    assert pstore.get_package_tags(ref) == {}
    pstore.set_package_tag(ref, "latest", "1.0.0")
    pstore.set_package_tag(ref, "beta", "2.0.0")
    pstore.set_package_tag(ref, "latest", "2.0.0")  # moved, not added
    assert pstore.get_package_tags(ref) == {"beta": "2.0.0", "latest": "2.0.0"}
    with pytest.raises(ResourceNotFoundError):
        pstore.set_package_tag(ref, "next", "9.9.9")
    with pytest.raises(ResourceNotFoundError):
        pstore.set_package_tag(pref("absent", fmt="npm"), "latest", "1.0.0")
    assert pstore.delete_package_tag(ref, "beta") is True
    assert pstore.delete_package_tag(ref, "beta") is False
    assert pstore.get_package_tags(ref) == {"latest": "2.0.0"}
    # another package of the same name without the scope has tags of its own
    assert pstore.get_package_tags(pref("ui", fmt="npm")) == {}
    pstore.delete_package(ref)
    assert pstore.get_package_tags(ref) == {}


def test_update_version_extra_sets_and_removes_keys_with_a_new_revision(pstore: Store) -> None:
    ref = pref("left-pad", fmt="npm")
    first = pstore.add_asset(
        replace(pver(ref=ref, version="1.0.0"), extra={"npm:manifest": "{}"}), asset("left-pad-1.0.0.tgz")
    )
    updated = pstore.update_version_extra(ref, "1.0.0", {"npm:deprecated": "use 2"})
    assert updated.extra == {"npm:manifest": "{}", "npm:deprecated": "use 2"}
    assert updated.revision != first.revision
    stored = pstore.get_version(ref, "1.0.0")
    assert stored is not None and stored.extra == updated.extra
    cleared = pstore.update_version_extra(ref, "1.0.0", {"npm:deprecated": None})
    assert cleared.extra == {"npm:manifest": "{}"}
    with pytest.raises(ResourceNotFoundError):
        pstore.update_version_extra(ref, "3.0.0", {"npm:deprecated": "x"})


def test_concurrent_extra_updates_all_land(pstore: Store) -> None:
    ref = pref("many", fmt="npm")
    pstore.add_asset(pver(ref=ref, version="1.0.0"), asset("many-1.0.0.tgz"))
    assert race(8, lambda i: pstore.update_version_extra(ref, "1.0.0", {f"k{i}": str(i)})) == [None] * 8
    stored = pstore.get_version(ref, "1.0.0")
    assert stored is not None and {f"k{i}" for i in range(8)} <= set(stored.extra)


# --- add_asset_to_unfinished: versions built asset by asset (generic) ------------------------------------------


def gref(name: str = "tool", repo: RepoRef = REPO) -> PackageRef:
    return pref(name, "ns", "generic", repo)


def test_add_asset_to_unfinished_builds_a_version_and_finishes_it(pstore: Store) -> None:
    ref = gref()
    first = pstore.add_asset_to_unfinished(pver("1.0", ref, status="Unfinished"), asset("a.bin"), finish=False)
    assert first.status == "Unfinished"
    assert same_fields(first, pver("1.0", ref, status="Unfinished"))
    package = pstore.get_package(ref)
    assert package is not None and (package.publish, package.upstream) == ("ALLOW", "BLOCK")
    # an Unfinished version takes more assets; its fields stay as the first call made them
    second = pstore.add_asset_to_unfinished(pver("1.0", ref, summary="ignored"), asset("b.bin"), finish=False)
    assert second.status == "Unfinished" and second.summary == "" and second.revision != first.revision
    last = pstore.add_asset_to_unfinished(pver("1.0", ref), asset("c.bin"), finish=True)
    assert last.status == "Published" and last.revision not in (first.revision, second.revision)
    assert pstore.get_version(ref, "1.0") == last
    assert [a.name for a in pstore.list_assets(ref, "1.0")] == ["a.bin", "b.bin", "c.bin"]


def test_add_asset_to_unfinished_creates_a_published_version_at_once(pstore: Store) -> None:
    stored = pstore.add_asset_to_unfinished(pver("1.0", gref()), asset("a.bin"), finish=True)
    assert stored.status == "Published"
    assert pstore.list_assets(gref(), "1.0") == [asset("a.bin")]


def test_add_asset_to_unfinished_refuses_a_version_that_is_not_unfinished(pstore: Store) -> None:
    ref = gref()
    done = pstore.add_asset_to_unfinished(pver("1.0", ref), asset("a.bin"), finish=True)
    for status in ("Published", "Unlisted", "Archived", "Disposed"):
        if status != "Published":
            done = pstore.set_status(ref, "1.0", status, None)
        for finish in (False, True):
            with pytest.raises(ConflictError) as err:
                pstore.add_asset_to_unfinished(pver("1.0", ref, status="Unfinished"), asset("new.bin"), finish=finish)
            assert err.value.resource_type == "package-version"
            assert err.value.resource_id == "1.0"
            assert status in err.value.message and "ns/tool" in err.value.message
            assert pstore.get_version(ref, "1.0") == done  # not even the revision changed
    assert [a.name for a in pstore.list_assets(ref, "1.0")] == ["a.bin"]


def test_add_asset_to_unfinished_keeps_an_asset_of_the_same_bytes_and_refuses_other_bytes(pstore: Store) -> None:
    ref = gref()
    a = asset("a.bin")
    pstore.add_asset_to_unfinished(pver("1.0", ref, status="Unfinished"), a, finish=False)
    # the same name and bytes again (a retry): nothing is added, and it may finish the version
    again = pstore.add_asset_to_unfinished(pver("1.0", ref), replace(a, created_at=9.0), finish=False)
    assert again.status == "Unfinished"
    assert pstore.list_assets(ref, "1.0") == [a]
    with pytest.raises(ConflictError) as err:
        pstore.add_asset_to_unfinished(pver("1.0", ref), other_bytes(a), finish=True)
    assert err.value.resource_type == "asset" and err.value.resource_id == "a.bin"
    assert pstore.get_version(ref, "1.0") == again  # the refusal changed nothing, status included
    finished = pstore.add_asset_to_unfinished(pver("1.0", ref), a, finish=True)
    assert finished.status == "Published"
    assert pstore.list_assets(ref, "1.0") == [a]


def test_add_asset_to_unfinished_names_belong_to_their_version(pstore: Store) -> None:
    ref = gref()
    a = asset("app.zip")
    pstore.add_asset_to_unfinished(pver("1.0", ref), a, finish=True)
    pstore.add_asset_to_unfinished(pver("2.0", ref), other_bytes(a, "2"), finish=True)  # no name history
    pstore.delete_version(ref, "1.0", None)
    pstore.add_asset_to_unfinished(pver("1.0", ref), other_bytes(a, "again"), finish=True)
    assert pstore.list_assets(ref, "1.0") == [other_bytes(a, "again")]
    # nor does it leave a name record for add_asset to find
    pstore.add_asset(pver("3.0", ref), other_bytes(a, "3"))


def test_add_asset_to_unfinished_in_a_missing_repository(pstore: Store) -> None:
    ref = gref(repo=RepoRef(OWNER, "acme", "nope"))
    with pytest.raises(ResourceNotFoundError) as err:
        pstore.add_asset_to_unfinished(pver("1.0", ref), asset(), finish=True)
    assert err.value.resource_type == "repository"


def test_concurrent_additions_to_one_unfinished_version(pstore: Store) -> None:
    for round_ in range(3):
        ref = gref(f"race{round_}")
        pstore.add_asset_to_unfinished(pver("1.0", ref, status="Unfinished"), asset("first.bin"), finish=False)
        n = 2 if round_ == 0 else 6

        def add(i: int, r: PackageRef = ref) -> None:
            pstore.add_asset_to_unfinished(pver("1.0", r), asset(f"f{i}"), finish=i == 0)

        # one of them finishes the version: each other one was added before it, or refused after it
        outcomes = race(n, add)
        assert outcomes[0] is None
        refused = {i for i, o in enumerate(outcomes) if o is not None}
        assert all(
            isinstance(outcomes[i], ConflictError) and outcomes[i].resource_type == "package-version"  # type: ignore[union-attr]
            for i in refused
        ), outcomes
        added = sorted(a.name for a in pstore.list_assets(ref, "1.0"))
        assert added == sorted(["first.bin", *(f"f{i}" for i in range(n) if i not in refused)])
        assert pstore.get_version(ref, "1.0").status == "Published"  # type: ignore[union-attr]
        # without a finish, every one is added
        other = gref(f"all{round_}")
        pstore.add_asset_to_unfinished(pver("1.0", other, status="Unfinished"), asset("first.bin"), finish=False)
        outcomes = race(
            n, lambda i, r=other: pstore.add_asset_to_unfinished(pver("1.0", r), asset(f"f{i}"), finish=False)
        )
        assert outcomes == [None] * n
        assert len(pstore.list_assets(other, "1.0")) == n + 1


def test_concurrent_additions_of_one_name_with_different_bytes(pstore: Store) -> None:
    for round_ in range(3):
        ref = gref(f"same{round_}")
        pstore.add_asset_to_unfinished(pver("1.0", ref, status="Unfinished"), asset("first.bin"), finish=False)
        n = 2 if round_ == 0 else 6

        def add(i: int, r: PackageRef = ref) -> None:
            pstore.add_asset_to_unfinished(pver("1.0", r), other_bytes(asset("x.bin"), str(i)), finish=False)

        outcomes = race(n, add)
        winners = [i for i, o in enumerate(outcomes) if o is None]
        assert len(winners) == 1, outcomes
        assert all(isinstance(o, ConflictError) and o.resource_type == "asset" for o in outcomes if o), outcomes
        held = {a.name: a for a in pstore.list_assets(ref, "1.0")}
        assert held["x.bin"] == other_bytes(asset("x.bin"), str(winners[0]))


def test_migration_6_is_frozen_and_upgrades_a_version_5_database(db_url: str) -> None:
    from coffer.store.migrations import m0006_package_tags

    engine = create_engine_for(db_url)
    try:
        with engine.begin() as conn:  # a database as Coffer 5 made it, holding an npm version
            schema_version.create(conn)
            for number in range(1, 6):
                MIGRATIONS[number - 1](conn)
                conn.execute(schema_version.insert().values(version=number, applied_at=1.0))
        old = SqlStore(engine)
        old.create_domain(make_domain("acme"), {})
        old.create_repository(make_repo("acme", "main"), {})
        ref = pref("ui", namespace="acme", fmt="npm")
        old._changing = lambda repo: old._write()  # type: ignore[method-assign]  # as version 5 wrote packages
        old.add_asset(pver(ref=ref, version="1.0.0"), asset("ui-1.0.0.tgz"))
        assert apply_migrations(engine) == LATEST_VERSION - 5
        frozen = [(c.name, str(c.type), c.nullable) for c in m0006_package_tags.package_tags.columns]
        current = [(c.name, str(c.type), c.nullable) for c in schema.package_tags.columns]
        assert frozen == current
        assert set(inspect(engine).get_table_names()) == set(schema.metadata.tables) | {"schema_version"}
    finally:
        engine.dispose()
    upgraded = open_store(db_url)
    try:  # an old package takes tags
        upgraded.set_package_tag(ref, "latest", "1.0.0")
        assert upgraded.get_package_tags(ref) == {"latest": "1.0.0"}
    finally:
        upgraded.close()


def test_list_package_assets_reads_every_version_at_once(pstore: Store) -> None:
    ref = pref("multi")
    pstore.add_asset(pver(ref=ref, version="1.0"), asset("multi-1.0.tar.gz"))
    pstore.add_asset(pver(ref=ref, version="1.0"), asset("multi-1.0-py3-none-any.whl"))
    pstore.add_asset(pver(ref=ref, version="2.0"), asset("multi-2.0.tar.gz"))
    pstore.add_asset(pver(ref=pref("other"), version="1.0"), asset("other-1.0.tar.gz"))
    found = pstore.list_package_assets(ref)
    assert {v: [a.name for a in got] for v, got in found.items()} == {
        "1.0": ["multi-1.0-py3-none-any.whl", "multi-1.0.tar.gz"],
        "2.0": ["multi-2.0.tar.gz"],
    }
    assert found["1.0"] == pstore.list_assets(ref, "1.0")
    assert pstore.list_package_assets(pref("absent")) == {}
