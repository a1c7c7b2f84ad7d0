"""The rest-json wire layer against botocore itself: routing, request parsing, responses and errors.

botocore is the reference: its serializer writes requests that our parser must read back to the same parameters,
and its parser reads our responses and errors back to the same values.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import random
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import boto3
import botocore.awsrequest
import botocore.model
import botocore.parsers
import botocore.serialize
import botocore.session
import pytest

from coffer.aws.protocol import WireResponse
from coffer.aws.restjson_errors import error_classes, serialize_error, status_mismatches
from coffer.aws.restjson_model import OperationSpec, ServiceSpec, build_service, load_service
from coffer.aws.restjson_parse import parse_request
from coffer.aws.restjson_serialize import serialize_response
from coffer.aws.routing import MethodNotAllowed, RouteMatch, Router
from coffer.aws.validate import validate_input
from coffer.core.shared import errors as core_errors
from coffer.core.shared.errors import CofferError, ValidationError

UTC = datetime.UTC

# --------------------------------------------------------------------------------------------------------------
# a small synthetic rest-json model exercising what codeartifact does not: labels, greedy labels, query lists and
# maps, header timestamps/lists/maps, jsonvalue headers, a structure payload, statusCode, every scalar type.

SYNTH: dict[str, Any] = {
    "version": "2.0",
    "metadata": {
        "apiVersion": "2020-01-01",
        "endpointPrefix": "synth",
        "jsonVersion": "1.1",
        "protocol": "rest-json",
        "serviceId": "synth",
        "signatureVersion": "v4",
        "signingName": "synth",
        "uid": "synth-2020-01-01",
    },
    "operations": {
        "GetThing": {
            "name": "GetThing",
            "http": {"method": "GET", "requestUri": "/v1/things/{thingId}"},
            "input": {"shape": "GetThingRequest"},
            "output": {"shape": "GetThingResponse"},
            "errors": [{"shape": "NotFound"}],
        },
        "GetSpecialThing": {
            "name": "GetSpecialThing",
            "http": {"method": "GET", "requestUri": "/v1/things/special"},
            "output": {"shape": "GetThingResponse"},
        },
        "DeleteThing": {
            "name": "DeleteThing",
            "http": {"method": "DELETE", "requestUri": "/v1/things/{thingId}", "responseCode": 204},
            "input": {"shape": "GetThingRequest"},
        },
        "GetThingVersions": {
            "name": "GetThingVersions",
            "http": {"method": "GET", "requestUri": "/v1/things/{thingId}/versions"},
            "input": {"shape": "GetThingRequest"},
        },
        "PutObject": {
            "name": "PutObject",
            "http": {"method": "PUT", "requestUri": "/v1/objects/{bucket}/{key+}"},
            "input": {"shape": "PutObjectRequest"},
            "output": {"shape": "PutObjectResponse"},
        },
        "ListUploads": {
            "name": "ListUploads",
            "http": {"method": "GET", "requestUri": "/v1/objects/{bucket}?uploads"},
            "input": {"shape": "BucketRequest"},
        },
        "GetBucket": {
            "name": "GetBucket",
            "http": {"method": "GET", "requestUri": "/v1/objects/{bucket}"},
            "input": {"shape": "BucketRequest"},
        },
        "Search": {
            "name": "Search",
            "http": {"method": "POST", "requestUri": "/v1/search"},
            "input": {"shape": "SearchRequest"},
            "output": {"shape": "SearchResponse"},
        },
        "PutConfig": {
            "name": "PutConfig",
            "http": {"method": "PUT", "requestUri": "/v1/config"},
            "input": {"shape": "PutConfigRequest"},
            "output": {"shape": "PutConfigResponse"},
        },
    },
    "shapes": {
        "Id": {"type": "string", "min": 1, "max": 64},
        "Str": {"type": "string"},
        "Secret": {"type": "string", "min": 8, "sensitive": True},
        "Int": {"type": "integer"},
        "Long": {"type": "long"},
        "Bool": {"type": "boolean"},
        "Float": {"type": "float"},
        "Double": {"type": "double"},
        "Blob": {"type": "blob"},
        "Stream": {"type": "blob", "streaming": True},
        "Time": {"type": "timestamp"},
        "StrList": {"type": "list", "member": {"shape": "Str"}},
        "TimeList": {"type": "list", "member": {"shape": "Time"}},
        "StrMap": {"type": "map", "key": {"shape": "Str"}, "value": {"shape": "Str"}},
        "Color": {"type": "string", "enum": ["red", "green"]},
        "Item": {
            "type": "structure",
            "required": ["name"],
            "members": {
                "name": {"shape": "Id"},
                "when": {"shape": "Time"},
                "data": {"shape": "Blob"},
                "renamed": {"shape": "Str", "locationName": "wireName"},
                "secret": {"shape": "Secret"},
            },
        },
        "ItemList": {"type": "list", "member": {"shape": "Item"}},
        "ItemListMap": {"type": "map", "key": {"shape": "Str"}, "value": {"shape": "ItemList"}},
        "GetThingRequest": {
            "type": "structure",
            "required": ["thingId"],
            "members": {
                "thingId": {"shape": "Id", "location": "uri", "locationName": "thingId"},
                "since": {"shape": "Time", "location": "header", "locationName": "If-Modified-Since"},
            },
        },
        "GetThingResponse": {
            "type": "structure",
            "members": {
                "status": {"shape": "Int", "location": "statusCode"},
                "etag": {"shape": "Str", "location": "header", "locationName": "ETag"},
                "modified": {"shape": "Time", "location": "header", "locationName": "Last-Modified"},
                "labels": {"shape": "StrList", "location": "header", "locationName": "X-Labels"},
                "meta": {"shape": "StrMap", "location": "headers", "locationName": "x-meta-"},
                "doc": {"shape": "Str", "location": "header", "locationName": "X-Doc", "jsonvalue": True},
                "item": {"shape": "Item"},
            },
        },
        "BucketRequest": {
            "type": "structure",
            "required": ["bucket"],
            "members": {"bucket": {"shape": "Id", "location": "uri", "locationName": "bucket"}},
        },
        "PutObjectRequest": {
            "type": "structure",
            "required": ["bucket", "key"],
            "members": {
                "bucket": {"shape": "Id", "location": "uri", "locationName": "bucket"},
                "key": {"shape": "Str", "location": "uri", "locationName": "key"},
                "meta": {"shape": "StrMap", "location": "headers", "locationName": "x-meta-"},
                "expires": {"shape": "Time", "location": "header", "locationName": "Expires"},
                "labels": {"shape": "StrList", "location": "header", "locationName": "X-Labels"},
                "doc": {"shape": "Str", "location": "header", "locationName": "X-Doc", "jsonvalue": True},
                "count": {"shape": "Int", "location": "header", "locationName": "X-Count"},
                "body": {"shape": "Stream"},
            },
            "payload": "body",
        },
        "PutObjectResponse": {
            "type": "structure",
            "members": {"version": {"shape": "Str", "location": "header", "locationName": "X-Version"}},
        },
        "SearchRequest": {
            "type": "structure",
            "members": {
                "tags": {"shape": "StrList", "location": "querystring", "locationName": "tag"},
                "since": {"shape": "Time", "location": "querystring", "locationName": "since"},
                "flag": {"shape": "Bool", "location": "querystring", "locationName": "flag"},
                "ratio": {"shape": "Double", "location": "querystring", "locationName": "ratio"},
                "filters": {"shape": "StrMap", "location": "querystring"},
                "items": {"shape": "ItemList"},
                "groups": {"shape": "ItemListMap"},
                "color": {"shape": "Color"},
                "size": {"shape": "Long"},
                "score": {"shape": "Float"},
                "exact": {"shape": "Bool"},
                "times": {"shape": "TimeList"},
            },
        },
        "SearchResponse": {
            "type": "structure",
            "members": {
                "items": {"shape": "ItemList"},
                "groups": {"shape": "ItemListMap"},
                "score": {"shape": "Float"},
                "size": {"shape": "Long"},
                "exact": {"shape": "Bool"},
                "times": {"shape": "TimeList"},
            },
        },
        "Config": {
            "type": "structure",
            "members": {"name": {"shape": "Str"}, "limit": {"shape": "Int"}, "colors": {"shape": "StrList"}},
        },
        "PutConfigRequest": {
            "type": "structure",
            "members": {
                "config": {"shape": "Config"},
                "token": {"shape": "Str", "location": "header", "locationName": "X-Token"},
            },
            "payload": "config",
        },
        "PutConfigResponse": {
            "type": "structure",
            "members": {"config": {"shape": "Config"}},
            "payload": "config",
        },
        "NotFound": {
            "type": "structure",
            "members": {"message": {"shape": "Str"}, "thing": {"shape": "Str"}},
            "error": {"httpStatusCode": 404},
            "exception": True,
        },
    },
}


@pytest.fixture(scope="module")
def service() -> ServiceSpec:
    return load_service("codeartifact")


@pytest.fixture(scope="module")
def botocore_model() -> Any:
    return botocore.session.get_session().get_service_model("codeartifact")


@pytest.fixture(scope="module")
def synth_model() -> Any:
    return botocore.model.ServiceModel(SYNTH, service_name="synth")


@pytest.fixture(scope="module")
def synth(synth_model: Any) -> ServiceSpec:
    return build_service(synth_model)


# --------------------------------------------------------------------------------------------------------------
# helpers: botocore request dict -> our parser; our response -> botocore parser


def parse_botocore_request(spec: ServiceSpec, request: Mapping[str, Any]) -> tuple[OperationSpec, dict[str, Any]]:
    """Route and parse a request dict produced by ``botocore.serialize`` exactly as the endpoint will."""
    url = urlsplit(request["url_path"])
    query: list[tuple[str, str]] = parse_qsl(url.query, keep_blank_values=True)
    for key, value in request["query_string"].items():
        for item in value if isinstance(value, list) else [value]:
            query.append((key, str(item)))
    match = spec.route(request["method"], url.path, query)
    assert isinstance(match, RouteMatch), match
    headers = {k.lower(): str(v) for k, v in request["headers"].items()}
    body = request["body"]
    if isinstance(body, str):
        body = body.encode()
    params = parse_request(match.operation, labels=match.labels, query=query, headers=headers, body=body)
    return match.operation, params


def botocore_parse(response: WireResponse, shape: Any) -> dict[str, Any]:
    body = response.body if isinstance(response.body, bytes) else b"".join(response.body)  # type: ignore[arg-type]
    headers = botocore.awsrequest.HeadersDict(dict(response.headers))
    parser = botocore.parsers.create_parser("rest-json")
    parsed: dict[str, Any] = parser.parse({"status_code": response.status, "headers": headers, "body": body}, shape)
    return parsed


SERIALIZER = botocore.serialize.create_serializer("rest-json", include_validation=False)


def roundtrip(spec: ServiceSpec, model: Any, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    request = SERIALIZER.serialize_to_request(params, model.operation_model(operation))
    op, parsed = parse_botocore_request(spec, request)
    assert op.name == operation
    return parsed


# --------------------------------------------------------------------------------------------------------------
# routing


def test_model_has_the_48_operations(service: ServiceSpec) -> None:
    assert len(service.operations) == 48
    assert service.api_version == "2018-09-22"
    assert service.signing_name == "codeartifact"


def test_every_operation_routes_from_its_method_and_request_uri(service: ServiceSpec, botocore_model: Any) -> None:
    for name in botocore_model.operation_names:
        http = botocore_model.operation_model(name).http
        match = service.route(http["method"], http["requestUri"])
        assert isinstance(match, RouteMatch), name
        assert match.operation.name == name
        assert match.labels == {}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/nope"),
        ("GET", "/"),
        ("GET", ""),
        ("POST", "/v1/authorization-token/"),
        ("POST", "/v1/authorization-token/x"),
        ("POST", "/V1/authorization-token"),
        ("POST", "/v1//authorization-token"),
        ("DELETE", "/v1/repository/permissions/policy"),  # the delete is plural: .../policies
        ("GET", "/v1/repository/permissions/policies/extra"),
    ],
)
def test_unknown_paths_do_not_resolve(service: ServiceSpec, method: str, path: str) -> None:
    result = service.route(method, path)
    assert result is None or (isinstance(result, MethodNotAllowed) and method not in result.allowed)
    assert not isinstance(result, RouteMatch)


def test_known_path_with_wrong_method_is_method_not_allowed(service: ServiceSpec) -> None:
    assert service.route("GET", "/v1/authorization-token") == MethodNotAllowed(frozenset({"POST"}))
    assert service.route("post", "/v1/authorization-token") == MethodNotAllowed(frozenset({"POST"}))
    assert service.route("PATCH", "/v1/repository") == MethodNotAllowed(frozenset({"GET", "POST", "PUT", "DELETE"}))
    assert service.route("GET", "/v1/repository/permissions/policies") == MethodNotAllowed(frozenset({"DELETE"}))


def test_same_path_different_methods_are_different_operations(service: ServiceSpec) -> None:
    names = {}
    for method in ("GET", "POST", "DELETE"):
        match = service.route(method, "/v1/package")
        assert isinstance(match, RouteMatch)
        names[method] = match.operation.name
    assert names == {"GET": "DescribePackage", "POST": "PutPackageOriginConfiguration", "DELETE": "DeletePackage"}


def test_router_labels_greedy_and_specificity(synth: ServiceSpec) -> None:
    def name(method: str, path: str, query: list[tuple[str, str]] | None = None) -> tuple[str, dict[str, str]]:
        match = synth.route(method, path, query or [])
        assert isinstance(match, RouteMatch), (method, path, match)
        return match.operation.name, dict(match.labels)

    assert name("GET", "/v1/things/abc") == ("GetThing", {"thingId": "abc"})
    assert name("GET", "/v1/things/special") == ("GetSpecialThing", {})  # literal beats label
    assert name("DELETE", "/v1/things/special") == ("DeleteThing", {"thingId": "special"})
    assert name("GET", "/v1/things/a%2Fb%20c") == ("GetThing", {"thingId": "a/b c"})  # decoded after matching
    assert name("GET", "/v1/things/abc/versions") == ("GetThingVersions", {"thingId": "abc"})
    assert name("PUT", "/v1/objects/bk/a/b/c.txt") == ("PutObject", {"bucket": "bk", "key": "a/b/c.txt"})
    assert name("PUT", "/v1/objects/bk/a%2Fb/%E2%82%AC") == ("PutObject", {"bucket": "bk", "key": "a/b/€"})
    assert name("GET", "/v1/objects/bk", [("uploads", "")]) == ("ListUploads", {"bucket": "bk"})
    assert name("GET", "/v1/objects/bk") == ("GetBucket", {"bucket": "bk"})
    assert synth.route("GET", "/v1/things/") is None  # labels are never empty
    assert synth.route("GET", "/v1/things/a/b") is None  # a plain label does not span segments
    assert synth.route("PUT", "/v1/objects/bk") == MethodNotAllowed(frozenset({"GET"}))
    assert synth.route("POST", "/v1/things/abc") == MethodNotAllowed(frozenset({"GET", "DELETE"}))
    assert synth.route("GET", "/v1/things/%ff") is None  # not UTF-8 once decoded


def test_router_order_does_not_depend_on_model_order(synth: ServiceSpec) -> None:
    operations = list(synth.operations.values())
    paths = [
        ("GET", "/v1/things/special"),
        ("GET", "/v1/things/x"),
        ("GET", "/v1/things/x/versions"),
        ("GET", "/v1/objects/b"),
    ]
    expected = [synth.route(m, p) for m, p in paths]
    for seed in range(5):
        random.Random(seed).shuffle(operations)
        router = Router(operations)
        assert [router.route(m, p) for m, p in paths] == expected


def test_router_refuses_two_operations_on_one_route(service: ServiceSpec) -> None:
    op = service.operations["DescribeDomain"]
    with pytest.raises(ValueError, match="two operations"):
        Router([op, op])


# --------------------------------------------------------------------------------------------------------------
# request parsing by location


def test_query_members_use_wire_names_and_types(service: ServiceSpec) -> None:
    op = service.operations["GetAuthorizationToken"]
    query = [("domain", "acme"), ("domain-owner", "111122223333"), ("duration", "900"), ("unknown", "x")]
    assert parse_request(op, query=query) == {"domain": "acme", "domainOwner": "111122223333", "durationSeconds": 900}


def test_get_authorization_token_as_clients_send_it(service: ServiceSpec) -> None:
    op = service.operations["GetAuthorizationToken"]
    query = [("domain", "acme")]
    for headers in ({"content-length": "0"}, {"content-type": "application/x-amz-json-1.1", "content-length": "0"}):
        assert parse_request(op, query=query, headers=headers, body=b"") == {"domain": "acme"}
    # a body on a query-only operation is not looked at
    assert parse_request(op, query=query, body=b"not json") == {"domain": "acme"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0", 0), ("900", 900), ("43200", 43200), ("+5", 5), ("-1", -1), ("007", 7), ("9223372036854775807", 2**63 - 1)],
)
def test_long_query_values(service: ServiceSpec, raw: str, expected: int) -> None:
    op = service.operations["GetAuthorizationToken"]
    assert parse_request(op, query=[("duration", raw)])["durationSeconds"] == expected


@pytest.mark.parametrize(
    "raw", ["abc", "1.5", "", " 900", "900 ", "1_000", "1e3", "0x10", "9223372036854775808", "٣", "9" * 50]
)
def test_bad_long_query_values(service: ServiceSpec, raw: str) -> None:
    op = service.operations["GetAuthorizationToken"]
    with pytest.raises(ValidationError) as info:
        parse_request(op, query=[("domain", "acme"), ("duration", raw)])
    assert info.value.message == (
        f"1 validation error detected: Value '{raw}' at 'durationSeconds' failed to satisfy constraint: "
        "Member must be of type long"
    )
    assert info.value.reason == "FIELD_VALIDATION_FAILED"
    assert info.value.status == 400


def test_integer_overflow_is_checked_per_type(service: ServiceSpec) -> None:
    op = service.operations["ListPackages"]
    assert parse_request(op, query=[("max-results", "2147483647")])["maxResults"] == 2**31 - 1
    with pytest.raises(ValidationError, match=r"Value '2147483648' at 'maxResults' .* Member must be of type integer"):
        parse_request(op, query=[("max-results", "2147483648")])


def test_booleans_in_query(service: ServiceSpec) -> None:
    op = service.operations["ListAssociatedPackages"]
    assert parse_request(op, query=[("preview", "true")])["preview"] is True
    assert parse_request(op, query=[("preview", "False")])["preview"] is False
    with pytest.raises(ValidationError, match=r"Value 'yes' at 'preview' .*Member must be of type boolean"):
        parse_request(op, query=[("preview", "yes")])


def test_scalar_query_key_given_twice(service: ServiceSpec) -> None:
    op = service.operations["GetAuthorizationToken"]
    with pytest.raises(ValidationError) as info:
        parse_request(op, query=[("domain", "acme"), ("duration", "900"), ("duration", "43200")])
    assert info.value.message == (
        "1 validation error detected: Value '[900, 43200]' at 'durationSeconds' failed to satisfy constraint: "
        "Member must not be repeated"
    )


def test_all_type_errors_are_reported_together(service: ServiceSpec) -> None:
    op = service.operations["ListPackages"]
    with pytest.raises(ValidationError) as info:
        parse_request(op, query=[("max-results", "x"), ("domain", "a"), ("domain", "b")])
    assert info.value.message.startswith("2 validation errors detected: ")


def test_header_member(service: ServiceSpec) -> None:
    op = service.operations["PublishPackageVersion"]
    digest = hashlib.sha256(b"x").hexdigest()
    params = parse_request(op, headers={"x-amz-content-sha256": digest}, body=b"x")
    assert params == {"assetSHA256": digest, "assetContent": b"x"}


def test_raw_payload_is_the_body(service: ServiceSpec) -> None:
    op = service.operations["PublishPackageVersion"]
    assert op.input is not None and op.input.raw_payload
    body = bytes(range(256)) * 3
    assert parse_request(op, body=body)["assetContent"] == body
    assert parse_request(op, body=b"")["assetContent"] == b""


def test_json_body_members(service: ServiceSpec) -> None:
    op = service.operations["PutDomainPermissionsPolicy"]
    body = json.dumps({"domain": "acme", "policyDocument": "{}", "policyRevision": "r1", "extra": 1}).encode()
    assert parse_request(op, body=body) == {"domain": "acme", "policyDocument": "{}", "policyRevision": "r1"}
    for empty in (b"", b"  \n", b"{}", b"null"):
        assert parse_request(op, body=empty) == {}


@pytest.mark.parametrize("body", [b"{", b"[1]", b'"s"', b"\xff\xfe\xfa", b"{'a': 1}", b"1" * 5000, b"[" * 100000])
def test_bad_json_body_cannot_be_parsed(service: ServiceSpec, body: bytes) -> None:
    op = service.operations["PutDomainPermissionsPolicy"]
    with pytest.raises(ValidationError) as info:
        parse_request(op, body=body)
    assert info.value.reason == "CANNOT_PARSE"
    assert info.value.code == "ValidationException"


def test_json_type_errors_have_aws_paths(service: ServiceSpec) -> None:
    op = service.operations["CreateRepository"]
    body = {"description": 5, "upstreams": [{"repositoryName": "ok"}, {"repositoryName": ["x"]}], "tags": {}}
    with pytest.raises(ValidationError) as info:
        parse_request(op, body=json.dumps(body).encode())
    assert info.value.message == (
        "3 validation errors detected: "
        "Value '5' at 'description' failed to satisfy constraint: Member must be of type string; "
        "Value '[x]' at 'upstreams.2.member.repositoryName' failed to satisfy constraint: "
        "Member must be of type string; "
        "Value '{}' at 'tags' failed to satisfy constraint: Member must be of type list"
    )
    assert info.value.reason == "FIELD_VALIDATION_FAILED"


def test_synthetic_locations(synth: ServiceSpec) -> None:
    op = synth.operations["PutObject"]
    params = parse_request(
        op,
        labels={"bucket": "bk", "key": "a/b"},
        headers={
            "x-meta-color": "red",
            "x-meta-size": "big",
            "expires": "Wed, 21 Oct 2015 07:28:00 GMT",
            "x-labels": 'a, "b,c", "d\\"e"',
            "x-doc": "eyJhIjpbMSwyXX0=",
            "x-count": "-3",
        },
        body=b"payload",
    )
    assert params == {
        "bucket": "bk",
        "key": "a/b",
        "meta": {"color": "red", "size": "big"},
        "expires": datetime.datetime(2015, 10, 21, 7, 28, tzinfo=UTC),
        "labels": ["a", "b,c", 'd"e'],
        "doc": {"a": [1, 2]},
        "count": -3,
        "body": b"payload",
    }
    search = synth.operations["Search"]
    params = parse_request(
        search,
        query=[("tag", "x"), ("since", "2020-02-03T04:05:06Z"), ("tag", "y"), ("f1", "v1"), ("ratio", "NaN")],
        body=b'{"size": 5, "score": 1, "exact": false, "times": [1.5, "2020-01-01T00:00:00Z"]}',
    )
    assert params["tags"] == ["x", "y"]
    assert params["since"] == datetime.datetime(2020, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert params["filters"] == {"f1": "v1"}
    assert params["ratio"] != params["ratio"]  # NaN
    assert params["score"] == 1.0 and isinstance(params["score"], float)
    assert params["times"] == [
        datetime.datetime(1970, 1, 1, 0, 0, 1, 500000, tzinfo=UTC),
        datetime.datetime(2020, 1, 1, tzinfo=UTC),
    ]
    config = synth.operations["PutConfig"]
    assert parse_request(config, headers={"x-token": "t"}, body=b'{"name": "n", "limit": 3}') == {
        "token": "t",
        "config": {"name": "n", "limit": 3},
    }
    assert parse_request(config, body=b"") == {}


def test_synthetic_bad_values(synth: ServiceSpec) -> None:
    search = synth.operations["Search"]
    with pytest.raises(ValidationError) as info:
        parse_request(
            search,
            query=[("since", "yesterday"), ("flag", "1")],
            body=b'{"size": true, "items": [{"name": "a", "data": "***"}, null], "times": [1e400]}',
        )
    assert info.value.message == (
        "6 validation errors detected: "
        "Value 'yesterday' at 'since' failed to satisfy constraint: Member must be of type timestamp; "
        "Value '1' at 'flag' failed to satisfy constraint: Member must be of type boolean; "
        "Value '***' at 'items.1.member.data' failed to satisfy constraint: Member must be base64-encoded; "
        "Value null at 'items.2.member' failed to satisfy constraint: Member must not be null; "
        "Value 'true' at 'size' failed to satisfy constraint: Member must be of type long; "
        "Value 'Infinity' at 'times.1.member' failed to satisfy constraint: Member must be of type timestamp"
    )


# --------------------------------------------------------------------------------------------------------------
# botocore serializes, we parse: the same parameters come back


ROUND_TRIPS: list[tuple[str, dict[str, Any]]] = [
    ("GetAuthorizationToken", {"domain": "acme", "domainOwner": "111122223333", "durationSeconds": 900}),
    ("GetAuthorizationToken", {"domain": "acme", "durationSeconds": 0}),
    (
        "CreateRepository",
        {
            "domain": "acme",
            "domainOwner": "111122223333",
            "repository": "my-repo",
            "description": "Ünïcode description, 名前 ✓",
            "upstreams": [{"repositoryName": "pypi-store"}, {"repositoryName": "npm-store"}],
            "tags": [{"key": "team", "value": "platform"}, {"key": "env", "value": ""}],
        },
    ),
    (
        "PutDomainPermissionsPolicy",
        {
            "domain": "acme",
            "domainOwner": "111122223333",
            "policyRevision": "rev-1",
            "policyDocument": json.dumps({"Version": "2012-10-17", "Statement": []}, indent=2),
        },
    ),
    (
        "ListPackages",
        {
            "domain": "acme",
            "repository": "my-repo",
            "format": "pypi",
            "namespace": "ns",
            "packagePrefix": "req",
            "maxResults": 50,
            "nextToken": "tok/+=",
            "publish": "ALLOW",
            "upstream": "BLOCK",
        },
    ),
    (
        "PublishPackageVersion",
        {
            "domain": "acme",
            "repository": "my-repo",
            "format": "generic",
            "namespace": "my-ns",
            "package": "my-package",
            "packageVersion": "1.0.0",
            "assetContent": b"\x00\x01binary\xff",
            "assetName": "my package.tar.gz",
            "assetSHA256": hashlib.sha256(b"\x00\x01binary\xff").hexdigest(),
            "unfinished": True,
        },
    ),
    (
        "UpdatePackageVersionsStatus",
        {
            "domain": "acme",
            "repository": "r1",
            "format": "npm",
            "namespace": "scope",
            "package": "left-pad",
            "versions": ["1.0.0", "1.0.1"],
            "versionRevisions": {"1.0.0": "rev=="},
            "expectedStatus": "Published",
            "targetStatus": "Archived",
        },
    ),
    (
        "UpdatePackageGroupOriginConfiguration",
        {
            "domain": "acme",
            "packageGroup": "/npm/*",
            "restrictions": {"PUBLISH": "BLOCK", "EXTERNAL_UPSTREAM": "ALLOW"},
            "addAllowedRepositories": [{"repositoryName": "r1", "originRestrictionType": "PUBLISH"}],
        },
    ),
    ("ListDomains", {"maxResults": 10, "nextToken": "abc"}),
    ("ListDomains", {}),
]


@pytest.mark.parametrize(("operation", "params"), ROUND_TRIPS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(ROUND_TRIPS)])
def test_botocore_requests_parse_back(
    service: ServiceSpec, botocore_model: Any, operation: str, params: dict[str, Any]
) -> None:
    parsed = roundtrip(service, botocore_model, operation, params)
    assert parsed == params
    validate_input(service.operations[operation], parsed)


def test_botocore_requests_parse_back_synthetic(synth: ServiceSpec, synth_model: Any) -> None:
    when = datetime.datetime(2021, 5, 6, 7, 8, 9, tzinfo=UTC)
    put = {
        "bucket": "bk",
        "key": "dir/sub dir/ü.txt",
        "meta": {"color": "red"},
        "expires": when,
        "labels": ["a", "b,c", 'q"uote'],
        "doc": {"x": [1, {"y": None}]},
        "count": 42,
        "body": b"bytes",
    }
    assert roundtrip(synth, synth_model, "PutObject", put) == put
    search = {
        "tags": ["a", "b"],
        "since": when,
        "flag": False,
        "ratio": 0.25,
        "filters": {"k1": "v1", "k2": "v2"},
        "items": [
            {"name": "n1", "when": when, "data": b"\x00\xff", "renamed": "r", "secret": "s3cr3t-value"},
            {"name": "n2"},
        ],
        "groups": {"g": [{"name": "n3"}], "empty": []},
        "color": "red",
        "size": 2**40,
        "score": 1.5,
        "exact": True,
        "times": [when, datetime.datetime(2000, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)],
    }
    assert roundtrip(synth, synth_model, "Search", search) == search
    config = {"config": {"name": "c", "limit": 1, "colors": ["red"]}, "token": "t"}
    assert roundtrip(synth, synth_model, "PutConfig", config) == config
    assert roundtrip(synth, synth_model, "GetThing", {"thingId": "a/b c%"}) == {"thingId": "a/b c%"}


def test_renamed_body_members_use_the_wire_name(synth: ServiceSpec, synth_model: Any) -> None:
    request = SERIALIZER.serialize_to_request(
        {"items": [{"name": "n", "renamed": "r"}]}, synth_model.operation_model("Search")
    )
    assert json.loads(request["body"]) == {"items": [{"name": "n", "wireName": "r"}]}


# --------------------------------------------------------------------------------------------------------------
# we serialize, botocore parses


def test_get_authorization_token_response(service: ServiceSpec, botocore_model: Any) -> None:
    op = service.operations["GetAuthorizationToken"]
    expiration = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    response = serialize_response(op, {"authorizationToken": "tok.en", "expiration": expiration})
    assert response.status == 200
    assert ("Content-Type", "application/json") in response.headers
    assert json.loads(response.body) == {"authorizationToken": "tok.en", "expiration": 1893553445}  # type: ignore[arg-type]
    parsed = botocore_parse(response, botocore_model.operation_model("GetAuthorizationToken").output_shape)
    assert parsed["authorizationToken"] == "tok.en"
    assert parsed["expiration"] == expiration
    assert isinstance(parsed["expiration"], datetime.datetime)


def test_timestamps_accept_datetimes_and_numbers(service: ServiceSpec) -> None:
    op = service.operations["GetAuthorizationToken"]

    def expiration(value: Any) -> Any:
        body = serialize_response(op, {"expiration": value}).body
        return json.loads(body)["expiration"]  # type: ignore[arg-type]

    assert expiration(datetime.datetime(1970, 1, 1, 0, 0, 10, 250000, tzinfo=UTC)) == 10.25
    assert expiration(datetime.datetime(1970, 1, 1, 0, 0, 10)) == 10  # naive means UTC
    tz = datetime.timezone(datetime.timedelta(hours=2))
    assert expiration(datetime.datetime(1970, 1, 1, 2, 0, 10, tzinfo=tz)) == 10
    assert expiration(1700000000) == 1700000000
    assert expiration(1700000000.5) == 1700000000.5
    with pytest.raises(ValueError):
        expiration(float("nan"))


def test_nested_response_with_none_omitted(service: ServiceSpec, botocore_model: Any) -> None:
    op = service.operations["DescribeRepository"]
    created = datetime.datetime(2024, 2, 29, 12, 0, 0, 500000, tzinfo=UTC)
    result = {
        "repository": {
            "name": "r1",
            "administratorAccount": "111122223333",
            "domainName": "acme",
            "domainOwner": "111122223333",
            "arn": "arn:aws:codeartifact:us-east-1:111122223333:repository/acme/r1",
            "description": None,
            "upstreams": [{"repositoryName": "up"}],
            "externalConnections": [
                {"externalConnectionName": "public:pypi", "packageFormat": "pypi", "status": "Available"}
            ],
            "createdTime": created,
            "internalOnlyField": "never sent",
        },
        "alsoUnknown": 1,
    }
    response = serialize_response(op, result)
    document = json.loads(response.body)  # type: ignore[arg-type]
    assert "description" not in document["repository"]
    assert "internalOnlyField" not in document["repository"] and "alsoUnknown" not in document
    parsed = botocore_parse(response, botocore_model.operation_model("DescribeRepository").output_shape)
    expected = {k: v for k, v in result["repository"].items() if v is not None and k != "internalOnlyField"}  # type: ignore[union-attr]
    assert parsed["repository"] == expected


def test_streaming_payload_response(service: ServiceSpec, botocore_model: Any) -> None:
    op = service.operations["GetPackageVersionAsset"]
    result = {
        "asset": b"\x00asset bytes",
        "assetName": "pkg-1.0.tar.gz",
        "packageVersion": "1.0",
        "packageVersionRevision": "rev1",
    }
    response = serialize_response(op, result)
    assert response.body == b"\x00asset bytes"
    assert ("Content-Type", "application/octet-stream") in response.headers
    assert ("X-AssetName", "pkg-1.0.tar.gz") in response.headers
    parsed = botocore_parse(response, botocore_model.operation_model("GetPackageVersionAsset").output_shape)
    assert parsed["assetName"] == "pkg-1.0.tar.gz"
    assert parsed["packageVersion"] == "1.0"
    assert parsed["packageVersionRevision"] == "rev1"

    def chunks() -> Iterator[bytes]:
        yield b"a"
        yield b"b"

    stream = chunks()
    assert serialize_response(op, {**result, "asset": stream}).body is stream


def test_header_values_cannot_inject(service: ServiceSpec) -> None:
    op = service.operations["GetPackageVersionAsset"]
    with pytest.raises(ValueError):
        serialize_response(op, {"asset": b"", "assetName": "a\r\nSet-Cookie: x=1"})


def test_synthetic_response_locations(synth: ServiceSpec, synth_model: Any) -> None:
    when = datetime.datetime(2015, 10, 21, 7, 28, tzinfo=UTC)
    result = {
        "status": 203,
        "etag": '"abc"',
        "modified": when,
        "labels": ["a", "b c"],  # botocore splits response header lists on every comma, quoted or not
        "meta": {"color": "red"},
        "doc": {"k": [1, 2]},
        "item": {"name": "n", "when": when, "data": b"\x01\x02", "renamed": "r", "secret": "hush-hush"},
    }
    response = serialize_response(synth.operations["GetThing"], result)
    assert response.status == 203
    assert ("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT") in response.headers
    assert ("x-meta-color", "red") in response.headers
    assert json.loads(response.body)["item"]["wireName"] == "r"  # type: ignore[arg-type]
    parsed = botocore_parse(response, synth_model.operation_model("GetThing").output_shape)
    parsed.pop("ResponseMetadata")
    assert parsed == result
    assert serialize_response(synth.operations["DeleteThing"], {}).status == 204

    search = {
        "items": [{"name": "n"}],
        "groups": {"g": [{"name": "m", "when": when}]},
        "score": float("inf"),
        "size": 2**50,
        "exact": False,
        "times": [when],
    }
    parsed = botocore_parse(
        serialize_response(synth.operations["Search"], search), synth_model.operation_model("Search").output_shape
    )
    parsed.pop("ResponseMetadata")
    assert parsed == search

    config = {"config": {"name": "c", "colors": ["red"]}}
    response = serialize_response(synth.operations["PutConfig"], config)
    assert json.loads(response.body) == config["config"]  # type: ignore[arg-type]
    parsed = botocore_parse(response, synth_model.operation_model("PutConfig").output_shape)
    assert parsed["config"] == config["config"]


# --------------------------------------------------------------------------------------------------------------
# errors


def _client_error(response: WireResponse, model: Any) -> dict[str, Any]:
    """Parse an error response the way botocore's endpoint does: the code first, then the modelled members."""
    parsed = botocore_parse(response, None)
    error_shape = model.shape_for_error_code(parsed["Error"]["Code"])
    if error_shape is not None:
        parsed.update(botocore_parse(response, error_shape))
    return parsed


