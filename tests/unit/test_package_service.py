"""PackageService on the real SqlStore (a temporary SQLite file) and the real FileBlobStore."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from coffer.core.codeartifact.deps import Deps
from coffer.core.identity.callers import Caller
from coffer.core.packages.package_models import Asset, PackageRef, PackageVersion, RepoRef
from coffer.core.packages.package_names import normalize_name, normalize_version
from coffer.core.packages.package_service import PackageService
from coffer.core.packages.package_sources import search_order
from coffer.core.shared.arns import repository_arn, user_arn
from coffer.core.shared.errors import AccessDeniedError, ConflictError, ResourceNotFoundError, ValidationError
from coffer.store.blobs import FileBlobStore
from coffer.store.sql_store import SqlStore
from tests.unit.package_services import ADMIN, DOMAIN, OWNER, REGION, caller, make_deps, make_repo


@pytest.fixture
def blobs(tmp_path: Path) -> FileBlobStore:
    return FileBlobStore(tmp_path / "blobs")


@pytest.fixture
def deps(store: SqlStore) -> Deps:
    return make_deps(store)


@pytest.fixture
def svc(deps: Deps, blobs: FileBlobStore) -> PackageService:
    return PackageService(deps, blobs)


NOBODY = caller(None, "nobody")


def ref(repo: RepoRef, name: str = "My_Pkg") -> PackageRef:
    return PackageRef(repo=repo, format="pypi", namespace=None, name=name)


def publish(
    svc: PackageService,
    repo: RepoRef,
    version: str,
    data: bytes | None = None,
    *,
    name: str = "My_Pkg",
    filename: str | None = None,
    who: Caller = ADMIN,
) -> PackageVersion:
    blob = svc.store_bytes(data if data is not None else f"{name}-{version}-{repo.name}".encode())
    fname = filename or f"{normalize_name('pypi', name).replace('-', '_')}-{version}-py3-none-any.whl"
    pv = PackageVersion(
        package=ref(repo, name),
        version=version,
        display_version=version,
        status="Published",
        revision="",
        published_time=0.0,
        summary=f"summary of {version}",
        licenses=("MIT",),
    )
    return svc.publish(who, pv, Asset(name=fname, blob=blob, created_at=0.0))


def versions_of(resolved: list[Any]) -> list[str]:
    return [r.version.version for r in resolved]


# --- names --------------------------------------------------------------------------------------------------


def test_normalization() -> None:
    assert normalize_name("pypi", "My__Pkg.Name-x") == "my-pkg-name-x"
    assert normalize_name("npm", "MyPkg") == "MyPkg"
    assert normalize_version("pypi", "1.0.0-RC1") == "1.0.0rc1"
    assert normalize_version("pypi", "v2.0") == "2.0"
    assert normalize_version("generic", "V2") == "V2"


# --- publishing ---------------------------------------------------------------------------------------------


def test_publish_creates_package_version_and_asset(svc: PackageService, store: SqlStore) -> None:
    repo = make_repo(store, "r")
    stored = publish(svc, repo, "1.0.0-RC1", b"wheel bytes")
    assert stored.package.name == "my-pkg"
    assert stored.version == "1.0.0rc1"
    assert stored.display_version == "1.0.0-RC1"
    assert stored.status == "Published"
    assert stored.origin_repository == repo
    assert stored.published_time > 0
    pkg = svc.describe_package(ADMIN, ref(repo, "my.pkg"))
    assert pkg.display_name == "My_Pkg"
    assert pkg.ref.name == "my-pkg"
    version, assets = svc.list_assets(ADMIN, ref(repo), "1.0.0rc1")
    assert version.revision == stored.revision
    assert [a.name for a in assets] == ["my_pkg-1.0.0-RC1-py3-none-any.whl"]
    assert assets[0].blob.size == len(b"wheel bytes")
    path, size = svc.open_blob(assets[0].blob.sha256)
    assert size == len(b"wheel bytes")
    assert path is not None and Path(path).read_bytes() == b"wheel bytes"
    assert b"".join(svc.read_blob(assets[0].blob.sha256)) == b"wheel bytes"


def test_second_file_joins_the_version_and_duplicates_conflict(svc: PackageService, store: SqlStore) -> None:
    repo = make_repo(store, "r")
    publish(svc, repo, "1.0", filename="my_pkg-1.0.tar.gz")
    publish(svc, repo, "1.0", filename="my_pkg-1.0-py3-none-any.whl")
    _, assets = svc.list_assets(ADMIN, ref(repo), "1.0")
    assert [a.name for a in assets] == ["my_pkg-1.0-py3-none-any.whl", "my_pkg-1.0.tar.gz"]
    with pytest.raises(ConflictError) as info:
        publish(svc, repo, "1.0", filename="my_pkg-1.0.tar.gz")
    assert info.value.resource_type == "asset"


def test_publish_to_missing_repository(svc: PackageService) -> None:
    with pytest.raises(ResourceNotFoundError):
        publish(svc, RepoRef(OWNER, DOMAIN, "nope"), "1.0")


# --- resolution through upstreams ---------------------------------------------------------------------------


def test_search_order_is_depth_first_each_once(deps: Deps, store: SqlStore) -> None:
    for name in ("d", "c"):
        make_repo(store, name)
    make_repo(store, "b", ("d",))
    make_repo(store, "e", ("d", "c"))
    top = make_repo(store, "a", ("b", "e", "c"))
    assert [r.name for r in search_order(deps, top)] == ["a", "b", "d", "e", "c"]


def test_search_order_is_capped(deps: Deps, store: SqlStore) -> None:
    names = [f"u{i:02d}" for i in range(30)]
    for name in names:
        make_repo(store, name)
    # a chain of 10-wide levels: top -> u00..u09, u00 -> u10..u19, u10 -> u20..u29
    for name, upstreams in (("u10", names[20:]), ("u00", names[10:20])):
        current = store.get_repository(OWNER, DOMAIN, name)
        assert current is not None
        store.update_repository(dataclasses.replace(current, upstreams=tuple(upstreams)))
    top = make_repo(store, "top", tuple(names[:10]))
    order = search_order(deps, top)
    assert len(order) == 25
    assert [r.name for r in order[:4]] == ["top", "u00", "u10", "u20"]


def test_repository_wins_over_upstream_and_upstream_only_versions_show(svc: PackageService, store: SqlStore) -> None:
    up = make_repo(store, "up")
    down = make_repo(store, "down", ("up",))
    publish(svc, up, "1.0", b"upstream 1.0")
    publish(svc, down, "1.0", b"downstream 1.0")  # published first: upstreams blocked until allowed
    assert versions_of(svc.index_versions(down, "pypi", None, "my-pkg")) == ["1.0"]
    svc.put_origin_configuration(ADMIN, ref(down), "ALLOW", "ALLOW")
    publish(svc, up, "2.0", b"upstream 2.0")
    publish(svc, up, "1.0", b"other", name="other-pkg")

    shown = svc.index_versions(down, "pypi", None, "MY-pkg")
    assert versions_of(shown) == ["1.0", "2.0"]
    assert [r.source.name for r in shown] == ["down", "up"]

    found = svc.find_asset(down, "pypi", None, "my_pkg", "1.0", "my_pkg-1.0-py3-none-any.whl")
    assert found is not None
    resolved, asset = found
    assert resolved.source == down
    assert b"".join(svc.read_blob(asset.blob.sha256)) == b"downstream 1.0"
    found = svc.find_asset(down, "pypi", None, "my-pkg", "2.0", "my_pkg-2.0-py3-none-any.whl")
    assert found is not None and found[0].source == up

    names = [(p.ref.name, p.ref.repo.name) for p in svc.index_packages(down, "pypi")]
    assert names == [("my-pkg", "down"), ("other-pkg", "up")]
    # the upstream does not see the downstream's packages
    assert svc.find_asset(up, "pypi", None, "my-pkg", "1.0", "x") is None


def test_upstream_blocked_by_origin_configuration(svc: PackageService, store: SqlStore) -> None:
    up = make_repo(store, "up")
    down = make_repo(store, "down", ("up",))
    publish(svc, up, "2.0")
    publish(svc, down, "1.0")
    svc.put_origin_configuration(ADMIN, ref(down), "ALLOW", "ALLOW")
    assert sorted(versions_of(svc.index_versions(down, "pypi", None, "my-pkg"))) == ["1.0", "2.0"]
    svc.put_origin_configuration(ADMIN, ref(down), "ALLOW", "BLOCK")
    assert versions_of(svc.index_versions(down, "pypi", None, "my-pkg")) == ["1.0"]


# --- statuses -----------------------------------------------------------------------------------------------


def test_statuses_govern_index_and_downloads(svc: PackageService, store: SqlStore) -> None:
    repo = make_repo(store, "r")
    for v in ("1.0", "2.0", "3.0", "4.0"):
        publish(svc, repo, v)
    p = ref(repo)
    assert svc.update_status(ADMIN, p, ["2.0"], "Unlisted", None).failed == {}
    assert svc.update_status(ADMIN, p, ["3.0"], "Archived", None).failed == {}
    assert svc.dispose_versions(ADMIN, p, ["4.0"], None).failed == {}

    assert versions_of(svc.index_versions(repo, "pypi", None, "my-pkg")) == ["1.0"]

    def download(v: str) -> Any:
        return svc.find_asset(repo, "pypi", None, "my-pkg", v, f"my_pkg-{v}-py3-none-any.whl")

    assert download("1.0") is not None
    assert download("2.0") is not None  # Unlisted: hidden from the index, still downloadable
    assert download("3.0") is None  # Archived
    assert download("4.0") is None  # Disposed
    assert svc.get_asset(ADMIN, p, "2.0", "my_pkg-2.0-py3-none-any.whl")[1].name == "my_pkg-2.0-py3-none-any.whl"
    with pytest.raises(ResourceNotFoundError):
        svc.get_asset(ADMIN, p, "3.0", "my_pkg-3.0-py3-none-any.whl")
    assert svc.list_assets(ADMIN, p, "4.0")[1] == []  # disposed: no assets
    assert svc.list_assets(ADMIN, p, "3.0")[1] != []  # archived: still listed
    statuses = {v.version: v.status for v in svc.list_versions(ADMIN, p, None, None, None)[0]}
    assert statuses == {"1.0": "Published", "2.0": "Unlisted", "3.0": "Archived", "4.0": "Disposed"}
    assert [v.version for v in svc.list_versions(ADMIN, p, "Archived", None, None)[0]] == ["3.0"]
    assert svc.default_display_version(ADMIN, p) == "1.0"


def test_a_downstream_archived_version_hides_the_upstream_one(svc: PackageService, store: SqlStore) -> None:
    up = make_repo(store, "up")
    down = make_repo(store, "down", ("up",))
    publish(svc, up, "1.0")
    publish(svc, down, "1.0")
    svc.update_status(ADMIN, ref(down), ["1.0"], "Archived", None)
    assert svc.index_versions(down, "pypi", None, "my-pkg") == []
    assert svc.find_asset(down, "pypi", None, "my-pkg", "1.0", "my_pkg-1.0-py3-none-any.whl") is None


def test_no_files_join_an_archived_version(svc: PackageService, store: SqlStore) -> None:
    repo = make_repo(store, "r")
    publish(svc, repo, "1.0")
    svc.update_status(ADMIN, ref(repo), ["1.0"], "Archived", None)
    with pytest.raises(ConflictError):
        publish(svc, repo, "1.0", filename="my_pkg-1.0.tar.gz")


def test_update_status_reports_per_version(svc: PackageService, store: SqlStore) -> None:
    repo = make_repo(store, "r")
    for v in ("1.0", "2.0", "3.0"):
        publish(svc, repo, v)
    p = ref(repo)
    svc.dispose_versions(ADMIN, p, ["3.0"], None)
    before = svc.describe_version(ADMIN, p, "1.0")
    result = svc.update_status(ADMIN, p, ["1.0", "2.0", "3.0", "9.9"], "Unlisted", "Published")
    assert set(result.successful) == {"1.0", "2.0"}
    assert result.successful["1.0"][1] == "Unlisted"
    assert result.successful["1.0"][0] != before.revision
    assert result.failed["3.0"][0] == "MISMATCHED_STATUS"
    assert result.failed["9.9"][0] == "NOT_FOUND"
    result = svc.update_status(ADMIN, p, ["3.0"], "Published", None)
    assert result.failed["3.0"][0] == "NOT_ALLOWED"
    current = svc.describe_version(ADMIN, p, "1.0")
    result = svc.update_status(
        ADMIN, p, ["1.0", "2.0"], "Published", None, version_revisions={"1.0": current.revision, "2.0": "stale"}
    )
    assert set(result.successful) == {"1.0"}
    assert result.failed["2.0"][0] == "MISMATCHED_REVISION"
    for target in ("Disposed", "Deleted", "Unfinished"):
        with pytest.raises(ValidationError):
            svc.update_status(ADMIN, p, ["1.0"], target, None)


def test_delete_and_dispose_versions(svc: PackageService, store: SqlStore) -> None:
    repo = make_repo(store, "r")
    for v in ("1.0", "2.0", "3.0"):
        publish(svc, repo, v)
    p = ref(repo)
    svc.update_status(ADMIN, p, ["3.0"], "Archived", None)
    result = svc.delete_versions(ADMIN, p, ["1.0", "3.0", "7.0"], "Published")
    assert set(result.successful) == {"1.0"} and result.successful["1.0"][1] == "Deleted"
    assert result.failed["3.0"][0] == "MISMATCHED_STATUS"
    assert result.failed["7.0"][0] == "NOT_FOUND"
    with pytest.raises(ResourceNotFoundError):
        svc.describe_version(ADMIN, p, "1.0")
    result = svc.dispose_versions(ADMIN, p, ["2.0", "3.0", "7.0"], None)
    assert {v: s for v, (_, s) in result.successful.items()} == {"2.0": "Disposed", "3.0": "Disposed"}
    assert result.failed["7.0"][0] == "NOT_FOUND"
    assert [v.status for v in svc.list_versions(ADMIN, p, None, None, None)[0]] == ["Disposed", "Disposed"]


def test_delete_package(svc: PackageService, store: SqlStore) -> None:
    repo = make_repo(store, "r")
    publish(svc, repo, "1.0")
    deleted = svc.delete_package(ADMIN, ref(repo, "MY.PKG"))
    assert deleted.ref.name == "my-pkg"
    with pytest.raises(ResourceNotFoundError) as info:
        svc.describe_package(ADMIN, ref(repo))
    assert info.value.resource_type == "package"
    with pytest.raises(ResourceNotFoundError):
        svc.delete_package(ADMIN, ref(repo))


# --- copy ---------------------------------------------------------------------------------------------------


def test_copy_versions(svc: PackageService, store: SqlStore, blobs: FileBlobStore) -> None:
    up = make_repo(store, "up")
    src = make_repo(store, "src", ("up",))
    dst = make_repo(store, "dst")
    publish(svc, src, "1.0", b"one", filename="my_pkg-1.0.tar.gz")
    publish(svc, src, "1.0", b"one-whl")
    publish(svc, src, "2.0", b"two")
    publish(svc, up, "3.0", b"three")
    publish(svc, dst, "2.0", b"two in dst")
    publish(svc, src, "4.0", b"four")
    publish(svc, dst, "4.0", b"four")  # the same file, published in dst itself
    svc.put_origin_configuration(ADMIN, ref(src), "ALLOW", "ALLOW")  # src reaches up's versions

    result = svc.copy_versions(ADMIN, ref(src), dst, ["1.0", "2.0", "3.0"], False, False)
    assert set(result.successful) == {"1.0"}
    assert result.failed["2.0"][0] == "ALREADY_EXISTS"
    assert result.failed["3.0"][0] == "NOT_FOUND"
    copied, assets = svc.list_assets(ADMIN, ref(dst), "1.0")
    assert copied.origin_repository == src
    assert [a.name for a in assets] == ["my_pkg-1.0-py3-none-any.whl", "my_pkg-1.0.tar.gz"]
    assert b"".join(svc.read_blob(assets[0].blob.sha256)) == b"one-whl"
    assert svc.describe_package(ADMIN, ref(dst)).display_name == "My_Pkg"

    result = svc.copy_versions(ADMIN, ref(src), dst, ["2.0", "3.0", "4.0"], True, True)
    assert set(result.successful) == {"3.0", "4.0"}
    # an overwrite may not give a file name of dst other content (PyPI's rule): refused before deleting anything
    assert result.failed["2.0"][0] == "NOT_ALLOWED"
    assert "has already been used in repository dst with other content" in result.failed["2.0"][1]
    _, assets = svc.list_assets(ADMIN, ref(dst), "2.0")
    assert b"".join(svc.read_blob(assets[0].blob.sha256)) == b"two in dst"
    assert svc.describe_version(ADMIN, ref(dst), "3.0").origin_repository == up
    assert svc.describe_version(ADMIN, ref(dst), "4.0").origin_repository == src  # overwritten, same bytes
    # a name used in dst before, by a version deleted since, keeps its content too
    svc.delete_versions(ADMIN, ref(dst), ["2.0"], None)
    result = svc.copy_versions(ADMIN, ref(src), dst, ["2.0"], False, False)
    assert result.failed["2.0"][0] == "NOT_ALLOWED"
    assert "my_pkg-2.0-py3-none-any.whl" in result.failed["2.0"][1]
    assert "2.0" not in {v.version for v in svc.list_versions(ADMIN, ref(dst), None, None, None)[0]}

    with pytest.raises(ValidationError):
        svc.copy_versions(ADMIN, ref(src), src, ["1.0"], False, False)


# --- authorization ------------------------------------------------------------------------------------------


def test_a_caller_without_permissions_is_denied(svc: PackageService, store: SqlStore) -> None:
    repo = make_repo(store, "r")
    publish(svc, repo, "1.0")
    p = ref(repo, "My_Pkg")
    pkg_arn = f"arn:aws:codeartifact:{REGION}:{OWNER}:package/{DOMAIN}/r/pypi//my-pkg"
    with pytest.raises(AccessDeniedError) as info:
        svc.describe_package(NOBODY, p)
    assert info.value.message == (
        f"User: {NOBODY.arn} is not authorized to perform: codeartifact:DescribePackage on resource: {pkg_arn} "
        "because no identity-based policy allows the codeartifact:DescribePackage action"
    )
    with pytest.raises(AccessDeniedError) as info:
        svc.authorize_read(NOBODY, repo)
    assert "codeartifact:ReadFromRepository on resource: " + repository_arn(REGION, OWNER, DOMAIN, "r") in (
        info.value.message
    )
    with pytest.raises(AccessDeniedError) as info:
        publish(svc, repo, "2.0", who=NOBODY)
    assert f"codeartifact:PublishPackageVersion on resource: {pkg_arn}" in info.value.message
    calls: list[Callable[[], object]] = [
        lambda: svc.list_packages(NOBODY, repo, None, None, None, None, None),
        lambda: svc.delete_package(NOBODY, p),
        lambda: svc.list_versions(NOBODY, p, None, None, None),
        lambda: svc.describe_version(NOBODY, p, "1.0"),
        lambda: svc.list_assets(NOBODY, p, "1.0"),
        lambda: svc.get_asset(NOBODY, p, "1.0", "x"),
        lambda: svc.get_readme(NOBODY, p, "1.0"),
        lambda: svc.update_status(NOBODY, p, ["1.0"], "Archived", None),
        lambda: svc.delete_versions(NOBODY, p, ["1.0"], None),
        lambda: svc.dispose_versions(NOBODY, p, ["1.0"], None),
        lambda: svc.copy_versions(NOBODY, p, RepoRef(OWNER, DOMAIN, "other"), ["1.0"], False, False),
    ]
    for call in calls:
        with pytest.raises(AccessDeniedError):
            call()
    assert svc.describe_version(ADMIN, p, "1.0").status == "Published"  # nothing happened


def test_permissions_are_per_action_and_resource(svc: PackageService, store: SqlStore) -> None:
    repo = make_repo(store, "r")
    other = make_repo(store, "other")
    publish(svc, repo, "1.0")
    publish(svc, other, "1.0")
    reader = caller(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["codeartifact:ReadFromRepository", "codeartifact:ListPackages"],
                    "Resource": repository_arn(REGION, OWNER, DOMAIN, "r"),
                },
                {
                    "Effect": "Allow",
                    "Action": "codeartifact:DescribePackage*",
                    "Resource": f"arn:aws:codeartifact:{REGION}:{OWNER}:package/{DOMAIN}/r/*",
                },
            ],
        },
        "reader",
    )
    assert svc.authorize_read(reader, repo).name == "r"
    assert [pkg.ref.name for pkg in svc.list_packages(reader, repo, "pypi", None, None, None, None)[0]] == ["my-pkg"]
    assert svc.describe_package(reader, ref(repo)).ref.name == "my-pkg"
    assert svc.describe_version(reader, ref(repo), "1.0").version == "1.0"
    with pytest.raises(AccessDeniedError):
        svc.authorize_read(reader, other)
    with pytest.raises(AccessDeniedError):
        svc.describe_package(reader, ref(other))
    with pytest.raises(AccessDeniedError):
        svc.list_versions(reader, ref(repo), None, None, None)
    with pytest.raises(AccessDeniedError):
        publish(svc, repo, "2.0", who=reader)


def test_repository_policy_grants_cross_account_reads(svc: PackageService, store: SqlStore) -> None:
    repo = make_repo(store, "r")
    outsider = dataclasses.replace(
        caller({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
        account_id="444455556666",
        arn=user_arn("444455556666", "bob"),
    )
    with pytest.raises(AccessDeniedError):
        svc.authorize_read(outsider, repo)
    arn = repository_arn(REGION, OWNER, DOMAIN, "r")
    store.put_resource_policy(
        arn,
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
                        "Action": "codeartifact:ReadFromRepository",
                        "Resource": "*",
                    }
                ],
            }
        ),
        None,
    )
    assert svc.authorize_read(outsider, repo).name == "r"
    with pytest.raises(AccessDeniedError):
        publish(svc, repo, "1.0", who=outsider)


def test_missing_resources_after_authorization(svc: PackageService, store: SqlStore) -> None:
    with pytest.raises(ResourceNotFoundError) as info:
        svc.authorize_read(ADMIN, RepoRef(OWNER, DOMAIN, "missing"))
    assert info.value.resource_type == "repository"
    repo = make_repo(store, "r")
    with pytest.raises(ResourceNotFoundError) as info:
        svc.describe_package(ADMIN, ref(repo))
    assert info.value.resource_type == "package"
    publish(svc, repo, "1.0")
    with pytest.raises(ResourceNotFoundError) as info:
        svc.describe_version(ADMIN, ref(repo), "2.0")
    assert info.value.resource_type == "package-version"


# --- listings -----------------------------------------------------------------------------------------------


def test_listings_page(svc: PackageService, store: SqlStore) -> None:
    repo = make_repo(store, "r")
    for i in range(5):
        publish(svc, repo, "1.0", name=f"pkg{i}")
        publish(svc, repo, f"{i}.0", name="many")
    seen: list[str] = []
    token: str | None = None
    while True:
        items, token = svc.list_packages(ADMIN, repo, "pypi", None, "PKG", 2, token)
        seen += [p.ref.name for p in items]
        if token is None:
            break
    assert seen == [f"pkg{i}" for i in range(5)]
    first, token = svc.list_versions(ADMIN, ref(repo, "many"), None, 3, None)
    assert token is not None
    rest, token2 = svc.list_versions(ADMIN, ref(repo, "many"), None, 3, token)
    assert [v.version for v in first + rest] == [f"{i}.0" for i in range(5)] and token2 is None
    with pytest.raises(ValidationError):  # a token of another listing
        svc.list_versions(ADMIN, ref(repo, "many"), "Published", 3, token)
    assert svc.default_display_version(ADMIN, ref(repo, "many")) == "4.0"


# --- streaming helpers --------------------------------------------------------------------------------------


def test_read_blob_streams_in_chunks_and_closes(svc: PackageService) -> None:
    data = bytes(range(256)) * 5
    info = svc.store_bytes(data)
    chunks = svc.read_blob(info.sha256, chunk_size=300)
    assert [len(c) for c in chunks] == [300, 300, 300, 300, 80]
    assert chunks._file.closed  # the file goes as soon as the bytes run out
    early = svc.read_blob(info.sha256, chunk_size=300)
    assert next(early) == data[:300]
    early.close()
    assert list(early) == []
    with pytest.raises(FileNotFoundError):  # before any byte would be sent
        svc.read_blob("0" * 64)


def test_header_values_stay_latin1_safe() -> None:
    from coffer.aws.handlers.packages import header_text

    assert header_text("my_pkg-1.0-py3-none-any.whl") == "my_pkg-1.0-py3-none-any.whl"
    encoded = header_text("pkg-1.0-ünï 100%.whl")
    assert encoded == "pkg-1.0-%C3%BCn%C3%AF 100%25.whl"
    encoded.encode("ascii")


# --- origin configuration -----------------------------------------------------------------------------------


def origin(svc: PackageService, p: PackageRef) -> tuple[str, str]:
    pkg = svc.describe_package(ADMIN, p)
    return pkg.publish, pkg.upstream


def test_published_first_allows_publishing_and_blocks_upstreams(svc: PackageService, store: SqlStore) -> None:
    repo = make_repo(store, "r")
    publish(svc, repo, "1.0")
    assert origin(svc, ref(repo)) == ("ALLOW", "BLOCK")


def test_publish_blocked_by_origin_configuration(svc: PackageService, store: SqlStore) -> None:
    repo = make_repo(store, "r")
    publish(svc, repo, "1.0")
    svc.put_origin_configuration(ADMIN, ref(repo), "BLOCK", "ALLOW")
    for version in ("1.0", "2.0"):  # neither a new file of a version nor a new version
        with pytest.raises(ValidationError, match=r"blocked by its package origin configuration \(publish=BLOCK\)"):
            publish(svc, repo, version, filename=f"my_pkg-{version}.tar.gz")


def test_pre_emptive_record(svc: PackageService, store: SqlStore) -> None:
    repo = make_repo(store, "r")
    made = svc.put_origin_configuration(ADMIN, ref(repo, "Future.Pkg"), "BLOCK", "BLOCK")
    assert (made.ref.name, made.display_name, made.publish, made.upstream) == (
        "future-pkg",
        "Future.Pkg",
        "BLOCK",
        "BLOCK",
    )
    assert svc.list_versions(ADMIN, ref(repo, "future-pkg"), None, None, None) == ([], None)
    assert svc.index_versions(repo, "pypi", None, "future-pkg") == []
    with pytest.raises(ValidationError):
        publish(svc, repo, "1.0", name="future-pkg")
    with pytest.raises(ValidationError):
        svc.put_origin_configuration(ADMIN, ref(repo), "ALLOW", "MAYBE")
    with pytest.raises(ResourceNotFoundError):
        svc.put_origin_configuration(ADMIN, ref(RepoRef(OWNER, DOMAIN, "ghost")), "ALLOW", "ALLOW")
    with pytest.raises(AccessDeniedError):
        svc.put_origin_configuration(NOBODY, ref(repo), "ALLOW", "ALLOW")


def test_publishing_a_version_a_reachable_upstream_has_is_a_conflict(svc: PackageService, store: SqlStore) -> None:
    base = make_repo(store, "base")
    mid = make_repo(store, "mid", ("base",))
    down = make_repo(store, "down", ("mid",))
    publish(svc, base, "1.0")
    publish(svc, base, "2.0")
    publish(svc, down, "0.1")
    svc.put_origin_configuration(ADMIN, ref(down), "ALLOW", "ALLOW")
    held = svc.version_in_upstream(ref(down, "my-pkg"), "2.0")
    assert held is not None and held[0].repo == base and held[1].version == "2.0"
    with pytest.raises(ConflictError, match="already exists in upstream repository base") as caught:
        publish(svc, down, "2.0")
    assert caught.value.resource_type == "package-version"
    publish(svc, down, "3.0")  # a version no upstream has
    publish(svc, down, "0.1", filename="my_pkg-0.1.tar.gz")  # a file joining a version of the repository itself
    # the search stops where a package blocks its upstreams, as reads do
    publish(svc, mid, "0.5")  # mid's package: published first, so upstream=BLOCK
    assert svc.version_in_upstream(ref(down, "my-pkg"), "2.0") is None
    publish(svc, down, "2.0")
    # with upstream=BLOCK in the repository itself, upstreams do not count
    svc.put_origin_configuration(ADMIN, ref(mid), "ALLOW", "BLOCK")
    svc.put_origin_configuration(ADMIN, ref(down), "ALLOW", "BLOCK")
    publish(svc, down, "0.5")


def test_copy_with_and_without_include_from_upstream(svc: PackageService, store: SqlStore) -> None:
    up = make_repo(store, "up")
    src = make_repo(store, "src", ("up",))
    dst = make_repo(store, "dst")
    publish(svc, src, "1.0")
    publish(svc, up, "2.0")
    assert svc.copy_versions(ADMIN, ref(src), dst, ["2.0"], False, True).failed["2.0"][0] == "NOT_FOUND"  # blocked
    svc.put_origin_configuration(ADMIN, ref(src), "ALLOW", "ALLOW")
    without = svc.copy_versions(ADMIN, ref(src), dst, ["1.0", "2.0"], False, False)
    assert set(without.successful) == {"1.0"} and without.failed["2.0"][0] == "NOT_FOUND"
    with_up = svc.copy_versions(ADMIN, ref(src), dst, ["1.0", "2.0"], False, True)
    assert set(with_up.successful) == {"2.0"} and with_up.failed["1.0"][0] == "ALREADY_EXISTS"
    assert svc.describe_version(ADMIN, ref(dst), "2.0").origin_repository == up


def test_dependencies_of_a_wheel_and_an_sdist(svc: PackageService, store: SqlStore, blobs: FileBlobStore) -> None:
    repo = make_repo(store, "r")
    meta = b"Metadata-Version: 2.1\nName: My_Pkg\nVersion: 1.0\nRequires-Dist: requests>=2\n"
    pv = PackageVersion(
        package=ref(repo), version="1.0", display_version="1.0", status="Published", revision="", published_time=0.0
    )
    wheel = Asset(
        name="my_pkg-1.0-py3-none-any.whl",
        blob=svc.store_bytes(b"not read"),
        created_at=0.0,
        metadata_sha256=svc.store_bytes(meta).sha256,
    )
    svc.publish(ADMIN, pv, wheel)
    version, deps, token = svc.list_dependencies(ADMIN, ref(repo), "1.0", None)
    assert version.version == "1.0" and token is None
    assert [(d.package, d.dependency_type, d.version_requirement) for d in deps] == [
        ("requests", "Requires-Dist", ">=2")
    ]
    with pytest.raises(ResourceNotFoundError):
        svc.list_dependencies(ADMIN, ref(repo), "9.9", None)
    with pytest.raises(AccessDeniedError):
        svc.list_dependencies(NOBODY, ref(repo), "1.0", None)
    # an upstream's version is not the repository's (AWS ignores upstreams here)
    down = make_repo(store, "down", ("r",))
    with pytest.raises(ResourceNotFoundError):
        svc.list_dependencies(ADMIN, ref(down), "1.0", None)
