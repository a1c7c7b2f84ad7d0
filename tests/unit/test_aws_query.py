"""The query wire layer (STS, IAM) against botocore itself: botocore's query serializer writes requests our parser
must read back to the same parameters; botocore's query parser reads our XML responses and errors back."""

from __future__ import annotations

import datetime
import json
import threading
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from typing import Any

import botocore.model
import botocore.parsers
import botocore.serialize
import botocore.session
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.types import Message, Scope

from coffer.aws.auth import RequestAuthenticator
from coffer.aws.endpoint import ServiceEndpoint
from coffer.aws.protocol import ServiceHandlers
from coffer.aws.query_form import operation_for, parse_form, parse_params, validate_params
from coffer.aws.query_model import QueryOperation, QuerySpec, build_query_service, load_query_service, unhandled
from coffer.aws.query_protocol import QueryProtocol, QueryService
from coffer.aws.query_xml import iso8601, query_error, serialize_error, serialize_result
from coffer.core.identity.iam_errors import DeleteConflictError, PackedPolicyTooLargeError
from coffer.core.policy import MalformedPolicyDocumentError
from coffer.core.shared import errors as core_errors
from coffer.core.shared.blocking import may_block
from coffer.core.shared.errors import CofferError, ExactCodeError, ValidationError

UTC = datetime.UTC


@pytest.fixture(scope="module")
def session() -> Any:
    return botocore.session.get_session()


@pytest.fixture(scope="module")
def sts() -> QuerySpec:
    return load_query_service("sts")


@pytest.fixture(scope="module")
def iam() -> QuerySpec:
    return load_query_service("iam")


def specs(name: str) -> QuerySpec:
    return {"sts": _STS, "iam": _IAM}[name]


_STS = load_query_service("sts")
_IAM = load_query_service("iam")


def botocore_form(session: Any, service: str, operation: str, params: Mapping[str, Any]) -> bytes:
    model = session.get_service_model(service).operation_model(operation)
    request = botocore.serialize.create_serializer("query").serialize_to_request(dict(params), model)
    return urllib.parse.urlencode(request["body"]).encode("ascii")


def read_back(spec: QuerySpec, body: bytes) -> tuple[QueryOperation, dict[str, Any]]:
    form = parse_form(body, "", "application/x-www-form-urlencoded; charset=utf-8")
    op = operation_for(spec, form)
    params = parse_params(spec, op, form)
    validate_params(op, params)
    return op, params


def botocore_parse(session: Any, service: str, operation: str, body: bytes, status: int = 200) -> Any:
    model = session.get_service_model(service).operation_model(operation)
    parser = botocore.parsers.create_parser("query")
    shape = model.output_shape if status < 300 else None
    return parser.parse({"body": body, "headers": {}, "status_code": status}, shape)


# --------------------------------------------------------------------------------------------------------------
# the model


def test_models_compile(sts: QuerySpec, iam: QuerySpec) -> None:
    assert sts.api_version == "2011-06-15" and iam.api_version == "2010-05-08"
    assert sts.xml_namespace == "https://sts.amazonaws.com/doc/2011-06-15/"
    assert iam.xml_namespace == "https://iam.amazonaws.com/doc/2010-05-08/"
    assert sts.operations["GetCallerIdentity"].result_wrapper == "GetCallerIdentityResult"
    assert iam.operations["ListRoles"].result_wrapper == "ListRolesResult"
    assert sts.operations["AssumeRoleWithWebIdentity"].unsigned
    assert not sts.operations["AssumeRole"].unsigned
    assert iam.errors["NoSuchEntity"].status == 404
    assert iam.errors["EntityAlreadyExists"].status == 409
    assert iam.errors["DeleteConflict"].status == 409
    assert iam.errors["LimitExceeded"].status == 409
    assert iam.errors["MalformedPolicyDocument"].status == 400
    assert sts.errors["ExpiredTokenException"].status == 400
    assert sts.errors["RegionDisabledException"].status == 403
    assert sts.errors["PackedPolicyTooLarge"].status == 400


def test_only_query_models(session: Any) -> None:
    with pytest.raises(ValueError, match="not a query-protocol"):
        build_query_service(session.get_service_model("codeartifact"))