def test_error_statuses_match_the_model(service: ServiceSpec, botocore_model: Any) -> None:
    assert status_mismatches(service) == []
    codes = {cls.code: cls for cls in error_classes() if "code" in vars(cls)}
    for shape in botocore_model.error_shapes:
        assert shape.name in codes, f"no CofferError for {shape.name}"
        assert codes[shape.name].status == shape.metadata["error"]["httpStatusCode"], shape.name
    assert service.errors["ServiceQuotaExceededException"].status == 402


def test_status_mismatches_notices_a_wrong_status(service: ServiceSpec) -> None:
    class WrongQuota(core_errors.ServiceQuotaExceededError):
        status = 400

    try:
        problems = status_mismatches(service)
        assert len(problems) == 1
        assert problems[0].startswith("ServiceQuotaExceededException: ")
        assert problems[0].endswith("WrongQuota.status is 400, the model says 402")
    finally:
        del WrongQuota
        import gc

        gc.collect()


ERRORS: list[tuple[CofferError, dict[str, Any]]] = [
    (ValidationError("1 validation error detected: x"), {"reason": "FIELD_VALIDATION_FAILED"}),
    (ValidationError("bad json", reason="CANNOT_PARSE"), {"reason": "CANNOT_PARSE"}),
    (core_errors.AccessDeniedError("User: arn:aws:iam::1:user/u is not authorized"), {}),
    (
        core_errors.ResourceNotFoundError("no domain", "acme", "domain"),
        {"resourceId": "acme", "resourceType": "domain"},
    ),
    (core_errors.ResourceNotFoundError("no domain"), {}),
    (core_errors.ConflictError("exists", "r1", "repository"), {"resourceId": "r1", "resourceType": "repository"}),
    (
        core_errors.ServiceQuotaExceededError("too many", "acme", "domain"),
        {"resourceId": "acme", "resourceType": "domain"},
    ),
    (core_errors.ThrottlingError("slow down", retry_after_seconds=7), {"retryAfterSeconds": 7}),
    (core_errors.InternalServerError("boom"), {}),
]


