"""STS and IAM (the AWS query protocol) on ``/``: real boto3 clients and the ``aws`` CLI against a real server."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from tests.functional.conftest import ACCOUNT, REGION, make_client, read_profile
from tests.functional.sigv4_client import send, signed
from tests.functional.test_aws_cli import run_aws

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
STS_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"


def error_of(response: httpx.Response) -> tuple[str, str, str]:
    root = ET.fromstring(response.content)
    assert root.tag.endswith("ErrorResponse")
    ns = root.tag[: root.tag.index("}") + 1]
    return (
        root.findtext(f"{ns}Error/{ns}Type") or "",
        root.findtext(f"{ns}Error/{ns}Code") or "",
        root.findtext(f"{ns}Error/{ns}Message") or "",
    )


def test_get_caller_identity(server: Any) -> None:
    sts = make_client(server, service="sts")
    try:
        out = sts.get_caller_identity()
    except ClientError as exc:  # until the STS handlers are wired in app.py
        assert exc.response["Error"]["Code"] == "NotImplemented"
        assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 501
        assert "GetCallerIdentity" in exc.response["Error"]["Message"]
        return
    assert out["Account"] == ACCOUNT
    assert out["Arn"].startswith(f"arn:aws:iam::{ACCOUNT}:")


def test_unhandled_actions_are_clean_xml_errors(server: Any) -> None:
    iam = make_client(server, service="iam")
    with pytest.raises(ClientError) as caught:
        iam.list_saml_providers()
    error = caught.value.response["Error"]
    assert error["Code"] == "NotImplemented"
    assert error["Type"] == "Receiver"
    assert "ListSAMLProviders" in error["Message"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert caught.value.response["ResponseMetadata"]["RequestId"]


def test_bad_signature(server: Any) -> None:
    access, _ = read_profile(server.credentials_file)
    for service in ("sts", "iam"):
        client = make_client(server, (access, "not-the-secret"), service=service)
        with pytest.raises(ClientError) as caught:
            client.get_caller_identity() if service == "sts" else client.list_roles()
        assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unknown_access_key(server: Any) -> None:
    sts = make_client(server, ("AKIAUNKNOWNUNKNOWN00", "secret"), service="sts")
    with pytest.raises(ClientError) as caught:
        sts.get_caller_identity()
    assert caught.value.response["Error"]["Code"] == "InvalidClientTokenId"
    assert caught.value.response["Error"]["Message"] == "The security token included in the request is invalid."


def test_iam_signed_for_another_region_is_accepted(server: Any) -> None:
    """IAM is global: clients sign for us-east-1 (or, with --endpoint-url, their own region)."""
    access, secret = read_profile(server.credentials_file)
    iam = boto3.client(
        "iam", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id=access, aws_secret_access_key=secret
    )
    with pytest.raises(ClientError) as caught:
        iam.list_saml_providers()
    assert caught.value.response["Error"]["Code"] == "NotImplemented"
    far = boto3.client(
        "sts", endpoint_url=server.url, region_name="ap-south-2", aws_access_key_id=access, aws_secret_access_key=secret
    )
    with pytest.raises(ClientError) as caught:
        far.get_session_token()
    assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert "region" in caught.value.response["Error"]["Message"]


def test_invalid_action_and_version(server: Any) -> None:
    key = read_profile(server.credentials_file)
    url = server.url + "/"
    r = send(signed("POST", url, key, body=b"Action=Frobnicate&Version=2011-06-15", service="sts", headers=FORM))
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/xml")
    assert error_of(r) == ("Sender", "InvalidAction", "Could not find operation Frobnicate for version 2011-06-15")
    r = send(signed("POST", url, key, body=b"Action=GetCallerIdentity", service="sts", headers=FORM))
    assert error_of(r)[1:] == (
        "InvalidAction",
        "Could not find operation GetCallerIdentity for version NO_VERSION_SPECIFIED",
    )
    r = send(signed("POST", url, key, body=b"Version=2011-06-15", service="sts", headers=FORM))
    assert error_of(r)[1] == "MissingAction"


def test_validation_error(server: Any) -> None:
    key = read_profile(server.credentials_file)
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    r = send(signed("POST", server.url + "/", key, body=body, service="sts", headers=FORM))
    if r.status_code == 501:  # GetSessionToken below needs a handler to reach validation; so does this one
        pytest.skip("STS handlers are not wired yet")
    body = b"Action=GetSessionToken&Version=2011-06-15&DurationSeconds=12"
    r = send(signed("POST", server.url + "/", key, body=body, service="sts", headers=FORM))
    assert r.status_code == 400
    assert error_of(r) == (
        "Sender",
        "ValidationError",
        "1 validation error detected: Value '12' at 'durationSeconds' failed to satisfy constraint: "
        "Member must have value greater than or equal to 900",
    )


def test_unsigned_requests(server: Any) -> None:
    r = httpx.post(server.url + "/", content=b"Action=GetCallerIdentity&Version=2011-06-15", headers=FORM)
    assert r.status_code == 403
    assert error_of(r)[:2] == ("Sender", "MissingAuthenticationToken")
    r = httpx.get(server.url + "/?Action=GetCallerIdentity&Version=2011-06-15")
    assert r.status_code == 403 and error_of(r)[1] == "MissingAuthenticationToken"
    r = httpx.get(server.url + "/")
    assert r.status_code == 404  # the root without an Action is not the query endpoint


def test_signed_get_with_query_string(server: Any) -> None:
    key = read_profile(server.credentials_file)
    url = server.url + "/?Action=Frobnicate&Version=2011-06-15"
    r = send(signed("GET", url, key, service="sts"))
    assert r.status_code == 400 and error_of(r)[1] == "InvalidAction"


def test_aws_cli_prints_query_errors(server: Any, tmp_path: Path) -> None:
    r = run_aws(server, tmp_path, "iam", "list-saml-providers")
    assert r.returncode != 0
    assert "(NotImplemented)" in r.stderr and "ListSAMLProviders" in r.stderr


def test_codeartifact_is_unaffected(server: Any) -> None:
    ca = make_client(server)
    assert "domains" in ca.list_domains()
    assert REGION == "us-east-1"
