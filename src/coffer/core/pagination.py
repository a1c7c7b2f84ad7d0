"""Opaque, tamper-proof ``nextToken`` values.

A token carries the store's position key, authenticated with a signing key and bound to the listing it came
from (operation and filters), so it can neither be forged nor replayed against another listing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable

from coffer.core.errors import ValidationError
from coffer.core.tokens import KeyRing

_INVALID = "The pagination token is invalid or expired."


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, key_id: str, scope: str, position: bytes) -> bytes:
    msg = b"\x00".join((b"page", key_id.encode(), scope.encode("utf-8", "surrogatepass"), position))
    return hmac.new(secret, msg, hashlib.sha256).digest()[:16]


class Paginator:
    def __init__(self, ring: Callable[[], KeyRing]) -> None:
        self._ring = ring

    def encode(self, scope: str, position: str | None) -> str | None:
        """The nextToken for ``position`` in the listing named by ``scope``; None when there are no more."""
        if position is None:
            return None
        key = self._ring().active
        raw = position.encode("utf-8")
        return f"{_b64e(raw)}.{key.key_id}.{_b64e(_mac(key.secret, key.key_id, scope, raw))}"

    def decode(self, scope: str, token: str | None) -> str | None:
        """The position a nextToken points at; ValidationException if it was not made for this listing."""
        if token is None:
            return None
        parts = token.split(".")
        if len(parts) != 3 or len(token) > 4096:
            raise ValidationError(_INVALID)
        key = self._ring().get(parts[1])
        if key is None:
            raise ValidationError(_INVALID)
        try:
            raw = _b64d(parts[0])
            mac = _b64d(parts[2])
            position = raw.decode("utf-8")
        except (binascii.Error, ValueError) as exc:
            raise ValidationError(_INVALID) from exc
        if not hmac.compare_digest(mac, _mac(key.secret, key.key_id, scope, raw)):
            raise ValidationError(_INVALID)
        return position