@pytest.mark.parametrize("error", [e for e, _ in ERRORS], ids=[type(e).__name__ for e, _ in ERRORS])
def test_modelled_errors_parse_into_their_code_and_fields(
    service: ServiceSpec, botocore_model: Any, error: CofferError
) -> None:
    fields = dict(ERRORS)[error]
    response = serialize_error(error, "req-123", service)
    headers = dict(response.headers)
    assert response.status == error.status
    assert headers["x-amzn-ErrorType"] == error.code
    assert headers["x-amzn-RequestId"] == "req-123"
    assert headers["Content-Type"] == "application/json"
    body = json.loads(response.body)  # type: ignore[arg-type]
    assert body["message"] == error.message and body["__type"] == error.code
    parsed = _client_error(response, botocore_model)
    assert parsed["Error"]["Code"] == error.code
    assert parsed["Error"]["Message"] == error.message
    assert parsed["ResponseMetadata"]["RequestId"] == "req-123"
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == error.status
    for key, value in fields.items():
        assert parsed[key] == value
    if isinstance(error, core_errors.ThrottlingError):
        assert headers["Retry-After"] == "7"
        assert "retryAfterSeconds" not in body


def test_unmodelled_errors(service: ServiceSpec, botocore_model: Any) -> None:
    for error in (
        core_errors.UnrecognizedClientError(),
        core_errors.InvalidSignatureError("The request signature we calculated does not match"),
        core_errors.NotImplementedOperationError("CopyPackageVersions"),
    ):
        response = serialize_error(error, "rid", service)
        parsed = _client_error(response, botocore_model)
        assert parsed["Error"]["Code"] == error.code
        assert parsed["Error"]["Message"] == error.message
        assert response.status == error.status
    # without a model, Retry-After still goes to the header
    response = serialize_error(core_errors.ThrottlingError("x", 3), "rid")
    assert ("Retry-After", "3") in response.headers
    assert json.loads(response.body) == {"message": "x", "__type": "ThrottlingException"}  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------------------
