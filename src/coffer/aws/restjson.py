"""The rest-json protocol: requests into parameter dicts, result dicts into responses.

Pure functions over plain data, driven by the plans in :mod:`coffer.aws.model`:

- :func:`parse_request` takes uri labels, decoded query pairs, headers (lower-case names) and the body bytes and
  returns a dict keyed by the model's member names; values are typed (``int``, ``bool``, aware UTC ``datetime``,
  ``bytes``, nested dicts and lists). Malformed values raise ``ValidationError`` (FIELD_VALIDATION_FAILED, AWS message
  form), a body that is not JSON raises ``ValidationError`` with reason CANNOT_PARSE. Unknown query keys, headers and
  JSON keys are ignored.
- :func:`serialize_response` turns an operation's result dict into ``(status, header pairs, body)``.

Constraint checks (lengths, patterns, enums, ranges, required) are :mod:`coffer.aws.validate`'s job.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import email.utils
import enum
import json
import math
import re
from collections.abc import AsyncIterable, Iterable, Mapping, Sequence
from typing import Any, Final, NamedTuple

from coffer.aws.model import Member, MessagePlan, OperationSpec, Shape
from coffer.aws.validate import type_constraint, validation_message, violation
from coffer.core.shared.errors import ValidationError

Body = bytes | Iterable[bytes] | AsyncIterable[bytes]


class WireResponse(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: Body  # bytes, or a sync/async iterator of chunks passed through from a streaming payload


JSON_CONTENT_TYPE: Final = "application/json"
_UTC: Final = datetime.UTC
_NO_HEADERS: Final[Mapping[str, str]] = {}
_INT_RE: Final = re.compile(r"[+-]?[0-9]{1,40}")
_FLOAT_RE: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SPECIAL_FLOATS: Final[Mapping[str, float]] = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_INT_BOUNDS: Final[Mapping[str, tuple[int, int]]] = {
    "integer": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
}


class _Bad(Exception):
    """A value that cannot be read as its shape's type; carries the constraint text for the message."""

    def __init__(self, constraint: str) -> None:
        super().__init__(constraint)
        self.constraint = constraint


_FAIL: Final = object()
_PASS_THROUGH: Final = frozenset(("string", "integer", "long", "boolean"))
_EPOCH: Final = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


# ------------------------------------------------------------------------------------------------------------------
# requests


def parse_request(
    op: OperationSpec,
    *,
    labels: Mapping[str, str] | None = None,
    query: Sequence[tuple[str, str]] = (),
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
) -> dict[str, Any]:
    """Read an operation's input members from the request's parts.

    ``labels`` are the router's decoded uri labels, ``query`` the decoded query pairs in order, ``headers`` maps
    lower-case names to values. A blob/string payload member gets the body as it is; the endpoint may replace it with
    a stream for large uploads after this call (``op.input.raw_payload`` says when).
    """
    plan = op.input
    if plan is None:
        return {}
    params: dict[str, Any] = {}
    errors: list[str] = []
    if plan.uri and labels:
        for label, member in plan.uri.items():
            raw = labels.get(label)
            if raw is not None:
                _put_text(params, member, raw, "uri", errors)
    if query and (plan.query or plan.query_map is not None):
        _parse_query(plan, query, params, errors)
    if headers:
        for member in plan.headers:
            raw = headers.get(member.lower_wire_name)
            if raw is not None:
                _put_text(params, member, raw, "header", errors)
        for member in plan.header_maps:
            _parse_header_map(member, headers, params, errors)
    if plan.payload is not None:
        _parse_payload(plan.payload, plan.raw_payload, body, params, errors)
    elif plan.body and body and body.strip():
        document = _load_json(body)
        if not isinstance(document, dict):
            if document is not None:
                raise ValidationError("Request body must be a JSON object", reason="CANNOT_PARSE")
        else:
            for key, body_member in plan.body.items():  # model order: errors come out in a stable order
                raw_value = document.get(key)
                if raw_value is None:
                    continue
                parsed = _from_json(body_member, raw_value, body_member.name, errors)
                if parsed is not _FAIL:
                    params[body_member.name] = parsed
    if errors:
        raise ValidationError(validation_message(errors))
    return params


