"""STS on a real server with the real clients (boto3 ``sts``/``iam``/``codeartifact`` and the ``aws`` CLI):
AssumeRole and GetSessionToken credentials, their use on CodeArtifact, expiry, chaining, trust and session policies.

Roles are made with boto3's ``iam`` client. Until the query endpoint on ``POST /`` serves STS and IAM (wired in
``src/coffer/app/factory.py``), these tests skip saying so.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from coffer.cli.context import make_settings, opened
from coffer.core.identity.iam_models import Session
from coffer.core.identity.sts import new_session_access_key_id, new_session_token
from tests.functional.conftest import ACCOUNT, REGION, Creds, admin_creds, client, make_client
from tests.functional.server import RunningServer

ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def creds_of(response: dict[str, Any]) -> Creds:
    c = response["Credentials"]
    return c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def trust_policy(*principals: str, actions: tuple[str, ...] = ("sts:AssumeRole", "sts:TagSession")) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": list(principals)}, "Action": list(actions)}],
        }
    )


def make_role(
    iam: Any,
    trust: str,
    *,
    inline: dict[str, Any] | None = ALLOW_ALL,
    managed: tuple[str, ...] = (),
    max_session_duration: int | None = None,
    name: str | None = None,
) -> str:
    """Create a role with boto3's iam client; returns its ARN."""
    name = name or unique("role")
    kwargs: dict[str, Any] = {"RoleName": name, "AssumeRolePolicyDocument": trust}
    if max_session_duration is not None:
        kwargs["MaxSessionDuration"] = max_session_duration
    arn: str = iam.create_role(**kwargs)["Role"]["Arn"]
    if inline is not None:
        iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(inline))
    for policy_arn in managed:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
    return arn


@contextlib.contextmanager
def opened_data(server: RunningServer) -> Iterator[Any]:
    """The running server's data directory opened in this process (SQLite allows both)."""
    with opened(make_settings({"data_dir": server.data_dir, "region": REGION})) as o:
        yield o


@pytest.fixture(scope="module")
def admin(server: RunningServer) -> Creds:
    return admin_creds(server)


@pytest.fixture(scope="module")
def admin_arn(server: RunningServer, admin: Creds) -> str:
    arn: str = client(server, "sts", admin).get_caller_identity()["Arn"]
    return arn


@pytest.fixture(scope="module")
def iam(server: RunningServer, admin: Creds) -> Any:
    return client(server, "iam", admin)


@pytest.fixture(scope="module")
def sts(server: RunningServer, admin: Creds) -> Any:
    return client(server, "sts", admin)


@pytest.fixture(scope="module")
def domain(server: RunningServer) -> str:
    ca = make_client(server)
    with contextlib.suppress(ca.exceptions.ConflictException):
        ca.create_domain(domain="sts-tokens")
    return "sts-tokens"


