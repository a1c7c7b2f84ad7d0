"""The compiled validity predicates of shapes: the fast path of input validation.

:func:`compile_check` builds, once at load time, a predicate that is True when a (parsed) value of the shape meets
every constraint, members included; :mod:`coffer.aws.validate` only walks a value to explain a failure in AWS's
words.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from coffer.aws.shapes import Shape


def accept(value: Any) -> bool:
    return True


def compile_check(shape: Shape) -> Callable[[Any], bool]:
    """The validity predicate of one shape. Sub-shapes are looked up at call time, so recursive shapes work."""
    kind = shape.type
    low, high = shape.min, shape.max
    if kind == "string":
        fullmatch = shape.pattern.fullmatch if shape.pattern is not None else None
        enum = shape.enum_set or None

        def check_string(value: Any) -> bool:
            if not isinstance(value, str):
                return False
            size = len(value)
            if (low is not None and size < low) or (high is not None and size > high):
                return False
            if fullmatch is not None and fullmatch(value) is None:
                return False
            return enum is None or value in enum

        return check_string
    if kind in ("integer", "long", "float", "double"):
        int_only = kind in ("integer", "long")

        def check_number(value: Any) -> bool:
            if isinstance(value, bool) or not isinstance(value, int | float):
                return False
            if int_only and not isinstance(value, int):
                return False
            return (low is None or not value < low) and (high is None or not value > high)  # NaN passes, as in Java

        return check_number
    if kind == "boolean":
        return lambda value: isinstance(value, bool)
    if kind == "timestamp":
        return lambda value: isinstance(value, datetime.datetime)
    if kind == "blob":

        def check_blob(value: Any) -> bool:
            if not isinstance(value, bytes | bytearray | memoryview):
                return True  # a stream handed over by the endpoint: nothing to measure
            size = len(value)
            return (low is None or size >= low) and (high is None or size <= high)

        return check_blob
    if kind == "structure":
        if shape.document:
            return accept
        members = tuple((m.name, m.required, m.shape) for m in shape.members.values())

        def check_structure(value: Any) -> bool:
            if not isinstance(value, Mapping):
                return False
            get = value.get
            for name, required, sub in members:
                item = get(name)
                if item is None:
                    if required:
                        return False
                elif not sub.is_valid(item):
                    return False
            return True

        return check_structure
    if kind == "list":
        assert shape.member is not None
        element = shape.member.shape

        def check_list(value: Any) -> bool:
            if not isinstance(value, list | tuple):
                return False
            size = len(value)
            if (low is not None and size < low) or (high is not None and size > high):
                return False
            valid = element.is_valid
            return all(item is not None and valid(item) for item in value)

        return check_list
    assert shape.key is not None and shape.value is not None
    key_shape, value_shape = shape.key.shape, shape.value.shape

    def check_map(value: Any) -> bool:
        if not isinstance(value, Mapping):
            return False
        size = len(value)
        if (low is not None and size < low) or (high is not None and size > high):
            return False
        key_valid, value_valid = key_shape.is_valid, value_shape.is_valid
        return all(key_valid(k) and v is not None and value_valid(v) for k, v in value.items())

    return check_map


__all__ = ["accept", "compile_check"]