def test_every_operation_is_handled_or_not_implemented(sts: QuerySpec) -> None:
    assert "GetCallerIdentity" in unhandled(sts, [])
    assert unhandled(sts, sts.operations) == []


# --------------------------------------------------------------------------------------------------------------
# requests: botocore's serializer -> our parser

ROUND_TRIPS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "sts",
        "AssumeRole",
        {
            "RoleArn": "arn:aws:iam::111122223333:role/deploy",
            "RoleSessionName": "ci@build-42",
            "PolicyArns": [
                {"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
                {"arn": "arn:aws:iam::111122223333:policy/extra"},
            ],
            "Policy": json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*"}]}),
            "DurationSeconds": 900,
            "Tags": [{"Key": "team", "Value": "a b=c+d@x"}, {"Key": "env", "Value": "prod"}],
            "TransitiveTagKeys": ["team"],
            "ExternalId": "ext-1",
        },
    ),
    ("sts", "GetCallerIdentity", {}),
    ("sts", "GetSessionToken", {"DurationSeconds": 3600}),
    (
        "iam",
        "CreateRole",
        {
            "RoleName": "deploy",
            "Path": "/ci/",
            "AssumeRolePolicyDocument": '{"Version":"2012-10-17","Statement":[]}',
            "Description": "déploiement",
            "MaxSessionDuration": 7200,
            "Tags": [{"Key": "k", "Value": ""}],
        },
    ),
    (
        "iam",
        "PutRolePolicy",
        {"RoleName": "deploy", "PolicyName": "inline", "PolicyDocument": '{"Version": "2012-10-17"}'},
    ),
    (
        "iam",
        "CreatePolicyVersion",
        {
            "PolicyArn": "arn:aws:iam::111122223333:policy/p",
            "PolicyDocument": '{"Version":"2012-10-17"}',
            "SetAsDefault": True,
        },
    ),
    ("iam", "TagRole", {"RoleName": "deploy", "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]}),
    ("iam", "ListRoles", {"PathPrefix": "/", "MaxItems": 10, "Marker": "abc"}),
    ("iam", "CreateUser", {"UserName": "alice", "PermissionsBoundary": "arn:aws:iam::aws:policy/Boundary"}),
]


@pytest.mark.parametrize(("service", "operation", "params"), ROUND_TRIPS, ids=[r[1] for r in ROUND_TRIPS])
def test_botocore_requests_read_back(session: Any, service: str, operation: str, params: dict[str, Any]) -> None:
    op, parsed = read_back(specs(service), botocore_form(session, service, operation, params))
    assert op.name == operation
    assert parsed == params


def test_empty_list_and_booleans(session: Any, iam: QuerySpec) -> None:
    body = botocore_form(session, "iam", "CreatePolicyVersion", {"PolicyArn": "a" * 20, "PolicyDocument": "{}"})
    form = parse_form(body + b"&SetAsDefault=false")
    op = operation_for(iam, form)
    assert parse_params(iam, op, form)["SetAsDefault"] is False
    form = parse_form(b"Action=AssumeRole&Version=2011-06-15&PolicyArns=&RoleArn=x&RoleSessionName=s")
    assert parse_params(_STS, operation_for(_STS, form), form)["PolicyArns"] == []


def test_get_query_string_and_unknown_keys_ignored(sts: QuerySpec) -> None:
    form = parse_form(b"", "Action=GetCallerIdentity&Version=2011-06-15&Foo=bar&Bar.member.1=x")
    op = operation_for(sts, form)
    assert op.name == "GetCallerIdentity"
    assert parse_params(sts, op, form) == {}


def test_list_indexes_sort_numerically(sts: QuerySpec) -> None:
    parts = ["Action=AssumeRole", "Version=2011-06-15", "RoleArn=r", "RoleSessionName=s"]
    parts += [f"TransitiveTagKeys.member.{i}=k{i}" for i in (10, 2, 1)]
    form = parse_form("&".join(parts).encode())
    params = parse_params(sts, operation_for(sts, form), form)
    assert params["TransitiveTagKeys"] == ["k1", "k2", "k10"]


def test_timestamps_parse(session: Any, iam: QuerySpec) -> None:
    form = parse_form(b"Action=GetCredentialReport&Version=2010-05-08")
    assert parse_params(iam, operation_for(iam, form), form) == {}


# --------------------------------------------------------------------------------------------------------------
# Action and Version


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b"Version=2011-06-15", "MissingAction", "Missing Action"),
        (b"Action=&Version=2011-06-15", "MissingAction", "Missing Action"),
        (b"Action=Nope&Version=2011-06-15", "InvalidAction", "Could not find operation Nope for version 2011-06-15"),
        (
            b"Action=GetCallerIdentity&Version=2010-05-08",
            "InvalidAction",
            "Could not find operation GetCallerIdentity for version 2010-05-08",
        ),
        (
            b"Action=GetCallerIdentity",
            "InvalidAction",
            "Could not find operation GetCallerIdentity for version NO_VERSION_SPECIFIED",
        ),
        (b"Action=CreateRole&Version=2011-06-15", "InvalidAction", "Could not find operation CreateRole for version"),
    ],
)
def test_action_and_version_errors(sts: QuerySpec, body: bytes, code: str, message: str) -> None:
    with pytest.raises(ExactCodeError) as caught:
        operation_for(sts, parse_form(body))
    assert caught.value.code == code
    assert caught.value.status == 400
    assert caught.value.message.startswith(message)


