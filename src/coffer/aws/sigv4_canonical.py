"""SigV4 canonicalisation: the pure string functions behind ``coffer.aws.sigv4``.

String convention: the request parts handed to this module (path, query string, header values) are
the bytes received on the wire decoded as latin-1, which is lossless and is what an ASGI server's
``bytes`` decode to. A string holding code points above U+00FF cannot be latin-1, so it is taken to be
already decoded as UTF-8 and encoded back that way (:func:`wire_bytes`).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from urllib.parse import quote_from_bytes, unquote_to_bytes

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"


def wire_bytes(text: str) -> bytes:
    """The bytes ``text`` stands for on the wire (see the module docstring)."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 dot-segment removal as AWS's SDKs do it: empty segments collapse too.

    Mirrors ``botocore.utils.remove_dot_segments`` (and the JS/Java SDKs), so ``//a//`` becomes
    ``/a/`` and a trailing ``..`` leaves no trailing slash.
    """
    segments: list[str] = []
    for segment in path.split("/"):
        if not segment or segment == ".":
            continue
        if segment == "..":
            if segments:
                segments.pop()
        else:
            segments.append(segment)
    first = "/" if path.startswith("/") else ""
    last = "/" if segments and path.endswith("/") else ""
    return first + "/".join(segments) + last


@functools.lru_cache(maxsize=1024)  # pure; clients repeat the same paths and queries
def canonical_uri(raw_path: str) -> str:
    """Canonical URI of a path exactly as received: dot segments removed, then percent-encoded again.

    The path arrives percent-encoded once; encoding it a second time (``%`` becomes ``%25``) is the
    rule for every service but S3.
    """
    path = remove_dot_segments(raw_path) or "/"
    return quote_from_bytes(wire_bytes(path), safe="/")


def _reencode(component: str) -> str:
    # Decode to bytes, then encode everything outside RFC 3986's unreserved set with upper-case hex.
    # ``+`` is not a space here: it stays a literal plus and is encoded as %2B.
    return quote_from_bytes(unquote_to_bytes(wire_bytes(component)), safe="")


@functools.lru_cache(maxsize=1024)
def canonical_query(raw_query: str) -> str:
    """Canonical query string: each name and value re-encoded, sorted by name then value."""
    if not raw_query:
        return ""
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if part:  # "a=1&&b=2" and a trailing "&" carry no parameter
            name, _, value = part.partition("=")
            pairs.append((_reencode(name), _reencode(value)))
    pairs.sort()
    return "&".join([f"{name}={value}" for name, value in pairs])


def canonical_headers(headers: Iterable[tuple[str, str]], signed_headers: Sequence[str]) -> str | None:
    """The canonical header block (each line ending in ``\\n``), or None if a signed header is absent.

    Values are trimmed with runs of whitespace collapsed to one space (botocore's ``' '.join(v.split())``,
    which also unfolds multi-line values); repeated headers are joined with ``,`` in arrival order.
    """
    wanted = frozenset(signed_headers)
    found: dict[str, str] = {}
    for name, value in headers:
        lowered = name.lower()
        if lowered in wanted:
            trimmed = " ".join(value.split())
            seen = found.get(lowered)
            found[lowered] = trimmed if seen is None else f"{seen},{trimmed}"
    try:
        return "".join([f"{name}:{found[name]}\n" for name in signed_headers])
    except KeyError:  # a signed header the request does not have
        return None


def hash_hex(text: str) -> str:
    """Hex SHA-256 of ``text``'s wire bytes."""
    return hashlib.sha256(wire_bytes(text)).hexdigest()


def derive_signing_key(secret_access_key: str, date: str, region: str, service: str) -> bytes:
    """kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")."""
    key = ("AWS4" + secret_access_key).encode("utf-8", "surrogatepass")
    for part in (date, region, service, TERMINATOR):
        key = hmac.new(key, part.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
    return key
