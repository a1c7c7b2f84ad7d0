"""The AWS query protocol (STS, IAM): the model compiled for it, form parsing, XML responses and XML errors.

- :func:`load_query_service` compiles botocore's model of a query service into a :class:`QuerySpec`: operations by
  name (requests are routed by their ``Action``), input and output shapes (the same :class:`~coffer.aws.model.Shape`
  graph the rest-json side uses), the ``resultWrapper`` of each output, the error shapes with their codes and
  statuses, the XML namespace.
- :func:`parse_form` reads ``application/x-www-form-urlencoded`` bodies and query strings (size-limited, UTF-8,
  a key given twice is refused); :func:`operation_for` resolves ``Action`` and ``Version``;
  :func:`parse_params` turns the flat form (``Tags.member.1.Key=...``) into a dict keyed by the model's member
  names, typed as on the rest-json side (``int``, ``bool``, aware UTC ``datetime``, ``bytes``, dicts, lists).
  Unknown keys are ignored, as AWS does.
- :func:`validate_params` checks the model's constraints with :mod:`coffer.aws.validate`, reporting paths the way
  the query services do: each member name with its first letter lower-cased (``roleSessionName``,
  ``tags.1.member.key``), error code ``ValidationError``.
- :func:`serialize_result` writes ``<{Op}Response xmlns=...><{Op}Result>...</{Op}Result><ResponseMetadata>...``;
  :func:`serialize_error` writes ``<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>``, mapping
  Coffer's error tree to query codes through :data:`ERROR_CODES` (an ``ExactCodeError`` keeps its own code).

IAM returns policy documents URL-encoded (botocore decodes every ``policyDocumentType`` string with ``unquote``
and ``json.loads``): handlers return the JSON text, the serializer encodes it.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import parse_qsl, quote
from xml.sax.saxutils import escape

from coffer.aws.model import Member, Shape, _Builder  # _Builder: the one shape-graph builder, shared on purpose
from coffer.aws.validate import check_structure, type_constraint, validation_message, violation
from coffer.core.shared.errors import (
    AccessDeniedError,
    CofferError,
    ConflictError,
    ExactCodeError,
    ExpiredTokenError,
    IncompleteSignatureError,
    InternalServerError,
    InvalidActionError,
    InvalidSignatureError,
    MalformedQueryStringError,
    MissingActionError,
    MissingAuthenticationTokenError,
    NotImplementedOperationError,
    RequestTooLargeError,
    ResourceNotFoundError,
    ServiceQuotaExceededError,
    ThrottlingError,
    UnknownOperationError,
    UnrecognizedClientError,
    UnsupportedMediaTypeError,
    ValidationError,
)

XML_CONTENT_TYPE: Final = "text/xml"
FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded"
MAX_FORM_BYTES: Final = 1024 * 1024  # IAM's largest inputs are policy documents (131072 chars, URL-encoded)
MAX_FORM_FIELDS: Final = 2000
MAX_KEY_LENGTH: Final = 256
MAX_LIST_INDEX: Final = 100_000
NO_VERSION: Final = "NO_VERSION_SPECIFIED"  # what AWS names a missing Version in InvalidAction messages
_UTC: Final = datetime.UTC


# --------------------------------------------------------------------------------------------------------------
# the compiled model


@dataclass(frozen=True, slots=True)
class QueryOperation:
    name: str
    input: Shape | None = field(repr=False)
    output: Shape | None = field(repr=False)
    result_wrapper: str | None
    errors: tuple[str, ...] = field(repr=False)
    unsigned: bool  # the model lets clients call it without a signature (AssumeRoleWithWebIdentity, ...)
    # the input shape with member names lower-camel-cased: validation messages name paths that way
    validation_shape: Shape | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class QueryErrorSpec:
    code: str
    status: int
    shape_name: str


@dataclass(frozen=True, slots=True)
class QuerySpec:
    name: str  # endpointPrefix: "sts", "iam"
    api_version: str
    signing_name: str
    xml_namespace: str
    operations: Mapping[str, QueryOperation]
    errors: Mapping[str, QueryErrorSpec]  # error code -> spec
    flattened: frozenset[tuple[str, str]] = field(repr=False)  # (structure, member) pairs serialized flattened
    url_encoded: frozenset[str] = field(repr=False)  # string shapes sent URL-encoded in responses


def load_query_service(name: str, api_version: str | None = None) -> QuerySpec:
    """Load a query-protocol model (``sts``, ``iam``) from the installed botocore and compile it. Once, at start."""
    import botocore.session  # local import: only needed here

    session = botocore.session.get_session()
    return build_query_service(session.get_service_model(name, api_version))


def build_query_service(service_model: Any) -> QuerySpec:
    """Compile a ``botocore.model.ServiceModel`` whose protocol is ``query``."""
    protocol = str(service_model.metadata.get("protocol", ""))
    if protocol != "query":
        raise ValueError(f"not a query-protocol service: {protocol!r}")
    builder = _Builder()
    flattened: set[tuple[str, str]] = set()
    twins = _CamelTwins()
    operations: dict[str, QueryOperation] = {}
    for op_name in service_model.operation_names:
        op = service_model.operation_model(op_name)
        in_shape = builder.shape(op.input_shape) if op.input_shape is not None else None
        out_shape = builder.shape(op.output_shape) if op.output_shape is not None else None
        for bshape in (op.input_shape, op.output_shape):
            if bshape is not None:
                _collect_flattened(bshape, flattened, set())
        wrapper = op.output_shape.serialization.get("resultWrapper") if op.output_shape is not None else None
        auth = op.metadata.get("auth") if hasattr(op, "metadata") else None
        unsigned = op.auth_type == "none" or (isinstance(auth, list) and auth == ["smithy.api#noAuth"])
        operations[str(op_name)] = QueryOperation(
            name=str(op_name),
            input=in_shape,
            output=out_shape,
            result_wrapper=str(wrapper) if wrapper else None,
            errors=tuple(str(e.name) for e in op.error_shapes),
            unsigned=unsigned,
            validation_shape=twins.shape(in_shape) if in_shape is not None else None,
        )
    errors: dict[str, QueryErrorSpec] = {}
    for error_shape in service_model.error_shapes:
        meta = error_shape.metadata.get("error") or {}
        code = str(meta.get("code", error_shape.name))
        status = int(meta.get("httpStatusCode", 500 if meta and not meta.get("senderFault") else 400))
        errors[code] = QueryErrorSpec(code, status, str(error_shape.name))
    builder.compile_checks()
    name = str(service_model.metadata.get("endpointPrefix", service_model.service_name))
    return QuerySpec(
        name=name,
        api_version=str(service_model.api_version),
        signing_name=str(service_model.signing_name),
        xml_namespace=str(service_model.metadata.get("xmlNamespace", "")),
        operations=MappingProxyType(operations),
        errors=MappingProxyType(errors),
        flattened=frozenset(flattened),
        url_encoded=frozenset({"policyDocumentType"}) if name == "iam" else frozenset(),
    )


def _collect_flattened(bshape: Any, out: set[tuple[str, str]], seen: set[str]) -> None:
    if bshape.name in seen:
        return
    seen.add(bshape.name)
    if bshape.type_name == "structure":
        for mname, mshape in bshape.members.items():
            if mshape.serialization.get("flattened"):
                out.add((str(bshape.name), str(mname)))
            _collect_flattened(mshape, out, seen)
    elif bshape.type_name == "list":
        _collect_flattened(bshape.member, out, seen)
    elif bshape.type_name == "map":
        _collect_flattened(bshape.key, out, seen)
        _collect_flattened(bshape.value, out, seen)


def lower_camel(name: str) -> str:
    """How the query services name a member in validation messages: ``RoleSessionName`` -> ``roleSessionName``."""
    return name[:1].lower() + name[1:]


class _CamelTwins:
    """Copies of container shapes whose structure members are named ``lower_camel(name)`` (built at load time)."""

    def __init__(self) -> None:
        self._twins: dict[str, Shape] = {}

    def shape(self, shape: Shape) -> Shape:
        if shape.type not in ("structure", "list", "map"):
            return shape
        twin = self._twins.get(shape.name)
        if twin is not None:
            return twin
        twin = copy.copy(shape)
        self._twins[shape.name] = twin  # before the members: recursive shapes terminate
        if shape.type == "structure":
            twin.members = MappingProxyType(
                {lower_camel(n): self._member(m, lower_camel(n)) for n, m in shape.members.items()}
            )
            twin.required = frozenset(lower_camel(n) for n in shape.required)
        elif shape.type == "list":
            assert shape.member is not None
            twin.member = self._member(shape.member, shape.member.name)
        else:
            assert shape.key is not None and shape.value is not None
            twin.key = self._member(shape.key, shape.key.name)
            twin.value = self._member(shape.value, shape.value.name)
        return twin

    def _member(self, member: Member, name: str) -> Member:
        return Member(name, self.shape(member.shape), wire_name=member.wire_name, required=member.required)


# --------------------------------------------------------------------------------------------------------------
# requests


def parse_form(body: bytes, raw_query: str = "", content_type: str | None = None) -> dict[str, str]:
    """The request's parameters: the query string's and, for a form body, the body's. Refuses what cannot be read.

    A body is read when the content type is form-encoded or absent. Keys given twice (in either part) are refused.
    """
    if len(body) > MAX_FORM_BYTES or len(raw_query) > MAX_FORM_BYTES:
        raise RequestTooLargeError(f"Request body must be at most {MAX_FORM_BYTES} bytes.")
    out: dict[str, str] = {}
    _read_pairs(raw_query, out)
    if body:
        media_type = (content_type or FORM_CONTENT_TYPE).split(";", 1)[0].strip().lower()
        if media_type != FORM_CONTENT_TYPE:
            raise UnsupportedMediaTypeError(f"Unsupported content type: {media_type[:100]}")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise _malformed("The request body is not valid UTF-8.") from None
        _read_pairs(text, out)
    return out


def _malformed(message: str) -> MalformedQueryStringError:
    return MalformedQueryStringError(message)


def _read_pairs(text: str, out: dict[str, str]) -> None:
    if not text:
        return
    try:
        pairs = parse_qsl(
            text, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=MAX_FORM_FIELDS
        )
    except UnicodeDecodeError:
        raise _malformed("The query string is not valid UTF-8 once decoded.") from None
    except ValueError:
        raise RequestTooLargeError(f"A request may carry at most {MAX_FORM_FIELDS} parameters.") from None
    for key, value in pairs:
        if key in out:
            raise _malformed(f"The parameter {key[:MAX_KEY_LENGTH]} was given more than once.")
        out[key] = value


def operation_for(spec: QuerySpec, form: Mapping[str, str]) -> QueryOperation:
    """The operation named by ``Action`` for ``Version``; ``MissingAction``/``InvalidAction`` errors as AWS."""
    action = form.get("Action")
    if not action:
        raise MissingActionError()
    version = form.get("Version") or NO_VERSION
    op = spec.operations.get(action)
    if op is None or version != spec.api_version:
        raise invalid_action(action, version)
    return op


def invalid_action(action: str, version: str) -> InvalidActionError:
    return InvalidActionError(f"Could not find operation {action[:128]} for version {version[:64]}")


class _Node:
    __slots__ = ("children", "value")

    def __init__(self) -> None:
        self.value: str | None = None
        self.children: dict[str, _Node] = {}


def _tree(form: Mapping[str, str]) -> _Node:
    root = _Node()
    for key, value in form.items():
        if len(key) > MAX_KEY_LENGTH or key in ("Action", "Version"):
            continue  # no member of STS or IAM has a name this long
        node = root
        for part in key.split("."):
            node = node.children.setdefault(part, _Node())
        node.value = value
    return root


def parse_params(spec: QuerySpec, op: QueryOperation, form: Mapping[str, str]) -> dict[str, Any]:
    """The operation's input, keyed by model member names. Values that cannot be read as their type raise
    ``ValidationError`` (all of them, in one message); constraints are :func:`validate_params`' job."""
    if op.input is None:
        return {}
    errors: list[str] = []
    params = _Reader(spec.flattened, errors).structure(op.input, _tree(form), "")
    if errors:
        raise ValidationError(validation_message(errors))
    return params


