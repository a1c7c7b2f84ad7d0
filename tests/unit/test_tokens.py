"""Authorization tokens: format, tampering of every byte, truncation, foreign keys, expiry, domain binding."""

from __future__ import annotations

import json
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coffer.core.codeartifact import token_format as tokens
from coffer.core.codeartifact.token_format import (
    ExpiredTokenError,
    MalformedTokenError,
    RevokedTokenError,
    TamperedTokenError,
    TokenClaims,
    TokenError,
    UnknownSigningKeyError,
    WrongDomainError,
)
from coffer.core.shared.signing import KeyRing, SigningKey

NOW = 1_760_000_000
KEY = SigningKey(key_id="k1", secret=b"s" * 32, created_at=1.0)
RING = KeyRing([KEY])
URL_SAFE = set(string.ascii_letters + string.digits + "-_.")


def claims(**overrides: object) -> TokenClaims:
    base: dict[str, object] = {
        "token_id": "t" * 24,
        "key_id": "k1",
        "account_id": "111122223333",
        "domain_owner": "111122223333",
        "domain": "acme",
        "principal_arn": "arn:aws:iam::111122223333:user/admin",
        "issued_at": NOW,
        "expires_at": NOW + 900,
        "principal_id": "AIDAEXAMPLEUSERID0001",
    }
    base.update(overrides)
    return TokenClaims(**base)  # type: ignore[arg-type]


def check(token: str, **kw: object) -> TokenClaims:
    args: dict[str, object] = {"now": NOW + 1, "domain_owner": "111122223333", "domain": "acme"}
    args.update(kw)
    return tokens.verify(RING, token, **args)  # type: ignore[arg-type]


def test_round_trip_keeps_every_claim() -> None:
    c = claims(session_issued_at=NOW - 5)
    assert check(tokens.mint(RING, c)) == c


def test_token_is_url_safe_and_short_even_for_long_principals() -> None:
    long_arn = "arn:aws:sts::111122223333:assumed-role/" + "r" * 64 + "/" + "s" * 64
    long_id = "AROA" + "R" * 17 + ":" + "s" * 64  # a role session's unique id
    token = tokens.mint(RING, claims(principal_arn=long_arn, principal_id=long_id, domain="d" * 50))
    assert set(token) <= URL_SAFE
    assert len(token) <= 1000


def test_every_byte_changed_is_refused() -> None:
    token = tokens.mint(RING, claims())
    for i, ch in enumerate(token):
        for replacement in {"A", "_", "."} - {ch}:
            tampered = token[:i] + replacement + token[i + 1 :]
            with pytest.raises(TokenError):
                check(tampered)


def test_every_truncation_is_refused() -> None:
    token = tokens.mint(RING, claims())
    for n in range(len(token)):
        with pytest.raises(TokenError):
            check(token[:n])
    with pytest.raises(TokenError):
        check(token + "A")


def test_tampered_claims_with_valid_base64_are_caught_by_the_mac() -> None:
    forged = tokens.mint(KeyRing([SigningKey("k1", b"x" * 32, 1.0)]), claims(domain="acme"))
    with pytest.raises(TamperedTokenError):
        check(forged)


def test_foreign_key_id_is_refused() -> None:
    foreign = KeyRing([SigningKey("zz", b"s" * 32, 1.0)])
    token = tokens.mint(foreign, claims(key_id="zz"))
    with pytest.raises(UnknownSigningKeyError):
        check(token)


def test_expiry_is_exact() -> None:
    token = tokens.mint(RING, claims())
    check(token, now=NOW + 899)
    with pytest.raises(ExpiredTokenError):
        check(token, now=NOW + 900)


def test_wrong_domain_or_owner_is_refused() -> None:
    token = tokens.mint(RING, claims())
    with pytest.raises(WrongDomainError):
        check(token, domain="other")
    with pytest.raises(WrongDomainError):
        check(token, domain_owner="444455556666")


def test_revoked_token_is_refused() -> None:
    token = tokens.mint(RING, claims())
    with pytest.raises(RevokedTokenError):
        check(token, is_revoked=lambda tid: tid == "t" * 24)
    assert tokens.peek_token_id(token) == "t" * 24


def test_rotation_keeps_old_tokens_valid() -> None:
    old = tokens.mint(RING, claims())
    new_key = SigningKey("k2", b"n" * 32, 2.0)
    ring = KeyRing([KEY, new_key])
    assert ring.active.key_id == "k2"
    assert tokens.verify(ring, old, now=NOW, domain_owner="111122223333", domain="acme").key_id == "k1"


@pytest.mark.parametrize("bad", ["", "cf1.", "cf1..", "cf1.a.b", "x" * 2000, "cf1.e30.AAAA", "cf1.W10.AAAA", "é"])
def test_garbage_is_malformed(bad: str) -> None:
    with pytest.raises(TokenError):
        check(bad)


@given(st.text(max_size=300))
def test_arbitrary_text_is_refused_cleanly(text: str) -> None:
    with pytest.raises(TokenError):
        check(text)


@given(st.binary(max_size=200))
def test_arbitrary_claims_payload_is_refused_cleanly(payload: bytes) -> None:
    import base64

    body = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
    with pytest.raises(TokenError):
        check(f"cf1.{body}.{'A' * 43}")


def test_malformed_is_reported_as_such() -> None:
    with pytest.raises(MalformedTokenError):
        check("not-a-token")


# every string json can carry: lone surrogates, control characters, non-ASCII, quotes and backslashes
_ANY_TEXT = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=40)
_INTS = st.integers(min_value=-(2**70), max_value=2**70)
_NOT_QUITE_INTS = st.one_of(_INTS, st.booleans(), st.floats(allow_nan=False, allow_infinity=False))


@given(
    st.lists(_ANY_TEXT, min_size=7, max_size=7),
    _NOT_QUITE_INTS,
    _NOT_QUITE_INTS,
    st.none() | _NOT_QUITE_INTS,
)
def test_hand_built_claims_json_is_json_dumps(
    texts: list[str], issued_at: int, expires_at: int, session_issued_at: int | None
) -> None:
    key_id, token_id, account, owner, domain, principal, principal_id = texts
    claims = TokenClaims(
        token_id, key_id, account, owner, domain, principal, issued_at, expires_at, session_issued_at, principal_id
    )
    expected = json.dumps(claims._to_list(), separators=(",", ":"))
    assert tokens._claims_json(claims) == expected


@given(key=st.binary(max_size=200), message=st.binary(max_size=500))
def test_the_precomputed_hmac_is_hmac_sha256(key: bytes, message: bytes) -> None:
    import hmac

    from coffer.core.shared.signing import hmac_sha256

    assert hmac_sha256(key)(message) == hmac.digest(key, message, "sha256")