def test_form_refusals() -> None:
    with pytest.raises(ExactCodeError) as caught:
        parse_form(b"Action=A&Action=B")
    assert caught.value.code == "MalformedQueryString"
    with pytest.raises(ExactCodeError):
        parse_form(b"Action=%ff")
    with pytest.raises(ExactCodeError) as caught:
        parse_form(b"{}", content_type="application/json")
    assert caught.value.status == 415
    with pytest.raises(core_errors.RequestTooLargeError):
        parse_form(b"a" * (1024 * 1024 + 1))
    with pytest.raises(core_errors.RequestTooLargeError):
        parse_form("&".join(f"k{i}=v" for i in range(3000)).encode())


# --------------------------------------------------------------------------------------------------------------
# validation, in the query services' words


def validation_of(spec: QuerySpec, body: str) -> str:
    form = parse_form(body.encode())
    op = operation_for(spec, form)
    with pytest.raises(ValidationError) as caught:
        validate_params(op, parse_params(spec, op, form))
    assert query_error(caught.value, spec) == ("ValidationError", 400)
    return caught.value.message


def test_validation_message_role_session_name(sts: QuerySpec) -> None:
    message = validation_of(
        sts, "Action=AssumeRole&Version=2011-06-15&RoleArn=arn:aws:iam::111122223333:role/r&RoleSessionName=a+b"
    )
    assert message == (
        "1 validation error detected: Value 'a b' at 'roleSessionName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w+=,.@-]*"
    )


def test_validation_messages_nested_and_required(sts: QuerySpec) -> None:
    message = validation_of(
        sts,
        "Action=AssumeRole&Version=2011-06-15&RoleSessionName=ss&DurationSeconds=800"
        "&PolicyArns.member.1.arn=short&Tags.member.1.Key=&Tags.member.1.Value=v",
    )
    assert message == (
        "5 validation errors detected: "
        "Value null at 'roleArn' failed to satisfy constraint: Member must not be null; "
        "Value 'short' at 'policyArns.1.member.arn' failed to satisfy constraint: "
        "Member must have length greater than or equal to 20; "
        "Value '800' at 'durationSeconds' failed to satisfy constraint: "
        "Member must have value greater than or equal to 900; "
        "Value '' at 'tags.1.member.key' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1; "
        "Value '' at 'tags.1.member.key' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+"
    )


def test_type_errors_are_validation_errors(sts: QuerySpec, iam: QuerySpec) -> None:
    form = parse_form(b"Action=GetSessionToken&Version=2011-06-15&DurationSeconds=abc")
    with pytest.raises(ValidationError) as caught:
        parse_params(sts, operation_for(sts, form), form)
    assert caught.value.message == (
        "1 validation error detected: Value 'abc' at 'durationSeconds' failed to satisfy constraint: "
        "Member must be of type integer"
    )
    form = parse_form(b"Action=CreatePolicyVersion&Version=2010-05-08&SetAsDefault=yes")
    with pytest.raises(ValidationError, match=r"at 'setAsDefault' .* Member must be of type boolean"):
        parse_params(iam, operation_for(iam, form), form)