def _load_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        raise ValidationError(f"Could not parse request body into json: {detail}", reason="CANNOT_PARSE") from None


def _parse_payload(member: Member, raw_payload: bool, body: bytes, params: dict[str, Any], errors: list[str]) -> None:
    if raw_payload:
        if member.shape.type == "string":
            try:
                params[member.name] = body.decode("utf-8")
            except UnicodeDecodeError:
                raise ValidationError("Request body is not valid UTF-8", reason="CANNOT_PARSE") from None
        else:
            params[member.name] = body
        return
    if not body.strip():
        return
    document = _load_json(body)
    if document is None:
        return
    parsed = _from_json(member, document, member.name, errors)
    if parsed is not _FAIL:
        params[member.name] = parsed


def _parse_query(
    plan: MessagePlan, pairs: Sequence[tuple[str, str]], params: dict[str, Any], errors: list[str]
) -> None:
    members = plan.query
    seen: set[str] = set()
    repeated: list[str] = []
    lists: dict[str, list[str]] = {}
    extra: list[tuple[str, str]] = []
    for key, value in pairs:
        member = members.get(key)
        if member is None:
            if plan.query_map is not None:
                extra.append((key, value))
        elif member.shape.type == "list":
            lists.setdefault(key, []).append(value)
        elif key in seen:
            if key not in repeated:
                repeated.append(key)
        else:
            seen.add(key)
            _put_text(params, member, value, "querystring", errors)
    for key in repeated:
        member = members[key]
        params.pop(member.name, None)
        values = [v for k, v in pairs if k == key]
        errors.append(violation(member.name, values, "Member must not be repeated", sensitive=member.shape.sensitive))
    for key, values in lists.items():
        member = members[key]
        element = member.shape.member
        assert element is not None
        items = [_text_item(element, v, member.name, index, "querystring", errors) for index, v in enumerate(values, 1)]
        if all(item is not _FAIL for item in items):
            params[member.name] = items
    if extra and plan.query_map is not None:
        _parse_query_map(plan.query_map, extra, params, errors)


def _parse_query_map(member: Member, pairs: list[tuple[str, str]], params: dict[str, Any], errors: list[str]) -> None:
    value_member = member.shape.value
    assert value_member is not None
    out: dict[str, Any] = {}
    if value_member.shape.type == "list":
        element = value_member.shape.member
        assert element is not None
        for key, value in pairs:
            item = _text_item(element, value, f"{member.name}.{key}", 0, "querystring", errors)
            if item is not _FAIL:
                out.setdefault(key, []).append(item)
    else:
        for key, value in pairs:
            path = f"{member.name}.{key}"
            if key in out:
                errors.append(violation(path, value, "Member must not be repeated"))
                continue
            try:
                out[key] = _from_text(value_member, value, "querystring")
            except _Bad as bad:
                errors.append(violation(path, value, bad.constraint, sensitive=value_member.shape.sensitive))
    params[member.name] = out


def _parse_header_map(member: Member, headers: Mapping[str, str], params: dict[str, Any], errors: list[str]) -> None:
    prefix = member.lower_wire_name
    value_member = member.shape.value
    assert value_member is not None
    out: dict[str, Any] = {}
    for name, raw in headers.items():
        if name.startswith(prefix):
            key = name[len(prefix) :]
            try:
                out[key] = _from_text(value_member, raw, "header")
            except _Bad as bad:
                errors.append(violation(f"{member.name}.{key}", raw, bad.constraint))
    if out:
        params[member.name] = out


def _text_item(element: Member, raw: str, path: str, index: int, location: str, errors: list[str]) -> Any:
    try:
        return _from_text(element, raw, location)
    except _Bad as bad:
        item_path = f"{path}.{index}.member" if index else path
        errors.append(violation(item_path, raw, bad.constraint, sensitive=element.shape.sensitive))
        return _FAIL


