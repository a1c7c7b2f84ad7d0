"""Scalar values as text, both ways, with one set of rules and limits for both protocols.

:func:`scalar_from_text` reads a uri label, query value, header or form value as its shape's type (``int`` within
the type's bounds, ``bool``, ``float`` with AWS's ``NaN``/``Infinity``/``-Infinity``, aware UTC ``datetime`` from
epoch seconds, ISO 8601 or RFC 822, ``bytes`` from base64); text that cannot be read raises :class:`BadScalar`
with the constraint text of the message. :func:`epoch_seconds`, :func:`iso8601` and :func:`float_text` write them.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import email.utils
import math
import re
from collections.abc import Mapping
from typing import Any, Final

from coffer.aws.shapes import Shape

MAX_INT_DIGITS: Final = 40  # more than any long has: leading zeros are allowed, the bounds decide
MAX_FLOAT_TEXT: Final = 400
MAX_TIMESTAMP_TEXT: Final = 64

INT_BOUNDS: Final[Mapping[str, tuple[int, int]]] = {
    "integer": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
}
SPECIAL_FLOATS: Final[Mapping[str, float]] = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

_UTC: Final = datetime.UTC
_EPOCH: Final = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_INT_RE: Final = re.compile(rf"[+-]?[0-9]{{1,{MAX_INT_DIGITS}}}")
_FLOAT_RE: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class BadScalar(Exception):
    """A value that cannot be read as its shape's type; carries the constraint text for the message."""

    def __init__(self, constraint: str) -> None:
        super().__init__(constraint)
        self.constraint = constraint


def type_constraint(shape: Shape) -> str:
    return f"Member must be of type {shape.type}"


def scalar_from_text(shape: Shape, raw: str) -> Any:
    """``raw`` as a value of the scalar ``shape``; :class:`BadScalar` when it is not one (or not a scalar)."""
    kind = shape.type
    if kind == "string":
        return raw
    if kind in ("integer", "long"):
        if _INT_RE.fullmatch(raw) is None:
            raise BadScalar(type_constraint(shape))
        value = int(raw)
        low, high = INT_BOUNDS[kind]
        if not low <= value <= high:
            raise BadScalar(type_constraint(shape))
        return value
    if kind == "boolean":
        lowered = raw.lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
        raise BadScalar(type_constraint(shape))
    if kind in ("float", "double"):
        special = SPECIAL_FLOATS.get(raw)
        if special is not None:
            return special
        if _FLOAT_RE.fullmatch(raw) is None or len(raw) > MAX_FLOAT_TEXT:
            raise BadScalar(type_constraint(shape))
        return float(raw)
    if kind == "timestamp":
        return timestamp_from_text(shape, raw)
    if kind == "blob":
        return base64_from_text(raw)
    raise BadScalar(type_constraint(shape))


def timestamp_from_text(shape: Shape, raw: str) -> datetime.datetime:
    """Epoch seconds, ISO 8601 or RFC 822 (surrounding blanks ignored); naive times are UTC."""
    text = raw.strip()
    if len(text) > MAX_TIMESTAMP_TEXT:
        raise BadScalar(type_constraint(shape))
    if _FLOAT_RE.fullmatch(text) is not None:
        return timestamp_from_epoch(shape, float(text))
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            raise BadScalar(type_constraint(shape)) from None
    return parsed.replace(tzinfo=_UTC) if parsed.tzinfo is None else parsed.astimezone(_UTC)


def timestamp_from_epoch(shape: Shape, seconds: float) -> datetime.datetime:
    if not math.isfinite(seconds):
        raise BadScalar(type_constraint(shape))
    try:
        return datetime.datetime.fromtimestamp(seconds, _UTC)
    except (OverflowError, OSError, ValueError):
        raise BadScalar(type_constraint(shape)) from None


def base64_from_text(raw: str) -> bytes:
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise BadScalar("Member must be base64-encoded") from None


def _aware(value: datetime.datetime) -> datetime.datetime:
    return value.replace(tzinfo=_UTC) if value.tzinfo is None else value


def epoch_seconds(value: Any) -> int | float:
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


def iso8601(value: Any) -> str:
    """``2026-11-29T10:00:00Z`` (``.123Z`` when there are milliseconds) from a datetime (naive is UTC) or epoch
    seconds."""
    if isinstance(value, datetime.datetime):
        moment = _aware(value).astimezone(_UTC)
    else:
        moment = datetime.datetime.fromtimestamp(epoch_seconds(value), _UTC)
    millis = moment.microsecond // 1000
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


def float_text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


__all__ = [
    "INT_BOUNDS",
    "SPECIAL_FLOATS",
    "BadScalar",
    "base64_from_text",
    "epoch_seconds",
    "float_text",
    "iso8601",
    "scalar_from_text",
    "timestamp_from_epoch",
    "timestamp_from_text",
    "type_constraint",
]
