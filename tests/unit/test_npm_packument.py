"""Packument rendering: the Accept negotiation, ``latest`` when no tag says, the two shapes, and fingerprints."""

from __future__ import annotations

import dataclasses

import pytest

from coffer.core.packages.npm_manifest import npm_version
from coffer.core.packages.package_models import Asset, BlobInfo, PackageRef, PackageView, RepoRef, ResolvedVersion
from coffer.formats.npm import packument

REPO = RepoRef("111122223333", "acme", "app")
REF = PackageRef(REPO, "npm", "acme", "ui")


@pytest.mark.parametrize(
    ("accept", "abbreviated"),
    [
        ("application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*", True),
        ("application/vnd.npm.install-v1+json", True),
        ("application/json", False),
        (None, False),
        ("*/*", False),
        ("application/vnd.npm.install-v1+json; q=0.5, application/json", False),
        ("application/vnd.npm.install-v1+json; q=0", False),
    ],
)
def test_accept_negotiation(accept: str | None, abbreviated: bool) -> None:
    assert packument.wants_abbreviated(accept) is abbreviated


def resolved(version: str, when: float, **manifest: object) -> ResolvedVersion:
    v = npm_version(
        REF, version, {"name": "@acme/ui", "version": version, **manifest}, when=when, origin_repository=REPO
    )
    blob = BlobInfo(sha256="a" * 64, size=3, md5="", sha1="b" * 40, sha512="c" * 128)
    return ResolvedVersion(version=v, assets=(Asset(f"ui-{version}.tgz", blob, when),), source=REPO)


def test_latest_is_the_highest_release_when_untagged() -> None:
    assert packument.latest_version(["1.0.0", "1.10.0", "1.9.0", "2.0.0-rc.1"]) == "1.10.0"
    assert packument.latest_version(["2.0.0-rc.1", "2.0.0-rc.10", "2.0.0-rc.2"]) == "2.0.0-rc.10"
    assert packument.latest_version([]) is None
    view = PackageView(versions=(resolved("1.0.0", 1.0), resolved("0.9.0", 2.0)), tags={"beta": "0.9.0"})
    assert packument.tags_of(view) == {"beta": "0.9.0", "latest": "1.0.0"}


def test_shapes() -> None:
    view = PackageView(
        versions=(resolved("1.0.0", 1.0, description="kit", scripts={"install": "x"}, dependencies={"a": "1"}),),
        tags={},
    )
    full = packument.document(view, "@acme/ui", "http://h/npm/@acme/ui/-/", abbreviated=False)
    assert full["description"] == "kit" and full["time"]["1.0.0"] == "1970-01-01T00:00:01.000Z"
    dist = full["versions"]["1.0.0"]["dist"]
    assert dist["tarball"] == "http://h/npm/@acme/ui/-/ui-1.0.0.tgz" and dist["shasum"] == "b" * 40
    assert dist["integrity"].startswith("sha512-")
    small = packument.document(view, "@acme/ui", "http://h/npm/@acme/ui/-/", abbreviated=True)
    entry = small["versions"]["1.0.0"]
    assert entry["hasInstallScript"] is True and "scripts" not in entry and entry["dependencies"] == {"a": "1"}


def test_fingerprint_follows_what_the_document_shows() -> None:
    one = PackageView(versions=(resolved("1.0.0", 1.0),), tags={})
    same = PackageView(versions=(resolved("1.0.0", 1.0),), tags={})
    assert packument.fingerprint(one) == packument.fingerprint(same)
    deprecated = dataclasses.replace(
        one.versions[0],
        version=dataclasses.replace(
            one.versions[0].version, extra={**one.versions[0].version.extra, "npm:deprecated": "no"}
        ),
    )
    for other in (
        PackageView(versions=(deprecated,), tags={}),
        PackageView(versions=one.versions, tags={"beta": "1.0.0"}),
        PackageView(versions=(resolved("1.0.0", 1.0, description="changed"),), tags={}),
        PackageView(versions=(*one.versions, resolved("1.0.1", 2.0)), tags={}),
    ):
        assert packument.fingerprint(other) != packument.fingerprint(one)
