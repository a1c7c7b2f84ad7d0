"""Property tests for the network-facing wire layer: it accepts or refuses cleanly, and agrees with botocore."""

from __future__ import annotations

import datetime
import functools
import io
import json
import unicodedata
from typing import Any

import botocore.awsrequest
import botocore.parsers
import botocore.response
import botocore.serialize
import botocore.session
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coffer.aws.java_regex import compile_java_pattern
from coffer.aws.restjson_model import ENCODE_STRING, OperationSpec, ServiceSpec, load_service
from coffer.aws.restjson_parse import parse_request, split_header_list
from coffer.aws.restjson_serialize import flat_json, serialize_response
from coffer.aws.shapes import Shape
from coffer.aws.validate import check_structure, validate_input
from coffer.core.shared.errors import CofferError

UTC = datetime.UTC
SERVICE: ServiceSpec = load_service()
BOTOCORE = botocore.session.get_session().get_service_model("codeartifact")
OPERATIONS = sorted(SERVICE.operations)
SERIALIZER = botocore.serialize.create_serializer("rest-json", include_validation=False)
PARSER = botocore.parsers.create_parser("rest-json")
SETTINGS = settings(
    max_examples=max(200, settings.default.max_examples),  # a heavier hypothesis profile still wins
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# --------------------------------------------------------------------------------------------------------------
# arbitrary requests never crash


def _query_keys(op: OperationSpec) -> list[str]:
    return sorted(op.input.query) if op.input is not None and op.input.query else ["domain"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[OperationSpec, list[tuple[str, str]], dict[str, str], bytes]:
    op = SERVICE.operations[draw(st.sampled_from(OPERATIONS))]
    keys = st.sampled_from(_query_keys(op)) | st.text(max_size=8)
    values = st.text(max_size=30) | st.sampled_from(["0", "-1", "900", "1e3", "true", "acme", "npm", "", "9" * 30])
    query = draw(st.lists(st.tuples(keys, values), max_size=8))
    header_names = [m.lower_wire_name for m in op.input.headers] if op.input is not None else []
    headers = draw(st.dictionaries(st.sampled_from([*header_names, "x-other"]), st.text(max_size=70), max_size=3))
    members = sorted(op.input.body) if op.input is not None and op.input.body else ["x"]
    body = draw(
        st.binary(max_size=64)
        | json_values.map(lambda v: json.dumps(v).encode())
        | st.dictionaries(st.sampled_from(members), json_values, max_size=4).map(lambda v: json.dumps(v).encode())
    )
    return op, query, headers, body


@SETTINGS
@given(requests())
def test_arbitrary_requests_only_raise_coffer_errors(
    request: tuple[OperationSpec, list[tuple[str, str]], dict[str, str], bytes],
) -> None:
    op, query, headers, body = request
    try:
        params = parse_request(op, query=query, headers=headers, body=body)
        validate_input(op, params)
    except CofferError as error:
        assert error.status == 400
        assert error.message


@SETTINGS
@given(st.sampled_from(OPERATIONS), st.binary(max_size=200))
def test_arbitrary_bodies_only_raise_coffer_errors(name: str, body: bytes) -> None:
    op = SERVICE.operations[name]
    try:
        validate_input(op, parse_request(op, body=body))
    except CofferError as error:
        assert error.code == "ValidationException"


# --------------------------------------------------------------------------------------------------------------
# values generated from the model's shapes


def _truncate_ms(moment: datetime.datetime) -> datetime.datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


wire_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)


def values_for(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    kind = shape.type
    if kind == "string":
        options: list[st.SearchStrategy[Any]] = [wire_text]
        if shape.enum:
            options.append(st.sampled_from(shape.enum))
        if shape.pattern is not None and "\\p" not in (shape.pattern_source or "").lower():
            options.append(st.from_regex(shape.pattern, fullmatch=True).filter(lambda s: "\x00" not in s))
        return st.one_of(options)
    if kind == "integer":
        return st.integers(-(2**31), 2**31 - 1)
    if kind == "long":
        return st.integers(-(2**63), 2**63 - 1)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.datetimes(
            min_value=datetime.datetime(1970, 1, 2), max_value=datetime.datetime(2200, 1, 1), timezones=st.just(UTC)
        ).map(_truncate_ms)
    if kind == "blob":
        return st.binary(max_size=16)
    if depth > 4:
        return st.nothing()
    if kind == "list":
        assert shape.member is not None
        return st.lists(values_for(shape.member.shape, depth + 1), max_size=3)
    if kind == "map":
        assert shape.key is not None and shape.value is not None
        return st.dictionaries(
            values_for(shape.key.shape, depth + 1), values_for(shape.value.shape, depth + 1), max_size=3
        )
    members = {name: values_for(m.shape, depth + 1) for name, m in shape.members.items()}
    return st.fixed_dictionaries({}, optional=members)


INPUTS = {name: values_for(op.input.shape) for name, op in SERVICE.operations.items() if op.input is not None}
OUTPUTS = {name: values_for(op.output.shape) for name, op in SERVICE.operations.items() if op.output is not None}


@SETTINGS
@given(st.sampled_from(sorted(INPUTS)).flatmap(lambda name: st.tuples(st.just(name), INPUTS[name])))
def test_fast_validity_check_agrees_with_the_explaining_walk(case: tuple[str, dict[str, Any]]) -> None:
    name, params = case
    op = SERVICE.operations[name]
    assert op.input is not None
    violations = check_structure(op.input.shape, params)
    assert op.input.shape.is_valid(params) == (violations == []), violations


@SETTINGS
@given(st.sampled_from(sorted(INPUTS)).flatmap(lambda name: st.tuples(st.just(name), INPUTS[name])))
def test_botocore_serialized_requests_parse_back(case: tuple[str, dict[str, Any]]) -> None:
    name, params = case
    request = SERIALIZER.serialize_to_request(params, BOTOCORE.operation_model(name))
    match = SERVICE.route(request["method"], request["url_path"])
    assert match is not None and not hasattr(match, "allowed")
    query = [
        (k, str(item).lower() if isinstance(item, bool) else str(item))
        for k, v in request["query_string"].items()
        for item in (v if isinstance(v, list) else [v])
    ]
    headers = {k.lower(): v for k, v in request["headers"].items()}
    op = SERVICE.operations[name]
    assert op.input is not None
    if op.input.raw_payload and op.input.payload is not None:  # on the wire, no payload is an empty body
        params = {**params, op.input.payload.name: params.get(op.input.payload.name, b"")}
    assert parse_request(op, query=query, headers=headers, body=request["body"]) == params


@SETTINGS
@given(st.sampled_from(sorted(OUTPUTS)).flatmap(lambda name: st.tuples(st.just(name), OUTPUTS[name])))
def test_our_responses_parse_back_in_botocore(case: tuple[str, dict[str, Any]]) -> None:
    name, result = case
    response = serialize_response(SERVICE.operations[name], result)
    output = SERVICE.operations[name].output
    assert output is not None
    body: Any = response.body
    assert isinstance(body, bytes)
    streaming = output.raw_payload and output.payload is not None
    if streaming:  # as botocore's client hands streaming bodies to the parser
        body = botocore.response.StreamingBody(io.BytesIO(body), len(body))
    parsed = PARSER.parse(
        {"status_code": response.status, "headers": botocore.awsrequest.HeadersDict(response.headers), "body": body},
        BOTOCORE.operation_model(name).output_shape,
    )
    parsed.pop("ResponseMetadata")
    if streaming and output.payload is not None:
        payload = output.payload.name
        parsed[payload] = parsed[payload].read()
        result = {**result, payload: result.get(payload, b"")}
    assert parsed == result


# --------------------------------------------------------------------------------------------------------------
# the hand-built flat JSON of outputs such as GetAuthorizationToken's

FLAT = sorted(name for name, op in SERVICE.operations.items() if op.output is not None and op.output.flat is not None)
# every string json can carry: lone surrogates, control characters, non-ASCII, quotes and backslashes
ANY_TEXT = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=40)
FLAT_VALUES = st.none() | ANY_TEXT | st.integers(min_value=-(2**70), max_value=2**70)


def test_get_authorization_token_takes_the_flat_path() -> None:
    assert "GetAuthorizationToken" in FLAT


@SETTINGS
@given(st.sampled_from(FLAT).flatmap(lambda name: st.tuples(st.just(name), st.data())))
def test_flat_outputs_are_json_dumps(case: tuple[str, st.DataObject]) -> None:
    name, data = case
    plan = SERVICE.operations[name].output
    assert plan is not None and plan.flat is not None
    result: dict[str, Any] = {}
    for member in plan.body.values():
        # a str where a timestamp belongs is not flat: the general path serializes it (or refuses it)
        values = FLAT_VALUES if member.shape.type != "timestamp" else st.none() | st.integers(0, 2**40)
        result[member.name] = data.draw(values, label=member.name)
    expected = {key: result[m.name] for key, m in plan.body.items() if result[m.name] is not None}
    body = flat_json(plan.flat, result)
    assert body == json.dumps(expected, separators=(",", ":")).encode("ascii")
    assert serialize_response(SERVICE.operations[name], result).body == body


@SETTINGS
@given(ANY_TEXT, st.integers(min_value=-(2**70), max_value=2**70))
def test_flat_json_of_any_string_and_int(text: str, number: int) -> None:
    keys = ("a", "b\u00e9\ud800\x00")  # member wire names are encoded as any string is
    flat = ((ENCODE_STRING(keys[0]) + ":", "a", True), (ENCODE_STRING(keys[1]) + ":", "b", False))
    dumps = functools.partial(json.dumps, separators=(",", ":"))
    assert flat_json(flat, {"a": text, "b": number}) == dumps({keys[0]: text, keys[1]: number}).encode()
    assert flat_json(flat, {"a": None, "b": number}) == dumps({keys[1]: number}).encode()
    assert flat_json(flat, {"b": number, "a": text}) == dumps({keys[0]: text, keys[1]: number}).encode()
    assert flat_json(flat, {"a": text, "b": text}) is None  # a str where it does not belong: the general path
    assert flat_json(flat, {"a": True, "b": number}) is None  # not exactly a str or an int: the general path


# --------------------------------------------------------------------------------------------------------------
# small parsers


@SETTINGS
@given(
    st.lists(st.text(alphabet=st.characters(blacklist_characters="\\\r\n", blacklist_categories=("Cs",))), min_size=1)
)
def test_header_lists_split_as_botocore_joins_them(items: list[str]) -> None:
    items = [item.strip(" \t") for item in items]
    joined = ",".join(SERIALIZER._escape_header_list_string(item) for item in items)
    assert split_header_list(joined) == items


NOT_OTHER = compile_java_pattern(r"\P{C}*")
POLICY = compile_java_pattern(r"[\P{C}\s]+")


@SETTINGS
@given(st.text())
def test_not_other_pattern_matches_unicodedata(text: str) -> None:
    expected = all(not unicodedata.category(c).startswith("C") for c in text)
    assert bool(NOT_OTHER.fullmatch(text)) == expected
    policy = text != "" and all(not unicodedata.category(c).startswith("C") or c in " \t\n\x0b\f\r" for c in text)
    assert bool(POLICY.fullmatch(text)) == policy
