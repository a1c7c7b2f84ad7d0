"""A streaming ``multipart/form-data`` reader with limits, for request bodies that must never be buffered whole.

Starlette's ``request.form()`` keeps every field in memory and spools every file to disk in full before the
application sees any of it, so nothing can be checked, and no limit enforced, until the whole body has arrived.
``read_form`` instead feeds the body to python-multipart's streaming parser as it arrives and counts every byte:

* the whole body (``max_body_bytes``): every byte received, with or without a Content-Length (chunked bodies,
  preamble and epilogue included);
* non-file fields: how many (``max_fields``), the size of each (``max_field_bytes``) and of all of them together,
  part headers included (``max_fields_bytes``); a field's value is kept only when the handler asks for it, the
  others are counted and dropped;
* streamed file parts (named in ``file_fields``): how many (``max_files``; more is a 400) and the size of each
  (``max_file_bytes``); their bytes go to the handler's sink in blocks of about ``BLOCK`` bytes, never held whole.
  A file part under any other name is a field like the others (counted, dropped).

The first limit passed raises ``FormError`` (413, naming the limit) at once: the rest of the body is not read.
A malformed body raises ``FormError`` (400). Whatever the handler raises propagates unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError, MultipartParseError
from python_multipart.multipart import parse_options_header

BLOCK = 1024 * 1024  # file bytes handed to a sink at a time (and the largest piece given to the parser at once)
MAX_FIELDS = 1000  # twine sends one part per classifier and per Requires-Dist: 64 would refuse real packages
MAX_FIELD_BYTES = 4 * 1024 * 1024  # a long description; core metadata files are capped at 4 MiB too
MAX_FIELDS_BYTES = 8 * 1024 * 1024  # every non-file field and every part's headers, together
MAX_PART_HEADER_BYTES = 16 * 1024  # the headers of one part


class FormError(Exception):
    """The body is refused: ``status`` 413 (a limit) or 400 (malformed); ``message`` says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class FormLimits:
    max_body_bytes: int
    max_file_bytes: int
    file_fields: frozenset[str] = field(default_factory=frozenset)
    max_files: int = 1
    max_fields: int = MAX_FIELDS
    max_field_bytes: int = MAX_FIELD_BYTES
    max_fields_bytes: int = MAX_FIELDS_BYTES
    max_part_header_bytes: int = MAX_PART_HEADER_BYTES


@dataclass(frozen=True)
class FilePart:
    name: str
    filename: str
    content_type: str


class FileSink(Protocol):
    async def write(self, data: bytes) -> None:
        """The next bytes of the file (at most about ``BLOCK`` + one received chunk)."""
        ...

    async def close(self) -> None:
        """The part is complete."""
        ...


class FormHandler(Protocol):
    def keeps(self, name: str) -> bool:
        """Whether the value of the non-file field ``name`` is wanted (others are counted and dropped)."""
        ...

    async def on_field(self, name: str, value: str) -> None:
        """A kept field, as soon as its part ends; may raise to refuse the body at once."""
        ...

    async def on_file(self, part: FilePart) -> FileSink:
        """A streamed file part begins (before any of its bytes); may raise to refuse the body at once."""
        ...


def boundary_of(content_type: str) -> bytes | None:
    """The boundary of a ``multipart/form-data`` Content-Type; None if it is another type or has none."""
    media_type, params = parse_options_header(content_type)
    if media_type.lower() != b"multipart/form-data":
        return None
    return params.get(b"boundary") or None


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # what Starlette's parser falls back to


@dataclass(frozen=True)
class _Field:
    name: str
    value: str


class _FileEnd:
    pass


_FILE_END = _FileEnd()
#: what the parser's callbacks record while ``write`` runs (file data, a file begins or ends, a kept field);
#: ``read_form`` acts on them, asynchronously, after each ``write``
_Event = bytes | FilePart | _FileEnd | _Field


