"""Every operation in botocore's codeartifact model is routed: built ones answer, the rest say which
operation is not implemented, always AWS-shaped (never an HTML page or a bare 404)."""

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


def test_package_operations_built() -> None:
    """The package operations served so far; the walk below checks the rest answer NotImplemented."""
    built = {
        "ListPackages",
        "DescribePackage",
        "DeletePackage",
        "PutPackageOriginConfiguration",
        "ListPackageVersions",
        "DescribePackageVersion",
        "ListPackageVersionAssets",
        "GetPackageVersionAsset",
        "GetPackageVersionReadme",
        "ListPackageVersionDependencies",
        "UpdatePackageVersionsStatus",
        "DeletePackageVersions",
        "DisposePackageVersions",
        "CopyPackageVersions",
    }
    assert built <= set(HANDLERS)


@pytest.mark.parametrize("name", OPERATIONS)
def test_operation_is_routed(server: Any, name: str) -> None:
    op = MODEL.operation_model(name)
    key = read_profile(server.credentials_file)
    body = b"{}" if op.http["method"] in ("POST", "PUT") else b""
    r = send(signed(op.http["method"], server.url + op.http["requestUri"], key, body=body))
    assert r.headers["content-type"] == "application/json"
    error_type = r.headers.get("x-amzn-ErrorType")
    payload = r.json()
    if name in HANDLERS:
        # Built: with no parameters it is a validation error (or, for list calls, a real answer).
        assert error_type in (None, "ValidationException"), (name, r.status_code, payload)
    else:
        assert error_type == "NotImplementedException"
        assert payload["__type"] == "NotImplementedException"
        assert name in payload["message"]


def test_unknown_path_is_aws_shaped(server: Any) -> None:
    key = read_profile(server.credentials_file)
    r = send(signed("GET", server.url + "/v1/no-such-thing", key))
    assert r.status_code == 404
    assert r.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert r.json()["__type"] == "UnknownOperationException"


def test_boto3_sees_not_implemented_as_a_client_error(ca: Any) -> None:
    from botocore.exceptions import ClientError

    unbuilt = next(n for n in OPERATIONS if n not in HANDLERS and n == "PublishPackageVersion")
    content = b"generic bytes"
    with pytest.raises(ClientError) as err:
        ca.publish_package_version(
            domain="acme", repository="main", format="generic", namespace="n", package="p", packageVersion="1.0",
            assetContent=content, assetName="a.bin", assetSHA256=hashlib.sha256(content).hexdigest(),
        )  # fmt: skip
    assert err.value.response["Error"]["Code"] == "NotImplementedException"
    assert unbuilt in err.value.response["Error"]["Message"]
