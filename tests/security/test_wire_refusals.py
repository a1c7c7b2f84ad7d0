"""Refusals on the wire, replayed against a real server process (issue 7, defect 10).

- An unauthenticated IAM request answers in IAM's XML namespace, an STS one in STS's: the request's ``Action``
  (else its ``Version``) says which service it is for, even without a credential scope.
- A request for IAM signed with another service's credential scope is told to scope to ``iam`` (and likewise for
  STS and CodeArtifact), as AWS does: ``SignatureDoesNotMatch``, "Credential should be scoped to correct service".
- A ``nextToken`` is bound to the caller and to the listing: another principal replaying it, or the same caller
  using it on another operation, gets ValidationException.
"""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from tests.functional.conftest import ACCOUNT, REGION, make_client, read_profile
from tests.functional.server import RunningServer, running_server
from tests.functional.sigv4_client import send, signed

IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
LIST_ONLY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["codeartifact:List*", "codeartifact:Describe*"], "Resource": "*"}],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("coffer-wire") / "data", "--account-id", ACCOUNT) as srv:
        yield srv


def _xml_error(response: httpx.Response) -> tuple[str, str, str]:
    """(namespace, code, message) of a query-protocol ErrorResponse."""
    assert response.headers["content-type"].startswith("text/xml"), response.text
    root = ET.fromstring(response.content)
    assert root.tag.endswith("}ErrorResponse"), response.text
    ns = root.tag[1 : root.tag.index("}")]
    return ns, root.findtext(f"{{{ns}}}Error/{{{ns}}}Code") or "", root.findtext(f"{{{ns}}}Error/{{{ns}}}Message") or ""


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# --------------------------------------------------------------------------------------------------------------
# the namespace of unauthenticated query requests


@pytest.mark.parametrize(
    ("method", "form", "namespace"),
    [
        ("POST", "Action=ListUsers&Version=2010-05-08", IAM_NS),
        ("GET", "Action=ListRoles&Version=2010-05-08", IAM_NS),
        ("POST", "Action=CreateUser&UserName=x", IAM_NS),  # the Action alone names IAM
        ("POST", "Action=Frobnicate&Version=2010-05-08", IAM_NS),  # an unknown Action: the Version does
        ("POST", "Action=GetCallerIdentity&Version=2011-06-15", STS_NS),
        ("GET", "Action=GetSessionToken&Version=2011-06-15", STS_NS),
    ],
)
def test_unsigned_query_request_answers_in_its_services_namespace(
    server: RunningServer, method: str, form: str, namespace: str
) -> None:
    if method == "POST":
        r = httpx.post(server.url + "/", content=form.encode(), headers=FORM)
    else:
        r = httpx.get(f"{server.url}/?{form}")
    assert r.status_code == 403
    ns, code, _ = _xml_error(r)
    assert (ns, code) == (namespace, "MissingAuthenticationToken")


def test_malformed_iam_signature_answers_in_iams_namespace(server: RunningServer) -> None:
    headers = {**FORM, "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/iam/aws4_request"}
    r = httpx.post(server.url + "/", content=b"Action=ListUsers&Version=2010-05-08", headers=headers)
    assert r.status_code == 400
    ns, code, _ = _xml_error(r)
    assert (ns, code) == (IAM_NS, "IncompleteSignature")


# --------------------------------------------------------------------------------------------------------------
# a credential scope naming another service


SCOPE_MESSAGE = "Credential should be scoped to correct service: '{}'. "


@pytest.mark.parametrize("scope_service", ["s3", "codeartifact", "sts"])
def test_iam_action_scoped_to_another_service_is_told_to_scope_to_iam(
    server: RunningServer, scope_service: str
) -> None:
    key = read_profile(server.credentials_file)
    body = b"Action=ListUsers&Version=2010-05-08"
    r = send(signed("POST", server.url + "/", key, body=body, service=scope_service, headers=FORM))
    assert r.status_code == 403
    assert _xml_error(r) == (IAM_NS, "SignatureDoesNotMatch", SCOPE_MESSAGE.format("iam"))


@pytest.mark.parametrize("scope_service", ["s3", "codeartifact", "iam"])
def test_sts_action_scoped_to_another_service_is_told_to_scope_to_sts(
    server: RunningServer, scope_service: str
) -> None:
    key = read_profile(server.credentials_file)
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    r = send(signed("POST", server.url + "/", key, body=body, service=scope_service, headers=FORM))
    assert r.status_code == 403
    assert _xml_error(r) == (STS_NS, "SignatureDoesNotMatch", SCOPE_MESSAGE.format("sts"))


def test_the_same_key_signed_for_iam_is_accepted(server: RunningServer) -> None:
    access, secret = read_profile(server.credentials_file)
    iam = boto3.client(
        "iam", endpoint_url=server.url, region_name=REGION, aws_access_key_id=access, aws_secret_access_key=secret
    )
    assert "Users" in iam.list_users()


