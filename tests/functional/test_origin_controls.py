"""Package origin controls, dependencies and copies from upstreams, through real boto3 and real twine against
the real server: PutPackageOriginConfiguration (also on a package that does not exist yet), the defaults a first
publish sets, twine refused by publish=BLOCK and by a version an internal upstream has,
ListPackageVersionDependencies of a wheel's Requires-Dist, CopyPackageVersions with and without
includeFromUpstream."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.functional.conftest import make_client
from tests.functional.dists import build_wheel
from tests.functional.pypi_clients import Repo, new_repo, twine_upload
from tests.functional.server import RunningServer

JSON_V1 = "application/vnd.pypi.simple.v1+json"


@pytest.fixture(scope="module")
def admin_ca(server: RunningServer) -> Any:
    return make_client(server)


@pytest.fixture()
def domain(admin_ca: Any) -> str:
    name = f"origin-{time.time_ns() % 10**12}"
    admin_ca.create_domain(domain=name)
    return name


def coords(repo: Repo, package: str) -> dict[str, str]:
    return {"domain": repo.domain, "repository": repo.name, "format": "pypi", "package": package}


def restrictions(publish: str, upstream: str) -> dict[str, Any]:
    return {"restrictions": {"publish": publish, "upstream": upstream}}


def printed(r: Any) -> str:
    """What twine printed, with the line breaks of its wrapping taken out."""
    return " ".join((r.stdout + r.stderr).split())


def upload(repo: Repo, tmp_path: Path, name: str, version: str, **kwargs: Any) -> Any:
    out = tmp_path / f"{repo.name}-{name}-{version}"
    out.mkdir()
    return twine_upload(repo, tmp_path, build_wheel(out, name, version, **kwargs))


def test_publish_blocked_by_origin_configuration_is_refused_with_the_rule_visible(
    server: RunningServer, admin_ca: Any, domain: str, tmp_path: Path
) -> None:
    repo = new_repo(admin_ca, server, domain, "main")
    r = upload(repo, tmp_path, "origin-demo", "1.0")
    assert r.returncode == 0, r.stdout + r.stderr
    assert admin_ca.describe_package(**coords(repo, "origin-demo"))["package"]["originConfiguration"] == (
        restrictions("ALLOW", "BLOCK")
    )
    answer = admin_ca.put_package_origin_configuration(**coords(repo, "Origin_Demo"), **restrictions("BLOCK", "ALLOW"))
    assert answer["originConfiguration"] == restrictions("BLOCK", "ALLOW")

    r = upload(repo, tmp_path, "origin-demo", "2.0")
    assert r.returncode != 0
    out = printed(r)
    assert "400 " in out and "blocked by its package origin configuration (publish=BLOCK)" in out, out
    versions = admin_ca.list_package_versions(**coords(repo, "origin-demo"))["versions"]
    assert [v["version"] for v in versions] == ["1.0"]


def test_publishing_a_version_an_internal_upstream_has_is_a_409(
    server: RunningServer, admin_ca: Any, domain: str, tmp_path: Path
) -> None:
    base = new_repo(admin_ca, server, domain, "base")
    app = new_repo(admin_ca, server, domain, "app", upstreams=["base"])
    for version in ("1.0", "2.0"):
        r = upload(base, tmp_path, "shared-lib", version)
        assert r.returncode == 0, r.stdout + r.stderr
    admin_ca.put_package_origin_configuration(**coords(app, "shared-lib"), **restrictions("ALLOW", "ALLOW"))

    r = upload(app, tmp_path, "shared-lib", "2.0")
    assert r.returncode != 0
    out = printed(r)
    assert "409 Conflict" in out and "already exists in upstream repository base" in out, out
    r = upload(app, tmp_path, "shared-lib", "3.0")  # a version the upstream does not have
    assert r.returncode == 0, r.stdout + r.stderr
    with httpx.Client(auth=app.auth, timeout=30) as http:
        page = http.get(app.index + "shared-lib/", headers={"Accept": JSON_V1}).json()
    assert page["versions"] == ["1.0", "2.0", "3.0"]


def test_put_origin_configuration_on_a_missing_package(
    server: RunningServer, admin_ca: Any, domain: str, tmp_path: Path
) -> None:
    base = new_repo(admin_ca, server, domain, "base")
    app = new_repo(admin_ca, server, domain, "app", upstreams=["base"])
    r = upload(base, tmp_path, "future-pkg", "1.0")
    assert r.returncode == 0, r.stdout + r.stderr
    with httpx.Client(auth=app.auth, timeout=30) as http:
        assert http.get(app.index + "future-pkg/", headers={"Accept": JSON_V1}).status_code == 200

    answer = admin_ca.put_package_origin_configuration(**coords(app, "Future.Pkg"), **restrictions("BLOCK", "BLOCK"))
    assert answer["originConfiguration"] == restrictions("BLOCK", "BLOCK")
    described = admin_ca.describe_package(**coords(app, "future-pkg"))["package"]
    assert described == {"format": "pypi", "name": "future-pkg", "originConfiguration": restrictions("BLOCK", "BLOCK")}
    listed = admin_ca.list_packages(domain=app.domain, repository=app.name)["packages"]
    assert listed == [
        {"format": "pypi", "package": "future-pkg", "originConfiguration": restrictions("BLOCK", "BLOCK")}
    ]
    blocked = admin_ca.list_packages(domain=app.domain, repository=app.name, upstream="BLOCK")["packages"]
    assert [p["package"] for p in blocked] == ["future-pkg"]
    versions = admin_ca.list_package_versions(**coords(app, "future-pkg"))
    assert versions["versions"] == [] and "defaultDisplayVersion" not in versions
    # the record has no versions and blocks the upstream's: nothing to install
    with httpx.Client(auth=app.auth, timeout=30) as http:
        assert http.get(app.index + "future-pkg/", headers={"Accept": JSON_V1}).status_code == 404
    r = upload(app, tmp_path, "future-pkg", "2.0")
    assert r.returncode != 0 and "publish=BLOCK" in printed(r)

    with pytest.raises(admin_ca.exceptions.ResourceNotFoundException):
        admin_ca.put_package_origin_configuration(
            domain=domain, repository="ghost", format="pypi", package="x", **restrictions("ALLOW", "ALLOW")
        )
    with pytest.raises(admin_ca.exceptions.ValidationException):
        admin_ca.put_package_origin_configuration(**coords(app, "x"), **restrictions("ALLOW", "MAYBE"))
    admin_ca.delete_package(**coords(app, "future-pkg"))
    assert admin_ca.list_packages(domain=app.domain, repository=app.name)["packages"] == []


def test_list_package_version_dependencies_of_a_wheel(
    server: RunningServer, admin_ca: Any, domain: str, tmp_path: Path
) -> None:
    repo = new_repo(admin_ca, server, domain, "main")
    requires = (
        "Requests[socks] (>=2.0,<3)",
        'Foo_Bar; python_version < "3.9"',
        "pytest>=7 ; extra == 'test'",
    )
    r = upload(repo, tmp_path, "with-deps", "1.0", requires_dist=requires)
    assert r.returncode == 0, r.stdout + r.stderr
    answer = admin_ca.list_package_version_dependencies(**coords(repo, "With_Deps"), packageVersion="1.0")
    assert (answer["format"], answer["package"], answer["version"]) == ("pypi", "with-deps", "1.0")
    assert answer["versionRevision"]
    assert "nextToken" not in answer
    assert answer["dependencies"] == [
        {"package": "requests", "dependencyType": "Requires-Dist", "versionRequirement": "[socks]<3,>=2.0"},
        {"package": "foo-bar", "dependencyType": "Requires-Dist", "versionRequirement": '; python_version < "3.9"'},
        {"package": "pytest", "dependencyType": "Requires-Dist", "versionRequirement": '>=7; extra == "test"'},
    ]
    r = upload(repo, tmp_path, "no-deps", "1.0")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (
        admin_ca.list_package_version_dependencies(**coords(repo, "no-deps"), packageVersion="1.0")["dependencies"]
        == []
    )
    with pytest.raises(admin_ca.exceptions.ResourceNotFoundException):
        admin_ca.list_package_version_dependencies(**coords(repo, "with-deps"), packageVersion="9.9")
    # a version only an upstream has is not found (AWS ignores upstreams here)
    down = new_repo(admin_ca, server, domain, "down", upstreams=["main"])
    with pytest.raises(admin_ca.exceptions.ResourceNotFoundException):
        admin_ca.list_package_version_dependencies(**coords(down, "with-deps"), packageVersion="1.0")


def test_copy_package_versions_with_and_without_include_from_upstream(
    server: RunningServer, admin_ca: Any, domain: str, tmp_path: Path
) -> None:
    base = new_repo(admin_ca, server, domain, "base")
    src = new_repo(admin_ca, server, domain, "src", upstreams=["base"])
    dst = new_repo(admin_ca, server, domain, "dst")
    for repo, version in ((src, "1.0"), (base, "2.0")):
        r = upload(repo, tmp_path, "copied", version)
        assert r.returncode == 0, r.stdout + r.stderr
    admin_ca.put_package_origin_configuration(**coords(src, "copied"), **restrictions("ALLOW", "ALLOW"))
    copy = {
        "domain": domain,
        "sourceRepository": src.name,
        "destinationRepository": dst.name,
        "format": "pypi",
        "package": "copied",
        "versions": ["1.0", "2.0"],
    }
    without = admin_ca.copy_package_versions(**copy)
    assert list(without["successfulVersions"]) == ["1.0"]
    assert without["successfulVersions"]["1.0"]["status"] == "Published"
    assert without["failedVersions"]["2.0"]["errorCode"] == "NOT_FOUND"
    included = admin_ca.copy_package_versions(**copy, includeFromUpstream=True)
    assert list(included["successfulVersions"]) == ["2.0"]
    assert included["failedVersions"]["1.0"]["errorCode"] == "ALREADY_EXISTS"
    versions = admin_ca.list_package_versions(**coords(dst, "copied"))["versions"]
    assert sorted(v["version"] for v in versions) == ["1.0", "2.0"]
    copied = admin_ca.get_package_version_asset(
        **coords(dst, "copied"), packageVersion="2.0", asset="copied-2.0-py3-none-any.whl"
    )
    assert copied["asset"].read()[:2] == b"PK"