class _Bad(Exception):
    pass


class _Reader:
    def __init__(self, flattened: frozenset[tuple[str, str]], errors: list[str]) -> None:
        self._flattened = flattened
        self._errors = errors

    def structure(self, shape: Shape, node: _Node, path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for member in shape.members.values():
            child = node.children.get(member.wire_name)
            if child is None:
                continue
            sub_path = f"{path}.{lower_camel(member.name)}" if path else lower_camel(member.name)
            flat = (shape.name, member.name) in self._flattened
            value = self.value(member, child, sub_path, flat)
            if value is not None:
                out[member.name] = value
        return out

    def value(self, member: Member, node: _Node, path: str, flattened: bool = False) -> Any:
        shape = member.shape
        kind = shape.type
        if kind == "structure":
            if node.value is not None and not node.children:
                self._bad(path, node.value, shape)
                return None
            return self.structure(shape, node, path)
        if kind == "list":
            return self.list(shape, node, path, flattened)
        if kind == "map":
            return self.map(shape, node, path, flattened)
        if node.value is None:
            return None  # only deeper keys: not this member
        try:
            return _scalar(shape, node.value)
        except _Bad:
            self._bad(path, node.value, shape)
            return None

    def list(self, shape: Shape, node: _Node, path: str, flattened: bool) -> list[Any] | None:
        element = shape.member
        assert element is not None
        items = node if flattened else node.children.get(element.wire_name)
        if items is None:
            if node.value == "":  # how botocore sends an empty list
                return []
            if node.value is not None:
                self._bad(path, node.value, shape)
            return None
        out: list[Any] = []
        for _, child in _indexed(items):
            out.append(self.value(element, child, f"{path}.{len(out) + 1}.member"))
        return out

    def map(self, shape: Shape, node: _Node, path: str, flattened: bool) -> dict[Any, Any] | None:
        assert shape.key is not None and shape.value is not None
        entries = node if flattened else node.children.get("entry")
        if entries is None:
            if node.value == "":
                return {}
            return None
        out: dict[Any, Any] = {}
        for _, child in _indexed(entries):
            key_node = child.children.get(shape.key.wire_name)
            if key_node is None or key_node.value is None:
                continue
            try:
                key = _scalar(shape.key.shape, key_node.value)
            except _Bad:
                self._bad(path, key_node.value, shape.key.shape)
                continue
            value_node = child.children.get(shape.value.wire_name)
            out[key] = None if value_node is None else self.value(shape.value, value_node, f"{path}.{key}")
        return out

    def _bad(self, path: str, raw: str, shape: Shape) -> None:
        self._errors.append(violation(path, raw, type_constraint(shape), sensitive=shape.sensitive))


_INDEX_RE: Final = re.compile(r"[1-9][0-9]{0,5}")


def _indexed(node: _Node) -> list[tuple[int, _Node]]:
    """Children named by 1-based indexes, in index order (gaps allowed, other names ignored)."""
    found = [(int(k), child) for k, child in node.children.items() if _INDEX_RE.fullmatch(k)]
    found = [(i, child) for i, child in found if i <= MAX_LIST_INDEX]
    found.sort(key=lambda item: item[0])
    return found


_INT_RE: Final = re.compile(r"[+-]?[0-9]{1,20}")
_FLOAT_RE: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
_INT_BOUNDS: Final[Mapping[str, tuple[int, int]]] = {
    "integer": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
}


def _scalar(shape: Shape, raw: str) -> Any:
    kind = shape.type
    if kind == "string":
        return raw
    if kind in ("integer", "long"):
        if _INT_RE.fullmatch(raw) is None:
            raise _Bad
        number = int(raw)
        low, high = _INT_BOUNDS[kind]
        if not low <= number <= high:
            raise _Bad
        return number
    if kind == "boolean":
        lowered = raw.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise _Bad
    if kind in ("float", "double"):
        if _FLOAT_RE.fullmatch(raw) is None or len(raw) > 64:
            raise _Bad
        return float(raw)
    if kind == "timestamp":
        return _timestamp(raw)
    if kind == "blob":
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise _Bad from None
    raise _Bad


def _timestamp(raw: str) -> datetime.datetime:
    text = raw.strip()
    if not text or len(text) > 40:
        raise _Bad
    try:
        if _FLOAT_RE.fullmatch(text) is not None:
            seconds = float(text)
            if not math.isfinite(seconds):
                raise _Bad
            return datetime.datetime.fromtimestamp(seconds, _UTC)
        parsed = datetime.datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        raise _Bad from None
    return parsed.replace(tzinfo=_UTC) if parsed.tzinfo is None else parsed.astimezone(_UTC)


def validate_params(op: QueryOperation, params: Mapping[str, Any]) -> None:
    """Raise ``ValidationError`` listing every constraint ``params`` violates, in the query services' words."""
    if op.input is None or op.validation_shape is None:
        return
    try:
        if op.input.is_valid(params):  # the compiled fast path
            return
    except RecursionError:
        pass
    violations = check_structure(op.validation_shape, _camel_value(op.input, params))
    if violations:
        raise ValidationError(validation_message(violations))


def _camel_value(shape: Shape, value: Any) -> Any:
    """``value`` with structure keys renamed as in the validation twin of ``shape``."""
    kind = shape.type
    if kind == "structure" and isinstance(value, Mapping):
        return {
            lower_camel(name): _camel_value(member.shape, value[name])
            for name, member in shape.members.items()
            if name in value
        }
    if kind == "list" and isinstance(value, list | tuple):
        assert shape.member is not None
        element = shape.member.shape
        return [_camel_value(element, item) for item in value]
    if kind == "map" and isinstance(value, Mapping):
        assert shape.value is not None
        inner = shape.value.shape
        return {k: _camel_value(inner, v) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------------------------------------------
# responses


def serialize_result(spec: QuerySpec, op: QueryOperation, result: Mapping[str, Any], request_id: str) -> bytes:
    """``<{Op}Response xmlns=...><{Op}Result>...</{Op}Result><ResponseMetadata>...</ResponseMetadata></...>``."""
    parts: list[str] = [f'<{op.name}Response xmlns="{escape(spec.xml_namespace, _ATTR)}">']
    if op.output is not None:
        writer = _Writer(spec)
        if op.result_wrapper:
            parts.append(f"<{op.result_wrapper}>")
            writer.members(op.output, result, parts)
            parts.append(f"</{op.result_wrapper}>")
        else:
            writer.members(op.output, result, parts)
    parts.append(f"<ResponseMetadata><RequestId>{_text(request_id)}</RequestId></ResponseMetadata>")
    parts.append(f"</{op.name}Response>")
    return "".join(parts).encode("utf-8")


_ATTR: Final = {'"': "&quot;"}
# Characters XML 1.0 cannot carry at all, not even as references: replaced, so a response always parses.
_NOT_XML: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: str) -> str:
    return escape(_NOT_XML.sub("\ufffd", value), {"\r": "&#13;"})


class _Writer:
    def __init__(self, spec: QuerySpec) -> None:
        self._flattened = spec.flattened
        self._url_encoded = spec.url_encoded

    def members(self, shape: Shape, values: Mapping[str, Any], out: list[str]) -> None:
        for name, member in shape.members.items():
            value = values.get(name)
            if value is None:
                continue
            if (shape.name, name) in self._flattened and member.shape.type in ("list", "map"):
                self._flat(member, value, out)
                continue
            tag = member.wire_name
            out.append(f"<{tag}>")
            self.value(member.shape, value, out)
            out.append(f"</{tag}>")

    def value(self, shape: Shape, value: Any, out: list[str]) -> None:
        kind = shape.type
        if kind == "structure":
            self.members(shape, value, out)
        elif kind == "list":
            assert shape.member is not None
            tag = shape.member.wire_name
            for item in value:
                out.append(f"<{tag}>")
                self.value(shape.member.shape, item, out)
                out.append(f"</{tag}>")
        elif kind == "map":
            for key, item in value.items():
                out.append("<entry>")
                self._entry(shape, key, item, out)
                out.append("</entry>")
        else:
            out.append(_text(self.scalar(shape, value)))

    def _entry(self, shape: Shape, key: Any, item: Any, out: list[str]) -> None:
        assert shape.key is not None and shape.value is not None
        key_tag, value_tag = shape.key.wire_name, shape.value.wire_name
        out.append(f"<{key_tag}>{_text(self.scalar(shape.key.shape, key))}</{key_tag}><{value_tag}>")
        self.value(shape.value.shape, item, out)
        out.append(f"</{value_tag}>")

    def _flat(self, member: Member, value: Any, out: list[str]) -> None:
        """A flattened list or map: the member's own element repeated, no ``member``/``entry`` wrapper."""
        shape = member.shape
        tag = member.wire_name
        if shape.type == "list":
            assert shape.member is not None
            for item in value:
                out.append(f"<{tag}>")
                self.value(shape.member.shape, item, out)
                out.append(f"</{tag}>")
            return
        for key, item in value.items():
            out.append(f"<{tag}>")
            self._entry(shape, key, item, out)
            out.append(f"</{tag}>")

    def scalar(self, shape: Shape, value: Any) -> str:
        kind = shape.type
        if kind == "boolean":
            return "true" if value else "false"
        if kind == "timestamp":
            return iso8601(value)
        if kind == "blob":
            data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
            return base64.b64encode(data).decode("ascii")
        if kind in ("float", "double"):
            number = float(value)
            if math.isnan(number):
                return "NaN"
            if math.isinf(number):
                return "Infinity" if number > 0 else "-Infinity"
            return repr(number)
        if kind in ("integer", "long"):
            return str(int(value))
        text = str(getattr(value, "value", value))  # enum members carry their wire text in .value
        if shape.name in self._url_encoded:
            return quote(text, safe="")
        return text


def iso8601(value: Any) -> str:
    """``2026-11-29T10:00:00Z`` (``.123Z`` when there are milliseconds) from a datetime (naive is UTC) or epoch
    seconds; a string is taken as already formatted."""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime.datetime):
        moment = (value.replace(tzinfo=_UTC) if value.tzinfo is None else value).astimezone(_UTC)
    elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        moment = datetime.datetime.fromtimestamp(value, _UTC)
    else:
        raise TypeError(f"cannot use {type(value).__name__} as a timestamp")
    millis = moment.microsecond // 1000
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


