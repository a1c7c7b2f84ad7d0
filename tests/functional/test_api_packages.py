"""The package operations through boto3 against the real server; packages are published with the legacy PyPI
upload API (what twine speaks), the only way in besides the service itself."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.functional.conftest import ACCOUNT
from tests.functional.dists import upload_form
from tests.functional.server import RunningServer


def build_wheel(name: str, version: str, summary: str = "A tiny package", readme: str = "# Tiny\n") -> bytes:
    """A minimal real wheel: METADATA, WHEEL and RECORD (with the hashes of the other two)."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    files = {
        f"{dist}/__init__.py": b"",
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: {summary}\n"
            f"Home-page: https://example.com/{name}\nLicense: MIT\n"
            f"Description-Content-Type: text/markdown\n\n{readme}"
        ).encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: coffer-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return out.getvalue()


def wheel_name(name: str, version: str) -> str:
    return f"{name.replace('-', '_')}-{version}-py3-none-any.whl"


@dataclass
class Repo:
    domain: str
    name: str
    token: str
    server: RunningServer

    def upload(self, name: str, version: str, **kwargs: str) -> tuple[httpx.Response, bytes]:
        wheel = build_wheel(name, version, **kwargs)
        filename = wheel_name(name, version)
        response = httpx.post(
            f"{self.server.url}/pypi/d/{self.domain}-{ACCOUNT}/{self.name}/",
            data=upload_form(filename, wheel),
            files={"content": (filename, wheel, "application/octet-stream")},
            auth=("aws", self.token),
            timeout=30,
        )
        return response, wheel

    def publish(self, name: str, version: str, **kwargs: str) -> bytes:
        response, wheel = self.upload(name, version, **kwargs)
        assert response.status_code == 200, response.text
        return wheel


@pytest.fixture()
def make_repo(ca: Any, server: RunningServer, unique: Callable[[str], str]) -> Callable[..., Repo]:
    domain = unique("pkgs")
    ca.create_domain(domain=domain)
    token = ca.get_authorization_token(domain=domain)["authorizationToken"]

    def make(name: str | None = None, upstreams: tuple[str, ...] = ()) -> Repo:
        repo = name or unique("repo")
        ca.create_repository(domain=domain, repository=repo, upstreams=[{"repositoryName": u} for u in upstreams])
        return Repo(domain, repo, token, server)

    return make


def coords(repo: Repo, package: str = "tiny-pkg") -> dict[str, str]:
    return {"domain": repo.domain, "repository": repo.name, "format": "pypi", "package": package}


