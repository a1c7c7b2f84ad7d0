"""An AWS service model, compiled once into plain, precomputed plans.

``build_service`` walks botocore's ``ServiceModel`` a single time and produces:

- a :class:`Shape` graph (types, constraints with patterns already compiled, sensitivity),
- per operation an :class:`OperationSpec` with input and output :class:`MessagePlan` objects that say where each
  member lives on the wire (uri label, query key, header, payload, JSON body), so that per-request work in
  ``restjson`` and ``validate`` is a handful of dict lookups,
- a :class:`Router` resolving ``(method, raw path)`` to an operation, most specific template first,
- the modelled error shapes with their HTTP statuses.

Nothing here imports an HTTP framework; botocore objects (untyped) never leave ``build_service``.
The shape graph is built here and never mutated afterwards.
"""

from __future__ import annotations

import datetime
import functools
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal
from urllib.parse import unquote

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
        self.payload: str | None = None  # structure: the member that is the whole HTTP body
        # True when a (parsed) value of this shape meets every constraint, members included. Compiled at load time
        # as the fast path of validation; ``coffer.aws.validate`` explains failures in AWS's words.
        self.is_valid: Callable[[Any], bool] = _accept

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


@dataclass(frozen=True, slots=True)
class MessagePlan:
    """Where each member of an input or output structure lives on the wire."""

    shape: Shape
    uri: Mapping[str, Member]  # label name -> member
    query: Mapping[str, Member]  # query key -> member
    query_map: Member | None  # a map member that takes every query key not claimed by another member
    headers: tuple[Member, ...]
    header_maps: tuple[Member, ...]  # location "headers": a map keyed by the suffix after a header prefix
    status_code: Member | None
    payload: Member | None  # the member that is the whole body
    raw_payload: bool  # payload is a blob or string: the body bytes as they are
    body: Mapping[str, Member]  # JSON body key -> member (empty when there is a payload member)

    @property
    def has_json_body(self) -> bool:
        return bool(self.body) or (self.payload is not None and not self.raw_payload)


@dataclass(frozen=True, slots=True)
class OperationSpec:
    name: str
    method: str
    request_uri: str
    response_code: int
    input: MessagePlan | None = field(repr=False)
    output: MessagePlan | None = field(repr=False)
    errors: tuple[str, ...] = field(repr=False)


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    code: str
    status: int
    shape: Shape
    plan: MessagePlan


@dataclass(frozen=True, slots=True)
class RouteMatch:
    operation: OperationSpec
    labels: Mapping[str, str] = field(default_factory=lambda: _EMPTY)  # percent-decoded uri label values


@dataclass(frozen=True, slots=True)
class MethodNotAllowed:
    """The path names an operation, but not with this method."""

    allowed: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Template:
    operation: OperationSpec
    regex: re.Pattern[str]
    groups: tuple[tuple[str, str], ...]  # (regex group, label name)
    query: tuple[tuple[str, str | None], ...]  # literal query requirements from "?a=b&c" in the template


def _template_sort_key(template: str) -> tuple[int, int, int, int, str]:
    path, _, query = template.partition("?")
    labels = re.findall(r"\{([^}]*)\}", path)
    greedy = sum(1 for label in labels if label.endswith("+"))
    literal = len(re.sub(r"\{[^}]*\}", "", path))
    query_reqs = len([q for q in query.split("&") if q])
    return (-query_reqs, greedy, len(labels), -literal, template)


