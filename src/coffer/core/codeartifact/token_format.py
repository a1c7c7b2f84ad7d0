"""Authorization tokens: minted by GetAuthorizationToken, presented by pip, uv, twine and npm.

Format (URL-safe, ASCII, at most ``MAX_TOKEN_LENGTH`` characters)::

    cf1.<base64url(JSON claims)>.<base64url(HMAC-SHA256(key, "cf1." + claims part))>

The claims carry the signing key id (so keys can rotate), a unique token id (so one token can be revoked),
the caller's account, the domain owner and domain the token is bound to, the principal it acts for, and the
issue and expiry times. Verification needs only the in-memory key ring: no database read.
"""

from __future__ import annotations

import binascii
import hmac
import json
import os
from collections.abc import Callable
from typing import NamedTuple

from coffer.core.shared.errors import CofferError
from coffer.core.shared.signing import KeyRing
from coffer.core.shared.signing import b64url_decode as _b64d
from coffer.core.shared.signing import b64url_encode as _b64e

# json's ASCII string encoder (the C one when available), the one json.dumps(ensure_ascii=True) uses
_json_string: Callable[[str], str] = json.encoder.encode_basestring_ascii
PREFIX = "cf1."
MAX_TOKEN_LENGTH = 1000
_MAC_LENGTH = 32
_ALLOWED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


class TokenError(CofferError):
    """A token was refused. ``reason`` is a short, token-free text for the 401 body."""

    code = "InvalidToken"
    status = 401
    reason = "invalid token"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.reason)


class MalformedTokenError(TokenError):
    reason = "malformed authorization token"


class TamperedTokenError(TokenError):
    reason = "authorization token signature is invalid"


class UnknownSigningKeyError(TokenError):
    reason = "authorization token was signed by an unknown key"


class ExpiredTokenError(TokenError):
    reason = "authorization token has expired"


class WrongDomainError(TokenError):
    reason = "authorization token is for another domain"


class RevokedTokenError(TokenError):
    reason = "authorization token has been revoked"


class TokenClaims(NamedTuple):  # a tuple: made once per token, a frozen dataclass costs 4x as much to build
    token_id: str
    key_id: str
    account_id: str  # the caller's account
    domain_owner: str
    domain: str
    principal_arn: str
    issued_at: int
    expires_at: int
    session_issued_at: int | None = None  # when the caller's credentials were issued (aws:TokenIssueTime)
    #: the unique id of the principal (``Caller.user_id``: AIDA... for users, AROA...:session for role
    #: sessions); a token is honoured only while ``principal_arn`` still names that principal
    principal_id: str = ""

    def _to_list(self) -> list[object]:
        return [
            self.key_id,
            self.token_id,
            self.account_id,
            self.domain_owner,
            self.domain,
            self.principal_arn,
            self.issued_at,
            self.expires_at,
            self.session_issued_at,
            self.principal_id,
        ]


def new_token_id() -> str:
    return os.urandom(12).hex()  # secrets.token_hex(12) is exactly this, two Python calls further away


def _claims_json(claims: TokenClaims) -> str:
    """Exactly ``json.dumps(claims._to_list(), separators=(",", ":"), ensure_ascii=True)``, built directly (this
    runs once per token): strings through json's own ASCII string encoder, ints as ``int.__repr__``. Anything
    else (a bool or a float where an int belongs) takes json.dumps itself."""
    session_issued_at = claims.session_issued_at
    if (
        type(claims.issued_at) is not int
        or type(claims.expires_at) is not int
        or (session_issued_at is not None and type(session_issued_at) is not int)
    ):
        return json.dumps(claims._to_list(), separators=(",", ":"), ensure_ascii=True)
    q = _json_string
    session = "null" if session_issued_at is None else int.__repr__(session_issued_at)
    return (
        f"[{q(claims.key_id)},{q(claims.token_id)},{q(claims.account_id)},{q(claims.domain_owner)},"
        f"{q(claims.domain)},{q(claims.principal_arn)},{int.__repr__(claims.issued_at)},"
        f"{int.__repr__(claims.expires_at)},{session},{q(claims.principal_id)}]"
    )


