"""Who is calling: access keys resolved to principals with their policies, and IAM-style administration."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, replace

from coffer.core.arns import root_arn
from coffer.core.cache import TtlCache
from coffer.core.errors import ConflictError, ResourceNotFoundError, ValidationError
from coffer.core.models import AccessKey, Account, NamedPolicy, User
from coffer.core.policy import PolicyDocument, PrincipalKind, parse_policy
from coffer.core.ports import Clock, IdentityStore

ADMIN_USER = "admin"
ADMIN_POLICY_NAME = "AdministratorAccess"
ADMIN_POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
LONG_TERM_SESSION_SECONDS = 43200  # what duration=0 means for long-term keys (spec §1)

_ID_ALPHABET = string.ascii_uppercase + "234567"
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"
_USER_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "+=,.@_-")


def _random(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def new_access_key_id() -> str:
    return "AKIA" + _random(_ID_ALPHABET, 16)


def new_secret_access_key() -> str:
    return _random(_SECRET_ALPHABET, 40)


def new_user_id() -> str:
    return "AIDA" + _random(_ID_ALPHABET, 17)


def new_account_id() -> str:
    return str(secrets.randbelow(9 * 10**11) + 10**11)


def validate_user_name(name: str) -> None:
    if not 1 <= len(name) <= 64 or not _USER_NAME_CHARS.issuperset(name):
        raise ValidationError(
            f"Invalid user name {name!r}: 1 to 64 characters from letters, digits and +=,.@_-",
        )


@dataclass(frozen=True)
class Caller:
    """The authenticated principal of one request."""

    account_id: str
    arn: str
    user_id: str
    user_name: str | None
    kind: PrincipalKind  # "user" | "root" | "assumed-role"
    access_key_id: str
    policies: tuple[PolicyDocument, ...]
    session_expires_at: float | None = None  # None: long-term credentials
    session_issued_at: float | None = None
    source_ip: str | None = None

    @property
    def is_root(self) -> bool:
        return self.kind == "root"


@dataclass(frozen=True)
class ResolvedKey:
    """An access key with what verifying and authorizing its requests needs."""

    secret_access_key: str
    session_token: str | None  # temporary credentials must present this
    caller: Caller


class IdentityService:
    def __init__(self, store: IdentityStore, clock: Clock, cache_ttl: float = 1.0) -> None:
        self._store = store
        self._clock = clock
        self._keys: TtlCache[str, ResolvedKey | None] = TtlCache(clock, cache_ttl)
        self._principals: TtlCache[str, Caller | None] = TtlCache(clock, cache_ttl)

    # --- authentication -------------------------------------------------------------------------------

    def resolve_access_key(self, access_key_id: str) -> ResolvedKey | None:
        return self._keys.get_or_load(access_key_id, self._load_key)

    def _load_key(self, access_key_id: str) -> ResolvedKey | None:
        key = self._store.get_access_key(access_key_id)
        if key is None or key.status != "Active":
            return None
        if key.user_name is None:
            return ResolvedKey(key.secret_access_key, None, root_caller(key.account_id, access_key_id))
        caller = self.load_user_caller(key.account_id, key.user_name)
        if caller is None:
            return None
        return ResolvedKey(key.secret_access_key, None, replace(caller, access_key_id=access_key_id))

    def load_user_caller(self, account_id: str, user_name: str) -> Caller | None:
        user = self._store.get_user(account_id, user_name)
        if user is None:
            return None
        policies = tuple(
            parse_policy(p.document, "identity") for p in self._store.list_user_policies(account_id, user_name)
        )
        return Caller(
            account_id=account_id,
            arn=user.arn,
            user_id=user.user_id,
            user_name=user.name,
            kind="user",
            access_key_id="",
            policies=policies,
        )

    def caller_for_principal(self, principal_arn: str) -> Caller | None:
        """The current identity behind an ARN a token was minted for (policies as they are now), or None
        when it no longer exists. Cached for the same short time as keys."""
        return self._principals.get_or_load(principal_arn, self._load_principal)

    def _load_principal(self, principal_arn: str) -> Caller | None:
        parts = principal_arn.split(":", 5)
        if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("user/"):
            return None
        name = parts[5].rsplit("/", 1)[-1]
        return self.load_user_caller(parts[4], name)

    def invalidate(self) -> None:
        """Forget cached identities (after a change made through this process)."""
        self._keys.invalidate()
        self._principals.invalidate()

    # --- administration -------------------------------------------------------------------------------

    def ensure_account(self, account_id: str) -> Account:
        existing = self._store.get_account(account_id)
        if existing is not None:
            return existing
        account = Account(account_id=account_id, created_at=self._clock())
        self._store.create_account(account)
        return account

    def create_user(self, account_id: str, name: str) -> User:
        validate_user_name(name)
        if self._store.get_account(account_id) is None:
            raise ResourceNotFoundError(f"Account {account_id} does not exist", account_id, "account")
        user = User(account_id=account_id, name=name, user_id=new_user_id(), created_at=self._clock())
        self._store.create_user(user)
        return user

    def create_access_key(self, account_id: str, user_name: str) -> AccessKey:
        if len(self._store.list_access_keys(account_id, user_name)) >= 2:
            raise ConflictError(f"Cannot exceed quota for AccessKeysPerUser: 2 (user {user_name})", user_name, "user")
        key = AccessKey(
            access_key_id=new_access_key_id(),
            secret_access_key=new_secret_access_key(),
            account_id=account_id,
            user_name=user_name,
            created_at=self._clock(),
        )
        self._store.create_access_key(key)
        self.invalidate()
        return key

    def create_root_access_key(self, account_id: str) -> AccessKey:
        """An access key of the account's root user (AWS discourages them; Coffer has them for tests of that)."""
        if self._store.get_account(account_id) is None:
            raise ResourceNotFoundError(f"Account {account_id} does not exist", account_id, "account")
        key = AccessKey(
            access_key_id=new_access_key_id(),
            secret_access_key=new_secret_access_key(),
            account_id=account_id,
            user_name=None,
            created_at=self._clock(),
        )
        self._store.create_access_key(key)
        self.invalidate()
        return key

    def put_user_policy(self, account_id: str, user_name: str, policy_name: str, document: str) -> None:
        parse_policy(document, "identity")  # MalformedPolicyDocument before anything is stored
        if not 1 <= len(policy_name) <= 128 or not _USER_NAME_CHARS.issuperset(policy_name):
            raise ValidationError(f"Invalid policy name {policy_name!r}")
        self._store.put_user_policy(account_id, user_name, NamedPolicy(policy_name, document))
        self.invalidate()

    def delete_user_policy(self, account_id: str, user_name: str, policy_name: str) -> None:
        self._store.delete_user_policy(account_id, user_name, policy_name)
        self.invalidate()

    def list_users(self, account_id: str) -> list[User]:
        return self._store.list_users(account_id)

    def list_access_keys(self, account_id: str, user_name: str) -> list[AccessKey]:
        return self._store.list_access_keys(account_id, user_name)

    def list_user_policies(self, account_id: str, user_name: str) -> list[NamedPolicy]:
        return self._store.list_user_policies(account_id, user_name)

    def delete_user(self, account_id: str, name: str) -> None:
        self._store.delete_user(account_id, name)
        self.invalidate()

    def bootstrap_admin(self, account_id: str) -> AccessKey | None:
        """Make sure the account has its ``admin`` user with full access. Returns a new access key when the
        user was created now (the caller writes it to the credentials file), else None."""
        self.ensure_account(account_id)
        if self._store.get_user(account_id, ADMIN_USER) is not None:
            return None
        self.create_user(account_id, ADMIN_USER)
        self.put_user_policy(account_id, ADMIN_USER, ADMIN_POLICY_NAME, ADMIN_POLICY)
        return self.create_access_key(account_id, ADMIN_USER)


def root_caller(account_id: str, access_key_id: str) -> Caller:
    return Caller(
        account_id=account_id,
        arn=root_arn(account_id),
        user_id=account_id,
        user_name=None,
        kind="root",
        access_key_id=access_key_id,
        policies=(),
    )
