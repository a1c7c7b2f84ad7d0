"""The body of ``npm publish`` read as it streams: the tarball goes straight into the blob store, and only the
rest of the JSON is held in memory.

A publish body is a JSON document whose ``_attachments.<file>.data`` is the tarball in base64: for a large
package nearly all of the body. ``PublishBodyReader`` scans the bytes as they arrive, keeps every part of the
document but that string (the *skeleton*, bounded by ``max_json``), and base64-decodes the string into a
``PendingBlob`` as it goes (bounded by ``max_tarball``), so memory stays flat whatever the tarball's size. The
skeleton is the document with the data replaced by ``""``, and is parsed with ``json`` at the end.

The scanner knows just enough JSON to find that string: strings (with their escapes), objects, arrays, keys. A
body that is not JSON still fails, when the skeleton is parsed.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass

from coffer.core.packages.package_store import PendingBlob

_STRUCTURE = re.compile(rb'["{}\[\]:,]')
_STRING_STOP = re.compile(rb'["\\]')
MAX_KEY = 1024  # bytes of a key kept (longer keys are never the ones looked for)
MAX_DEPTH = 64  # nesting of objects and arrays
_ATTACHMENTS = b"_attachments"
_DATA = b"data"


class PublishBodyError(ValueError):
    """The body cannot be a publish: a second attachment, base64 that is not, a part over its limit."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class _Frame:
    kind: int  # ord("{") or ord("[")
    key: bytes | None = None  # the key whose value is being read (objects)
    expect_key: bool = True


class _Base64Sink:
    """Base64 text in, bytes out to ``pending``, in groups of four characters."""

    def __init__(self, pending: PendingBlob, limit: int) -> None:
        self.pending = pending
        self._limit = limit
        self._carry = b""
        self.size = 0
        self._ended = False

    def write(self, text: bytes) -> None:
        if not text:
            return
        if self._ended:
            raise PublishBodyError("The attachment's data is not valid base64 (padding before its end)")
        text = self._carry + text
        usable = len(text) - len(text) % 4
        self._carry = text[usable:]
        if usable:
            self._decode(text[:usable])

    def close(self) -> None:
        if self._carry:
            raise PublishBodyError("The attachment's data is not valid base64 (its length is not a multiple of 4)")

    def _decode(self, text: bytes) -> None:
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise PublishBodyError("The attachment's data is not valid base64") from None
        if text.endswith(b"="):
            self._ended = True
        self.size += len(data)
        if self.size > self._limit:
            raise PublishBodyError(f"The tarball is larger than this server's limit of {self._limit} bytes", 413)
        self.pending.write(data)