def _compile_template(op: OperationSpec) -> _Template:
    path, _, query = op.request_uri.partition("?")
    parts: list[str] = []
    groups: list[tuple[str, str]] = []
    pos = 0
    for match in re.finditer(r"\{([^}]*)\}", path):
        parts.append(re.escape(path[pos : match.start()]))
        label = match.group(1)
        group = f"g{len(groups)}"
        if label.endswith("+"):
            groups.append((group, label[:-1]))
            parts.append(f"(?P<{group}>.+)")
        else:
            groups.append((group, label))
            parts.append(f"(?P<{group}>[^/]+)")
        pos = match.end()
    parts.append(re.escape(path[pos:]))
    reqs: list[tuple[str, str | None]] = []
    for item in query.split("&"):
        if item:
            key, eq, value = item.partition("=")
            reqs.append((key, value if eq else None))
    return _Template(op, re.compile("".join(parts), re.DOTALL), tuple(groups), tuple(reqs))


class Router:
    """Resolves ``(method, path)`` to an operation.

    ``path`` is the raw request path, still percent-encoded (ASGI ``raw_path``): labels are matched on the encoded
    form, so an encoded ``/`` inside a label stays inside it, and decoded afterwards. Templates without labels are a
    single dict lookup; labelled templates are tried most specific first (fewer greedy labels, fewer labels, more
    literal characters). A path that exists with other methods gives :class:`MethodNotAllowed`.
    """

    def __init__(self, operations: Iterable[OperationSpec]) -> None:
        static: dict[str, dict[str, OperationSpec]] = {}
        templated: list[OperationSpec] = []
        for op in operations:
            if "{" in op.request_uri or "?" in op.request_uri:
                templated.append(op)
                continue
            by_method = static.setdefault(op.request_uri, {})
            if op.method in by_method:
                raise ValueError(f"two operations on {op.method} {op.request_uri}")
            by_method[op.method] = op
        self._static: Mapping[str, Mapping[str, OperationSpec]] = {
            path: MappingProxyType(by_method) for path, by_method in static.items()
        }
        templated.sort(key=lambda op: _template_sort_key(op.request_uri))
        self._templates: tuple[_Template, ...] = tuple(_compile_template(op) for op in templated)

    def route(
        self, method: str, path: str, query: Iterable[tuple[str, str]] = ()
    ) -> RouteMatch | MethodNotAllowed | None:
        by_method = self._static.get(path)
        if by_method is not None:
            op = by_method.get(method)
            if op is not None:
                return RouteMatch(op)
        if not self._templates:
            return MethodNotAllowed(frozenset(by_method)) if by_method else None
        allowed: set[str] = set(by_method) if by_method else set()
        query_pairs: list[tuple[str, str]] | None = None
        for template in self._templates:
            found = template.regex.fullmatch(path)
            if found is None:
                continue
            if template.query:
                if query_pairs is None:
                    query_pairs = list(query)
                if not _query_satisfies(template.query, query_pairs):
                    continue
            if template.operation.method != method:
                allowed.add(template.operation.method)
                continue
            try:
                labels = {label: unquote(found.group(group), errors="strict") for group, label in template.groups}
            except UnicodeDecodeError:
                return None  # the path names no resource: a label must be UTF-8 once decoded
            return RouteMatch(template.operation, MappingProxyType(labels))
        return MethodNotAllowed(frozenset(allowed)) if allowed else None


def _query_satisfies(required: tuple[tuple[str, str | None], ...], pairs: list[tuple[str, str]]) -> bool:
    return all(any(k == key and (value is None or v == value) for k, v in pairs) for key, value in required)


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str  # endpointPrefix, e.g. "codeartifact"
    api_version: str
    protocol: str
    signing_name: str
    operations: Mapping[str, OperationSpec]
    errors: Mapping[str, ErrorSpec]  # error code -> spec
    router: Router

    def route(
        self, method: str, path: str, query: Iterable[tuple[str, str]] = ()
    ) -> RouteMatch | MethodNotAllowed | None:
        return self.router.route(method, path, query)


# --------------------------------------------------------------------------------------------------------------
# building from botocore


def load_service(name: str = "codeartifact", api_version: str | None = None) -> ServiceSpec:
    """Load a service model from the installed botocore and compile it. Call once at start-up and pass it down."""
    import botocore.session  # local import: botocore's session machinery is only needed here

    session = botocore.session.get_session()
    return build_service(session.get_service_model(name, api_version))


