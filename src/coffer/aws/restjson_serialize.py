"""Rest-json result dicts into responses, driven by the plans of :mod:`coffer.aws.restjson_model`.

:func:`serialize_response` turns an operation's result dict into a :class:`~coffer.aws.protocol.WireResponse`
``(status, header pairs, body)``; :func:`json_members` and :func:`header_pairs` place members in the JSON body
and in headers (errors use them too, see :mod:`coffer.aws.restjson_errors`).
"""

from __future__ import annotations

import base64
import email.utils
import enum
import json
import math
from collections.abc import AsyncIterable, Iterable, Mapping
from typing import Any, Final

from coffer.aws.protocol import Body, WireResponse
from coffer.aws.restjson_model import ENCODE_STRING, FlatPlan, MessagePlan, OperationSpec
from coffer.aws.scalars import epoch_seconds, float_text, iso8601
from coffer.aws.shapes import Member

JSON_CONTENT_TYPE: Final = "application/json"
_PASS_THROUGH: Final = frozenset(("string", "integer", "long", "boolean"))


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
    if plan.flat is not None:
        body = flat_json(plan.flat, result)
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


def flat_json(flat: FlatPlan, result: Mapping[str, Any]) -> bytes | None:
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
            parts.append(prefix + ENCODE_STRING(value))
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
            return email.utils.formatdate(int(epoch_seconds(value)), usegmt=True)
        if fmt == "iso8601":
            return iso8601(value)
        return str(epoch_seconds(value))
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "blob":
        return base64.b64encode(bytes(value)).decode("ascii")
    if kind in ("float", "double"):
        return float_text(float(value))
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
            return iso8601(value)
        if fmt == "rfc822":
            return email.utils.formatdate(int(epoch_seconds(value)), usegmt=True)
        return epoch_seconds(value)
    if kind == "blob":
        return base64.b64encode(bytes(value)).decode("ascii")
    if kind in ("float", "double"):
        number = float(value)
        return number if math.isfinite(number) else float_text(number)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _map_key(key: Any) -> str:
    return str(key.value) if isinstance(key, enum.Enum) else str(key)


__all__ = [
    "JSON_CONTENT_TYPE",
    "dump_json",
    "flat_json",
    "header_pairs",
    "json_members",
    "serialize_response",
    "to_header_value",
    "to_json",
]