# --------------------------------------------------------------------------------------------------------------
# errors

_COMMON_CODES: Final[Mapping[type[CofferError], tuple[str, int]]] = {
    ValidationError: ("ValidationError", 400),
    AccessDeniedError: ("AccessDenied", 403),
    ThrottlingError: ("Throttling", 400),
    MissingAuthenticationTokenError: ("MissingAuthenticationToken", 403),
    IncompleteSignatureError: ("IncompleteSignature", 400),
    UnrecognizedClientError: ("InvalidClientTokenId", 403),
    InvalidSignatureError: ("SignatureDoesNotMatch", 403),
    ExpiredTokenError: ("ExpiredToken", 403),
    RequestTooLargeError: ("RequestEntityTooLarge", 413),
    NotImplementedOperationError: ("NotImplemented", 501),
    UnknownOperationError: ("InvalidAction", 400),
    InternalServerError: ("InternalFailure", 500),
    ResourceNotFoundError: ("NoSuchEntity", 404),
    ConflictError: ("EntityAlreadyExists", 409),
    ServiceQuotaExceededError: ("LimitExceeded", 409),
}

ERROR_CODES: Final[Mapping[str, Mapping[type[CofferError], tuple[str, int]]]] = MappingProxyType(
    {
        "sts": MappingProxyType(dict(_COMMON_CODES)),
        "iam": MappingProxyType({**_COMMON_CODES, InternalServerError: ("ServiceFailure", 500)}),
    }
)
"""Per service, Coffer's error classes -> (query code, status). The nearest class in the MRO wins;
an :class:`ExactCodeError` keeps its own code; a code the service models takes the model's status."""