# end to end through a real boto3 client (no network: a before-send hook answers with our serializer)


class _Raw(io.BytesIO):
    """Enough of urllib3's response for botocore: ``stream()`` for buffered bodies, ``read()`` for streaming ones."""

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
        yield self.getvalue()


@pytest.fixture
def client(service: ServiceSpec) -> Any:
    session = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", region_name="us-east-1"
    )
    client = session.client("codeartifact", endpoint_url="http://coffer.test")
    results: dict[str, Any] = {}

    def answer(request: Any, **kwargs: Any) -> botocore.awsrequest.AWSResponse:
        url = urlsplit(request.url)
        method = request.method
        match = service.route(method, url.path)
        assert isinstance(match, RouteMatch)
        query = parse_qsl(url.query, keep_blank_values=True)
        headers = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        elif not isinstance(body, bytes):
            body = body.read()
        try:
            params = parse_request(match.operation, labels=match.labels, query=query, headers=headers, body=body)
            validate_input(match.operation, params)
            results["params"] = params
            response = serialize_response(match.operation, results.get(match.operation.name, {}))
        except CofferError as error:
            response = serialize_error(error, "rid-1", service)
        assert isinstance(response.body, bytes)
        return botocore.awsrequest.AWSResponse(
            request.url, response.status, dict(response.headers), _Raw(response.body)
        )

    client.meta.events.register("before-send.codeartifact", answer)
    client.coffer_results = results
    return client


