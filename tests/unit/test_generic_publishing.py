"""The generic format: asset-name rules (``generic_names``) and PublishPackageVersion in the core
(``GenericPublishing``), on the real SqlStore (a temporary SQLite file) and the real FileBlobStore."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coffer.core.codeartifact.deps import Deps
from coffer.core.identity.callers import Caller
from coffer.core.packages.generic_names import asset_name_problem, check_asset_name
from coffer.core.packages.package_models import PackageRef, RepoRef
from coffer.core.packages.package_service import PackageService
from coffer.core.shared.errors import (
    AccessDeniedError,
    ConflictError,
    RequestTooLargeError,
    ResourceNotFoundError,
    ValidationError,
)
from coffer.store.blobs import FileBlobStore
from coffer.store.sql_store import SqlStore
from tests.unit.package_services import ADMIN, DOMAIN, OWNER, caller, make_deps, make_repo

# --- asset names ---------------------------------------------------------------------------------------------

GOOD_NAMES = [
    "asset.tar.gz",
    "a",
    "..a",
    "a..",
    "...",
    "my asset (final) [v2] {x};y,z.bin",
    "~!@^&()-_+[]{};,.",
    "Ünïcödé-名前-ملف-ⅧⅫ-٣",  # letters of every case, other letters, letter numbers, other scripts' digits
    "ʰmodifier",  # Lm
    "ǅtitle",  # Lt
    "x" * 255,
]
BAD_NAMES = {
    "": "empty",
    ".": ". or ..",
    "..": ". or ..",
    "x" * 256: "at most 255",
    "dir/file": "'/'",
    "back\\slash": "'\\\\'",
    "tab\there": "U+0009",
    "new\nline": "U+000A",
    "nbsp\u00a0x": "U+00A0",
    "zero\u200bwidth": "U+200B",
    "quote'": '"\'"',
    'dq"': "'\"'",
    "hash#": "'#'",
    "star*": "'*'",
    "pct%": "'%'",
    "dollar$": "'$'",
    "eq=": "'='",
    "colon:": "':'",
    "lt<": "'<'",
    "pipe|": "'|'",
    "q?": "'?'",
    "backtick`": "'`'",
    "emoji😀": "'😀'",
    "sup²": "'²'",  # No, not Nd
    " lead": "begin or end with a space",
    "trail ": "begin or end with a space",
    "two  spaces": "two spaces in a row",
}


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_good_asset_names(name: str) -> None:
    assert asset_name_problem(name) is None
    check_asset_name(name)


@pytest.mark.parametrize(("name", "why"), sorted(BAD_NAMES.items()))
def test_bad_asset_names(name: str, why: str) -> None:
    problem = asset_name_problem(name)
    assert problem is not None and why in problem, problem
    with pytest.raises(ValidationError) as err:
        check_asset_name(name)
    assert why in err.value.message and err.value.message.startswith("Invalid asset name")


# --- the service ---------------------------------------------------------------------------------------------


@pytest.fixture
def blobs(tmp_path: Path) -> FileBlobStore:
    return FileBlobStore(tmp_path / "blobs")


@pytest.fixture
def deps(store: SqlStore) -> Deps:
    return make_deps(store)


@pytest.fixture
def svc(deps: Deps, blobs: FileBlobStore) -> PackageService:
    return PackageService(deps, blobs)


READER = caller(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "codeartifact:Describe*", "Resource": "*"}]},
    "reader",
)


def gref(repo: RepoRef, name: str = "tool", namespace: str | None = "ns", fmt: str = "generic") -> PackageRef:
    return PackageRef(repo=repo, format=fmt, namespace=namespace, name=name)


class Content:
    """An asset's bytes as the endpoint hands them over: an iterable of blocks that records whether it was read,
    and may fail on the way (as a body over the size limit does)."""

    def __init__(self, data: bytes, *, fail_after: int | None = None) -> None:
        self.data = data
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.read = False
        self._fail_after = fail_after

    def __iter__(self) -> Iterator[bytes]:
        self.read = True
        for i in range(0, len(self.data), 4):
            if self._fail_after is not None and i >= self._fail_after:
                raise RequestTooLargeError("Request body must be at most 4 bytes.")
            yield self.data[i : i + 4]


def put(
    svc: PackageService,
    ref: PackageRef,
    version: str,
    name: str,
    content: Content,
    *,
    unfinished: bool = False,
    who: Caller = ADMIN,
    sha256: str | None = None,
) -> Any:
    return svc.publish_generic(
        who, ref, version, name, sha256 or content.sha256, content, unfinished=unfinished
    )  # fmt: skip


def stored_blobs(blobs: FileBlobStore) -> set[str]:
    return {p.name for p in (blobs.root / "sha256").rglob("*") if p.is_file()}


def test_publish_creates_a_published_version(svc: PackageService, store: SqlStore, blobs: FileBlobStore) -> None:
    repo = make_repo(store, "r")
    content = Content(b"the asset bytes")
    version, asset = put(svc, gref(repo), "1.0.0", "tool.tar.gz", content)
    assert version.status == "Published" and version.version == "1.0.0" and version.revision
    assert (asset.name, asset.blob.size, asset.blob.sha256) == ("tool.tar.gz", 15, content.sha256)
    assert asset.hashes["SHA-256"] == content.sha256 and asset.hashes["MD5"] == hashlib.md5(content.data).hexdigest()
    assert blobs.exists(content.sha256)
    package = svc.describe_package(ADMIN, gref(repo))
    assert (package.publish, package.upstream) == ("ALLOW", "BLOCK")  # published first
    got_version, got = svc.get_asset(ADMIN, gref(repo), "1.0.0", "tool.tar.gz")
    assert got == asset and got_version == version
    assert b"".join(svc.read_blob(got.blob.sha256)) == content.data


def test_a_sha256_mismatch_stores_nothing(svc: PackageService, store: SqlStore, blobs: FileBlobStore) -> None:
    repo = make_repo(store, "r")
    content = Content(b"these bytes")
    with pytest.raises(ValidationError) as err:
        put(svc, gref(repo), "1.0", "a.bin", content, sha256="0" * 64)
    assert "does not match assetSHA256" in err.value.message and content.sha256 in err.value.message
    assert content.read
    assert stored_blobs(blobs) == set()
    assert not list((blobs.root / "tmp").glob("*"))
    with pytest.raises(ResourceNotFoundError):
        svc.describe_package(ADMIN, gref(repo))


def test_content_that_fails_on_the_way_stores_nothing(
    svc: PackageService, store: SqlStore, blobs: FileBlobStore
) -> None:
    repo = make_repo(store, "r")
    with pytest.raises(RequestTooLargeError):
        put(svc, gref(repo), "1.0", "a.bin", Content(b"x" * 100, fail_after=8))
    assert stored_blobs(blobs) == set()
    assert not list((blobs.root / "tmp").glob("*"))
    with pytest.raises(ResourceNotFoundError):
        svc.describe_package(ADMIN, gref(repo))


def test_refusals_come_before_the_content_is_read(svc: PackageService, store: SqlStore) -> None:
    repo = make_repo(store, "r")
    put(svc, gref(repo), "1.0", "a.bin", Content(b"published"))
    cases: list[tuple[type[Exception], PackageRef, str, str, Caller]] = [
        (ValidationError, gref(repo, fmt="pypi", namespace=None), "1.0", "a.bin", ADMIN),
        (ValidationError, gref(repo, fmt="npm"), "1.0", "a.bin", ADMIN),
        (ValidationError, gref(repo, namespace=None), "1.0", "a.bin", ADMIN),
        (ValidationError, gref(repo), "2.0", "..", ADMIN),
        (ValidationError, gref(repo), "2.0", "a/b", ADMIN),
        (AccessDeniedError, gref(repo), "2.0", "a.bin", READER),
        (ResourceNotFoundError, gref(RepoRef(OWNER, DOMAIN, "nope")), "1.0", "a.bin", ADMIN),
        (ConflictError, gref(repo), "1.0", "b.bin", ADMIN),  # a Published version takes no new asset
        (ConflictError, gref(repo), "1.0", "a.bin", ADMIN),  # a.bin with other bytes (the declared SHA-256)
    ]
    for error, ref, version, name, who in cases:
        content = Content(b"other bytes")
        with pytest.raises(error) as err:
            put(svc, ref, version, name, content, who=who)
        assert not content.read, (error, ref, name, err.value)
    svc.put_origin_configuration(ADMIN, gref(repo), "BLOCK", "BLOCK")
    content = Content(b"blocked")
    with pytest.raises(ValidationError) as blocked:
        put(svc, gref(repo), "3.0", "a.bin", content)
    assert "publish=BLOCK" in blocked.value.message and not content.read


def test_the_format_and_namespace_messages(svc: PackageService, store: SqlStore) -> None:
    repo = make_repo(store, "r")
    with pytest.raises(ValidationError) as err:
        put(svc, gref(repo, fmt="pypi"), "1.0", "a.bin", Content(b"x"))
    assert "Value 'pypi' at 'format'" in err.value.message and "[generic]" in err.value.message
    with pytest.raises(ValidationError) as err:
        put(svc, gref(repo, namespace=""), "1.0", "a.bin", Content(b"x"))
    assert "at 'namespace'" in err.value.message


def test_unfinished_version_takes_assets_until_a_call_finishes_it(svc: PackageService, store: SqlStore) -> None:
    repo = make_repo(store, "r")
    ref = gref(repo)
    first, _ = put(svc, ref, "1.0", "a.bin", Content(b"a"), unfinished=True)
    assert first.status == "Unfinished"
    second, _ = put(svc, ref, "1.0", "b.bin", Content(b"b"), unfinished=True)
    assert second.status == "Unfinished" and second.revision != first.revision
    # listed and described with its status; its assets are listed, not downloadable yet
    versions, _ = svc.list_versions(ADMIN, ref, None, None, None)
    assert [(v.version, v.status) for v in versions] == [("1.0", "Unfinished")]
    assert svc.list_versions(ADMIN, ref, "Published", None, None)[0] == []
    assert svc.describe_version(ADMIN, ref, "1.0").status == "Unfinished"
    assert [a.name for a in svc.list_assets(ADMIN, ref, "1.0")[1]] == ["a.bin", "b.bin"]
    with pytest.raises(ResourceNotFoundError) as err:
        svc.get_asset(ADMIN, ref, "1.0", "a.bin")
    assert "Unfinished" in err.value.message
    assert svc.default_display_version(ADMIN, ref) is None
    last, asset = put(svc, ref, "1.0", "c.bin", Content(b"c"))
    assert last.status == "Published" and asset.name == "c.bin"
    assert [a.name for a in svc.list_assets(ADMIN, ref, "1.0")[1]] == ["a.bin", "b.bin", "c.bin"]
    assert svc.get_asset(ADMIN, ref, "1.0", "a.bin")[1].blob.size == 1
    assert svc.default_display_version(ADMIN, ref) == "1.0"
    with pytest.raises(ConflictError) as conflict:
        put(svc, ref, "1.0", "d.bin", Content(b"d"), unfinished=True)
    assert conflict.value.resource_type == "package-version" and "Published" in conflict.value.message


def test_update_status_publishes_an_unfinished_version(svc: PackageService, store: SqlStore) -> None:
    repo = make_repo(store, "r")
    put(svc, gref(repo), "1.0", "a.bin", Content(b"a"), unfinished=True)
    result = svc.update_status(ADMIN, gref(repo), ["1.0"], "Published", "Unfinished")
    assert result.successful["1.0"][1] == "Published"
    with pytest.raises(ValidationError):  # and never back
        svc.update_status(ADMIN, gref(repo), ["1.0"], "Unfinished", None)


def test_the_same_asset_again_is_a_no_op(svc: PackageService, store: SqlStore, blobs: FileBlobStore) -> None:
    repo = make_repo(store, "r")
    ref = gref(repo)
    content = Content(b"same bytes")
    _, a1 = put(svc, ref, "1.0", "a.bin", content, unfinished=True)
    v2, a2 = put(svc, ref, "1.0", "a.bin", Content(b"same bytes"), unfinished=True)  # a retry
    assert a2 == a1 and v2.status == "Unfinished"
    v3, a3 = put(svc, ref, "1.0", "a.bin", Content(b"same bytes"))  # a retry that finishes it
    assert a3 == a1 and v3.status == "Published"
    again = Content(b"same bytes")
    v4, a4 = put(svc, ref, "1.0", "a.bin", again)  # the final call again: what it asks for is so
    assert (v4, a4) == (v3, a1) and again.read  # the bytes were still read and checked
    with pytest.raises(ValidationError):  # ... so a retry with other bytes is refused
        put(svc, ref, "1.0", "a.bin", Content(b"not the same"), sha256=content.sha256)
    with pytest.raises(ConflictError) as err:  # it cannot make the version Unfinished again
        put(svc, ref, "1.0", "a.bin", Content(b"same bytes"), unfinished=True)
    assert err.value.resource_type == "package-version"
    assert [a.name for a in svc.list_assets(ADMIN, ref, "1.0")[1]] == ["a.bin"]
    assert stored_blobs(blobs) == {content.sha256}


def test_an_asset_name_with_other_bytes_is_a_conflict(svc: PackageService, store: SqlStore) -> None:
    repo = make_repo(store, "r")
    ref = gref(repo)
    put(svc, ref, "1.0", "a.bin", Content(b"first"), unfinished=True)
    other = Content(b"second")
    with pytest.raises(ConflictError) as err:
        put(svc, ref, "1.0", "a.bin", other, unfinished=True)
    assert err.value.resource_type == "asset" and err.value.resource_id == "a.bin"
    assert "other content" in err.value.message
    assert not other.read
    # the same name in another version is a name of its own
    v2, _ = put(svc, ref, "2.0", "a.bin", Content(b"second"))
    assert v2.status == "Published"


def test_an_upstream_holding_the_version_is_no_conflict(svc: PackageService, store: SqlStore) -> None:
    up = make_repo(store, "up")
    down = make_repo(store, "down", ("up",))
    put(svc, gref(up), "1.0", "a.bin", Content(b"upstream's"))
    svc.put_origin_configuration(ADMIN, gref(down), "ALLOW", "ALLOW")
    version, _ = put(svc, gref(down), "1.0", "a.bin", Content(b"downstream's"))
    assert version.status == "Published"


def test_copy_generic_versions(svc: PackageService, store: SqlStore) -> None:
    up = make_repo(store, "up")
    src = make_repo(store, "src", ("up",))
    dst = make_repo(store, "dst")
    for version in ("1.0", "2.0"):  # the same asset name, other bytes in each version
        put(svc, gref(src), version, "app.zip", Content(version.encode()), unfinished=True)
        put(svc, gref(src), version, "notes.txt", Content(b"notes " + version.encode()), unfinished=version == "2.0")
    put(svc, gref(up), "3.0", "app.zip", Content(b"3.0"))
    svc.put_origin_configuration(ADMIN, gref(src), "ALLOW", "ALLOW")
    result = svc.copy_versions(ADMIN, gref(src), dst, ["1.0", "2.0", "3.0"], False, True)
    assert {v: s for v, (_, s) in result.successful.items()} == {"1.0": "Published", "2.0": "Unfinished"}
    assert result.failed["3.0"][0] == "NOT_FOUND"  # never read through upstreams
    for version in ("1.0", "2.0"):
        assets = {a.name: a.blob.size for a in svc.list_assets(ADMIN, gref(dst), version)[1]}
        assert assets == {"app.zip": 3, "notes.txt": 9}
    assert svc.describe_version(ADMIN, gref(dst), "2.0").status == "Unfinished"