def test_describe_and_list_a_published_package(ca: Any, make_repo: Callable[..., Repo]) -> None:
    repo = make_repo()
    wheel = repo.publish("Tiny_Pkg", "1.0.0", summary="Tiny things", readme="# Tiny readme\n")
    repo.publish("Tiny_Pkg", "2.0")
    repo.publish("other-pkg", "0.1")

    listed = ca.list_packages(domain=repo.domain, repository=repo.name)["packages"]
    assert [(p["format"], p["package"]) for p in listed] == [("pypi", "other-pkg"), ("pypi", "tiny-pkg")]
    # published first: publishing allowed, upstreams blocked (AWS's defaults)
    assert listed[1]["originConfiguration"] == {"restrictions": {"publish": "ALLOW", "upstream": "BLOCK"}}
    prefixed = ca.list_packages(domain=repo.domain, repository=repo.name, format="pypi", packagePrefix="Tiny_")
    assert [p["package"] for p in prefixed["packages"]] == ["tiny-pkg"]

    pkg = ca.describe_package(**coords(repo, "TINY.pkg"))["package"]
    assert pkg == {
        "format": "pypi",
        "name": "tiny-pkg",
        "originConfiguration": {"restrictions": {"publish": "ALLOW", "upstream": "BLOCK"}},
    }

    versions = ca.list_package_versions(**coords(repo))
    assert versions["defaultDisplayVersion"] == "2.0"
    assert versions["package"] == "tiny-pkg" and versions["format"] == "pypi"
    assert [v["version"] for v in versions["versions"]] == ["1.0.0", "2.0"]
    assert versions["versions"][0]["status"] == "Published"
    assert versions["versions"][0]["origin"] == {
        "domainEntryPoint": {"repositoryName": repo.name},
        "originType": "INTERNAL",
    }

    desc = ca.describe_package_version(**coords(repo), packageVersion="1.0.0")["packageVersion"]
    assert desc["packageName"] == "tiny-pkg"
    assert desc["displayName"] == "Tiny_Pkg"
    assert desc["version"] == "1.0.0"
    assert desc["summary"] == "Tiny things"
    assert desc["homePage"] == "https://example.com/Tiny_Pkg"
    assert desc["licenses"] == [{"name": "MIT"}]
    assert desc["status"] == "Published"
    assert desc["publishedTime"].year >= 2024
    assert desc["origin"]["originType"] == "INTERNAL"

    assets = ca.list_package_version_assets(**coords(repo), packageVersion="1.0.0")
    assert assets["version"] == "1.0.0" and assets["versionRevision"] == desc["revision"]
    (asset,) = assets["assets"]
    assert asset["name"] == wheel_name("Tiny_Pkg", "1.0.0")
    assert asset["size"] == len(wheel)
    assert asset["hashes"] == {
        "MD5": hashlib.md5(wheel).hexdigest(),
        "SHA-1": hashlib.sha1(wheel).hexdigest(),
        "SHA-256": hashlib.sha256(wheel).hexdigest(),
        "SHA-512": hashlib.sha512(wheel).hexdigest(),
    }

    got = ca.get_package_version_asset(**coords(repo), packageVersion="1.0.0", asset=asset["name"])
    assert got["asset"].read() == wheel
    assert got["assetName"] == asset["name"]
    assert got["packageVersion"] == "1.0.0"
    assert got["packageVersionRevision"] == desc["revision"]
    assert got["ResponseMetadata"]["HTTPHeaders"]["content-length"] == str(len(wheel))

    readme = ca.get_package_version_readme(**coords(repo), packageVersion="1.0.0")
    assert "Tiny readme" in readme["readme"]
    assert readme["versionRevision"] == desc["revision"]


def test_status_changes_delete_dispose_and_copy(ca: Any, make_repo: Callable[..., Repo]) -> None:
    repo = make_repo()
    for v in ("1.0", "2.0", "3.0", "4.0"):
        repo.publish("tiny-pkg", v)
    c = coords(repo)

    r = ca.update_package_versions_status(
        **c, versions=["1.0", "2.0", "9.9"], targetStatus="Archived", expectedStatus="Published"
    )
    assert {v: i["status"] for v, i in r["successfulVersions"].items()} == {"1.0": "Archived", "2.0": "Archived"}
    assert r["failedVersions"]["9.9"]["errorCode"] == "NOT_FOUND"
    r = ca.update_package_versions_status(**c, versions=["2.0"], targetStatus="Published", expectedStatus="Unlisted")
    assert r["failedVersions"]["2.0"]["errorCode"] == "MISMATCHED_STATUS"
    with pytest.raises(ca.exceptions.ValidationException):
        ca.update_package_versions_status(**c, versions=["2.0"], targetStatus="Disposed")

    with pytest.raises(ca.exceptions.ResourceNotFoundException):  # archived: not downloadable
        ca.get_package_version_asset(**c, packageVersion="1.0", asset="tiny_pkg-1.0-py3-none-any.whl")

    r = ca.dispose_package_versions(**c, versions=["2.0"])
    assert r["successfulVersions"]["2.0"]["status"] == "Disposed"
    assert ca.list_package_version_assets(**c, packageVersion="2.0")["assets"] == []
    r = ca.update_package_versions_status(**c, versions=["2.0"], targetStatus="Published")
    assert r["failedVersions"]["2.0"]["errorCode"] == "NOT_ALLOWED"

    r = ca.delete_package_versions(**c, versions=["3.0", "8.0"])
    assert r["successfulVersions"]["3.0"]["status"] == "Deleted"
    assert r["failedVersions"]["8.0"]["errorCode"] == "NOT_FOUND"
    with pytest.raises(ca.exceptions.ResourceNotFoundException):
        ca.describe_package_version(**c, packageVersion="3.0")

    listed = ca.list_package_versions(**c)["versions"]
    assert {v["version"]: v["status"] for v in listed} == {"1.0": "Archived", "2.0": "Disposed", "4.0": "Published"}
    archived = ca.list_package_versions(**c, status="Archived")["versions"]
    assert [v["version"] for v in archived] == ["1.0"]

    dest = make_repo()
    r = ca.copy_package_versions(
        domain=repo.domain,
        sourceRepository=repo.name,
        destinationRepository=dest.name,
        format="pypi",
        package="tiny-pkg",
        versions=["4.0", "5.0"],
    )
    assert list(r["successfulVersions"]) == ["4.0"]
    assert r["failedVersions"]["5.0"]["errorCode"] == "NOT_FOUND"
    r = ca.copy_package_versions(
        domain=repo.domain,
        sourceRepository=repo.name,
        destinationRepository=dest.name,
        format="pypi",
        package="tiny-pkg",
        versions=["4.0"],
    )
    assert r["failedVersions"]["4.0"]["errorCode"] == "ALREADY_EXISTS"
    copied = ca.get_package_version_asset(**coords(dest), packageVersion="4.0", asset="tiny_pkg-4.0-py3-none-any.whl")
    original = ca.get_package_version_asset(**c, packageVersion="4.0", asset="tiny_pkg-4.0-py3-none-any.whl")
    assert copied["asset"].read() == original["asset"].read()

    deleted = ca.delete_package(**c)["deletedPackage"]
    assert deleted["package"] == "tiny-pkg" and deleted["format"] == "pypi"
    with pytest.raises(ca.exceptions.ResourceNotFoundException):
        ca.describe_package(**c)
    assert ca.list_packages(domain=repo.domain, repository=repo.name)["packages"] == []