def test_boto3_client_end_to_end(client: Any) -> None:
    expiration = datetime.datetime(2031, 1, 1, tzinfo=UTC)
    client.coffer_results["GetAuthorizationToken"] = {"authorizationToken": "secret-token", "expiration": expiration}
    out = client.get_authorization_token(domain="acme", domainOwner="111122223333", durationSeconds=900)
    assert out["authorizationToken"] == "secret-token"
    assert out["expiration"] == expiration
    assert client.coffer_results["params"] == {
        "domain": "acme",
        "domainOwner": "111122223333",
        "durationSeconds": 900,
    }


def test_boto3_client_sees_modelled_validation_errors(client: Any) -> None:
    with pytest.raises(client.exceptions.ValidationException) as info:
        client.get_authorization_token(domain="Acme", durationSeconds=86400)
    error = info.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert info.value.response["reason"] == "FIELD_VALIDATION_FAILED"
    assert error["Message"] == (
        "2 validation errors detected: Value 'Acme' at 'domain' failed to satisfy constraint: Member must satisfy "
        "regular expression pattern: [a-z][a-z0-9\\-]{0,48}[a-z0-9]; Value '86400' at 'durationSeconds' failed to "
        "satisfy constraint: Member must have value less than or equal to 43200"
    )
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_boto3_publish_and_fetch_asset(client: Any) -> None:
    content = b"generic asset \x00\xff"
    client.coffer_results["PublishPackageVersion"] = {"format": "generic", "package": "p", "version": "1.0"}
    out = client.publish_package_version(
        domain="acme",
        repository="repo",
        format="generic",
        namespace="ns",
        package="p",
        packageVersion="1.0",
        assetContent=content,
        assetName="p-1.0.bin",
        assetSHA256=hashlib.sha256(content).hexdigest(),
    )
    assert out["version"] == "1.0"
    assert client.coffer_results["params"]["assetContent"] == content
    client.coffer_results["GetPackageVersionAsset"] = {"asset": content, "assetName": "p-1.0.bin"}
    out = client.get_package_version_asset(
        domain="acme", repository="repo", format="generic", namespace="ns", package="p", packageVersion="1.0",
        asset="p-1.0.bin",
    )  # fmt: skip
    assert out["asset"].read() == content
    assert out["assetName"] == "p-1.0.bin"