def test_get_caller_identity_of_the_admin(sts: Any) -> None:
    who = sts.get_caller_identity()
    assert who["Account"] == ACCOUNT
    assert who["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/admin"
    assert who["UserId"].startswith("AIDA")


def test_assume_role_and_use_the_session(
    server: RunningServer, sts: Any, iam: Any, admin_arn: str, domain: str
) -> None:
    role_arn = make_role(iam, trust_policy(admin_arn))
    before = time.time()
    out = sts.assume_role(RoleArn=role_arn, RoleSessionName="ci-42", DurationSeconds=900)
    creds = creds_of(out)
    assert creds[0].startswith("ASIA") and len(creds[0]) == 20
    expiration = out["Credentials"]["Expiration"].timestamp()
    assert int(before) + 900 <= expiration <= time.time() + 900
    role_name = role_arn.rsplit("/", 1)[-1]
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/ci-42"
    role_id = iam.get_role(RoleName=role_name)["Role"]["RoleId"]
    assert out["AssumedRoleUser"]["AssumedRoleId"] == f"{role_id}:ci-42"

    who = client(server, "sts", creds).get_caller_identity()
    assert who == {**who, "Account": ACCOUNT, "Arn": out["AssumedRoleUser"]["Arn"], "UserId": f"{role_id}:ci-42"}

    ca = client(server, "codeartifact", creds)
    token = ca.get_authorization_token(domain=domain, durationSeconds=0)
    assert token["expiration"].timestamp() == expiration  # exactly the session's expiry
    longer = ca.get_authorization_token(domain=domain, durationSeconds=43200)["expiration"].timestamp()
    assert longer > expiration + 40000  # non-zero durations are independent of the session


def test_session_token_is_checked(server: RunningServer, sts: Any, iam: Any, admin_arn: str) -> None:
    role_arn = make_role(iam, trust_policy(admin_arn))
    access, secret, _ = creds_of(sts.assume_role(RoleArn=role_arn, RoleSessionName="tok"))
    for token in (None, "not-the-token"):
        with pytest.raises(ClientError) as err:
            client(server, "codeartifact", (access, secret, token)).list_domains()
        assert err.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_expired_session_is_refused(server: RunningServer, domain: str) -> None:
    now = int(time.time())
    with opened_data(server) as o:
        admin_user = o.boot.store.get_user(ACCOUNT, "admin")
        assert admin_user is not None
        session = Session(
            access_key_id=new_session_access_key_id(),
            secret_access_key="s" * 40,
            session_token=new_session_token(),
            account_id=ACCOUNT,
            expires_at=now - 5,
            issued_at=now - 905,
            role_name=None,
            session_name="admin",
            user_name="admin",
            source_arn=admin_user.arn,
            principal_id=admin_user.user_id,
        )
        o.boot.store.create_session(session)
    creds = (session.access_key_id, session.secret_access_key, session.session_token)
    with pytest.raises(ClientError) as err:
        client(server, "codeartifact", creds).get_authorization_token(domain=domain)
    assert err.value.response["Error"]["Code"] == "ExpiredTokenException"
    assert err.value.response["Error"]["Message"] == "The security token included in the request is expired"
    with pytest.raises(ClientError) as err:
        client(server, "sts", creds).get_caller_identity()
    assert err.value.response["Error"]["Code"] in ("ExpiredToken", "ExpiredTokenException")


def test_duration_limits(sts: Any, iam: Any, admin_arn: str) -> None:
    role_arn = make_role(iam, trust_policy(admin_arn), max_session_duration=7200)
    assert sts.assume_role(RoleArn=role_arn, RoleSessionName="two-hours", DurationSeconds=7200)
    with pytest.raises(ClientError) as err:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="too-long", DurationSeconds=7201)
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert err.value.response["Error"]["Message"] == (
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    )
    with pytest.raises(ClientError) as err:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="way-too-long", DurationSeconds=50000)
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert "less than or equal to 43200" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="bad name!")
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert "roleSessionName" in err.value.response["Error"]["Message"]


def test_role_chaining_is_capped_at_one_hour(server: RunningServer, sts: Any, iam: Any, admin_arn: str) -> None:
    first = make_role(iam, trust_policy(admin_arn), max_session_duration=43200)
    second = make_role(iam, trust_policy(first), max_session_duration=43200)
    session = client(server, "sts", creds_of(sts.assume_role(RoleArn=first, RoleSessionName="first")))
    with pytest.raises(ClientError) as err:
        session.assume_role(RoleArn=second, RoleSessionName="second", DurationSeconds=7200)
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert err.value.response["Error"]["Message"] == (
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
    )
    out = session.assume_role(RoleArn=second, RoleSessionName="second", DurationSeconds=3600)
    assert out["AssumedRoleUser"]["Arn"].endswith("/second")


def test_trust_policy_decides_who_may_assume(
    server: RunningServer, sts: Any, iam: Any, admin_arn: str, tmp_path: Path
) -> None:
    other = make_role(iam, trust_policy(f"arn:aws:iam::{ACCOUNT}:user/somebody-else"))
    with pytest.raises(ClientError) as err:
        sts.assume_role(RoleArn=other, RoleSessionName="nope")
    error = err.value.response["Error"]
    assert error["Code"] == "AccessDenied"
    assert error["Message"] == (
        f"User: {admin_arn} is not authorized to perform: sts:AssumeRole on resource: {other} "
        "because no resource-based policy allows the sts:AssumeRole action"
    )
    with pytest.raises(ClientError) as err:
        sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{unique('missing')}", RoleSessionName="nope")
    assert err.value.response["Error"]["Code"] == "AccessDenied"


