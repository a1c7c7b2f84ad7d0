"""Domains, repositories, endpoints, permissions policies and tags through boto3 against a real server."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from tests.functional.conftest import ACCOUNT, REGION

Unique = Callable[[str], str]


def test_domain_lifecycle(ca: Any, unique: Unique) -> None:
    name = unique("dom")
    created = ca.create_domain(domain=name, tags=[{"key": "team", "value": "core"}])["domain"]
    assert created["name"] == name
    assert created["owner"] == ACCOUNT
    assert created["arn"] == f"arn:aws:codeartifact:{REGION}:{ACCOUNT}:domain/{name}"
    assert created["status"] == "Active"
    assert created["encryptionKey"].startswith(f"arn:aws:kms:{REGION}:{ACCOUNT}:key/")

    described = ca.describe_domain(domain=name)["domain"]
    assert described["repositoryCount"] == 0
    assert described["createdTime"] == created["createdTime"]
    assert ca.describe_domain(domain=name, domainOwner=ACCOUNT)["domain"]["name"] == name
    assert ca.list_tags_for_resource(resourceArn=created["arn"])["tags"] == [{"key": "team", "value": "core"}]

    with pytest.raises(ca.exceptions.ConflictException) as conflict:
        ca.create_domain(domain=name)
    assert conflict.value.response["resourceId"] == name
    assert conflict.value.response["resourceType"] == "domain"

    ca.create_repository(domain=name, repository="rr1")
    with pytest.raises(ca.exceptions.ConflictException):
        ca.delete_domain(domain=name)
    ca.delete_repository(domain=name, repository="rr1")
    deleted = ca.delete_domain(domain=name)["domain"]
    assert deleted["name"] == name
    with pytest.raises(ca.exceptions.ResourceNotFoundException) as missing:
        ca.describe_domain(domain=name)
    assert missing.value.response["resourceType"] == "domain"
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_list_domains_pages_with_tamper_proof_tokens(ca: Any, unique: Unique) -> None:
    names = sorted(unique("pg") for _ in range(5))
    for n in names:
        ca.create_domain(domain=n)
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        kwargs: dict[str, Any] = {"maxResults": 2}
        if token:
            kwargs["nextToken"] = token
        page = ca.list_domains(**kwargs)
        pages += 1
        assert len(page["domains"]) <= 2
        seen += [d["name"] for d in page["domains"]]
        token = page.get("nextToken")
        if not token:
            break
        tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        with pytest.raises(ca.exceptions.ValidationException):
            ca.list_domains(maxResults=2, nextToken=tampered)
    assert pages >= 3
    assert [n for n in seen if n in names] == names
    assert seen == sorted(seen)
    # the paginator boto3 users rely on works too
    all_names = [d["name"] for p in ca.get_paginator("list_domains").paginate() for d in p["domains"]]
    assert all_names == seen
    for n in names:
        ca.delete_domain(domain=n)


def test_domain_validation_errors(ca: Any) -> None:
    with pytest.raises(ca.exceptions.ValidationException) as err:
        ca.create_domain(domain="Acme")
    msg = err.value.response["Error"]["Message"]
    assert msg.startswith("1 validation error detected: Value 'Acme' at 'domain' failed to satisfy constraint: ")
    assert "Member must satisfy regular expression pattern" in msg
    assert err.value.response["reason"] == "FIELD_VALIDATION_FAILED"
    with pytest.raises(ParamValidationError):  # botocore checks min length itself
        ca.create_domain(domain="a")
    with pytest.raises(ca.exceptions.ValidationException):
        ca.describe_domain(domain="acme", domainOwner="12345678901x")


def test_repository_lifecycle_and_upstreams(ca: Any, unique: Unique) -> None:
    dom = unique("repos")
    ca.create_domain(domain=dom)
    base = ca.create_repository(domain=dom, repository="base", description="the base")["repository"]
    assert base["arn"] == f"arn:aws:codeartifact:{REGION}:{ACCOUNT}:repository/{dom}/base"
    assert base["administratorAccount"] == ACCOUNT
    assert base["description"] == "the base"
    mid = ca.create_repository(domain=dom, repository="mid", upstreams=[{"repositoryName": "base"}])["repository"]
    assert mid["upstreams"] == [{"repositoryName": "base"}]
    top = ca.create_repository(
        domain=dom, repository="top", upstreams=[{"repositoryName": "mid"}, {"repositoryName": "base"}]
    )["repository"]
    assert [u["repositoryName"] for u in top["upstreams"]] == ["mid", "base"]

    # a cycle is refused, and nothing changes
    with pytest.raises(ca.exceptions.ValidationException):
        ca.update_repository(domain=dom, repository="base", upstreams=[{"repositoryName": "top"}])
    assert ca.describe_repository(domain=dom, repository="base")["repository"]["upstreams"] == []
    with pytest.raises(ca.exceptions.ValidationException):
        ca.update_repository(domain=dom, repository="base", upstreams=[{"repositoryName": "base"}])
    with pytest.raises(ca.exceptions.ResourceNotFoundException):
        ca.create_repository(domain=dom, repository="xx", upstreams=[{"repositoryName": "nope"}])
    with pytest.raises(ca.exceptions.ConflictException):
        ca.create_repository(domain=dom, repository="base")
    with pytest.raises(ca.exceptions.ConflictException):  # still an upstream of mid and top
        ca.delete_repository(domain=dom, repository="base")

    updated = ca.update_repository(domain=dom, repository="top", description="new", upstreams=[])["repository"]
    assert updated["description"] == "new"
    assert updated["upstreams"] == []
    assert ca.describe_domain(domain=dom)["domain"]["repositoryCount"] == 3

    in_domain = ca.list_repositories_in_domain(domain=dom)["repositories"]
    assert [r["name"] for r in in_domain] == ["base", "mid", "top"]
    prefixed = ca.list_repositories_in_domain(domain=dom, repositoryPrefix="mi")["repositories"]
    assert [r["name"] for r in prefixed] == ["mid"]
    paged = ca.list_repositories_in_domain(domain=dom, maxResults=2)
    assert len(paged["repositories"]) == 2 and paged["nextToken"]
    rest = ca.list_repositories_in_domain(domain=dom, maxResults=2, nextToken=paged["nextToken"])
    assert [r["name"] for r in rest["repositories"]] == ["top"]
    with pytest.raises(ca.exceptions.ValidationException):  # a token from one listing is not valid for another
        ca.list_repositories_in_domain(domain=dom, repositoryPrefix="to", maxResults=2, nextToken=paged["nextToken"])
    everywhere = [r["name"] for p in ca.get_paginator("list_repositories").paginate() for r in p["repositories"]]
    assert {"base", "mid", "top"} <= set(everywhere)

    for repo in ("top", "mid", "base"):
        assert ca.delete_repository(domain=dom, repository=repo)["repository"]["name"] == repo
    with pytest.raises(ca.exceptions.ResourceNotFoundException):
        ca.describe_repository(domain=dom, repository="base")
    ca.delete_domain(domain=dom)


def test_upstream_limits(ca: Any, unique: Unique) -> None:
    dom = unique("lim")
    ca.create_domain(domain=dom)
    for i in range(11):
        ca.create_repository(domain=dom, repository=f"u{i}")
    with pytest.raises(ca.exceptions.ServiceQuotaExceededException):
        ca.create_repository(domain=dom, repository="many", upstreams=[{"repositoryName": f"u{i}"} for i in range(11)])
    ok = ca.create_repository(domain=dom, repository="ten", upstreams=[{"repositoryName": f"u{i}"} for i in range(10)])
    assert len(ok["repository"]["upstreams"]) == 10


@pytest.mark.parametrize("fmt", ["npm", "pypi", "maven", "nuget", "generic", "ruby", "swift", "cargo"])
def test_repository_endpoint_in_every_format(ca: Any, server: Any, fmt: str) -> None:
    try:
        ca.create_domain(domain="endpoints")
        ca.create_repository(domain="endpoints", repository="internal")
    except ca.exceptions.ConflictException:
        pass
    if fmt in ("pypi", "npm"):
        url = ca.get_repository_endpoint(domain="endpoints", repository="internal", format=fmt)["repositoryEndpoint"]
        assert url == f"{server.url}/{fmt}/d/endpoints-{ACCOUNT}/internal/"
    elif fmt == "generic":  # the API is its endpoint
        with pytest.raises(ca.exceptions.ValidationException, match="Generic packages have no package-client endpoint"):
            ca.get_repository_endpoint(domain="endpoints", repository="internal", format=fmt)
    else:  # not served yet (tests/functional/test_host_style.py)
        with pytest.raises(ca.exceptions.ValidationException, match=f"does not serve the {fmt} format yet"):
            ca.get_repository_endpoint(domain="endpoints", repository="internal", format=fmt)
    with pytest.raises(ca.exceptions.ValidationException):
        ca.get_repository_endpoint(domain="endpoints", repository="internal", format="rpm")


def _policy(principal: str, action: str, resource: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": principal}, "Action": action, "Resource": resource}],
        }
    )


def test_domain_permissions_policy_revisions(ca: Any, unique: Unique) -> None:
    dom = unique("pol")
    arn = ca.create_domain(domain=dom)["domain"]["arn"]
    with pytest.raises(ca.exceptions.ResourceNotFoundException):
        ca.get_domain_permissions_policy(domain=dom)
    doc = _policy(f"arn:aws:iam::{ACCOUNT}:root", "codeartifact:GetAuthorizationToken", "*")
    first = ca.put_domain_permissions_policy(domain=dom, policyDocument=doc)["policy"]
    assert first["resourceArn"] == arn
    assert first["document"] == doc
    assert first["revision"]
    got = ca.get_domain_permissions_policy(domain=dom)["policy"]
    assert got == first
    second = ca.put_domain_permissions_policy(domain=dom, policyDocument=doc, policyRevision=first["revision"])
    assert second["policy"]["revision"] != first["revision"]
    with pytest.raises(ca.exceptions.ConflictException):  # stale revision
        ca.put_domain_permissions_policy(domain=dom, policyDocument=doc, policyRevision=first["revision"])
    with pytest.raises(ca.exceptions.ConflictException):
        ca.delete_domain_permissions_policy(domain=dom, policyRevision=first["revision"])
    with pytest.raises(ClientError) as bad:
        ca.put_domain_permissions_policy(domain=dom, policyDocument='{"Statement": "nope"}')
    assert bad.value.response["Error"]["Code"] in ("ValidationException", "MalformedPolicyDocument")
    deleted = ca.delete_domain_permissions_policy(domain=dom, policyRevision=second["policy"]["revision"])
    assert deleted["policy"]["revision"] == second["policy"]["revision"]
    with pytest.raises(ca.exceptions.ResourceNotFoundException):
        ca.delete_domain_permissions_policy(domain=dom)
    ca.delete_domain(domain=dom)


def test_repository_permissions_policy(ca: Any, unique: Unique) -> None:
    dom = unique("rpol")
    ca.create_domain(domain=dom)
    repo_arn = ca.create_repository(domain=dom, repository="rr")["repository"]["arn"]
    doc = _policy(f"arn:aws:iam::{ACCOUNT}:root", "codeartifact:ReadFromRepository", repo_arn)
    put = ca.put_repository_permissions_policy(domain=dom, repository="rr", policyDocument=doc)["policy"]
    assert put["resourceArn"] == repo_arn
    assert ca.get_repository_permissions_policy(domain=dom, repository="rr")["policy"] == put
    with pytest.raises(ca.exceptions.ConflictException):
        ca.delete_repository_permissions_policy(domain=dom, repository="rr", policyRevision="stale")
    ca.delete_repository_permissions_policy(domain=dom, repository="rr", policyRevision=put["revision"])
    with pytest.raises(ca.exceptions.ResourceNotFoundException):
        ca.get_repository_permissions_policy(domain=dom, repository="rr")


def test_tags(ca: Any, unique: Unique) -> None:
    dom = unique("tag")
    arn = ca.create_domain(domain=dom)["domain"]["arn"]
    repo_arn = ca.create_repository(domain=dom, repository="rr", tags=[{"key": "a", "value": "1"}])["repository"]["arn"]
    assert ca.list_tags_for_resource(resourceArn=repo_arn)["tags"] == [{"key": "a", "value": "1"}]
    ca.tag_resource(resourceArn=arn, tags=[{"key": "x", "value": "1"}, {"key": "y", "value": "2"}])
    ca.tag_resource(resourceArn=arn, tags=[{"key": "x", "value": "3"}])
    assert ca.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"key": "x", "value": "3"},
        {"key": "y", "value": "2"},
    ]
    ca.untag_resource(resourceArn=arn, tagKeys=["x"])
    assert ca.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "y", "value": "2"}]
    missing = f"arn:aws:codeartifact:{REGION}:{ACCOUNT}:domain/{dom}-missing"
    with pytest.raises(ca.exceptions.ResourceNotFoundException):
        ca.list_tags_for_resource(resourceArn=missing)
