"""Query-protocol requests (STS, IAM): form parsing, ``Action`` resolution, typed parameters, validation.

- :func:`parse_form` reads ``application/x-www-form-urlencoded`` bodies and query strings (size-limited, UTF-8,
  a key given twice is refused); :func:`operation_for` resolves ``Action`` and ``Version``;
  :func:`parse_params` turns the flat form (``Tags.member.1.Key=...``) into a dict keyed by the model's member
  names, typed by the scalar text rules of :mod:`coffer.aws.scalars`, as on the rest-json side. Unknown keys are
  ignored, as AWS does.
- :func:`validate_params` checks the model's constraints with :mod:`coffer.aws.validate`, reporting paths the way
  the query services do: each member name with its first letter lower-cased (``roleSessionName``,
  ``tags.1.member.key``), error code ``ValidationError``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import parse_qsl

from coffer.aws.query_model import QueryOperation, QuerySpec, lower_camel
from coffer.aws.scalars import BadScalar, scalar_from_text, type_constraint
from coffer.aws.shapes import Member, Shape
from coffer.aws.validate import check_structure, validation_message, violation
from coffer.core.shared.errors import (
    InvalidActionError,
    MalformedQueryStringError,
    MissingActionError,
    RequestTooLargeError,
    UnsupportedMediaTypeError,
    ValidationError,
)

FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded"
MAX_FORM_BYTES: Final = 1024 * 1024  # IAM's largest inputs are policy documents (131072 chars, URL-encoded)
MAX_FORM_FIELDS: Final = 2000
MAX_KEY_LENGTH: Final = 256
MAX_LIST_INDEX: Final = 100_000
NO_VERSION: Final = "NO_VERSION_SPECIFIED"  # what AWS names a missing Version in InvalidAction messages


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
            return scalar_from_text(shape, node.value)
        except BadScalar:
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
                key = scalar_from_text(shape.key.shape, key_node.value)
            except BadScalar:
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


__all__ = [
    "FORM_CONTENT_TYPE",
    "MAX_FORM_BYTES",
    "invalid_action",
    "operation_for",
    "parse_form",
    "parse_params",
    "validate_params",
]