def mint(ring: KeyRing, claims: TokenClaims) -> str:
    """Sign ``claims`` with the ring's active key (``claims.key_id`` must name it)."""
    key = ring.get(claims.key_id)
    if key is None:
        raise ValueError(f"unknown signing key {claims.key_id}")
    body = _claims_json(claims).encode("ascii")
    signed_part = PREFIX + _b64e(body)
    token = signed_part + "." + _b64e(key.mac(signed_part.encode("ascii")))
    if len(token) > MAX_TOKEN_LENGTH:
        raise ValueError("token would exceed the maximum length; principal ARN too long")
    return token


def _decode_claims(body: bytes) -> TokenClaims:
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedTokenError() from exc
    if not isinstance(raw, list) or len(raw) != 10:
        raise MalformedTokenError()
    kid, tid, account, owner, domain, principal, iat, exp, sit, pid = raw
    if not all(isinstance(v, str) for v in (kid, tid, account, owner, domain, principal, pid)):
        raise MalformedTokenError()
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (iat, exp)):
        raise MalformedTokenError()
    if sit is not None and (not isinstance(sit, int) or isinstance(sit, bool)):
        raise MalformedTokenError()
    return TokenClaims(tid, kid, account, owner, domain, principal, iat, exp, sit, pid)


def peek_token_id(token: str) -> str | None:
    """The token id inside a token, without verifying it (for revocation by an administrator)."""
    try:
        _, body, _ = _split(token)
        return _decode_claims(_b64d(body)).token_id
    except (TokenError, binascii.Error, ValueError):
        return None


def _split(token: str) -> tuple[str, str, str]:
    if len(token) > MAX_TOKEN_LENGTH or not token.startswith(PREFIX) or not _ALLOWED.issuperset(token):
        raise MalformedTokenError()
    parts = token.split(".")
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise MalformedTokenError()
    return parts[0], parts[1], parts[2]


def verify(
    ring: KeyRing,
    token: str,
    *,
    now: float,
    domain_owner: str,
    domain: str,
    is_revoked: Callable[[str], bool] | None = None,
) -> TokenClaims:
    """Check a presented token for use on ``domain_owner``/``domain`` at time ``now``.

    The MAC is checked before the claims are trusted; a token signed by a key this ring does not hold is
    refused. Raises a ``TokenError`` subclass saying which check failed.
    """
    _, body, mac_text = _split(token)
    try:
        mac = _b64d(mac_text)
        claims_raw = _b64d(body)
    except (binascii.Error, ValueError) as exc:
        raise MalformedTokenError() from exc
    if len(mac) != _MAC_LENGTH or _b64e(mac) != mac_text or _b64e(claims_raw) != body:
        # Non-canonical base64 (extra bits in the last character) would let two strings carry one token.
        raise MalformedTokenError()
    claims = _decode_claims(claims_raw)
    key = ring.get(claims.key_id)
    if key is None:
        raise UnknownSigningKeyError()
    if not hmac.compare_digest(mac, key.mac((PREFIX + body).encode("ascii"))):
        raise TamperedTokenError()
    return check_claims(claims, ring, now=now, domain_owner=domain_owner, domain=domain, is_revoked=is_revoked)


def check_claims(
    claims: TokenClaims,
    ring: KeyRing,
    *,
    now: float,
    domain_owner: str,
    domain: str,
    is_revoked: Callable[[str], bool] | None = None,
) -> TokenClaims:
    """The checks of ``verify`` that can change with time, for claims whose MAC was verified before: the signing
    key still in the ring, not expired, the right domain, not revoked."""
    if ring.get(claims.key_id) is None:
        raise UnknownSigningKeyError()
    if now >= claims.expires_at:
        raise ExpiredTokenError()
    if claims.domain_owner != domain_owner or claims.domain != domain:
        raise WrongDomainError()
    if is_revoked is not None and is_revoked(claims.token_id):
        raise RevokedTokenError()
    return claims
