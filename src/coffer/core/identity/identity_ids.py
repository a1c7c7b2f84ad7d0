"""Random identifiers in AWS's formats: account ids, the unique ids of users, groups, roles and policies, access
key ids and secrets, session tokens."""

from __future__ import annotations

import secrets
import string

_ID_ALPHABET = string.ascii_uppercase + "234567"
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"


def _random(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def new_account_id() -> str:
    return str(secrets.randbelow(9 * 10**11) + 10**11)


def new_user_id() -> str:
    return "AIDA" + _random(_ID_ALPHABET, 17)


def new_role_id() -> str:
    return "AROA" + _random(_ID_ALPHABET, 17)


def new_group_id() -> str:
    return "AGPA" + _random(_ID_ALPHABET, 17)


def new_policy_id() -> str:
    return "ANPA" + _random(_ID_ALPHABET, 17)


def new_access_key_id() -> str:
    return "AKIA" + _random(_ID_ALPHABET, 16)


def new_session_access_key_id() -> str:
    return "ASIA" + _random(_ID_ALPHABET, 16)


def new_secret_access_key() -> str:
    return _random(_SECRET_ALPHABET, 40)


def new_session_token() -> str:
    """Opaque, long and URL-safe (AWS's are several hundred characters)."""
    return secrets.token_urlsafe(240)
