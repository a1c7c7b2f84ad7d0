"""Let uvicorn send the reason phrase a response asks for (``coffer.formats.reason``).

uvicorn writes status lines from two module-level tables (``STATUS_LINE`` for httptools, ``STATUS_PHRASES`` for
h11) and takes no phrase from the ASGI app. ``install()`` wraps each table in a mapping that answers with the
phrase in ``RESPONSE_REASON`` when the current response set one, and with uvicorn's own entry otherwise. The
lookup happens inside the ASGI ``send`` call, in the task of the response that set the variable.
"""

from __future__ import annotations

from collections.abc import Mapping

from coffer.formats.reason import RESPONSE_REASON


class _StatusLines(dict[int, bytes]):
    """uvicorn's httptools table: ``HTTP/1.1 <code> <phrase>\\r\\n``."""

    def __getitem__(self, status: int) -> bytes:
        reason = RESPONSE_REASON.get()
        if reason:
            return b"HTTP/1.1 %d %s\r\n" % (status, reason.encode("ascii", "replace"))
        return super().__getitem__(status)


class _StatusPhrases(dict[int, bytes]):
    """uvicorn's h11 table: the phrase alone."""

    def __getitem__(self, status: int) -> bytes:
        reason = RESPONSE_REASON.get()
        if reason:
            return reason.encode("ascii", "replace")
        return super().__getitem__(status)


def install() -> None:
    """Idempotent; checked by the upload tests (twine prints the phrase)."""
    from uvicorn.protocols.http import h11_impl, httptools_impl

    if not isinstance(httptools_impl.STATUS_LINE, _StatusLines):
        httptools_impl.STATUS_LINE = _StatusLines(_as_mapping(httptools_impl.STATUS_LINE))
    if not isinstance(h11_impl.STATUS_PHRASES, _StatusPhrases):
        h11_impl.STATUS_PHRASES = _StatusPhrases(_as_mapping(h11_impl.STATUS_PHRASES))


def _as_mapping(table: Mapping[int, bytes]) -> dict[int, bytes]:
    return dict(table)