def query_error(error: CofferError, service: str | None) -> tuple[str, int]:
    """The query code and HTTP status for ``error`` answered by ``service`` (``sts``, ``iam``; None: common)."""
    if isinstance(error, ExactCodeError):
        return error.code, error.status
    table = ERROR_CODES.get(service or "", _COMMON_CODES)
    for cls in type(error).__mro__:
        found = table.get(cls)
        if found is not None:
            return found
    return error.code, error.status


def serialize_error(error: CofferError, request_id: str, spec: QuerySpec | None = None) -> tuple[int, bytes]:
    """``(status, body)`` of the XML error for ``error``; ``spec`` picks the namespace and the mapping table."""
    code, status = query_error(error, spec.name if spec is not None else None)
    if spec is not None:
        modelled = spec.errors.get(code)
        if modelled is not None:
            status = modelled.status
    namespace = spec.xml_namespace if spec is not None else DEFAULT_NAMESPACE
    fault = "Sender" if status < 500 else "Receiver"
    body = (
        f'<ErrorResponse xmlns="{escape(namespace, _ATTR)}"><Error><Type>{fault}</Type>'
        f"<Code>{_text(code)}</Code><Message>{_text(error.message)}</Message></Error>"
        f"<RequestId>{_text(request_id)}</RequestId></ErrorResponse>"
    )
    return status, body.encode("utf-8")


DEFAULT_NAMESPACE: Final = "https://sts.amazonaws.com/doc/2011-06-15/"


def unhandled(spec: QuerySpec, handled: Iterable[str]) -> Sequence[str]:
    """The operations of ``spec`` without a handler (they answer ``NotImplemented``), sorted."""
    names = set(handled)
    return sorted(name for name in spec.operations if name not in names)


__all__ = [
    "DEFAULT_NAMESPACE",
    "ERROR_CODES",
    "FORM_CONTENT_TYPE",
    "MAX_FORM_BYTES",
    "XML_CONTENT_TYPE",
    "QueryErrorSpec",
    "QueryOperation",
    "QuerySpec",
    "build_query_service",
    "invalid_action",
    "iso8601",
    "load_query_service",
    "lower_camel",
    "operation_for",
    "parse_form",
    "parse_params",
    "query_error",
    "serialize_error",
    "serialize_result",
    "unhandled",
    "validate_params",
]