def test_sensitive_values_are_not_echoed(sts: QuerySpec) -> None:
    message = validation_of(
        sts, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn:aws:iam::1:role/rrrrrr&RoleSessionName=ss"
    )
    assert message == (
        "1 validation error detected: Value null at 'webIdentityToken' failed to satisfy constraint: "
        "Member must not be null"
    )
    message = validation_of(
        sts,
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn:aws:iam::1:role/rrrrrr"
        "&RoleSessionName=ss&WebIdentityToken=abc",
    )
    assert "abc" not in message and "at 'webIdentityToken'" in message


# --------------------------------------------------------------------------------------------------------------
# responses: our serializer -> botocore's parser


def test_get_caller_identity_response(session: Any, sts: QuerySpec) -> None:
    result = {"UserId": "AIDAEXAMPLE", "Account": "111122223333", "Arn": "arn:aws:iam::111122223333:user/alice"}
    body = serialize_result(sts, sts.operations["GetCallerIdentity"], result, "req-1")
    root = ET.fromstring(body)
    ns = "{https://sts.amazonaws.com/doc/2011-06-15/}"
    assert root.tag == f"{ns}GetCallerIdentityResponse"
    assert root.find(f"{ns}GetCallerIdentityResult/{ns}Account").text == "111122223333"  # type: ignore[union-attr]
    parsed = botocore_parse(session, "sts", "GetCallerIdentity", body)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-1"
    assert parsed == result


def test_assume_role_response_with_timestamps(session: Any, sts: QuerySpec) -> None:
    expiration = datetime.datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    result = {
        "Credentials": {
            "AccessKeyId": "ASIAEXAMPLEEXAMPLE12",
            "SecretAccessKey": "secret/with+chars=",
            "SessionToken": "token<&>",
            "Expiration": expiration,
        },
        "AssumedRoleUser": {"AssumedRoleId": "AROAEXAMPLE:s", "Arn": "arn:aws:sts::111122223333:assumed-role/r/s"},
        "PackedPolicySize": 6,
        "SourceIdentity": None,
    }
    body = serialize_result(sts, sts.operations["AssumeRole"], result, "req-2")
    assert b"<Expiration>2026-11-29T10:00:00Z</Expiration>" in body
    parsed = botocore_parse(session, "sts", "AssumeRole", body)
    parsed.pop("ResponseMetadata")
    assert parsed["Credentials"]["Expiration"] == expiration
    assert parsed["Credentials"]["SessionToken"] == "token<&>"
    assert parsed["PackedPolicySize"] == 6
    assert "SourceIdentity" not in parsed


def test_iso8601_forms() -> None:
    assert iso8601(datetime.datetime(2026, 11, 29, 10, 0, 0, 123456, tzinfo=UTC)) == "2026-11-29T10:00:00.123Z"
    assert iso8601(datetime.datetime(2026, 11, 29, 10, 0)) == "2026-11-29T10:00:00Z"
    assert iso8601(0) == "1970-01-01T00:00:00Z"
    with pytest.raises(TypeError):
        iso8601(True)


def test_list_roles_response(session: Any, iam: QuerySpec) -> None:
    created = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}}]})
    roles = [
        {
            "Path": "/",
            "RoleName": f"role{i}",
            "RoleId": f"AROA{i:017d}",
            "Arn": f"arn:aws:iam::111122223333:role/role{i}",
            "CreateDate": created,
            "AssumeRolePolicyDocument": doc,
            "MaxSessionDuration": 3600,
            "Tags": [{"Key": "k", "Value": "v"}],
        }
        for i in range(3)
    ]
    body = serialize_result(iam, iam.operations["ListRoles"], {"Roles": roles, "IsTruncated": True, "Marker": "m"}, "r")
    assert b"<IsTruncated>true</IsTruncated>" in body
    assert body.count(b"<member>") == 6
    parsed = botocore_parse(session, "iam", "ListRoles", body)
    assert parsed["IsTruncated"] is True and parsed["Marker"] == "m"
    assert [r["RoleName"] for r in parsed["Roles"]] == ["role0", "role1", "role2"]
    assert parsed["Roles"][0]["CreateDate"] == created
    assert parsed["Roles"][0]["Tags"] == [{"Key": "k", "Value": "v"}]
    # IAM sends policy documents URL-encoded; botocore's after-call handler decodes them
    assert b"%7B%22Version%22" in body
    encoded = parsed["Roles"][0]["AssumeRolePolicyDocument"]
    assert json.loads(urllib.parse.unquote(encoded)) == json.loads(doc)