def test_codeartifact_scoped_to_iam_is_told_to_scope_to_codeartifact(server: RunningServer) -> None:
    key = read_profile(server.credentials_file)
    r = send(signed("POST", f"{server.url}/v1/domains", key, service="iam"))  # ListDomains
    assert r.status_code == 403
    assert r.json()["message"] == SCOPE_MESSAGE.format("codeartifact")
    assert r.headers["x-amzn-ErrorType"].startswith("InvalidSignatureException")


# --------------------------------------------------------------------------------------------------------------
# nextToken bound to the caller and the operation


@pytest.fixture(scope="module")
def listing(server: RunningServer) -> dict[str, Any]:
    """A domain with three repositories whose names share a prefix (so a one-item page has a nextToken)."""
    ca = make_client(server)
    domain = _unique("wire")
    ca.create_domain(domain=domain)
    prefix = "pg" + uuid.uuid4().hex[:6]
    for i in range(3):
        ca.create_repository(domain=domain, repository=f"{prefix}-{i}")
    return {"domain": domain, "prefix": prefix}


@pytest.fixture(scope="module")
def second_user(server: RunningServer) -> Any:
    """Another IAM user of the same account allowed to list, made with a boto3 IAM client; its CodeArtifact client."""
    iam = make_client(server, service="iam")
    name = _unique("lister")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="list", PolicyDocument=json.dumps(LIST_ONLY))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return make_client(server, (key["AccessKeyId"], key["SecretAccessKey"]))


def _first_token(ca: Any, prefix: str) -> str:
    page = ca.list_repositories(repositoryPrefix=prefix, maxResults=1)
    assert len(page["repositories"]) == 1
    token: str = page["nextToken"]
    return token


def _code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = exc.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def test_next_token_works_for_its_own_caller(server: RunningServer, listing: dict[str, Any], second_user: Any) -> None:
    for ca in (make_client(server), second_user):
        token = _first_token(ca, listing["prefix"])
        rest = ca.list_repositories(repositoryPrefix=listing["prefix"], maxResults=5, nextToken=token)
        assert [r["name"] for r in rest["repositories"]] == [f"{listing['prefix']}-1", f"{listing['prefix']}-2"]


def test_next_token_replayed_by_another_user_is_refused(
    server: RunningServer, listing: dict[str, Any], second_user: Any
) -> None:
    token = _first_token(make_client(server), listing["prefix"])
    with pytest.raises(ClientError) as caught:
        second_user.list_repositories(repositoryPrefix=listing["prefix"], maxResults=1, nextToken=token)
    assert _code(caught) == (400, "ValidationException")

    theirs = _first_token(second_user, listing["prefix"])  # and the other way round
    with pytest.raises(ClientError) as caught:
        make_client(server).list_repositories(repositoryPrefix=listing["prefix"], maxResults=1, nextToken=theirs)
    assert _code(caught) == (400, "ValidationException")


def test_next_token_used_on_another_operation_is_refused(server: RunningServer, listing: dict[str, Any]) -> None:
    ca = make_client(server)
    token = _first_token(ca, listing["prefix"])
    with pytest.raises(ClientError) as caught:
        ca.list_domains(maxResults=1, nextToken=token)
    assert _code(caught) == (400, "ValidationException")
    with pytest.raises(ClientError) as caught:
        ca.list_repositories_in_domain(
            domain=listing["domain"], repositoryPrefix=listing["prefix"], maxResults=1, nextToken=token
        )
    assert _code(caught) == (400, "ValidationException")
    with pytest.raises(ClientError) as caught:  # the same operation with other filters is another listing too
        ca.list_repositories(repositoryPrefix=listing["prefix"] + "-", maxResults=1, nextToken=token)
    assert _code(caught) == (400, "ValidationException")


def test_next_token_filters_cannot_be_shifted_between_fields() -> None:
    """Package names and namespaces may contain ``:``: a listing is bound field by field, so namespace ``a:b`` with
    no prefix is not the same listing as namespace ``a`` with prefix ``b:`` (the old ``:``-joined scope was)."""
    from types import SimpleNamespace
    from typing import cast

    from coffer.core.identity.callers import Caller
    from coffer.core.shared.errors import ValidationError
    from coffer.core.shared.pagination import Paginator
    from coffer.core.shared.signing import KeyRing, SigningKey

    ring = KeyRing([SigningKey.generate(0.0)])
    paginator = Paginator(lambda: ring)
    alice = cast(Caller, SimpleNamespace(account_id=ACCOUNT, arn=f"arn:aws:iam::{ACCOUNT}:user/a", user_id="AIDA1"))
    listing = ("ListPackages", ACCOUNT, "d", "r", "generic", "a:b", "", "", "")
    token = paginator.encode(listing, "position", alice)
    assert paginator.decode(listing, token, alice) == "position"
    with pytest.raises(ValidationError):
        paginator.decode(("ListPackages", ACCOUNT, "d", "r", "generic", "a", "b:", "", ""), token, alice)
    # a re-created user of the same name and ARN has another unique id: the old user's tokens are not its own
    reborn = cast(Caller, SimpleNamespace(account_id=ACCOUNT, arn=f"arn:aws:iam::{ACCOUNT}:user/a", user_id="AIDA2"))
    with pytest.raises(ValidationError):
        paginator.decode(listing, token, reborn)