class _Parser:
    """python-multipart's callbacks: counts against the limits as bytes are parsed, and records events."""

    def __init__(self, boundary: bytes, limits: FormLimits, handler: FormHandler) -> None:
        self._limits = limits
        self._handler = handler
        self.events: list[_Event] = []
        self.finished = False
        self._fields = 0
        self._files = 0
        self._fields_bytes = 0
        self._header_bytes = 0
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._streamed = False  # the current part is a streamed file
        self._part_bytes = 0
        self._value: bytearray | None = None  # the current field's value, when kept
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_end": self._end,
            },
        )

    def write(self, data: bytes) -> None:
        try:
            self._parser.write(data)
        except (MultipartParseError, FormParserError) as exc:
            raise FormError(400, f"Invalid request: malformed multipart body ({exc})") from exc

    def _count_fields_bytes(self, n: int) -> None:
        self._fields_bytes += n
        if self._fields_bytes > self._limits.max_fields_bytes:
            raise FormError(
                413,
                f"Form fields too large: the limit is {self._limits.max_fields_bytes} bytes for all fields and "
                "part headers together",
            )

    def _part_begin(self) -> None:
        self._headers = {}
        self._header_bytes = 0
        self._header_field.clear()
        self._header_value.clear()

    def _count_header(self, n: int) -> None:
        self._header_bytes += n
        if self._header_bytes > self._limits.max_part_header_bytes:
            raise FormError(
                413, f"Multipart part headers too large: the limit is {self._limits.max_part_header_bytes} bytes"
            )
        self._count_fields_bytes(n)

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        disposition, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        if disposition.lower() != b"form-data" or b"name" not in params:
            raise FormError(400, "Invalid request: a multipart part has no Content-Disposition form-data name")
        self._name = _decode(params[b"name"])
        self._part_bytes = 0
        filename = params.get(b"filename")
        limits = self._limits
        if filename is not None and self._name in limits.file_fields:
            self._files += 1
            if self._files > limits.max_files:
                names = ", ".join(repr(n) for n in sorted(limits.file_fields))
                raise FormError(400, f"Invalid request: more than {limits.max_files} file part(s) named {names}")
            self._streamed = True
            self._value = None
            content_type = _decode(self._headers.get(b"content-type", b"application/octet-stream"))
            self.events.append(FilePart(self._name, _decode(filename), content_type))
            return
        self._streamed = False
        self._fields += 1
        if self._fields > limits.max_fields:
            raise FormError(413, f"Too many form fields: the limit is {limits.max_fields} fields")
        self._value = bytearray() if filename is None and self._handler.keeps(self._name) else None

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        n = end - start
        self._part_bytes += n
        limits = self._limits
        if self._streamed:
            if self._part_bytes > limits.max_file_bytes:
                raise FormError(413, f"File too large: the limit is {limits.max_file_bytes} bytes")
            self.events.append(data[start:end])
            return
        if self._part_bytes > limits.max_field_bytes:
            raise FormError(
                413, f"Form field {self._name!r} too large: the limit is {limits.max_field_bytes} bytes per field"
            )
        self._count_fields_bytes(n)
        if self._value is not None:
            self._value += data[start:end]

    def _part_end(self) -> None:
        if self._streamed:
            self.events.append(_FILE_END)
        elif self._value is not None:
            self.events.append(_Field(self._name, _decode(bytes(self._value))))
        self._streamed = False
        self._value = None

    def _end(self) -> None:
        self.finished = True


async def read_form(chunks: AsyncIterator[bytes], boundary: bytes, limits: FormLimits, handler: FormHandler) -> None:
    """Read the body ``chunks`` (e.g. ``request.stream()``) as ``multipart/form-data`` with ``boundary``, telling
    ``handler`` of kept fields and streamed files as they complete or begin. Returns once the whole body has been
    read; raises ``FormError`` (or what the handler raises) as soon as something is wrong."""
    try:
        parser = _Parser(boundary, limits, handler)
    except (FormParserError, ValueError) as exc:
        raise FormError(400, f"Invalid request: unusable multipart boundary ({exc})") from exc
    received = 0
    sink: FileSink | None = None
    pending: list[bytes] = []
    pending_bytes = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > limits.max_body_bytes:
            raise FormError(413, f"Request body too large: the limit is {limits.max_body_bytes} bytes")
        for offset in range(0, len(chunk), BLOCK):
            parser.write(chunk[offset : offset + BLOCK] if len(chunk) > BLOCK else chunk)
            events, parser.events = parser.events, []
            for event in events:
                match event:
                    case bytes():
                        pending.append(event)
                        pending_bytes += len(event)
                        if pending_bytes >= BLOCK and sink is not None:
                            await sink.write(b"".join(pending))
                            pending, pending_bytes = [], 0
                    case FilePart():
                        sink = await handler.on_file(event)
                    case _Field(name, value):
                        await handler.on_field(name, value)
                    case _:
                        if sink is not None:
                            if pending:
                                await sink.write(b"".join(pending))
                            await sink.close()
                        sink, pending, pending_bytes = None, [], 0
    if not parser.finished:
        raise FormError(400, "Invalid request: the multipart body ends before its closing boundary")
