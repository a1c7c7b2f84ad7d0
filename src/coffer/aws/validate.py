"""Validation of parsed input against the model's constraints, reported the way AWS reports it.

``1 validation error detected: Value '86400' at 'durationSeconds' failed to satisfy constraint: Member must have
value less than or equal to 43200``; several failures are joined with ``; `` under ``N validation errors detected``.

Order is deterministic: members in model order, depth first; for one value the checks run as
length (min, max), value range (min, max), pattern, enum. Paths use model member names, list elements as
``upstreams.1.member.repositoryName`` (1-based). As AWS does, a list of scalars reports its elements' failures once
on the list (``Member must satisfy constraint: [...]``) and a map its keys' and values' failures
(``Map keys must satisfy constraint: [...]``, ``Map value must satisfy constraint: [...]``). Values of sensitive
shapes are not echoed (``Value at 'x' ...``).
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from coffer.aws.restjson_model import OperationSpec
from coffer.aws.scalars import type_constraint
from coffer.aws.shapes import Shape
from coffer.core.shared.errors import ValidationError

_SCALARS: Final = frozenset(("string", "integer", "long", "float", "double", "boolean", "timestamp", "blob"))
_CONTAINERS: Final = frozenset(("structure", "list", "map"))
_NOT_NULL: Final = "Member must not be null"


def validate_input(op: OperationSpec, params: Mapping[str, Any]) -> None:
    """Raise ``ValidationError`` (reason FIELD_VALIDATION_FAILED) listing every constraint ``params`` violates."""
    if op.input is None:
        return
    shape = op.input.shape
    try:
        if shape.is_valid(params):  # the compiled fast path; the walk below only runs to explain a failure
            return
    except RecursionError:
        pass
    violations = check_structure(shape, params)
    if violations:
        raise ValidationError(validation_message(violations))


def check_structure(shape: Shape, value: Mapping[str, Any], path: str = "") -> list[str]:
    """Every violation in ``value`` (a dict keyed by member names) as ``Value ... at ...`` strings, in order."""
    out: list[str] = []
    try:
        _structure(shape, value, path, shape.sensitive, out)
    except RecursionError:
        out.append(violation(path or shape.name, None, "Member must not be nested this deeply", sensitive=True))
    return out


def validation_message(violations: Sequence[str]) -> str:
    count = len(violations)
    return f"{count} validation error{'' if count == 1 else 's'} detected: " + "; ".join(violations)


def violation(path: str, value: Any, constraint: str, *, sensitive: bool = False) -> str:
    if value is None:
        shown = "Value null"
    elif sensitive:
        shown = "Value"
    else:
        shown = f"Value '{render_value(value)}'"
    return f"{shown} at '{path}' failed to satisfy constraint: {constraint}"


def render_value(value: Any) -> str:
    """Render a value roughly as Java's ``toString`` would, as AWS's messages show it."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes | bytearray | memoryview):
        size = len(value)
        return f"java.nio.HeapByteBuffer[pos=0 lim={size} cap={size}]"
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{render_value(k)}={render_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    return str(value)


def _number(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def scalar_violations(shape: Shape, value: Any) -> list[str]:
    """Constraint texts a scalar ``value`` of ``shape`` fails, in the documented order."""
    kind = shape.type
    out: list[str] = []
    if kind == "string":
        if not isinstance(value, str):
            return [type_constraint(shape)]
        _length(shape, len(value), out)
        if shape.pattern is not None and shape.pattern.fullmatch(value) is None:
            out.append(f"Member must satisfy regular expression pattern: {shape.pattern_source}")
        if shape.enum_set and value not in shape.enum_set:
            out.append(f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
    elif kind in ("integer", "long", "float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return [type_constraint(shape)]
        if kind in ("integer", "long") and not isinstance(value, int):
            return [type_constraint(shape)]
        if isinstance(value, float) and math.isnan(value):
            return out
        if shape.min is not None and value < shape.min:
            out.append(f"Member must have value greater than or equal to {_number(shape.min)}")
        if shape.max is not None and value > shape.max:
            out.append(f"Member must have value less than or equal to {_number(shape.max)}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            return [type_constraint(shape)]
    elif kind == "timestamp":
        if not isinstance(value, datetime.datetime):
            return [type_constraint(shape)]
    elif kind == "blob" and isinstance(value, bytes | bytearray | memoryview):
        _length(shape, len(value), out)
    # a blob that is not bytes is a stream handed over by the endpoint: nothing to measure yet
    return out


def _length(shape: Shape, size: int, out: list[str]) -> None:
    if shape.min is not None and size < shape.min:
        out.append(f"Member must have length greater than or equal to {_number(shape.min)}")
    if shape.max is not None and size > shape.max:
        out.append(f"Member must have length less than or equal to {_number(shape.max)}")


def _structure(shape: Shape, value: Mapping[str, Any], prefix: str, sensitive: bool, out: list[str]) -> None:
    for member in shape.members.values():
        item = value.get(member.name)
        path = f"{prefix}.{member.name}" if prefix else member.name
        if item is None:
            if member.required:
                out.append(violation(path, None, _NOT_NULL))
            continue
        _value(member.shape, item, path, sensitive or member.shape.sensitive, out)


def _value(shape: Shape, value: Any, path: str, sensitive: bool, out: list[str]) -> None:
    kind = shape.type
    if kind in _SCALARS:
        for constraint in scalar_violations(shape, value):
            out.append(violation(path, value, constraint, sensitive=sensitive))
    elif kind == "structure":
        if shape.document:
            return
        if not isinstance(value, Mapping):
            out.append(violation(path, value, type_constraint(shape), sensitive=sensitive))
            return
        _structure(shape, value, path, sensitive, out)
    elif kind == "list":
        _list(shape, value, path, sensitive, out)
    elif kind == "map":
        _map(shape, value, path, sensitive, out)


def _list(shape: Shape, value: Any, path: str, sensitive: bool, out: list[str]) -> None:
    if not isinstance(value, list | tuple):
        out.append(violation(path, value, type_constraint(shape), sensitive=sensitive))
        return
    sizes: list[str] = []
    _length(shape, len(value), sizes)
    out.extend(violation(path, value, c, sensitive=sensitive) for c in sizes)
    assert shape.member is not None
    element = shape.member.shape
    element_sensitive = sensitive or element.sensitive
    if element.type in _CONTAINERS:
        for index, item in enumerate(value, 1):
            item_path = f"{path}.{index}.member"
            if item is None:
                out.append(violation(item_path, None, _NOT_NULL))
            else:
                _value(element, item, item_path, element_sensitive, out)
        return
    failed: dict[str, None] = {}
    for item in value:
        for constraint in [_NOT_NULL] if item is None else scalar_violations(element, item):
            failed[constraint] = None
    if failed:
        constraint = f"Member must satisfy constraint: [{', '.join(failed)}]"
        out.append(violation(path, value, constraint, sensitive=element_sensitive))


def _map(shape: Shape, value: Any, path: str, sensitive: bool, out: list[str]) -> None:
    if not isinstance(value, Mapping):
        out.append(violation(path, value, type_constraint(shape), sensitive=sensitive))
        return
    sizes: list[str] = []
    _length(shape, len(value), sizes)
    out.extend(violation(path, value, c, sensitive=sensitive) for c in sizes)
    assert shape.key is not None and shape.value is not None
    key_shape, value_shape = shape.key.shape, shape.value.shape
    failed_keys: dict[str, None] = {}
    for key in value:
        for constraint in scalar_violations(key_shape, key):
            failed_keys[constraint] = None
    if failed_keys:
        constraint = f"Map keys must satisfy constraint: [{', '.join(failed_keys)}]"
        out.append(violation(path, value, constraint, sensitive=sensitive or key_shape.sensitive))
    value_sensitive = sensitive or value_shape.sensitive
    if value_shape.type in _CONTAINERS:
        for key, item in value.items():
            item_path = f"{path}.{key}"
            if item is None:
                out.append(violation(item_path, None, _NOT_NULL))
            else:
                _value(value_shape, item, item_path, value_sensitive, out)
        return
    failed_values: dict[str, None] = {}
    for item in value.values():
        for constraint in [_NOT_NULL] if item is None else scalar_violations(value_shape, item):
            failed_values[constraint] = None
    if failed_values:
        constraint = f"Map value must satisfy constraint: [{', '.join(failed_values)}]"
        out.append(violation(path, value, constraint, sensitive=value_sensitive))


__all__ = [
    "check_structure",
    "render_value",
    "scalar_violations",
    "validate_input",
    "validation_message",
    "violation",
]
