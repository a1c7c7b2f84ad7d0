"""Query-protocol responses (STS, IAM): XML results and XML errors.

:func:`serialize_result` writes ``<{Op}Response xmlns=...><{Op}Result>...</{Op}Result><ResponseMetadata>...``;
:func:`serialize_error` writes ``<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>``, mapping
Coffer's error tree to query codes through the service's :attr:`~coffer.aws.query_model.QueryTraits.error_codes`
(an ``ExactCodeError`` keeps its own code).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote
from xml.sax.saxutils import escape

from coffer.aws.query_model import COMMON_ERROR_CODES, QueryOperation, QuerySpec
from coffer.aws.scalars import float_text
from coffer.aws.scalars import iso8601 as _iso8601
from coffer.aws.shapes import Member, Shape
from coffer.core.shared.errors import CofferError, ExactCodeError

XML_CONTENT_TYPE: Final = "text/xml"
DEFAULT_NAMESPACE: Final = "https://sts.amazonaws.com/doc/2011-06-15/"


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
        self._url_encoded = spec.traits.url_encoded

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
            return float_text(float(value))
        if kind in ("integer", "long"):
            return str(int(value))
        text = str(getattr(value, "value", value))  # enum members carry their wire text in .value
        if shape.name in self._url_encoded:
            return quote(text, safe="")
        return text


def iso8601(value: Any) -> str:
    """:func:`coffer.aws.scalars.iso8601`, with a string taken as already formatted."""
    return value if isinstance(value, str) else _iso8601(value)


def query_error(error: CofferError, spec: QuerySpec | None) -> tuple[str, int]:
    """The query code and HTTP status for ``error`` answered by ``spec``'s service (None: the common table)."""
    if isinstance(error, ExactCodeError):
        return error.code, error.status
    table = spec.traits.error_codes if spec is not None else COMMON_ERROR_CODES
    for cls in type(error).__mro__:
        found = table.get(cls)
        if found is not None:
            return found
    return error.code, error.status


def serialize_error(error: CofferError, request_id: str, spec: QuerySpec | None = None) -> tuple[int, bytes]:
    """``(status, body)`` of the XML error for ``error``; ``spec`` picks the namespace and the mapping table."""
    code, status = query_error(error, spec)
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


__all__ = ["DEFAULT_NAMESPACE", "XML_CONTENT_TYPE", "iso8601", "query_error", "serialize_error", "serialize_result"]