def build_service(service_model: Any) -> ServiceSpec:
    """Compile a ``botocore.model.ServiceModel``."""
    protocol = str(service_model.metadata.get("protocol", ""))
    if protocol != "rest-json":
        raise ValueError(f"only rest-json services are supported, not {protocol!r}")
    builder = _Builder()
    operations: dict[str, OperationSpec] = {}
    for op_name in service_model.operation_names:
        op = service_model.operation_model(op_name)
        http = op.http
        input_plan = builder.plan(op.input_shape) if op.input_shape is not None else None
        output_plan = builder.plan(op.output_shape) if op.output_shape is not None else None
        operations[op_name] = OperationSpec(
            name=op_name,
            method=str(http.get("method", "POST")).upper(),
            request_uri=str(http.get("requestUri", "/")),
            response_code=int(http.get("responseCode", 200)),
            input=input_plan,
            output=output_plan,
            errors=tuple(str(e.name) for e in op.error_shapes),
        )
    errors: dict[str, ErrorSpec] = {}
    for error_shape in service_model.error_shapes:
        error_meta = error_shape.metadata.get("error", {})
        code = str(error_meta.get("code", error_shape.name))
        status = int(error_meta.get("httpStatusCode", 400 if error_meta.get("senderFault") else 500))
        errors[code] = ErrorSpec(code, status, builder.shape(error_shape), builder.plan(error_shape))
    builder.compile_checks()
    return ServiceSpec(
        name=str(service_model.metadata.get("endpointPrefix", service_model.service_name)),
        api_version=str(service_model.api_version),
        protocol=protocol,
        signing_name=str(service_model.signing_name),
        operations=MappingProxyType(operations),
        errors=MappingProxyType(errors),
        router=Router(operations.values()),
    )


class _Builder:
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

    def plan(self, bshape: Any) -> MessagePlan:
        shape = self.shape(bshape)
        if shape.type != "structure":
            raise ValueError(f"{shape.name} is not a structure")
        uri: dict[str, Member] = {}
        query: dict[str, Member] = {}
        query_map: Member | None = None
        headers: list[Member] = []
        header_maps: list[Member] = []
        status_code: Member | None = None
        body: dict[str, Member] = {}
        for member in shape.members.values():
            if member.location == "uri":
                uri[member.wire_name] = member
            elif member.location == "querystring":
                if member.shape.type == "map":
                    query_map = member
                else:
                    query[member.wire_name] = member
            elif member.location == "header":
                headers.append(member)
            elif member.location == "headers":
                header_maps.append(member)
            elif member.location == "statusCode":
                status_code = member
            elif member.name != shape.payload:
                body[member.wire_name] = member
        payload = shape.members[shape.payload] if shape.payload else None
        return MessagePlan(
            shape=shape,
            uri=MappingProxyType(uri),
            query=MappingProxyType(query),
            query_map=query_map,
            headers=tuple(headers),
            header_maps=tuple(header_maps),
            status_code=status_code,
            payload=payload,
            raw_payload=payload is not None and payload.shape.type in ("blob", "string"),
            body=MappingProxyType({} if payload is not None else body),
        )

    def compile_checks(self) -> None:
        for shape in self._shapes.values():
            shape.is_valid = _compile_check(shape)

    def _pattern(self, source: str) -> re.Pattern[str]:
        compiled = self._patterns.get(source)
        if compiled is None:
            compiled = compile_java_pattern(source)
            self._patterns[source] = compiled
        return compiled


def _accept(value: Any) -> bool:
    return True


def _compile_check(shape: Shape) -> Callable[[Any], bool]:
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
            return _accept
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


