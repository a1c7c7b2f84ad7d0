"""Roles, resource policies and tokens across accounts on a real server, with boto3 (``sts``, ``iam``,
``codeartifact``), HTTP reads of the PyPI endpoint and twine uploads:

- a role of account B, assumed from account A, reaches A's domain and repository through A's domain and
  repository policies; without them it is refused with "no resource-based policy allows";
- AWS's managed AWSCodeArtifactReadOnlyAccess on a role allows a token and reading, not publishing;
- a deny on aws:TokenIssueTime ("revoke active sessions") also cuts off tokens minted by older sessions.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from coffer.core.identity.callers import root_caller
from tests.functional.conftest import ACCOUNT, Creds, admin_creds, client, token_policy
from tests.functional.dists import build_wheel
from tests.functional.pypi_clients import Repo, twine_upload
from tests.functional.server import RunningServer
from tests.functional.test_sts import creds_of, make_role, opened_data, trust_policy, unique

OTHER = "444455556666"
READ_ONLY = "arn:aws:iam::aws:policy/AWSCodeArtifactReadOnlyAccess"
CONSUMER_POLICY = token_policy("codeartifact:GetRepositoryEndpoint", "codeartifact:ReadFromRepository")


@pytest.fixture(scope="module")
def owner(server: RunningServer) -> Creds:
    """The admin of the server's own account (the domain owner)."""
    return admin_creds(server)


@pytest.fixture(scope="module")
def owner_arn(server: RunningServer, owner: Creds) -> str:
    arn: str = client(server, "sts", owner).get_caller_identity()["Arn"]
    return arn


@pytest.fixture(scope="module")
def owner_iam(server: RunningServer, owner: Creds) -> Any:
    return client(server, "iam", owner)


@pytest.fixture(scope="module")
def other_admin(server: RunningServer, owner: Creds) -> Creds:
    """The admin user of a second account, made in the server's store (as ``coffer admin`` would)."""
    with opened_data(server) as o:
        key = o.services.iam.bootstrap_admin(OTHER)
        if key is None:  # made by an earlier module of this session: a fresh key for the existing admin
            key = o.services.iam.create_access_key(root_caller(OTHER, ""), "admin")
    return key.access_key_id, key.secret_access_key, None


@pytest.fixture(scope="module")
def shared_domain(server: RunningServer, owner: Creds) -> str:
    ca = client(server, "codeartifact", owner)
    name = unique("xacct")
    ca.create_domain(domain=name)
    ca.create_repository(domain=name, repository="main")
    return name


def pypi_repo(server: RunningServer, domain: str, token: str, owner: str = ACCOUNT) -> Repo:
    return Repo(domain, "main", f"{server.url}/pypi/d/{domain}-{owner}/main/", token, server)


def poll_status(url: str, token: str, want: int, seconds: float = 5.0) -> int:
    """GET ``url`` with the token until it answers ``want`` (caches live a second) or time runs out."""
    deadline = time.monotonic() + seconds
    status = -1
    with httpx.Client(timeout=30, auth=("aws", token)) as http:
        while time.monotonic() < deadline:
            status = http.get(url).status_code
            if status == want:
                break
            time.sleep(0.2)
    return status


def test_role_of_another_account_reaches_the_domain_through_its_policies(
    server: RunningServer, owner: Creds, owner_arn: str, other_admin: Creds, shared_domain: str, tmp_path: Path
) -> None:
    # account B makes a role that account A's admin may assume, with permissions on any CodeArtifact resource
    other_iam = client(server, "iam", other_admin)
    role_name = unique("consumer")
    role_arn = make_role(other_iam, trust_policy(owner_arn), inline=CONSUMER_POLICY, name=role_name)
    assert role_arn == f"arn:aws:iam::{OTHER}:role/{role_name}"

    out = client(server, "sts", owner).assume_role(RoleArn=role_arn, RoleSessionName="from-a")
    session_arn = f"arn:aws:sts::{OTHER}:assumed-role/{role_name}/from-a"
    assert out["AssumedRoleUser"]["Arn"] == session_arn
    session = client(server, "codeartifact", creds_of(out))
    assert client(server, "sts", creds_of(out)).get_caller_identity()["Account"] == OTHER

    # no domain policy: the identity policy alone is not enough across accounts
    domain_arn = f"arn:aws:codeartifact:us-east-1:{ACCOUNT}:domain/{shared_domain}"
    with pytest.raises(session.exceptions.AccessDeniedException) as err:
        session.get_authorization_token(domain=shared_domain, domainOwner=ACCOUNT)
    assert err.value.response["Error"]["Message"] == (
        f"User: {session_arn} is not authorized to perform: codeartifact:GetAuthorizationToken on resource: "
        f"{domain_arn} because no resource-based policy allows the codeartifact:GetAuthorizationToken action"
    )

    # account A grants the role through its domain and repository policies
    owner_ca = client(server, "codeartifact", owner)
    grant = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OTHER}:role/{role_name}"},
                "Action": ["codeartifact:GetAuthorizationToken"],
                "Resource": "*",
            }
        ],
    }
    owner_ca.put_domain_permissions_policy(domain=shared_domain, policyDocument=json.dumps(grant))
    read = json.loads(json.dumps(grant))
    read["Statement"][0]["Action"] = ["codeartifact:ReadFromRepository", "codeartifact:GetRepositoryEndpoint"]
    owner_ca.put_repository_permissions_policy(domain=shared_domain, repository="main", policyDocument=json.dumps(read))

    token = session.get_authorization_token(domain=shared_domain, domainOwner=ACCOUNT)["authorizationToken"]
    endpoint = session.get_repository_endpoint(
        domain=shared_domain, domainOwner=ACCOUNT, repository="main", format="pypi"
    )["repositoryEndpoint"]
    repo = pypi_repo(server, shared_domain, token)
    assert endpoint == repo.endpoint
    with httpx.Client(timeout=30, auth=repo.auth) as http:
        assert http.get(repo.index).status_code == 200
    # the repository policy grants reading only
    r = twine_upload(repo, tmp_path, build_wheel(tmp_path, "xacct-demo", "1.0"), args=("--verbose",))
    assert r.returncode != 0 and "403" in r.stdout + r.stderr

    # the same role without the domain policy is refused again (and its token no longer reads)
    owner_ca.delete_domain_permissions_policy(domain=shared_domain)
    owner_ca.delete_repository_permissions_policy(domain=shared_domain, repository="main")
    with pytest.raises(session.exceptions.AccessDeniedException) as err:
        session.get_authorization_token(domain=shared_domain, domainOwner=ACCOUNT)
    assert "because no resource-based policy allows" in err.value.response["Error"]["Message"]
    assert poll_status(repo.index, token, 403) == 403


