"""Package groups through boto3 (and the ``aws`` CLI) against the real server: the ten operations, the root group,
the hierarchy, associated packages (published through the PyPI upload API) and the errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.functional.conftest import ACCOUNT, REGION
from tests.functional.test_api_packages import Repo, make_repo  # noqa: F401  (fixture)
from tests.functional.test_aws_cli import run_aws


def code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def restrictions(group: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(group["originConfiguration"]["restrictions"])


@pytest.fixture()
def domain(ca: Any, unique: Callable[[str], str]) -> str:
    name = unique("groups")
    ca.create_domain(domain=name)
    ca.create_repository(domain=name, repository="internal")
    ca.create_repository(domain=name, repository="mirror")
    return name


def test_every_domain_has_the_root_group(ca: Any, domain: str) -> None:
    root = ca.describe_package_group(domain=domain, packageGroup="/*")["packageGroup"]
    assert root["pattern"] == "/*"
    assert root["arn"] == f"arn:aws:codeartifact:{REGION}:{ACCOUNT}:package-group/{domain}/%2A"
    assert root["domainName"] == domain and root["domainOwner"] == ACCOUNT
    assert "parent" not in root
    for kind in ("PUBLISH", "EXTERNAL_UPSTREAM", "INTERNAL_UPSTREAM"):
        assert restrictions(root)[kind]["mode"] == restrictions(root)[kind]["effectiveMode"] == "ALLOW"
    listed = ca.list_package_groups(domain=domain)["packageGroups"]
    assert [g["pattern"] for g in listed] == ["/*"]
    # it can be changed, never deleted, never created, never INHERIT
    changed = ca.update_package_group(domain=domain, packageGroup="/*", description="everything")["packageGroup"]
    assert changed["description"] == "everything"
    with pytest.raises(ClientError) as err:
        ca.delete_package_group(domain=domain, packageGroup="/*")
    assert code(err) == "ValidationException"
    with pytest.raises(ClientError) as err:
        ca.create_package_group(domain=domain, packageGroup="/*")
    assert code(err) == "ConflictException"
    with pytest.raises(ClientError) as err:
        ca.update_package_group_origin_configuration(
            domain=domain, packageGroup="/*", restrictions={"PUBLISH": "INHERIT"}
        )
    assert code(err) == "ValidationException"


def test_create_describe_update_delete(ca: Any, domain: str) -> None:
    created = ca.create_package_group(
        domain=domain,
        packageGroup="/pypi//My_Lib$",
        contactInfo="team@example.com",
        description="our lib",
        tags=[{"key": "team", "value": "core"}],
    )["packageGroup"]
    assert created["pattern"] == "/pypi//my-lib$"  # PEP 503
    assert created["arn"].endswith(f":package-group/{domain}/pypi//my-lib%24")
    assert created["contactInfo"] == "team@example.com" and created["description"] == "our lib"
    assert created["parent"] == {
        "arn": f"arn:aws:codeartifact:{REGION}:{ACCOUNT}:package-group/{domain}/%2A",
        "pattern": "/*",
    }
    publish = restrictions(created)["PUBLISH"]
    assert publish["mode"] == "INHERIT" and publish["effectiveMode"] == "ALLOW"
    assert publish["inheritedFrom"]["pattern"] == "/*" and publish["repositoriesCount"] == 0
    # described by any spelling of the same pattern
    tags = ca.list_tags_for_resource(resourceArn=created["arn"])["tags"]
    assert tags == [{"key": "team", "value": "core"}]
    ca.tag_resource(resourceArn=created["arn"], tags=[{"key": "more", "value": "x"}])
    assert len(ca.list_tags_for_resource(resourceArn=created["arn"])["tags"]) == 2
    root_arn = f"arn:aws:codeartifact:{REGION}:{ACCOUNT}:package-group/{domain}/%2A"
    ca.tag_resource(resourceArn=root_arn, tags=[{"key": "root", "value": "y"}])
    assert ca.list_tags_for_resource(resourceArn=root_arn)["tags"] == [{"key": "root", "value": "y"}]
    described = ca.describe_package_group(domain=domain, packageGroup="/pypi//my.lib$")["packageGroup"]
    assert described["arn"] == created["arn"]
    updated = ca.update_package_group(domain=domain, packageGroup="/pypi//my-lib$", description="new")["packageGroup"]
    assert updated["description"] == "new" and updated["contactInfo"] == "team@example.com"
    with pytest.raises(ClientError) as err:
        ca.create_package_group(domain=domain, packageGroup="/pypi//MY-LIB$")
    assert code(err) == "ConflictException"
    deleted = ca.delete_package_group(domain=domain, packageGroup="/pypi//my-lib$")["packageGroup"]
    assert deleted["pattern"] == "/pypi//my-lib$"
    with pytest.raises(ClientError) as err:
        ca.list_tags_for_resource(resourceArn=created["arn"])
    assert code(err) == "ResourceNotFoundException"
    for call in (
        lambda: ca.describe_package_group(domain=domain, packageGroup="/pypi//my-lib$"),
        lambda: ca.delete_package_group(domain=domain, packageGroup="/pypi//my-lib$"),
        lambda: ca.update_package_group(domain=domain, packageGroup="/pypi//my-lib$", description="x"),
        lambda: ca.describe_package_group(domain="no-such-domain", packageGroup="/*"),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert code(err) == "ResourceNotFoundException"


@pytest.mark.parametrize(
    ("pattern", "says"),
    [("npm/*", "starts with '/'"), ("/npm/space", "ends with"), ("/pypi/ns/x$", "no namespace"), ("/rpm/*", "rpm")],
)
def test_invalid_patterns_are_validation_errors(ca: Any, domain: str, pattern: str, says: str) -> None:
    with pytest.raises(ClientError) as err:
        ca.create_package_group(domain=domain, packageGroup=pattern)
    assert code(err) == "ValidationException"
    assert says in err.value.response["Error"]["Message"]


def test_hierarchy_list_and_sub_groups(ca: Any, domain: str) -> None:
    for pattern in ("/npm/*", "/npm/space/*", "/npm/space/ui~", "/npm/space/ui-kit$", "/pypi/*"):
        ca.create_package_group(domain=domain, packageGroup=pattern)
    described = ca.describe_package_group(domain=domain, packageGroup="/npm/space/ui-kit$")["packageGroup"]
    assert described["parent"]["pattern"] == "/npm/space/ui~"
    subs = ca.list_sub_package_groups(domain=domain, packageGroup="/*")["packageGroups"]
    assert [g["pattern"] for g in subs] == ["/npm/*", "/pypi/*"]
    subs = ca.list_sub_package_groups(domain=domain, packageGroup="/npm/*")["packageGroups"]
    assert [g["pattern"] for g in subs] == ["/npm/space/*"]
    # pagination through the signed token, and the prefix filter
    pages = list(ca.get_paginator("list_package_groups").paginate(domain=domain, PaginationConfig={"PageSize": 2}))
    assert len(pages) == 3
    assert [g["pattern"] for p in pages for g in p["packageGroups"]] == [
        "/*",
        "/npm/*",
        "/npm/space/*",
        "/npm/space/ui-kit$",
        "/npm/space/ui~",
        "/pypi/*",
    ]
    prefixed = ca.list_package_groups(domain=domain, prefix="/npm/space")["packageGroups"]
    assert [g["pattern"] for g in prefixed] == ["/npm/space/*", "/npm/space/ui-kit$", "/npm/space/ui~"]
    # deleting a middle group hands its children to its parent
    ca.delete_package_group(domain=domain, packageGroup="/npm/space/ui~")
    described = ca.describe_package_group(domain=domain, packageGroup="/npm/space/ui-kit$")["packageGroup"]
    assert described["parent"]["pattern"] == "/npm/space/*"
    with pytest.raises(ClientError) as err:
        ca.list_sub_package_groups(domain=domain, packageGroup="/cargo/*")
    assert code(err) == "ResourceNotFoundException"


def test_origin_configuration_inherit_and_allowed_repositories(ca: Any, domain: str) -> None:
    ca.create_package_group(domain=domain, packageGroup="/pypi/*")
    ca.create_package_group(domain=domain, packageGroup="/pypi//internal~")
    out = ca.update_package_group_origin_configuration(
        domain=domain,
        packageGroup="/pypi/*",
        restrictions={"PUBLISH": "ALLOW_SPECIFIC_REPOSITORIES", "EXTERNAL_UPSTREAM": "BLOCK"},
        addAllowedRepositories=[
            {"repositoryName": "internal", "originRestrictionType": "PUBLISH"},
            {"repositoryName": "mirror", "originRestrictionType": "PUBLISH"},
        ],
    )
    assert out["allowedRepositoryUpdates"] == {"PUBLISH": {"ADDED": ["internal", "mirror"]}}
    pypi = restrictions(out["packageGroup"])
    assert pypi["PUBLISH"] == {
        "mode": "ALLOW_SPECIFIC_REPOSITORIES",
        "effectiveMode": "ALLOW_SPECIFIC_REPOSITORIES",
        "repositoriesCount": 2,
    }
    assert pypi["EXTERNAL_UPSTREAM"]["effectiveMode"] == "BLOCK"
    assert pypi["INTERNAL_UPSTREAM"]["inheritedFrom"]["pattern"] == "/*"
    child = restrictions(ca.describe_package_group(domain=domain, packageGroup="/pypi//internal~")["packageGroup"])
    assert child["PUBLISH"]["mode"] == "INHERIT"
    assert child["PUBLISH"]["effectiveMode"] == "ALLOW_SPECIFIC_REPOSITORIES"
    assert child["PUBLISH"]["inheritedFrom"]["pattern"] == "/pypi/*"
    assert child["EXTERNAL_UPSTREAM"]["effectiveMode"] == "BLOCK"
    listed = ca.list_allowed_repositories_for_group(
        domain=domain, packageGroup="/pypi/*", originRestrictionType="PUBLISH", maxResults=1
    )
    assert listed["allowedRepositories"] == ["internal"] and "nextToken" in listed
    rest = ca.list_allowed_repositories_for_group(
        domain=domain, packageGroup="/pypi/*", originRestrictionType="PUBLISH", nextToken=listed["nextToken"]
    )
    assert rest["allowedRepositories"] == ["mirror"] and "nextToken" not in rest
    out = ca.update_package_group_origin_configuration(
        domain=domain,
        packageGroup="/pypi/*",
        removeAllowedRepositories=[{"repositoryName": "mirror", "originRestrictionType": "PUBLISH"}],
    )
    assert out["allowedRepositoryUpdates"] == {"PUBLISH": {"REMOVED": ["mirror"]}}
    assert restrictions(out["packageGroup"])["PUBLISH"]["repositoriesCount"] == 1
    empty = ca.list_allowed_repositories_for_group(
        domain=domain, packageGroup="/pypi/*", originRestrictionType="EXTERNAL_UPSTREAM"
    )
    assert empty["allowedRepositories"] == []
    with pytest.raises(ClientError) as err:
        ca.update_package_group_origin_configuration(
            domain=domain,
            packageGroup="/pypi/*",
            addAllowedRepositories=[{"repositoryName": "no-such-repo", "originRestrictionType": "PUBLISH"}],
        )
    assert code(err) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        ca.list_allowed_repositories_for_group(domain=domain, packageGroup="/pypi/*", originRestrictionType="NOPE")
    assert code(err) == "ValidationException"


def test_associated_group_and_packages(ca: Any, make_repo: Callable[..., Repo]) -> None:  # noqa: F811
    repo = make_repo()
    repo.publish("acme-core", "1.0")
    repo.publish("acme_tools", "1.0")
    repo.publish("other", "1.0")
    d = repo.domain
    ca.create_package_group(domain=d, packageGroup="/pypi//acme~")
    ca.create_package_group(domain=d, packageGroup="/npm//react$")
    got = ca.get_associated_package_group(domain=d, format="pypi", package="ACME.core")
    assert got["packageGroup"]["pattern"] == "/pypi//acme~" and got["associationType"] == "STRONG"
    got = ca.get_associated_package_group(domain=d, format="pypi", package="other")
    assert got["packageGroup"]["pattern"] == "/*"
    weak = ca.get_associated_package_group(domain=d, format="npm", package="React")
    assert weak["packageGroup"]["pattern"] == "/npm//react$" and weak["associationType"] == "WEAK"
    listed = ca.list_associated_packages(domain=d, packageGroup="/pypi//acme~")["packages"]
    assert listed == [
        {"format": "pypi", "package": "acme-core", "associationType": "STRONG"},
        {"format": "pypi", "package": "acme-tools", "associationType": "STRONG"},
    ]
    first = ca.list_associated_packages(domain=d, packageGroup="/pypi//acme~", maxResults=1)
    assert [p["package"] for p in first["packages"]] == ["acme-core"]
    second = ca.list_associated_packages(domain=d, packageGroup="/pypi//acme~", nextToken=first["nextToken"])
    assert [p["package"] for p in second["packages"]] == ["acme-tools"] and "nextToken" not in second
    root = ca.list_associated_packages(domain=d, packageGroup="/*")["packages"]
    assert [p["package"] for p in root] == ["other"]
    preview = ca.list_associated_packages(domain=d, packageGroup="/pypi//o~", preview=True)["packages"]
    assert [p["package"] for p in preview] == ["other"]
    with pytest.raises(ClientError) as err:
        ca.list_associated_packages(domain=d, packageGroup="/pypi//o~")
    assert code(err) == "ResourceNotFoundException"


def test_deleting_the_domain_removes_its_groups(ca: Any, unique: Callable[[str], str]) -> None:
    d = unique("gone")
    ca.create_domain(domain=d)
    ca.create_package_group(domain=d, packageGroup="/npm/*")
    ca.delete_domain(domain=d)
    ca.create_domain(domain=d)
    assert [g["pattern"] for g in ca.list_package_groups(domain=d)["packageGroups"]] == ["/*"]


def test_access_is_authorized_on_the_group_arn(
    make_user: Callable[[dict[str, Any] | None], Any], ca: Any, domain: str
) -> None:
    ca.create_package_group(domain=domain, packageGroup="/npm/*")
    allowed_arn = f"arn:aws:codeartifact:{REGION}:{ACCOUNT}:package-group/{domain}/npm/%2A"
    user = make_user(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "codeartifact:DescribePackageGroup", "Resource": allowed_arn}],
        }
    )
    assert user.describe_package_group(domain=domain, packageGroup="/npm/*")["packageGroup"]["arn"] == allowed_arn
    with pytest.raises(ClientError) as err:
        user.describe_package_group(domain=domain, packageGroup="/*")
    assert code(err) == "AccessDeniedException"
    with pytest.raises(ClientError) as err:
        user.delete_package_group(domain=domain, packageGroup="/npm/*")
    assert code(err) == "AccessDeniedException"


def test_the_aws_cli_creates_and_lists_groups(server: Any, tmp_path: Path, domain: str) -> None:
    r = run_aws(
        server, tmp_path, "codeartifact", "create-package-group", "--domain", domain, "--package-group", "/npm/acme/*"
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["packageGroup"]["pattern"] == "/npm/acme/*"
    r = run_aws(server, tmp_path, "codeartifact", "list-package-groups", "--domain", domain)
    assert r.returncode == 0, r.stderr
    assert [g["pattern"] for g in json.loads(r.stdout)["packageGroups"]] == ["/*", "/npm/acme/*"]