_SHAPE_TYPES: Final = frozenset(
    ("structure", "list", "map", "string", "integer", "long", "float", "double", "boolean", "timestamp", "blob")
)
_LOCATIONS: Final = frozenset(("", "uri", "querystring", "header", "headers", "statusCode"))


# --------------------------------------------------------------------------------------------------------------
# Java regular expressions (as found in AWS models) -> Python
#
# Python's ``re`` has no ``\p{..}``/``\P{..}``. Character classes using them are expanded into explicit, positive
# code point ranges (a positive class of ranges is fast in ``re``; a negated one is scanned linearly). The pattern is
# compiled with ``re.ASCII`` because Java's ``\s``, ``\d``, ``\w`` and ``\b`` are ASCII-only by default, as is
# its case-insensitive matching. Anything this translator does not understand raises ``ValueError`` at load time
# rather than silently matching differently.

_Ranges = tuple[tuple[int, int], ...]

_MAX_CP: Final = 0x10FFFF
_WHITE_SPACE: Final[_Ranges] = (
    (0x09, 0x0D),
    (0x20, 0x20),
    (0x85, 0x85),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
)
_ASCII_SETS: Final[Mapping[str, _Ranges]] = {
    "s": ((0x09, 0x0D), (0x20, 0x20)),  # Java: [ \t\n\x0B\f\r]
    "d": ((0x30, 0x39),),
    "w": ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)),
    "h": (
        (0x09, 0x09),
        (0x20, 0x20),
        (0xA0, 0xA0),
        (0x1680, 0x1680),
        (0x180E, 0x180E),
        (0x2000, 0x200A),
        (0x202F, 0x202F),
        (0x205F, 0x205F),
        (0x3000, 0x3000),
    ),
    "v": ((0x0A, 0x0D), (0x85, 0x85), (0x2028, 0x2029)),
}
_PUNCT: Final[_Ranges] = ((0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E))
_POSIX: Final[Mapping[str, _Ranges]] = {
    "lower": ((0x61, 0x7A),),
    "upper": ((0x41, 0x5A),),
    "ascii": ((0x00, 0x7F),),
    "alpha": ((0x41, 0x5A), (0x61, 0x7A)),
    "digit": ((0x30, 0x39),),
    "alnum": ((0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)),
    "punct": _PUNCT,
    "graph": ((0x21, 0x7E),),
    "print": ((0x20, 0x7E),),
    "blank": ((0x09, 0x09), (0x20, 0x20)),
    "cntrl": ((0x00, 0x1F), (0x7F, 0x7F)),
    "xdigit": ((0x30, 0x39), (0x41, 0x46), (0x61, 0x66)),
    "space": ((0x09, 0x0D), (0x20, 0x20)),
}
_BINARY_TO_CATEGORY: Final[Mapping[str, str]] = {
    "letter": "L",
    "digit": "Nd",
    "punctuation": "P",
    "control": "Cc",
    "uppercase": "Lu",
    "lowercase": "Ll",
    "titlecase": "Lt",
}


@functools.cache
def _category_ranges() -> Mapping[str, _Ranges]:
    """Code point ranges of every Unicode general category (and its one-letter group). Computed once, ~0.3 s."""
    runs: dict[str, list[tuple[int, int]]] = {}
    category = unicodedata.category
    start = 0
    current = category(chr(0))
    for cp in range(1, _MAX_CP + 1):
        cat = category(chr(cp))
        if cat != current:
            runs.setdefault(current, []).append((start, cp - 1))
            start, current = cp, cat
    runs.setdefault(current, []).append((start, _MAX_CP))
    out: dict[str, _Ranges] = {cat: _normalize(r) for cat, r in runs.items()}
    for group in {cat[0] for cat in runs}:
        out[group] = _normalize([r for cat, rs in runs.items() if cat[0] == group for r in rs])
    out["LC"] = _normalize([*out.get("Lu", ()), *out.get("Ll", ()), *out.get("Lt", ())])
    return MappingProxyType(out)


