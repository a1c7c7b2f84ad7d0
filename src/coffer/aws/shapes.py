"""The shape graph of an AWS service model, protocol-neutral: :class:`Shape`, :class:`Member` and the one builder
(:class:`ShapeBuilder`) that reads them from botocore's shapes, patterns compiled and validity checks attached.

Both protocols' model compilers (:mod:`coffer.aws.restjson_model`, :mod:`coffer.aws.query_model`) build their
graphs with it. Nothing here imports an HTTP framework; botocore objects (untyped) never leave the builder. The
shape graph is built once and never mutated afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final, Literal

from coffer.aws.checks import accept, compile_check
from coffer.aws.java_regex import compile_java_pattern

ShapeType = Literal[
    "structure", "list", "map", "string", "integer", "long", "float", "double", "boolean", "timestamp", "blob"
]
Location = Literal["", "uri", "querystring", "header", "headers", "statusCode"]

_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})


class Shape:
    """One named shape of the model, with its constraints. Structures, lists and maps link to members."""

    __slots__ = (
        "document",
        "enum",
        "enum_set",
        "is_valid",
        "key",
        "max",
        "member",
        "members",
        "min",
        "name",
        "pattern",
        "pattern_source",
        "payload",
        "required",
        "sensitive",
        "streaming",
        "type",
        "value",
    )

    def __init__(self, name: str, type_: ShapeType) -> None:
        self.name = name
        self.type: ShapeType = type_
        self.members: Mapping[str, Member] = _EMPTY  # model member name -> member, in model order
        self.required: frozenset[str] = frozenset()
        self.member: Member | None = None  # list element
        self.key: Member | None = None  # map key
        self.value: Member | None = None  # map value
        self.min: int | float | None = None
        self.max: int | float | None = None
        self.pattern: re.Pattern[str] | None = None
        self.pattern_source: str | None = None  # the model's (Java) pattern, quoted in error messages
        self.enum: tuple[str, ...] = ()
        self.enum_set: frozenset[str] = frozenset()
        self.sensitive = False
        self.document = False  # a free-form JSON document (structure with the document trait)
        self.streaming = False  # a blob the wire streams (PublishPackageVersion's asset), not read whole
        self.payload: str | None = None  # structure: the member that is the whole HTTP body
        # True when a (parsed) value of this shape meets every constraint, members included. Compiled at load time
        # as the fast path of validation; ``coffer.aws.validate`` explains failures in AWS's words.
        self.is_valid: Callable[[Any], bool] = accept

    def __repr__(self) -> str:
        return f"Shape({self.name!r}, {self.type!r})"


class Member:
    """A reference to a shape from a structure member, list element or map key/value, with wire traits."""

    __slots__ = (
        "jsonvalue",
        "location",
        "lower_wire_name",
        "name",
        "required",
        "shape",
        "timestamp_format",
        "wire_name",
    )

    def __init__(
        self,
        name: str,
        shape: Shape,
        *,
        wire_name: str | None = None,
        location: Location = "",
        required: bool = False,
        timestamp_format: str | None = None,
        jsonvalue: bool = False,
    ) -> None:
        self.name = name
        self.shape = shape
        self.wire_name = wire_name if wire_name is not None else name
        self.lower_wire_name = self.wire_name.lower()
        self.location: Location = location
        self.required = required
        # "iso8601" | "rfc822" | "unixtimestamp" | None (the location's default); models also spell "unixTimestamp"
        self.timestamp_format = timestamp_format.lower() if timestamp_format else None
        self.jsonvalue = jsonvalue

    def __repr__(self) -> str:
        return f"Member({self.name!r}, {self.shape.name!r}, location={self.location!r})"


_SHAPE_TYPES: Final = frozenset(
    ("structure", "list", "map", "string", "integer", "long", "float", "double", "boolean", "timestamp", "blob")
)
_LOCATIONS: Final = frozenset(("", "uri", "querystring", "header", "headers", "statusCode"))


class ShapeBuilder:
    """Builds each named shape once (recursive shapes terminate); :meth:`compile_checks` when all are built."""

    def __init__(self) -> None:
        self._shapes: dict[str, Shape] = {}
        self._patterns: dict[str, re.Pattern[str]] = {}

    def shape(self, bshape: Any) -> Shape:
        name = str(bshape.name)
        existing = self._shapes.get(name)
        if existing is not None:
            return existing
        type_name = str(bshape.type_name)
        if type_name not in _SHAPE_TYPES:
            raise ValueError(f"shape {name}: unsupported type {type_name!r}")
        shape = Shape(name, type_name)  # type: ignore[arg-type]  # checked against _SHAPE_TYPES just above
        self._shapes[name] = shape  # registered before members are built: recursive shapes terminate
        meta: Mapping[str, Any] = bshape.metadata
        if "min" in meta:
            shape.min = meta["min"]
        if "max" in meta:
            shape.max = meta["max"]
        if meta.get("pattern") is not None:
            source = str(meta["pattern"])
            shape.pattern_source = source
            shape.pattern = self._pattern(source)
        enum = meta.get("enum")
        if enum:
            shape.enum = tuple(str(e) for e in enum)
            shape.enum_set = frozenset(shape.enum)
        shape.sensitive = bool(meta.get("sensitive", False))
        shape.document = bool(meta.get("document", False))
        shape.streaming = bool(bshape.serialization.get("streaming", False))
        if type_name == "structure":
            shape.payload = bshape.serialization.get("payload")
            required = frozenset(str(r) for r in meta.get("required", ()))
            shape.required = required
            shape.members = MappingProxyType(
                {
                    str(mname): self.member(str(mname), mshape, required=mname in required)
                    for mname, mshape in bshape.members.items()
                }
            )
        elif type_name == "list":
            shape.member = self.member("member", bshape.member)
        elif type_name == "map":
            shape.key = self.member("key", bshape.key)
            shape.value = self.member("value", bshape.value)
        return shape

    def member(self, name: str, bshape: Any, *, required: bool = False) -> Member:
        ser: Mapping[str, Any] = bshape.serialization
        location = str(ser.get("location", ""))
        if location not in _LOCATIONS:
            raise ValueError(f"member {name}: unsupported location {location!r}")
        return Member(
            name,
            self.shape(bshape),
            wire_name=ser.get("name"),
            location=location,  # type: ignore[arg-type]  # checked against _LOCATIONS just above
            required=required,
            timestamp_format=ser.get("timestampFormat"),
            jsonvalue=bool(ser.get("jsonvalue", False)),
        )

    def compile_checks(self) -> None:
        for shape in self._shapes.values():
            shape.is_valid = compile_check(shape)

    def _pattern(self, source: str) -> re.Pattern[str]:
        compiled = self._patterns.get(source)
        if compiled is None:
            compiled = compile_java_pattern(source)
            self._patterns[source] = compiled
        return compiled


def shape_walk(shape: Shape) -> Iterable[Shape]:
    """Every shape reachable from ``shape`` (each once)."""
    seen: set[str] = set()
    stack = [shape]
    while stack:
        current = stack.pop()
        if current.name in seen:
            continue
        seen.add(current.name)
        yield current
        children: list[Member | None] = [*current.members.values(), current.member, current.key, current.value]
        stack.extend(child.shape for child in children if child is not None)


__all__ = ["Location", "Member", "Shape", "ShapeBuilder", "ShapeType", "shape_walk"]