def _put_text(params: dict[str, Any], member: Member, raw: str, location: str, errors: list[str]) -> None:
    try:
        params[member.name] = _from_text(member, raw, location)
    except _Bad as bad:
        errors.append(violation(member.name, raw, bad.constraint, sensitive=member.shape.sensitive))


def _from_text(member: Member, raw: str, location: str) -> Any:
    """A value from a uri label, query value or header value."""
    shape = member.shape
    kind = shape.type
    if kind == "string":
        if member.jsonvalue:  # rare; plain strings fall through to the return below
            try:
                return json.loads(base64.b64decode(raw, validate=True))
            except (ValueError, binascii.Error, RecursionError):
                raise _Bad("Member must be base64-encoded JSON") from None
        return raw
    if kind in ("integer", "long"):
        return _int_text(shape, raw)
    if kind == "boolean":
        lowered = raw.lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
        raise _Bad(type_constraint(shape))
    if kind in ("float", "double"):
        return _float_text(shape, raw)
    if kind == "timestamp":
        return _timestamp_text(shape, raw)
    if kind == "blob":
        return _base64(shape, raw)
    if kind == "list" and location == "header":
        element = shape.member
        assert element is not None
        return [_from_text(element, item, location) for item in _split_header_list(raw)]
    raise _Bad(type_constraint(shape))


def _int_text(shape: Shape, raw: str) -> int:
    if _INT_RE.fullmatch(raw) is None:
        raise _Bad(type_constraint(shape))
    value = int(raw)
    low, high = _INT_BOUNDS[shape.type]
    if not low <= value <= high:
        raise _Bad(type_constraint(shape))
    return value


def _float_text(shape: Shape, raw: str) -> float:
    special = _SPECIAL_FLOATS.get(raw)
    if special is not None:
        return special
    if _FLOAT_RE.fullmatch(raw) is None or len(raw) > 400:
        raise _Bad(type_constraint(shape))
    return float(raw)


def _timestamp_text(shape: Shape, raw: str) -> datetime.datetime:
    text = raw.strip()
    if len(text) > 64:
        raise _Bad(type_constraint(shape))
    if _FLOAT_RE.fullmatch(text) is not None:
        return _from_epoch(shape, float(text))
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            raise _Bad(type_constraint(shape)) from None
    return parsed.replace(tzinfo=_UTC) if parsed.tzinfo is None else parsed.astimezone(_UTC)


def _from_epoch(shape: Shape, seconds: float) -> datetime.datetime:
    if not math.isfinite(seconds):
        raise _Bad(type_constraint(shape))
    try:
        return datetime.datetime.fromtimestamp(seconds, _UTC)
    except (OverflowError, OSError, ValueError):
        raise _Bad(type_constraint(shape)) from None


def _base64(shape: Shape, raw: str) -> bytes:
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise _Bad("Member must be base64-encoded") from None


