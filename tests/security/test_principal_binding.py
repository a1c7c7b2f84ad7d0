"""Tokens, STS sessions and access keys are bound to the principal's unique id (AIDA... / AROA...), not its name:
a user or role deleted and re-created under the same name and ARN inherits nothing minted before.

Everything runs against a real ``coffer serve`` process with boto3 and plain HTTP, as an attacker would try it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.functional.conftest import admin_creds, client
from tests.functional.server import RunningServer, running_server

ACCOUNT = "210987654321"
TOKEN_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["codeartifact:*", "sts:GetServiceBearerToken"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["sts:GetSessionToken", "sts:GetCallerIdentity"], "Resource": "*"},
    ],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("binding") / "data", "--account-id", ACCOUNT) as srv:
        yield srv


@pytest.fixture(scope="module")
def admin(server: RunningServer) -> tuple[str, str, str | None]:
    return admin_creds(server)


@pytest.fixture(scope="module")
def repo(server: RunningServer, admin: tuple[str, str, str | None]) -> str:
    ca = client(server, "codeartifact", admin)
    ca.create_domain(domain="acme")
    ca.create_repository(domain="acme", repository="internal")
    return f"{server.url}/pypi/d/acme-{ACCOUNT}/internal/simple/"


def _make_user(iam: Any, name: str) -> tuple[str, str, str | None]:
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="tokens", PolicyDocument=json.dumps(TOKEN_POLICY))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"], None


def _delete_user(iam: Any, name: str) -> None:
    for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    iam.delete_user_policy(UserName=name, PolicyName="tokens")
    iam.delete_user(UserName=name)


def _token(server: RunningServer, creds: tuple[str, str, str | None]) -> str:
    token: str = client(server, "codeartifact", creds).get_authorization_token(domain="acme")["authorizationToken"]
    return token


def _read(url: str, token: str) -> int:
    return httpx.get(url, auth=("aws", token), timeout=10).status_code


def test_a_recreated_user_does_not_inherit_tokens_or_sessions(
    server: RunningServer, admin: tuple[str, str, str | None], repo: str
) -> None:
    iam = client(server, "iam", admin)
    name = f"ghost-{uuid.uuid4().hex[:6]}"
    old_key = _make_user(iam, name)
    old_token = _token(server, old_key)
    session = client(server, "sts", old_key).get_session_token()["Credentials"]
    old_session = (session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"])
    session_token = _token(server, old_session)
    assert _read(repo, old_token) == 200 and _read(repo, session_token) == 200

    old_user_id = iam.get_user(UserName=name)["User"]["UserId"]
    _delete_user(iam, name)
    _make_user(iam, name)  # same name, same ARN, same policy: another principal
    assert iam.get_user(UserName=name)["User"]["UserId"] != old_user_id
    for token in (old_token, session_token):
        response = httpx.get(repo, auth=("aws", token), timeout=10)
        assert response.status_code == 401, response.text
        assert "no longer exists" in response.text
    with pytest.raises(ClientError) as err:  # the old user's session credentials are dead too
        client(server, "codeartifact", old_session).list_domains()
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] in (401, 403)


def test_a_recreated_role_does_not_inherit_sessions_or_tokens(
    server: RunningServer, admin: tuple[str, str, str | None], repo: str
) -> None:
    iam = client(server, "iam", admin)
    role = f"builder-{uuid.uuid4().hex[:6]}"
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
            ],
        }
    )

    def make_role() -> str:
        created = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)["Role"]["RoleId"]
        iam.put_role_policy(RoleName=role, PolicyName="tokens", PolicyDocument=json.dumps(TOKEN_POLICY))
        return str(created)

    first_id = make_role()
    arn = f"arn:aws:iam::{ACCOUNT}:role/{role}"
    assumed = client(server, "sts", admin).assume_role(RoleArn=arn, RoleSessionName="ci")["Credentials"]
    session = (assumed["AccessKeyId"], assumed["SecretAccessKey"], assumed["SessionToken"])
    token = _token(server, session)
    assert _read(repo, token) == 200

    iam.delete_role_policy(RoleName=role, PolicyName="tokens")
    iam.delete_role(RoleName=role)
    assert make_role() != first_id
    assert _read(repo, token) == 401
    with pytest.raises(ClientError) as err:
        client(server, "codeartifact", session).list_domains()
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] in (401, 403)
    # a new session of the new role works: the refusal is the binding, not the name
    fresh = client(server, "sts", admin).assume_role(RoleArn=arn, RoleSessionName="ci")["Credentials"]
    new_session = (fresh["AccessKeyId"], fresh["SecretAccessKey"], fresh["SessionToken"])
    assert _read(repo, _token(server, new_session)) == 200


def test_a_token_without_a_principal_id_is_refused(server: RunningServer, repo: str) -> None:
    """Tokens of the format before principal binding (nine claims) are malformed now, not honoured by name."""
    from coffer.core.codeartifact import token_format as tokens
    from coffer.store.keyfiles import KeyRingFiles

    ring = KeyRingFiles(Path(server.data_dir) / "keys")()
    now = int(time.time())
    claims = [ring.active.key_id, "a" * 24, ACCOUNT, ACCOUNT, "acme", f"arn:aws:iam::{ACCOUNT}:user/admin"]
    body = tokens._b64e(json.dumps([*claims, now, now + 900, None], separators=(",", ":")).encode())
    signed = tokens.PREFIX + body
    old_format = signed + "." + tokens._b64e(ring.active.mac(signed.encode("ascii")))
    response = httpx.get(repo, auth=("aws", old_format), timeout=10)
    assert response.status_code == 401 and "malformed" in response.text