class PublishBodyReader:
    """Feed the body's chunks in order (``feed``), then ``finish``: the skeleton, and the tarball (None if the
    body has no attachment data, e.g. ``npm deprecate``'s). ``begin_blob`` starts the blob the data goes to."""

    def __init__(self, begin_blob: Callable[[], PendingBlob], *, max_json: int, max_tarball: int) -> None:
        self._begin_blob = begin_blob
        self._max_json = max_json
        self._max_tarball = max_tarball
        self._skeleton = bytearray()
        self._stack: list[_Frame] = []
        self._in_string = False  # a string of the skeleton (not the data) is being read
        self._string = bytearray()  # its bytes so far (a key's, to know where the data is)
        self._string_is_key = False
        self._sink: _Base64Sink | None = None
        self._in_data = False
        self._escape_pending = False  # the data chunk ended in a backslash
        self._escaped = False  # a skeleton string's chunk ended in a backslash

    @property
    def tarball(self) -> PendingBlob | None:
        return None if self._sink is None else self._sink.pending

    @property
    def tarball_size(self) -> int:
        return 0 if self._sink is None else self._sink.size

    def feed(self, chunk: bytes) -> None:
        pos, end = 0, len(chunk)
        while pos < end:
            if self._in_data:
                pos = self._feed_data(chunk, pos)
            elif self._in_string:
                pos = self._feed_string(chunk, pos)
            else:
                pos = self._feed_structure(chunk, pos)
        if len(self._skeleton) > self._max_json:
            raise PublishBodyError(
                f"The publish document besides the tarball is larger than this server's limit of {self._max_json} "
                "bytes",
                413,
            )

    def finish(self) -> bytes:
        if self._in_data or self._in_string:
            raise PublishBodyError("The request body is not JSON (it ends inside a string)")
        if self._sink is not None:
            self._sink.close()
        return bytes(self._skeleton)

    # --- scanning ------------------------------------------------------------------------------------------

    def _feed_structure(self, chunk: bytes, pos: int) -> int:
        m = _STRUCTURE.search(chunk, pos)
        if m is None:
            self._skeleton += chunk[pos:]
            return len(chunk)
        start = m.start()
        self._skeleton += chunk[pos:start]
        c = chunk[start]
        top = self._stack[-1] if self._stack else None
        if c == ord('"'):
            is_key = top is not None and top.kind == ord("{") and top.expect_key
            if not is_key and self._at_data():
                self._start_data()
                return start + 1
            self._in_string, self._string_is_key = True, is_key
            self._string.clear()
            self._skeleton.append(c)
            return start + 1
        self._skeleton.append(c)
        if c in (ord("{"), ord("[")):
            if len(self._stack) >= MAX_DEPTH:
                raise PublishBodyError(f"The publish document is nested more than {MAX_DEPTH} levels deep")
            self._stack.append(_Frame(c))
        elif c in (ord("}"), ord("]")):
            if self._stack:
                self._stack.pop()
        elif c == ord(":") and top is not None:
            top.expect_key = False
        elif c == ord(",") and top is not None and top.kind == ord("{"):
            top.expect_key, top.key = True, None
        return start + 1

    def _feed_string(self, chunk: bytes, pos: int) -> int:
        """Up to the string's closing quote. Escapes are skipped as they come (``\\x`` is two bytes, whatever x
        is), carrying ``_escaped`` over chunk ends, so each byte is looked at once; only a key's bytes are
        kept (at most ``MAX_KEY`` of them), to know where the data is."""
        end = len(chunk)
        while pos < end:
            if self._escaped:
                self._escaped = False
                self._keep_string(chunk[pos : pos + 1])
                self._skeleton += chunk[pos : pos + 1]
                pos += 1
                continue
            m = _STRING_STOP.search(chunk, pos)
            stop = end if m is None else m.start()
            self._keep_string(chunk[pos:stop])
            self._skeleton += chunk[pos : stop + 1 if m is not None else stop]
            if m is None:
                return end
            if chunk[stop] == ord("\\"):
                self._escaped = True
                self._keep_string(b"\\")
                pos = stop + 1
                continue
            self._in_string = False
            if self._string_is_key and self._stack:
                self._stack[-1].key = bytes(self._string)
            return stop + 1
        return end

    def _keep_string(self, part: bytes) -> None:
        if self._string_is_key and len(self._string) <= MAX_KEY:
            self._string += part

    def _at_data(self) -> bool:
        """Whether the value starting now is ``_attachments.<file>.data`` of the document."""
        s = self._stack
        return len(s) == 3 and s[0].key == _ATTACHMENTS and s[1].key is not None and s[2].key == _DATA

    def _start_data(self) -> None:
        if self._sink is not None:
            raise PublishBodyError("A publish carries exactly one attachment; this one has more")
        self._sink = _Base64Sink(self._begin_blob(), self._max_tarball)
        self._in_data = True
        self._skeleton += b'""'

    def _feed_data(self, chunk: bytes, pos: int) -> int:
        assert self._sink is not None
        if self._escape_pending:  # "\/" split between chunks
            self._escape_pending = False
            if chunk[pos : pos + 1] != b"/":
                raise PublishBodyError("The attachment's data is not valid base64")
            self._sink.write(b"/")
            pos += 1
        quote = chunk.find(b'"', pos)
        segment = chunk[pos : quote if quote >= 0 else len(chunk)]
        if b"\\" in segment:
            if quote < 0 and segment.endswith(b"\\") and not segment.endswith(b"\\\\"):
                self._escape_pending, segment = True, segment[:-1]
            segment = segment.replace(b"\\/", b"/")
            if b"\\" in segment:
                raise PublishBodyError("The attachment's data is not valid base64")
        self._sink.write(segment)
        if quote < 0:
            return len(chunk)
        self._in_data = False
        return quote + 1