def _split_header_list(raw: str) -> list[str]:
    """Split a header list on commas, honouring double-quoted items (as botocore writes them).

    Like botocore, ``n`` top-level commas always give ``n + 1`` items, empty ones included.
    """
    items: list[str] = []
    i, n = 0, len(raw)
    while True:
        while i < n and raw[i] in " \t":
            i += 1
        if i < n and raw[i] == '"':
            i += 1
            chars: list[str] = []
            while i < n and raw[i] != '"':
                if raw[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(raw[i])
                i += 1
            items.append("".join(chars))
            comma = raw.find(",", i)
            i = n if comma < 0 else comma
        else:
            comma = raw.find(",", i)
            end = n if comma < 0 else comma
            items.append(raw[i:end].strip(" \t"))
            i = end
        if i >= n:
            return items
        i += 1


def _from_json(member: Member, raw: Any, path: str, errors: list[str]) -> Any:
    """A value from the JSON body, checked against its shape's type. Failures are appended to ``errors``."""
    shape = member.shape
    kind = shape.type
    if kind == "string":
        if isinstance(raw, str):
            return raw
    elif kind in ("integer", "long"):
        if isinstance(raw, int) and not isinstance(raw, bool):
            low, high = _INT_BOUNDS[kind]
            if low <= raw <= high:
                return raw
    elif kind == "boolean":
        if isinstance(raw, bool):
            return raw
    elif kind in ("float", "double"):
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return float(raw)
        if isinstance(raw, str) and raw in _SPECIAL_FLOATS:
            return _SPECIAL_FLOATS[raw]
    elif kind == "timestamp":
        try:
            if isinstance(raw, int | float) and not isinstance(raw, bool):
                return _from_epoch(shape, float(raw))
            if isinstance(raw, str):
                return _timestamp_text(shape, raw)
        except _Bad as bad:
            errors.append(violation(path, raw, bad.constraint, sensitive=shape.sensitive))
            return _FAIL
    elif kind == "blob":
        if isinstance(raw, str):
            try:
                return _base64(shape, raw)
            except _Bad as bad:
                errors.append(violation(path, raw, bad.constraint, sensitive=shape.sensitive))
                return _FAIL
    elif kind == "structure":
        if shape.document:
            return raw
        if isinstance(raw, dict):
            return _json_structure(shape, raw, path, errors)
    elif kind == "list":
        if isinstance(raw, list):
            return _json_list(shape, raw, path, errors)
    elif kind == "map" and isinstance(raw, dict):
        return _json_map(shape, raw, path, errors)
    errors.append(violation(path, raw, type_constraint(shape), sensitive=shape.sensitive))
    return _FAIL


def _json_structure(shape: Shape, raw: dict[str, Any], path: str, errors: list[str]) -> Any:
    out: dict[str, Any] = {}
    failed = False
    for member in shape.members.values():  # model order, as validation reports
        value = raw.get(member.wire_name)
        if value is None:
            continue
        parsed = _from_json(member, value, f"{path}.{member.name}", errors)
        if parsed is _FAIL:
            failed = True
        else:
            out[member.name] = parsed
    return _FAIL if failed else out


def _json_list(shape: Shape, raw: list[Any], path: str, errors: list[str]) -> Any:
    element = shape.member
    assert element is not None
    out: list[Any] = []
    failed = False
    for index, item in enumerate(raw, 1):
        item_path = f"{path}.{index}.member"
        if item is None:
            errors.append(violation(item_path, None, "Member must not be null"))
            failed = True
            continue
        parsed = _from_json(element, item, item_path, errors)
        if parsed is _FAIL:
            failed = True
        else:
            out.append(parsed)
    return _FAIL if failed else out


def _json_map(shape: Shape, raw: dict[str, Any], path: str, errors: list[str]) -> Any:
    key_member, value_member = shape.key, shape.value
    assert key_member is not None and value_member is not None
    out: dict[Any, Any] = {}
    failed = False
    for key, item in raw.items():
        item_path = f"{path}.{key}"
        parsed_key = _from_json(key_member, key, item_path, errors)
        if item is None:
            errors.append(violation(item_path, None, "Member must not be null"))
            failed = True
            continue
        parsed = _from_json(value_member, item, item_path, errors)
        if parsed is _FAIL or parsed_key is _FAIL:
            failed = True
        else:
            out[parsed_key] = parsed
    return _FAIL if failed else out


# ------------------------------------------------------------------------------------------------------------------
# responses


def serialize_response(op: OperationSpec, result: Mapping[str, Any]) -> WireResponse:
    """Serialize an operation's result dict (keyed by member names; ``None`` values are omitted).

    Header members become headers, a ``statusCode`` member the status (else the operation's ``responseCode`` or
    200), a blob/string payload member the raw body (bytes, str, or a sync/async iterator of bytes passed through),
    everything else a JSON object. No ``Content-Length``: the HTTP layer knows the body best.
    """
    plan = op.output
    status = op.response_code
    if plan is None:
        return WireResponse(status, [("Content-Type", JSON_CONTENT_TYPE)], b"{}")
    flat = _flat_plan(plan)
    if flat is not None:
        body = _flat_json(flat, result)
        if body is not None:
            return WireResponse(status, [("Content-Type", JSON_CONTENT_TYPE)], body)
    headers = header_pairs(plan, result)
    if plan.status_code is not None:
        code = result.get(plan.status_code.name)
        if code is not None:
            status = int(code)
    payload = plan.payload
    if payload is None:
        headers.append(("Content-Type", JSON_CONTENT_TYPE))
        return WireResponse(status, headers, dump_json(json_members(plan, result)))
    value = result.get(payload.name)
    if not plan.raw_payload:
        headers.append(("Content-Type", JSON_CONTENT_TYPE))
        body = b"{}" if value is None else dump_json(to_json(payload, value))
        return WireResponse(status, headers, body)
    if not any(name.lower() == "content-type" for name, _ in headers):
        default = "application/octet-stream" if payload.shape.type == "blob" else "text/plain; charset=utf-8"
        headers.append(("Content-Type", default))
    return WireResponse(status, headers, _raw_body(value))


# Fast path for outputs that are a flat JSON object of strings, numbers and epoch timestamps (GetAuthorizationToken):
# per plan, the members as (encoded '"key":' prefix, member name, accepts a str value); None for other plans.
_FLAT_KINDS: Final = frozenset(("string", "integer", "long", "timestamp"))
_flat_plans: dict[int, tuple[MessagePlan, tuple[tuple[str, str, bool], ...] | None]] = {}


def _flat_plan(plan: MessagePlan) -> tuple[tuple[str, str, bool], ...] | None:
    entry = _flat_plans.get(id(plan))
    if entry is not None and entry[0] is plan:  # the entry holds the plan, so its id is not reused
        return entry[1]
    flat: tuple[tuple[str, str, bool], ...] | None = None
    simple = not (plan.headers or plan.header_maps or plan.status_code or plan.payload)
    if simple and all(
        m.shape.type in _FLAT_KINDS
        and (m.shape.type != "timestamp" or (m.timestamp_format or "unixtimestamp") == "unixtimestamp")
        for m in plan.body.values()
    ):
        flat = tuple((_ENCODE_STRING(key) + ":", m.name, m.shape.type != "timestamp") for key, m in plan.body.items())
    _flat_plans[id(plan)] = (plan, flat)
    return flat


def _flat_json(flat: tuple[tuple[str, str, bool], ...], result: Mapping[str, Any]) -> bytes | None:
    """Exactly what ``dump_json(json_members(plan, result))`` gives, when every value is a plain str or int (an
    exact type: not an enum, a bool or a datetime); None otherwise, and the general path serializes."""
    parts: list[str] = []
    for prefix, name, takes_str in flat:
        value = result.get(name)
        if value is None:
            continue
        kind = type(value)
        if kind is int:
            parts.append(prefix + int.__repr__(value))
        elif kind is str and takes_str:
            parts.append(prefix + _ENCODE_STRING(value))
        else:
            return None
    return ("{" + ",".join(parts) + "}").encode("ascii")


def _raw_body(value: Any) -> Body:
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, Iterable | AsyncIterable):
        return value
    raise TypeError(f"cannot use {type(value).__name__} as a response body")


