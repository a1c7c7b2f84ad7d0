"""Every operation in botocore's codeartifact model is routed and built: each answers AWS-shaped (never an HTML
page, a bare 404 or NotImplemented)."""

from __future__ import annotations

import hashlib
from typing import Any

import botocore.session
import pytest

from coffer.aws.handlers.codeartifact import HANDLERS
from tests.functional.conftest import read_profile
from tests.functional.sigv4_client import send, signed

MODEL = botocore.session.get_session().get_service_model("codeartifact")
OPERATIONS = sorted(MODEL.operation_names)


def test_model_has_48_operations() -> None:
    assert len(OPERATIONS) == 48


def test_every_operation_has_a_handler() -> None:
    assert set(OPERATIONS) - set(HANDLERS) == set()


@pytest.mark.parametrize("name", OPERATIONS)
def test_operation_is_routed(server: Any, name: str) -> None:
    op = MODEL.operation_model(name)
    key = read_profile(server.credentials_file)
    body = b"{}" if op.http["method"] in ("POST", "PUT") else b""
    # a streamed payload (PublishPackageVersion's asset) is signed with its SHA-256 in x-amz-content-sha256
    headers = {"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()} if op.has_streaming_input else None
    r = send(signed(op.http["method"], server.url + op.http["requestUri"], key, body=body, headers=headers))
    assert r.headers["content-type"] == "application/json"
    error_type = r.headers.get("x-amzn-ErrorType")
    payload = r.json()
    # with no parameters it is a validation error (or, for list calls, a real answer); never NotImplemented
    assert error_type in (None, "ValidationException"), (name, r.status_code, payload)


def test_unknown_path_is_aws_shaped(server: Any) -> None:
    key = read_profile(server.credentials_file)
    r = send(signed("GET", server.url + "/v1/no-such-thing", key))
    assert r.status_code == 404
    assert r.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert r.json()["__type"] == "UnknownOperationException"


def test_publish_package_version_is_answered_through_boto3(ca: Any) -> None:
    """The operation that was the last unbuilt one: boto3 gets the service's own answer (here: no such domain)."""
    from botocore.exceptions import ClientError

    content = b"generic bytes"
    with pytest.raises(ClientError) as err:
        ca.publish_package_version(
            domain="no-such-domain", repository="main", format="generic", namespace="n", package="p",
            packageVersion="1.0", assetContent=content, assetName="a.bin",
            assetSHA256=hashlib.sha256(content).hexdigest(),
        )  # fmt: skip
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