def test_empty_list_response(session: Any, iam: QuerySpec) -> None:
    body = serialize_result(iam, iam.operations["ListRoles"], {"Roles": [], "IsTruncated": False}, "r")
    parsed = botocore_parse(session, "iam", "ListRoles", body)
    assert parsed["Roles"] == [] and parsed["IsTruncated"] is False


def test_create_user_response(session: Any, iam: QuerySpec) -> None:
    user = {
        "Path": "/",
        "UserName": "alice",
        "UserId": "AIDAEXAMPLE000000001",
        "Arn": "arn:aws:iam::111122223333:user/alice",
        "CreateDate": datetime.datetime(2026, 11, 29, tzinfo=UTC),
    }
    body = serialize_result(iam, iam.operations["CreateUser"], {"User": user}, "r")
    parsed = botocore_parse(session, "iam", "CreateUser", body)
    assert parsed["User"] == user


def test_operation_without_output(session: Any, iam: QuerySpec) -> None:
    body = serialize_result(iam, iam.operations["DeleteRole"], {}, "rid")
    assert body == (
        b'<DeleteRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
        b"<ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></DeleteRoleResponse>"
    )
    assert botocore_parse(session, "iam", "DeleteRole", body)["ResponseMetadata"]["RequestId"] == "rid"


def test_map_response(session: Any) -> None:
    """IAM's GetAccountSummary returns a map (entry/key/value)."""
    body = serialize_result(_IAM, _IAM.operations["GetAccountSummary"], {"SummaryMap": {"Users": 3, "Roles": 7}}, "r")
    assert b"<entry><key>Users</key><value>3</value></entry>" in body
    assert botocore_parse(session, "iam", "GetAccountSummary", body)["SummaryMap"] == {"Users": 3, "Roles": 7}


def test_text_is_always_well_formed_xml(session: Any, sts: QuerySpec) -> None:
    result = {"UserId": "a\x00b\x1fc]]>&<", "Account": "1", "Arn": "x"}
    body = serialize_result(sts, sts.operations["GetCallerIdentity"], result, "r")
    parsed = botocore_parse(session, "sts", "GetCallerIdentity", body)
    assert parsed["UserId"] == "a\ufffdb\ufffdc]]>&<"


# --------------------------------------------------------------------------------------------------------------
# errors


def coded(code: str, status: int, message: str) -> ExactCodeError:
    """An error of a code Coffer has no class for (the serializer must still keep its code)."""
    return type(code, (ExactCodeError,), {"code": code, "status": status})(message)


