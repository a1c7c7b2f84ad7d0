"""Rest-json requests into parameter dicts, driven by the plans of :mod:`coffer.aws.restjson_model`.

:func:`parse_request` takes uri labels, decoded query pairs, headers (lower-case names) and the body bytes and
returns a dict keyed by the model's member names; values are typed (``int``, ``bool``, aware UTC ``datetime``,
``bytes``, nested dicts and lists) by the scalar text rules of :mod:`coffer.aws.scalars`. Malformed values raise
``ValidationError`` (FIELD_VALIDATION_FAILED, AWS message form), a body that is not JSON raises
``ValidationError`` with reason CANNOT_PARSE. Unknown query keys, headers and JSON keys are ignored.

Constraint checks (lengths, patterns, enums, ranges, required) are :mod:`coffer.aws.validate`'s job.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from coffer.aws.restjson_model import MessagePlan, OperationSpec
from coffer.aws.scalars import (
    INT_BOUNDS,
    SPECIAL_FLOATS,
    BadScalar,
    base64_from_text,
    scalar_from_text,
    timestamp_from_epoch,
    timestamp_from_text,
    type_constraint,
)
from coffer.aws.shapes import Member, Shape
from coffer.aws.validate import validation_message, violation
from coffer.core.shared.errors import ValidationError

_FAIL: Final = object()


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
    lower-case names to values. A blob/string payload member gets the body as it is; for a streaming blob
    (``op.input.streaming_payload``) the endpoint passes no body and replaces the member with the body's stream
    after this call.
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
            except BadScalar as bad:
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
            except BadScalar as bad:
                errors.append(violation(f"{member.name}.{key}", raw, bad.constraint))
    if out:
        params[member.name] = out


def _text_item(element: Member, raw: str, path: str, index: int, location: str, errors: list[str]) -> Any:
    try:
        return _from_text(element, raw, location)
    except BadScalar as bad:
        item_path = f"{path}.{index}.member" if index else path
        errors.append(violation(item_path, raw, bad.constraint, sensitive=element.shape.sensitive))
        return _FAIL


def _put_text(params: dict[str, Any], member: Member, raw: str, location: str, errors: list[str]) -> None:
    try:
        params[member.name] = _from_text(member, raw, location)
    except BadScalar as bad:
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
                raise BadScalar("Member must be base64-encoded JSON") from None
        return raw
    if kind == "list" and location == "header":
        element = shape.member
        assert element is not None
        return [_from_text(element, item, location) for item in split_header_list(raw)]
    return scalar_from_text(shape, raw)


def split_header_list(raw: str) -> list[str]:
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
            low, high = INT_BOUNDS[kind]
            if low <= raw <= high:
                return raw
    elif kind == "boolean":
        if isinstance(raw, bool):
            return raw
    elif kind in ("float", "double"):
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return float(raw)
        if isinstance(raw, str) and raw in SPECIAL_FLOATS:
            return SPECIAL_FLOATS[raw]
    elif kind == "timestamp":
        try:
            if isinstance(raw, int | float) and not isinstance(raw, bool):
                return timestamp_from_epoch(shape, float(raw))
            if isinstance(raw, str):
                return timestamp_from_text(shape, raw)
        except BadScalar as bad:
            errors.append(violation(path, raw, bad.constraint, sensitive=shape.sensitive))
            return _FAIL
    elif kind == "blob":
        if isinstance(raw, str):
            try:
                return base64_from_text(raw)
            except BadScalar as bad:
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


__all__ = ["parse_request", "split_header_list"]