# ASCII output: any str (even a lone surrogate that came in as a JSON escape) encodes, and the C encoder is fastest
_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, allow_nan=False)


#: json's ASCII string encoder (C when available): what _ENCODER uses for every string and key
_ENCODE_STRING: Final = json.encoder.encode_basestring_ascii


def dump_json(document: Any) -> bytes:
    return _ENCODER.encode(document).encode("ascii")


def json_members(plan: MessagePlan, values: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body object of a message's body members (model member names in, wire names out)."""
    out: dict[str, Any] = {}
    for key, member in plan.body.items():
        value = values.get(member.name)
        if value is not None:
            out[key] = to_json(member, value)
    return out


def header_pairs(plan: MessagePlan, values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Header pairs for a message's ``header`` and ``headers`` members (header names as the model spells them)."""
    out: list[tuple[str, str]] = []
    for member in plan.headers:
        value = values.get(member.name)
        if value is None:
            continue
        if member.shape.type == "list":
            if not value:
                continue
            element = member.shape.member
            assert element is not None
            text = ",".join(_quote_list_item(to_header_value(element, item)) for item in value if item is not None)
        else:
            text = to_header_value(member, value)
        out.append((member.wire_name, _checked_header(text)))
    for member in plan.header_maps:
        value = values.get(member.name)
        if not value:
            continue
        value_member = member.shape.value
        assert value_member is not None
        for key, item in value.items():
            if item is not None:
                name = member.wire_name + str(key)
                out.append((_checked_header(name), _checked_header(to_header_value(value_member, item))))
    return out


def _quote_list_item(text: str) -> str:
    if '"' in text or "," in text:
        return '"' + text.replace('"', '\\"') + '"'
    return text


def _checked_header(text: str) -> str:
    if "\r" in text or "\n" in text or "\0" in text:
        raise ValueError("header values must not contain CR, LF or NUL")
    return text


def to_header_value(member: Member, value: Any) -> str:
    kind = member.shape.type
    if kind == "timestamp":
        fmt = member.timestamp_format or "rfc822"
        if fmt == "rfc822":
            return email.utils.formatdate(int(_epoch(value)), usegmt=True)
        if fmt == "iso8601":
            return _iso8601(value)
        return str(_epoch(value))
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "blob":
        return base64.b64encode(bytes(value)).decode("ascii")
    if kind in ("float", "double"):
        return _float_text_out(float(value))
    if kind == "string" and member.jsonvalue:
        return base64.b64encode(json.dumps(value, separators=(",", ":")).encode("utf-8")).decode("ascii")
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


def to_json(member: Member, value: Any) -> Any:
    """A value of ``member``'s shape as a JSON-ready object."""
    shape = member.shape
    kind = shape.type
    if kind in _PASS_THROUGH:
        return value.value if isinstance(value, enum.Enum) else value
    if kind == "structure":
        if shape.document:
            return value
        out: dict[str, Any] = {}
        for name, sub in shape.members.items():
            item = value.get(name)
            if item is not None:
                out[sub.wire_name] = to_json(sub, item)
        return out
    if kind == "list":
        element = shape.member
        assert element is not None
        return [to_json(element, item) for item in value]
    if kind == "map":
        value_member = shape.value
        assert value_member is not None
        return {_map_key(k): to_json(value_member, v) for k, v in value.items() if v is not None}
    if kind == "timestamp":
        fmt = member.timestamp_format or "unixtimestamp"
        if fmt == "iso8601":
            return _iso8601(value)
        if fmt == "rfc822":
            return email.utils.formatdate(int(_epoch(value)), usegmt=True)
        return _epoch(value)
    if kind == "blob":
        return base64.b64encode(bytes(value)).decode("ascii")
    if kind in ("float", "double"):
        number = float(value)
        return number if math.isfinite(number) else _float_text_out(number)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _map_key(key: Any) -> str:
    return str(key.value) if isinstance(key, enum.Enum) else str(key)


def _aware(value: datetime.datetime) -> datetime.datetime:
    return value.replace(tzinfo=_UTC) if value.tzinfo is None else value


def _epoch(value: Any) -> int | float:
    """Epoch seconds with millisecond precision: an int when whole (naive datetimes are UTC)."""
    if isinstance(value, datetime.datetime):
        delta = _aware(value) - _EPOCH
        seconds = delta.days * 86400 + delta.seconds
        millis = delta.microseconds // 1000
        return seconds if millis == 0 else seconds + millis / 1000
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"cannot use {type(value).__name__} as a timestamp")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("timestamps must be finite")
    return value


def _iso8601(value: Any) -> str:
    if isinstance(value, datetime.datetime):
        moment = _aware(value).astimezone(_UTC)
    else:
        moment = datetime.datetime.fromtimestamp(_epoch(value), _UTC)
    millis = moment.microsecond // 1000
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


def _float_text_out(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


__all__ = [
    "JSON_CONTENT_TYPE",
    "Body",
    "WireResponse",
    "dump_json",
    "header_pairs",
    "json_members",
    "parse_request",
    "serialize_response",
    "to_header_value",
    "to_json",
]