ERROR_CASES: list[tuple[str, CofferError, str, int]] = [
    ("iam", core_errors.ResourceNotFoundError("The role with name x cannot be found."), "NoSuchEntity", 404),
    ("iam", core_errors.ConflictError("Role with name x already exists."), "EntityAlreadyExists", 409),
    ("iam", core_errors.ServiceQuotaExceededError("Cannot exceed quota"), "LimitExceeded", 409),
    (
        "iam",
        DeleteConflictError("Cannot delete entity, must detach all policies first."),
        "DeleteConflict",
        409,
    ),
    ("iam", MalformedPolicyDocumentError("Syntax errors in policy."), "MalformedPolicyDocument", 400),
    ("iam", coded("NoSuchEntity", 400, "wrong status, the model's wins"), "NoSuchEntity", 404),
    ("iam", core_errors.InternalServerError("boom"), "ServiceFailure", 500),
    ("sts", core_errors.InternalServerError("boom"), "InternalFailure", 500),
    ("sts", core_errors.AccessDeniedError("User: x is not authorized to perform: sts:AssumeRole"), "AccessDenied", 403),
    ("sts", coded("ExpiredTokenException", 400, "Token expired"), "ExpiredTokenException", 400),
    ("sts", coded("RegionDisabledException", 403, "STS is not activated"), "RegionDisabledException", 403),
    ("sts", PackedPolicyTooLargeError("too large"), "PackedPolicyTooLarge", 400),
    ("sts", core_errors.UnrecognizedClientError(), "InvalidClientTokenId", 403),
    ("sts", core_errors.InvalidSignatureError("bad"), "SignatureDoesNotMatch", 403),
    (
        "sts",
        core_errors.MissingAuthenticationTokenError("Missing Authentication Token"),
        "MissingAuthenticationToken",
        403,
    ),
    ("sts", core_errors.IncompleteSignatureError("x"), "IncompleteSignature", 400),
    ("sts", core_errors.ExpiredTokenError(), "ExpiredToken", 403),
    ("sts", core_errors.ThrottlingError("slow down"), "Throttling", 400),
    ("sts", core_errors.NotImplementedOperationError("GetFederationToken"), "NotImplemented", 501),
    ("sts", core_errors.ValidationError("1 validation error detected: ..."), "ValidationError", 400),
]


@pytest.mark.parametrize(("service", "error", "code", "status"), ERROR_CASES, ids=[c[2] for c in ERROR_CASES])
def test_errors_parse_in_botocore(session: Any, service: str, error: CofferError, code: str, status: int) -> None:
    spec = specs(service)
    got_status, body = serialize_error(error, "rid-9", spec)
    assert got_status == status
    parsed = botocore_parse(session, service, "GetCallerIdentity" if service == "sts" else "GetRole", body, status)
    assert parsed["Error"] == {
        "Type": "Sender" if status < 500 else "Receiver",
        "Code": code,
        "Message": error.message,
    }
    assert parsed["ResponseMetadata"]["RequestId"] == "rid-9"
    assert ET.fromstring(body).tag == f"{{{spec.xml_namespace}}}ErrorResponse"


def test_modelled_codes_become_modelled_exceptions(session: Any) -> None:
    """botocore maps the Code to the service's exception class (NoSuchEntity -> NoSuchEntityException)."""
    import boto3

    client = boto3.client("iam", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    _, body = serialize_error(core_errors.ResourceNotFoundError("nope"), "r", _IAM)
    parsed = botocore_parse(session, "iam", "GetRole", body, 404)
    assert client.exceptions.from_code(parsed["Error"]["Code"]) is client.exceptions.NoSuchEntityException


# --------------------------------------------------------------------------------------------------------------
# never anything but CofferError


_KEY_PARTS = st.sampled_from(
    [
        "Action",
        "Version",
        "RoleArn",
        "RoleSessionName",
        "PolicyArns",
        "member",
        "entry",
        "arn",
        "Tags",
        "Key",
        "Value",
        "DurationSeconds",
        "1",
        "2",
        "0",
        "01",
        "999999999",
        "SetAsDefault",
        "key",
        "value",
        "",
        "x",
    ]
)
_KEYS = st.lists(_KEY_PARTS, min_size=1, max_size=6).map(".".join)
_VALUES = st.one_of(
    st.text(max_size=30), st.sampled_from(["", "true", "abc", "1e5", "-1", "2026-11-29T10:00:00Z", "NaN"])
)


@settings(max_examples=300, deadline=None)
@given(
    pairs=st.lists(st.tuples(_KEYS, _VALUES), max_size=20),
    action=st.sampled_from(
        [
            "AssumeRole",
            "CreateRole",
            "TagRole",
            "CreatePolicyVersion",
            "GetAccountSummary",
            "PutRolePolicy",
            "UpdateAssumeRolePolicy",
            "Nope",
            "",
        ]
    ),
    service=st.sampled_from(["sts", "iam"]),
)
def test_arbitrary_forms_only_raise_coffer_errors(pairs: list[tuple[str, str]], action: str, service: str) -> None:
    spec = specs(service)
    body = urllib.parse.urlencode([("Action", action), ("Version", spec.api_version), *pairs]).encode()
    try:
        form = parse_form(body)
        op = operation_for(spec, form)
        params = parse_params(spec, op, form)
        validate_params(op, params)
    except CofferError as exc:
        serialize_error(exc, "r", spec)


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=200), query=st.text(max_size=60))
def test_arbitrary_bytes_only_raise_coffer_errors(raw: bytes, query: str) -> None:
    try:
        form = parse_form(raw, query)
        operation_for(_STS, form)
    except CofferError:
        pass