def test_pagination(ca: Any, make_repo: Callable[..., Repo]) -> None:
    repo = make_repo()
    for i in range(3):
        repo.publish(f"pkg{i}", "1.0")
    pages = ca.get_paginator("list_packages").paginate(
        domain=repo.domain, repository=repo.name, PaginationConfig={"PageSize": 2}
    )
    names = [p["package"] for page in pages for p in page["packages"]]
    assert names == ["pkg0", "pkg1", "pkg2"]


def test_denied_without_permissions(
    ca: Any, make_repo: Callable[..., Repo], make_user: Callable[[dict[str, Any] | None], Any]
) -> None:
    repo = make_repo()
    repo.publish("tiny-pkg", "1.0")
    nobody = make_user(None)
    with pytest.raises(nobody.exceptions.AccessDeniedException) as info:
        nobody.describe_package(**coords(repo))
    arn = f"arn:aws:codeartifact:us-east-1:{ACCOUNT}:package/{repo.domain}/{repo.name}/pypi//tiny-pkg"
    assert info.value.response["Error"]["Message"] == (
        f"User: arn:aws:iam::{ACCOUNT}:user/{nobody.user_name} is not authorized to perform: "
        f"codeartifact:DescribePackage on resource: {arn} "
        "because no identity-based policy allows the codeartifact:DescribePackage action"
    )
    with pytest.raises(nobody.exceptions.AccessDeniedException):
        nobody.delete_package_versions(**coords(repo), versions=["1.0"])
    assert ca.describe_package_version(**coords(repo), packageVersion="1.0")["packageVersion"]["status"] == "Published"


def test_missing_things_without_publishing(ca: Any, make_repo: Callable[..., Repo]) -> None:
    """Needs no upload endpoint: the errors for a package that is not there."""
    repo = make_repo()
    with pytest.raises(ca.exceptions.ResourceNotFoundException) as info:
        ca.describe_package(**coords(repo))
    assert info.value.response["resourceType"] == "package"
    with pytest.raises(ca.exceptions.ResourceNotFoundException):
        ca.list_package_versions(**coords(repo))
    with pytest.raises(ca.exceptions.ResourceNotFoundException) as info:
        ca.list_packages(domain=repo.domain, repository="does-not-exist")
    assert info.value.response["resourceType"] == "repository"
    assert ca.list_packages(domain=repo.domain, repository=repo.name)["packages"] == []