def test_principal_of_another_account_without_any_policy_is_denied(
    server: RunningServer, other_admin: Creds, shared_domain: str
) -> None:
    ca = client(server, "codeartifact", other_admin)
    with pytest.raises(ca.exceptions.AccessDeniedException) as err:
        ca.get_authorization_token(domain=shared_domain, domainOwner=ACCOUNT)
    assert err.value.response["Error"]["Message"].endswith(
        "because no resource-based policy allows the codeartifact:GetAuthorizationToken action"
    )


def test_managed_read_only_policy_reads_but_does_not_publish(
    server: RunningServer, owner: Creds, owner_arn: str, owner_iam: Any, shared_domain: str, tmp_path: Path
) -> None:
    role_arn = make_role(owner_iam, trust_policy(owner_arn), inline=None, managed=(READ_ONLY,))
    out = client(server, "sts", owner).assume_role(RoleArn=role_arn, RoleSessionName="reader")
    ca = client(server, "codeartifact", creds_of(out))
    token = ca.get_authorization_token(domain=shared_domain)["authorizationToken"]
    repo = pypi_repo(server, shared_domain, token)
    with httpx.Client(timeout=30, auth=repo.auth) as http:
        assert http.get(repo.index).status_code == 200
    r = twine_upload(repo, tmp_path, build_wheel(tmp_path, "read-only-demo", "1.0"), args=("--verbose",))
    assert r.returncode != 0
    assert "403" in r.stdout + r.stderr and "PublishPackageVersion" in r.stdout + r.stderr
    with pytest.raises(ca.exceptions.AccessDeniedException):
        ca.create_repository(domain=shared_domain, repository=unique("nope"))


def test_revoking_older_sessions_cuts_off_their_tokens(
    server: RunningServer,
    owner: Creds,
    owner_arn: str,
    owner_iam: Any,
    shared_domain: str,
) -> None:
    role_arn = make_role(owner_iam, trust_policy(owner_arn))
    role_name = role_arn.rsplit("/", 1)[-1]
    sts = client(server, "sts", owner)
    old = sts.assume_role(RoleArn=role_arn, RoleSessionName="old")
    old_token = client(server, "codeartifact", creds_of(old)).get_authorization_token(domain=shared_domain)
    repo = pypi_repo(server, shared_domain, old_token["authorizationToken"])
    assert poll_status(repo.index, repo.token, 200) == 200

    time.sleep(1.1)  # aws:TokenIssueTime has whole seconds
    cutoff = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    revoke = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": ["*"],
                "Resource": ["*"],
                "Condition": {"DateLessThan": {"aws:TokenIssueTime": cutoff}},
            }
        ],
    }
    owner_iam.put_role_policy(
        RoleName=role_name, PolicyName="AWSRevokeOlderSessions", PolicyDocument=json.dumps(revoke)
    )
    assert poll_status(repo.index, repo.token, 403) == 403  # the token minted by the old session is cut off
    with pytest.raises(Exception, match="explicit deny in an identity-based policy"):
        client(server, "codeartifact", creds_of(old)).get_authorization_token(domain=shared_domain)

    time.sleep(1.1)
    new = sts.assume_role(RoleArn=role_arn, RoleSessionName="new")
    new_token = client(server, "codeartifact", creds_of(new)).get_authorization_token(domain=shared_domain)
    assert poll_status(repo.index, new_token["authorizationToken"], 200) == 200