# --------------------------------------------------------------------------------------------------------------
# the endpoint, in process (signature checks and handlers stubbed at their seams)


class _FakeAuth(RequestAuthenticator):
    def __init__(self) -> None:
        pass

    def authenticate(self, scope: Scope, request: Any, parsed: Any, body: bytes) -> Any:
        if parsed.signature == "bad":
            raise core_errors.InvalidSignatureError("The request signature we calculated does not match")
        return "the-caller"


def _call(endpoint: ServiceEndpoint, body: bytes, service: str = "sts", signature: str = "good") -> tuple[int, bytes]:
    auth = (
        f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261129/us-east-1/{service}/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={signature}"
    )
    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": [
            (b"host", b"localhost"),
            (b"x-amz-date", b"20261129T100000Z"),
            (b"authorization", auth.encode()),
            (b"content-type", b"application/x-www-form-urlencoded; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 1),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    import anyio

    anyio.run(endpoint, scope, receive, send)
    return sent[0]["status"], sent[1]["body"]


def _query_endpoint(
    sts_handlers: Mapping[str, Callable[..., dict[str, Any]]], services: Any = None, inline: list[str] | None = None
) -> ServiceEndpoint:
    return ServiceEndpoint(
        QueryProtocol(
            {
                "sts": QueryService(_STS, ServiceHandlers(sts_handlers, services)),
                "iam": QueryService(_IAM, ServiceHandlers({}, None)),
            }
        ),
        _FakeAuth(),
        inline=inline or [],
    )


def _endpoint(handlers: Mapping[str, Callable[..., dict[str, Any]]]) -> ServiceEndpoint:
    return _query_endpoint(handlers, "svc", inline=["GetCallerIdentity"])


def test_endpoint_calls_handler_and_answers_xml(session: Any) -> None:
    seen: list[Any] = []

    def get_caller_identity(svc: Any, caller: Any, params: Mapping[str, Any]) -> dict[str, Any]:
        seen.append((svc, caller, dict(params)))
        return {"UserId": "AIDA", "Account": "111122223333", "Arn": "arn:aws:iam::111122223333:user/a"}

    status, body = _call(
        _endpoint({"GetCallerIdentity": get_caller_identity}), b"Action=GetCallerIdentity&Version=2011-06-15"
    )
    assert status == 200
    assert seen == [("svc", "the-caller", {})]
    assert botocore_parse(session, "sts", "GetCallerIdentity", body)["Account"] == "111122223333"


def test_endpoint_errors(session: Any) -> None:
    endpoint = _endpoint({})
    status, body = _call(endpoint, b"Action=GetCallerIdentity&Version=2011-06-15")
    assert status == 501
    error = botocore_parse(session, "sts", "GetCallerIdentity", body, status)["Error"]
    assert error["Code"] == "NotImplemented" and "GetCallerIdentity" in error["Message"]

    status, body = _call(endpoint, b"Action=ListRoles&Version=2010-05-08", service="iam")
    assert status == 501 and b"iam.amazonaws.com" in body

    status, body = _call(endpoint, b"Action=Nope&Version=2011-06-15")
    assert status == 400 and b"<Code>InvalidAction</Code>" in body

    status, body = _call(endpoint, b"Action=GetCallerIdentity&Version=2011-06-15", signature="bad")
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body


def test_endpoint_handler_failures() -> None:
    def broken(svc: Any, caller: Any, params: Mapping[str, Any]) -> dict[str, Any]:
        raise RuntimeError("secret detail")

    def missing(svc: Any, caller: Any, params: Mapping[str, Any]) -> dict[str, Any]:
        raise core_errors.ResourceNotFoundError("nope")

    status, body = _call(_endpoint({"GetCallerIdentity": broken}), b"Action=GetCallerIdentity&Version=2011-06-15")
    assert status == 500 and b"InternalFailure" in body and b"secret" not in body
    status, body = _call(_endpoint({"GetSessionToken": missing}), b"Action=GetSessionToken&Version=2011-06-15")
    assert status == 404 and b"<Code>NoSuchEntity</Code>" in body
    status, body = _call(
        _endpoint({"GetSessionToken": missing}), b"Action=GetSessionToken&Version=2011-06-15&DurationSeconds=1"
    )
    assert status == 400 and b"<Code>ValidationError</Code>" in body and b"durationSeconds" in body


@pytest.mark.parametrize("service", ["sts", "iam"])
def test_every_model_operation_answers_not_implemented_without_a_handler(session: Any, service: str) -> None:
    endpoint = _query_endpoint({})
    spec = specs(service)
    for name in spec.operations:
        status, body = _call(endpoint, f"Action={name}&Version={spec.api_version}".encode(), service=service)
        assert status == 501, name
        error = botocore_parse(session, service, name, body, status)["Error"]
        assert error["Code"] == "NotImplemented" and name in error["Message"]


class _ThreadNotingAuth(_FakeAuth):
    def __init__(self) -> None:
        self.threads: list[str] = []

    def authenticate(self, scope: Scope, request: Any, parsed: Any, body: bytes) -> Any:
        self.threads.append(threading.current_thread().name)
        return super().authenticate(scope, request, parsed, body)


def _noting_endpoint(handler: Callable[..., dict[str, Any]], inline: list[str]) -> tuple[ServiceEndpoint, Any]:
    auth = _ThreadNotingAuth()
    protocol = QueryProtocol(
        {
            "sts": QueryService(_STS, ServiceHandlers({"GetCallerIdentity": handler}, "svc")),
            "iam": QueryService(_IAM, ServiceHandlers({}, None)),
        }
    )
    return ServiceEndpoint(protocol, auth, inline=inline), auth


_IDENTITY = {"UserId": "AIDA", "Account": "111122223333", "Arn": "arn:aws:iam::111122223333:user/a"}
_CALL = b"Action=GetCallerIdentity&Version=2011-06-15"


def test_an_inline_operation_is_authenticated_and_answered_on_the_event_loop() -> None:
    handled: list[str] = []

    def handler(svc: Any, caller: Any, params: Mapping[str, Any]) -> dict[str, Any]:
        handled.append(threading.current_thread().name)
        return _IDENTITY

    endpoint, auth = _noting_endpoint(handler, ["GetCallerIdentity"])
    assert _call(endpoint, _CALL)[0] == 200
    assert auth.threads == handled == [threading.main_thread().name]


def test_an_inline_operation_that_would_block_runs_again_whole_on_a_worker_thread() -> None:
    handled: list[str] = []

    def handler(svc: Any, caller: Any, params: Mapping[str, Any]) -> dict[str, Any]:
        handled.append(threading.current_thread().name)
        may_block()  # a cache miss: the store would be read
        return _IDENTITY

    endpoint, auth = _noting_endpoint(handler, ["GetCallerIdentity"])
    assert _call(endpoint, _CALL)[0] == 200
    main = threading.main_thread().name
    assert auth.threads[0] == handled[0] == main  # tried on the loop, stopped before anything blocked
    assert len(auth.threads) == len(handled) == 2 and auth.threads[1] == handled[1] != main  # then both again


def test_another_operations_handler_runs_on_a_worker_thread_after_an_inline_authentication() -> None:
    handled: list[str] = []

    def handler(svc: Any, caller: Any, params: Mapping[str, Any]) -> dict[str, Any]:
        handled.append(threading.current_thread().name)
        return _IDENTITY

    endpoint, auth = _noting_endpoint(handler, [])
    assert _call(endpoint, _CALL)[0] == 200
    assert auth.threads == [threading.main_thread().name] and handled[0] != threading.main_thread().name