def _normalize(ranges: Iterable[tuple[int, int]]) -> _Ranges:
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return tuple(merged)


def _complement(ranges: _Ranges) -> _Ranges:
    out: list[tuple[int, int]] = []
    nxt = 0
    for lo, hi in ranges:
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= _MAX_CP:
        out.append((nxt, _MAX_CP))
    return tuple(out)


def _cp_source(cp: int) -> str:
    char = chr(cp)
    if char.isascii() and char.isalnum():
        return char
    return f"\\U{cp:08X}"


def _class_source(ranges: _Ranges) -> str:
    if not ranges:
        return "(?!)"
    body = "".join(_cp_source(lo) if lo == hi else f"{_cp_source(lo)}-{_cp_source(hi)}" for lo, hi in ranges)
    return f"[{body}]"


def _property_ranges(name: str) -> _Ranges:
    raw = name.strip()
    for prefix in ("general_category=", "gc="):
        if raw.lower().startswith(prefix):
            raw = raw[len(prefix) :]
    categories = _category_ranges()
    candidates = [raw, raw[2:]] if raw.startswith("Is") else [raw]
    for candidate in candidates:
        if candidate == "L&":
            candidate = "LC"
        if candidate in categories:
            return categories[candidate]
    key = raw.removeprefix("Is").replace("_", "").replace(" ", "").lower()
    if key in ("whitespace", "whitespaces"):
        return _WHITE_SPACE
    if key in _BINARY_TO_CATEGORY:
        return categories[_BINARY_TO_CATEGORY[key]]
    if key == "assigned":
        return _complement(categories.get("Cn", ()))
    if not raw.startswith("Is") and key in _POSIX:
        return _POSIX[key]
    raise ValueError(f"unsupported Unicode property \\p{{{name}}}")


_SIMPLE_ESCAPES: Final[Mapping[str, int]] = {"t": 0x09, "n": 0x0A, "r": 0x0D, "f": 0x0C, "a": 0x07, "e": 0x1B}


def _read_escape(src: str, i: int) -> tuple[str, Any, int]:
    """Read the escape starting at ``src[i] == '\\'``.

    Returns ``(kind, value, next_index)`` where kind is ``"prop"`` (value: ranges Python cannot express as an
    escape), ``"ascii"`` (value: ranges of ``\\s \\d \\w`` and their negations, which Python writes the same way under
    ``re.ASCII``), ``"char"`` (value: code point) or ``"raw"`` (value: Python regex text, only outside classes).
    """
    if i + 1 >= len(src):
        raise ValueError("pattern ends with a backslash")
    c = src[i + 1]
    if c in "pP":
        if i + 2 < len(src) and src[i + 2] == "{":
            end = src.find("}", i + 3)
            if end < 0:
                raise ValueError("unclosed \\p{")
            name, nxt = src[i + 3 : end], end + 1
        elif i + 2 < len(src):
            name, nxt = src[i + 2], i + 3
        else:
            raise ValueError("dangling \\p")
        ranges = _property_ranges(name)
        return "prop", (ranges if c == "p" else _complement(ranges)), nxt
    lower = c.lower()
    if lower in _ASCII_SETS:
        ranges = _ASCII_SETS[lower]
        kind = "ascii" if lower in "sdw" else "prop"
        return kind, (ranges if c == lower else _complement(ranges)), i + 2
    if c in _SIMPLE_ESCAPES:
        return "char", _SIMPLE_ESCAPES[c], i + 2
    if c == "x":
        if src.startswith("{", i + 2):
            end = src.find("}", i + 3)
            if end < 0:
                raise ValueError("unclosed \\x{")
            return "char", int(src[i + 3 : end], 16), end + 1
        return "char", int(src[i + 2 : i + 4], 16), i + 4
    if c == "u":
        return "char", int(src[i + 2 : i + 6], 16), i + 6
    if c == "0":
        j = i + 2
        while j < len(src) and j < i + 5 and src[j] in "01234567":
            j += 1
        if j == i + 2:
            raise ValueError("\\0 needs octal digits")
        return "char", int(src[i + 2 : j], 8), j
    if c == "c" and i + 2 < len(src):
        return "char", ord(src[i + 2]) ^ 0x40, i + 3
    if c == "z":
        return "raw", r"\Z", i + 2
    if c == "Z":
        return "raw", r"(?=\n?\Z)", i + 2
    if c in "bBA" or c.isdigit():
        return "raw", "\\" + c, i + 2
    if c.isascii() and c.isalnum():
        raise ValueError(f"unsupported escape \\{c}")
    return "char", ord(c), i + 2


