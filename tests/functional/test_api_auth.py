"""GetAuthorizationToken, SigV4 failures and policy denials through real clients against a real server."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.functional.conftest import ACCOUNT, coffer, read_profile, token_policy
from tests.functional.sigv4_client import send, signed

FULL_TOKEN_POLICY = token_policy()


@pytest.fixture(scope="module")
def domain(server: Any) -> str:
    from tests.functional.conftest import make_client

    ca = make_client(server)
    with contextlib.suppress(ca.exceptions.ConflictException):
        ca.create_domain(domain="tokens")
    return "tokens"


def test_token_default_duration_is_12_hours(ca: Any, domain: str) -> None:
    before = time.time()
    out = ca.get_authorization_token(domain=domain)
    after = time.time()
    token = out["authorizationToken"]
    assert 0 < len(token) <= 1000
    exp = out["expiration"].timestamp()
    assert int(before) + 43200 <= exp <= int(after) + 43200


@pytest.mark.parametrize("duration", [900, 3600, 43200])
def test_token_duration_is_honoured(ca: Any, domain: str, duration: int) -> None:
    before = int(time.time())
    exp = ca.get_authorization_token(domain=domain, durationSeconds=duration)["expiration"].timestamp()
    assert before + duration <= exp <= int(time.time()) + duration


def test_duration_zero_with_long_term_keys_is_12_hours(ca: Any, domain: str) -> None:
    exp = ca.get_authorization_token(domain=domain, durationSeconds=0)["expiration"].timestamp()
    assert abs(exp - (time.time() + 43200)) < 5


@pytest.mark.parametrize(
    ("duration", "fragment"),
    [
        (1, "greater than or equal to 900"),
        (899, "greater than or equal to 900"),
        (43201, "Member must have value less than or equal to 43200"),
        (86400, "Member must have value less than or equal to 43200"),
    ],
)
def test_bad_durations_are_validation_errors(ca: Any, domain: str, duration: int, fragment: str) -> None:
    with pytest.raises(ca.exceptions.ValidationException) as err:
        ca.get_authorization_token(domain=domain, durationSeconds=duration)
    message = err.value.response["Error"]["Message"]
    assert message.startswith(f"1 validation error detected: Value '{duration}' at 'durationSeconds' failed")
    assert fragment in message
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_exact_aws_message_for_86400(ca: Any, domain: str) -> None:
    with pytest.raises(ca.exceptions.ValidationException) as err:
        ca.get_authorization_token(domain=domain, durationSeconds=86400)
    assert err.value.response["Error"]["Message"] == (
        "1 validation error detected: Value '86400' at 'durationSeconds' failed to satisfy constraint: "
        "Member must have value less than or equal to 43200"
    )


def test_token_for_missing_domain_is_not_found(ca: Any) -> None:
    with pytest.raises(ca.exceptions.ResourceNotFoundException):
        ca.get_authorization_token(domain="no-such-domain")


def test_raw_query_forms_reach_the_server(server: Any, domain: str) -> None:
    key = read_profile(server.credentials_file)
    for query, status in [
        ("domain=tokens&duration=abc", 400),
        ("domain=tokens&duration=900&duration=900", 400),
        ("domain=tokens&duration=1.5", 400),
        ("domain=tokens&domain-owner=" + ACCOUNT + "&duration=900", 200),
    ]:
        r = send(signed("POST", f"{server.url}/v1/authorization-token?{query}", key))
        assert r.status_code == status, (query, r.text)
        if status == 400:
            assert r.headers["x-amzn-ErrorType"] == "ValidationException"
            assert r.json()["__type"] == "ValidationException"
    # paws (R) sends a JSON content type on the empty body and signs it
    r = send(
        signed(
            "POST",
            f"{server.url}/v1/authorization-token?domain=tokens",
            key,
            headers={"Content-Type": "application/x-amz-json-1.1"},
        )
    )
    assert r.status_code == 200
    assert set(r.json()) == {"authorizationToken", "expiration"}
    assert isinstance(r.json()["expiration"], int)


def test_user_without_policy_is_denied_with_aws_message(make_user: Callable[..., Any], domain: str) -> None:
    client = make_user(None)
    with pytest.raises(client.exceptions.AccessDeniedException) as err:
        client.get_authorization_token(domain=domain)
    assert err.value.response["Error"]["Message"] == (
        f"User: arn:aws:iam::{ACCOUNT}:user/{client.user_name} is not authorized to perform: "
        f"codeartifact:GetAuthorizationToken on resource: arn:aws:codeartifact:us-east-1:{ACCOUNT}:domain/{domain} "
        "because no identity-based policy allows the codeartifact:GetAuthorizationToken action"
    )
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_both_permissions_are_needed(make_user: Callable[..., Any], domain: str) -> None:
    only_ca = make_user({"Version": "2012-10-17", "Statement": [FULL_TOKEN_POLICY["Statement"][0]]})
    with pytest.raises(only_ca.exceptions.AccessDeniedException) as err:
        only_ca.get_authorization_token(domain=domain)
    assert "sts:GetServiceBearerToken on resource: *" in err.value.response["Error"]["Message"]
    both = make_user(FULL_TOKEN_POLICY)
    assert both.get_authorization_token(domain=domain)["authorizationToken"]
    with pytest.raises(both.exceptions.AccessDeniedException):  # nothing else is allowed
        both.describe_domain(domain=domain)


def test_duration_condition_key(make_user: Callable[..., Any], domain: str) -> None:
    policy = json.loads(json.dumps(FULL_TOKEN_POLICY))
    policy["Statement"][1]["Condition"]["NumericLessThanEquals"] = {"sts:DurationSeconds": "3600"}
    client = make_user(policy)
    assert client.get_authorization_token(domain=domain, durationSeconds=900)["authorizationToken"]
    with pytest.raises(client.exceptions.AccessDeniedException):
        client.get_authorization_token(domain=domain, durationSeconds=7200)
    with pytest.raises(client.exceptions.AccessDeniedException):  # omitted means 43200 for the condition
        client.get_authorization_token(domain=domain)


def test_explicit_deny_wins(make_user: Callable[..., Any], domain: str) -> None:
    policy = json.loads(json.dumps(FULL_TOKEN_POLICY))
    policy["Statement"].append(
        {"Effect": "Deny", "Action": "codeartifact:*", "Resource": f"arn:aws:codeartifact:*:*:domain/{domain}"}
    )
    client = make_user(policy)
    with pytest.raises(client.exceptions.AccessDeniedException) as err:
        client.get_authorization_token(domain=domain)
    assert err.value.response["Error"]["Message"].endswith("with an explicit deny in an identity-based policy")


def test_policy_change_reaches_running_server_within_a_second(
    server: Any, make_user: Callable[..., Any], domain: str
) -> None:
    client = make_user(None)
    with pytest.raises(client.exceptions.AccessDeniedException):
        client.get_authorization_token(domain=domain)
    path = server.data_dir / "grant.json"
    path.write_text(json.dumps(FULL_TOKEN_POLICY))
    assert coffer(server, "put-user-policy", client.user_name, str(path)).returncode == 0
    assert client.get_authorization_token(domain=domain)["authorizationToken"]


# --- SigV4 failures -----------------------------------------------------------------------------------------


def _error(r: Any) -> tuple[int, str, str]:
    return r.status_code, r.headers.get("x-amzn-ErrorType", ""), r.json().get("message", "")


def test_missing_authentication(server: Any) -> None:
    import httpx

    r = httpx.post(f"{server.url}/v1/authorization-token?domain=tokens")
    assert _error(r) == (403, "MissingAuthenticationTokenException", "Missing Authentication Token")
    assert r.headers["x-amzn-RequestId"]


def test_unknown_access_key(server: Any, domain: str) -> None:
    client = boto3.client(
        "codeartifact",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="x" * 40,
    )
    with pytest.raises(ClientError) as err:
        client.get_authorization_token(domain=domain)
    assert err.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert err.value.response["Error"]["Message"] == "The security token included in the request is invalid."


def test_wrong_secret_is_signature_mismatch(server: Any, domain: str) -> None:
    access, _ = read_profile(server.credentials_file)
    client = boto3.client(
        "codeartifact",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=access,
        aws_secret_access_key="y" * 40,
    )
    with pytest.raises(ClientError) as err:
        client.get_authorization_token(domain=domain)
    assert err.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert err.value.response["Error"]["Message"].startswith(
        "The request signature we calculated does not match the signature you provided."
    )


def test_tampered_requests_are_refused(server: Any, domain: str) -> None:
    key = read_profile(server.credentials_file)
    good = signed("POST", f"{server.url}/v1/authorization-token?domain={domain}&duration=900", key)
    assert send(good).status_code == 200
    tampered_query = send(good, url=f"{server.url}/v1/authorization-token?domain={domain}&duration=43200")
    assert _error(tampered_query)[:2] == (403, "InvalidSignatureException")
    body_req = signed("PUT", f"{server.url}/v1/domain/permissions/policy", key, body=b'{"domain": "tokens"}')
    tampered_body = send(body_req, body=b'{"domain": "tokenz"}')
    assert _error(tampered_body)[:2] == (403, "InvalidSignatureException")
    malformed = send(good, headers={"Authorization": "AWS4-HMAC-SHA256 Credential=abc"})
    assert _error(malformed)[:2] == (403, "IncompleteSignatureException")
    hashed = signed(
        "POST",
        f"{server.url}/v1/authorization-token?domain={domain}",
        key,
        headers={"X-Amz-Content-SHA256": "0" * 64},
    )
    status, code, message = _error(send(hashed))
    assert (status, code) == (403, "InvalidSignatureException")
    assert "x-amz-content-sha256" in message


@pytest.mark.parametrize(("skew", "prefix"), [(-400, "Signature expired: "), (400, "Signature not yet current: ")])
def test_skewed_clock(server: Any, domain: str, skew: int, prefix: str) -> None:
    key = read_profile(server.credentials_file)
    r = send(signed("POST", f"{server.url}/v1/authorization-token?domain={domain}", key, skew=skew))
    status, code, message = _error(r)
    assert (status, code) == (403, "InvalidSignatureException")
    assert message.startswith(prefix)
    assert message.endswith(" - 5 min.)" if skew < 0 else " + 5 min.)")
    ok = send(signed("POST", f"{server.url}/v1/authorization-token?domain={domain}", key, skew=skew // 2))
    assert ok.status_code == 200


def test_wrong_region_and_service(server: Any, domain: str) -> None:
    key = read_profile(server.credentials_file)
    url = f"{server.url}/v1/authorization-token?domain={domain}"
    status, code, message = _error(send(signed("POST", url, key, region="eu-west-1")))
    assert (status, code, message) == (
        403,
        "InvalidSignatureException",
        "Credential should be scoped to a valid region. ",
    )
    status, code, message = _error(send(signed("POST", url, key, service="s3")))
    assert (status, code) == (403, "InvalidSignatureException")
    assert message == "Credential should be scoped to correct service: 'codeartifact'. "


def test_oversized_body_is_refused_before_hashing(server: Any) -> None:
    key = read_profile(server.credentials_file)
    big = b"{" + b" " * (2 * 1024 * 1024) + b"}"
    r = send(signed("PUT", f"{server.url}/v1/domain/permissions/policy", key, body=big))
    assert r.status_code == 413
    assert r.headers["x-amzn-ErrorType"]
