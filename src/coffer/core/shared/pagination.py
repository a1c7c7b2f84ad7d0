"""Opaque, tamper-proof ``nextToken`` values.

A token carries the store's position key, authenticated with a signing key and bound to the listing it came
from (operation and filters) and to the caller it was given to (account, ARN and unique id), so it can neither be
forged nor replayed against another listing or by another principal (nor by a re-created user of the same name).
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from coffer.core.shared.errors import ValidationError
from coffer.core.shared.signing import KeyRing
from coffer.core.shared.signing import b64url_decode as _b64d
from coffer.core.shared.signing import b64url_encode as _b64e

if TYPE_CHECKING:
    from coffer.core.identity.callers import Caller
T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing: the items and the key after which the next page starts (None: no more)."""

    items: tuple[T, ...]
    next_key: str | None = None


_INVALID = "The pagination token is invalid or expired."

Scope = tuple[str, ...]
"""A listing: its operation name, then the values of everything that selects its items (account, domain, filters)."""


def _field(value: str | bytes) -> bytes:
    raw = value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
    return len(raw).to_bytes(4, "big") + raw


def _mac(secret: bytes, key_id: str, caller: Caller, scope: Scope, position: bytes) -> bytes:
    """Every field length-prefixed, so no choice of filter values (``:`` is allowed in package names and
    namespaces) can make two listings' messages collide."""
    head: tuple[str | bytes, ...] = (b"page/2", key_id, caller.account_id, caller.arn, caller.user_id)
    fields = (*head, str(len(scope)), *scope, position)
    return hmac.new(secret, b"".join(_field(f) for f in fields), hashlib.sha256).digest()[:16]


class Paginator:
    def __init__(self, ring: Callable[[], KeyRing]) -> None:
        self._ring = ring

    def encode(self, scope: Scope, position: str | None, caller: Caller) -> str | None:
        """The nextToken for ``position`` in the listing named by ``scope`` (the operation and its filters), for
        ``caller`` only; None when there are no more."""
        if position is None:
            return None
        key = self._ring().active
        raw = position.encode("utf-8")
        return f"{_b64e(raw)}.{key.key_id}.{_b64e(_mac(key.secret, key.key_id, caller, scope, raw))}"

    def decode(self, scope: Scope, token: str | None, caller: Caller) -> str | None:
        """The position a nextToken points at; ValidationException if it was not made for this listing and this
        caller."""
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
        if not hmac.compare_digest(mac, _mac(key.secret, key.key_id, caller, scope, raw)):
            raise ValidationError(_INVALID)
        return position