def _translate_class(src: str, i: int) -> tuple[str, int]:
    """Translate the class starting at ``src[i] == '['``; returns (python source, index after ``]``)."""
    start = i
    i += 1
    negated = src.startswith("^", i)
    if negated:
        i += 1
    items: list[tuple[int, int]] = []
    uses_property = False
    first = True
    while True:
        if i >= len(src):
            raise ValueError("unclosed character class")
        c = src[i]
        if c == "]" and not first:
            i += 1
            break
        first = False
        if c == "[" or src.startswith("&&", i):
            raise ValueError("nested classes and intersections are not supported")
        if c == "\\":
            kind, value, i = _read_escape(src, i)
            if kind in ("prop", "ascii"):
                items.extend(value)
                uses_property = uses_property or kind == "prop"
                continue
            if kind == "raw":
                raise ValueError(f"escape not allowed in a class: {src[i - 2 : i]}")
            lo = int(value)
        else:
            lo = ord(c)
            i += 1
        if src.startswith("-", i) and i + 1 < len(src) and src[i + 1] != "]":
            if src[i + 1] == "\\":
                kind, value, j = _read_escape(src, i + 1)
                if kind != "char":
                    raise ValueError("class range ends with a set")
                hi = int(value)
            else:
                hi, j = ord(src[i + 1]), i + 2
            if hi < lo:
                raise ValueError("bad class range")
            items.append((lo, hi))
            i = j
        else:
            items.append((lo, lo))
    if not uses_property:
        return src[start:i], i  # plain class: Java and Python agree (with re.ASCII for \s \d \w)
    ranges = _normalize(items)
    return _class_source(_complement(ranges) if negated else ranges), i


def java_pattern_to_python(pattern: str) -> str:
    """Translate a Java regular expression (as used in AWS service models) into Python ``re`` syntax."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            kind, value, nxt = _read_escape(pattern, i)
            if kind == "prop":
                out.append(_class_source(value))
            elif kind == "ascii":
                out.append(pattern[i:nxt])
            elif kind == "char":
                out.append(re.escape(chr(value)))
            else:
                out.append(value)
            i = nxt
        elif c == "[":
            source, i = _translate_class(pattern, i)
            out.append(source)
        elif pattern.startswith("(?<", i) and i + 3 < len(pattern) and pattern[i + 3] not in "=!":
            out.append("(?P<")
            i += 3
        else:
            out.append(c)
            i += 1
    return "".join(out)


def compile_java_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a model pattern for ``fullmatch`` use. Raises ``ValueError`` when it cannot be translated."""
    try:
        return re.compile(java_pattern_to_python(pattern), re.ASCII)
    except re.error as exc:
        raise ValueError(f"cannot compile model pattern {pattern!r}: {exc}") from exc


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


__all__ = [
    "ErrorSpec",
    "Location",
    "Member",
    "MessagePlan",
    "MethodNotAllowed",
    "OperationSpec",
    "RouteMatch",
    "Router",
    "ServiceSpec",
    "Shape",
    "ShapeType",
    "build_service",
    "compile_java_pattern",
    "java_pattern_to_python",
    "load_service",
    "shape_walk",
]