def test_session_policy_intersects_with_the_role(
    server: RunningServer, sts: Any, iam: Any, admin_arn: str, domain: str
) -> None:
    role_arn = make_role(iam, trust_policy(admin_arn))
    only_tokens = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["codeartifact:GetAuthorizationToken", "sts:GetServiceBearerToken"],
                "Resource": "*",
            }
        ],
    }
    out = sts.assume_role(RoleArn=role_arn, RoleSessionName="narrow", Policy=json.dumps(only_tokens))
    assert 0 < out["PackedPolicySize"] <= 100
    ca = client(server, "codeartifact", creds_of(out))
    assert ca.get_authorization_token(domain=domain)["authorizationToken"]
    with pytest.raises(ca.exceptions.AccessDeniedException) as err:
        ca.describe_domain(domain=domain)
    assert err.value.response["Error"]["Message"].endswith(
        "because no session policy allows the codeartifact:DescribeDomain action"
    )
    # the managed session policy form
    out = sts.assume_role(
        RoleArn=role_arn,
        RoleSessionName="managed",
        PolicyArns=[{"arn": "arn:aws:iam::aws:policy/AWSCodeArtifactReadOnlyAccess"}],
    )
    ca = client(server, "codeartifact", creds_of(out))
    assert ca.describe_domain(domain=domain)["domain"]["name"] == domain
    with pytest.raises(ca.exceptions.AccessDeniedException):
        ca.create_repository(domain=domain, repository=unique("repo"))
    with pytest.raises(ClientError) as malformed:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="bad", Policy='{"Statement": "x"}')
    assert malformed.value.response["Error"]["Code"] == "MalformedPolicyDocument"


def test_session_tags_reach_conditions(server: RunningServer, sts: Any, iam: Any, admin_arn: str, domain: str) -> None:
    by_tag = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "codeartifact:DescribeDomain",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}},
            }
        ],
    }
    role_arn = make_role(iam, trust_policy(admin_arn), inline=by_tag)
    blue = sts.assume_role(RoleArn=role_arn, RoleSessionName="blue", Tags=[{"Key": "team", "Value": "blue"}])
    assert client(server, "codeartifact", creds_of(blue)).describe_domain(domain=domain)
    red = sts.assume_role(RoleArn=role_arn, RoleSessionName="red", Tags=[{"Key": "team", "Value": "red"}])
    with pytest.raises(ClientError) as err:
        client(server, "codeartifact", creds_of(red)).describe_domain(domain=domain)
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"


def test_get_session_token(server: RunningServer, sts: Any, admin_arn: str, domain: str) -> None:
    out = sts.get_session_token(DurationSeconds=900)
    creds = creds_of(out)
    assert creds[0].startswith("ASIA")
    session = client(server, "sts", creds)
    assert session.get_caller_identity()["Arn"] == admin_arn
    token = client(server, "codeartifact", creds).get_authorization_token(domain=domain, durationSeconds=0)
    assert token["expiration"] == out["Credentials"]["Expiration"]
    with pytest.raises(ClientError) as err:
        session.get_session_token()
    assert err.value.response["Error"]["Code"] == "AccessDenied"


# --- the aws CLI ----------------------------------------------------------------------------------------------


def run_aws(server: RunningServer, tmp_path: Path, creds: Creds, *args: str) -> subprocess.CompletedProcess[str]:
    from tests.functional.test_aws_cli import aws_cli

    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": creds[0],
        "AWS_SECRET_ACCESS_KEY": creds[1],
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_DEFAULT_REGION": REGION,
        "HOME": str(tmp_path),
    }
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_SESSION_TOKEN", None)
    if creds[2] is not None:
        env["AWS_SESSION_TOKEN"] = creds[2]
    return subprocess.run(
        [*aws_cli(), "--endpoint-url", server.url, "--output", "json", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_aws_cli_assume_role_then_token(
    server: RunningServer, admin: Creds, iam: Any, admin_arn: str, domain: str, tmp_path: Path
) -> None:
    role_arn = make_role(iam, trust_policy(admin_arn))
    r = run_aws(
        server,
        tmp_path,
        admin,
        "sts",
        "assume-role",
        "--role-arn",
        role_arn,
        "--role-session-name",
        "cli-session",
        "--duration-seconds",
        "900",
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    creds = creds_of(out)
    r = run_aws(server, tmp_path, creds, "sts", "get-caller-identity")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["Arn"] == out["AssumedRoleUser"]["Arn"]
    r = run_aws(
        server,
        tmp_path,
        creds,
        "codeartifact",
        "get-authorization-token",
        "--domain",
        domain,
        "--duration-seconds",
        "0",
    )
    assert r.returncode == 0, r.stderr
    token = json.loads(r.stdout)
    session_end = _parse_time(out["Credentials"]["Expiration"])
    assert _parse_time(token["expiration"]) == session_end
    chained_role = make_role(iam, trust_policy(role_arn), max_session_duration=43200)
    r = run_aws(
        server,
        tmp_path,
        creds,
        "sts",
        "assume-role",
        "--role-arn",
        chained_role,
        "--role-session-name",
        "chained",
        "--duration-seconds",
        "3601",
    )
    assert r.returncode != 0
    assert "ValidationError" in r.stderr and "role chaining" in r.stderr


def _parse_time(value: str | float) -> float:
    """The CLI prints timestamps as ISO 8601 (its default) or epoch numbers."""
    if isinstance(value, int | float):
        return float(value)
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
