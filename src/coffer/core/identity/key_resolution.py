"""Key resolution: access keys (long-term and session) resolved to callers with their current policies, cached."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Iterable
from dataclasses import replace

from coffer.core.identity.callers import Caller, ResolvedKey, root_caller, split_assumed_role_arn
from coffer.core.identity.iam_models import PrincipalType, Session
from coffer.core.identity.identity_store import IdentityBackend
from coffer.core.policy import PolicyDocument, PolicyKind, parse_policy
from coffer.core.shared.cache import TtlCache
from coffer.core.shared.clock import Clock
from coffer.core.shared.errors import ExpiredTokenError

KEY_USE_INTERVAL = 60.0  # seconds between recorded uses of one access key


@functools.lru_cache(maxsize=2048)
def parse_stored_policy(document: str, kind: PolicyKind = "identity") -> PolicyDocument:
    """Stored policies were validated when written; parsed once per distinct text, without the size quota
    (AWS managed policies and role inline policies may exceed the default identity-policy limit)."""
    return parse_policy(document, kind, max_size=1 << 20)


class IdentityService:
    def __init__(self, store: IdentityBackend, clock: Clock, cache_ttl: float = 1.0) -> None:
        self._store = store
        self._clock = clock
        self._keys: TtlCache[str, ResolvedKey | None] = TtlCache(clock, cache_ttl)
        self._principals: TtlCache[tuple[str, int | None], Caller | None] = TtlCache(clock, cache_ttl)
        self._last_recorded: dict[str, float] = {}

    def resolve_access_key(self, access_key_id: str) -> ResolvedKey | None:
        """The key's secret, session token and caller; None for an unknown or inactive key (the endpoints
        answer UnrecognizedClientException). Raises ExpiredTokenError for an expired session's key."""
        resolved = self._keys.get_or_load(access_key_id, self._load_key_snapshot)
        if resolved is not None:
            expires = resolved.caller.session_expires_at
            if expires is not None and self._clock() >= expires:
                raise ExpiredTokenError()
        return resolved

    def _load_key_snapshot(self, access_key_id: str) -> ResolvedKey | None:
        with self._store.snapshot():  # a dozen reads (the key, the user, policies, groups, tags): one transaction
            return self._load_key(access_key_id)

    def _load_key(self, access_key_id: str) -> ResolvedKey | None:
        if access_key_id.startswith("ASIA"):
            return self._load_session_key(access_key_id)
        key = self._store.get_access_key(access_key_id)
        if key is None or key.status != "Active":
            return None
        if key.user_name is None:
            return ResolvedKey(key.secret_access_key, None, root_caller(key.account_id, access_key_id))
        caller = self.load_user_caller(key.account_id, key.user_name)
        if caller is None or caller.user_id != key.user_id:
            return None  # the user is gone, or the name now belongs to another user
        return ResolvedKey(key.secret_access_key, None, replace(caller, access_key_id=access_key_id))

    def _load_session_key(self, access_key_id: str) -> ResolvedKey | None:
        session = self._store.get_session(access_key_id)
        if session is None:
            return None
        caller = self.session_caller(session)
        if caller is None:
            return None
        return ResolvedKey(session.secret_access_key, session.session_token, caller)

    def session_caller(self, session: Session) -> Caller | None:
        """The caller behind temporary credentials, with the role's (or user's) current policies; None when
        the role or user is gone. Expiry is not checked here."""
        if session.role_name is None:
            if session.user_name is None:
                base = root_caller(session.account_id, session.access_key_id)
            else:
                loaded = self.load_user_caller(session.account_id, session.user_name)
                if loaded is None or loaded.user_id != session.principal_id:
                    return None  # the user is gone, or the name now belongs to another user
                base = loaded
            return replace(
                base,
                access_key_id=session.access_key_id,
                session_expires_at=session.expires_at,
                session_issued_at=session.issued_at,
            )
        role = self._store.get_role(session.account_id, session.role_name)
        if role is None or role.role_id != session.principal_id:
            return None  # the role is gone, or the name now belongs to another role
        tags = dict(self._store.get_tags(role.arn))
        tags.update(session.tags)
        session_policies: list[PolicyDocument] = []
        if session.session_policy is not None:
            session_policies.append(parse_stored_policy(session.session_policy, "session"))
        for arn in session.session_policy_arns:
            session_policies.extend(self._managed_documents([arn]))
        restricted = session.session_policy is not None or bool(session.session_policy_arns)
        return Caller(
            account_id=session.account_id,
            arn=session.arn,
            user_id=f"{role.role_id}:{session.session_name}",
            user_name=None,
            kind="assumed-role",
            access_key_id=session.access_key_id,
            policies=self._principal_policies(session.account_id, "role", role.name),
            session_expires_at=session.expires_at,
            session_issued_at=session.issued_at,
            session_policies=tuple(session_policies) if restricted else None,
            principal_tags=tuple(sorted(tags.items())),
            role_name=role.name,
            chained=session.chained,
        )

    def _managed_documents(self, arns: Iterable[str]) -> list[PolicyDocument]:
        """The default versions of managed policies; a policy that no longer exists grants nothing."""
        out: list[PolicyDocument] = []
        for arn in arns:
            policy = self._store.get_managed_policy(arn)
            if policy is None:
                continue
            version = self._store.get_policy_version(arn, policy.default_version_id)
            if version is not None:
                out.append(parse_stored_policy(version.document))
        return out

    def _principal_policies(
        self, account_id: str, principal_type: PrincipalType, name: str
    ) -> tuple[PolicyDocument, ...]:
        """Inline and attached managed policies of a user, group or role (a user's groups' ones too)."""
        inline = self._store.list_inline_policies(account_id, principal_type, name)
        docs = [parse_stored_policy(p.document) for p in inline]
        docs.extend(
            self._managed_documents(p.arn for p in self._store.list_attached_policies(account_id, principal_type, name))
        )
        if principal_type == "user":
            for group in self._store.list_groups_for_user(account_id, name):
                docs.extend(self._principal_policies(account_id, "group", group.name))
        return tuple(docs)

    def load_user_caller(self, account_id: str, user_name: str) -> Caller | None:
        user = self._store.get_user(account_id, user_name)
        if user is None:
            return None
        return Caller(
            account_id=account_id,
            arn=user.arn,
            user_id=user.user_id,
            user_name=user.name,
            kind="user",
            access_key_id="",
            policies=self._principal_policies(account_id, "user", user_name),
            principal_tags=tuple(sorted(self._store.get_tags(user.arn).items())),
        )

    def caller_for_principal(
        self, principal_arn: str, principal_id: str, session_issued_at: int | None = None
    ) -> Caller | None:
        """The current identity behind an ARN a token was minted for (policies as they are now), or None
        when it no longer exists or the ARN now names another principal (``principal_id``, the ``user_id`` the
        caller had when the token was minted, differs: a user or role deleted and re-created under its name).
        ``session_issued_at`` is the issue time (whole seconds) of the temporary credentials that minted the
        token: the token acts for that session (its session policies and tags, ``aws:TokenIssueTime``), also
        after the session itself expired. Cached for the same short time as keys."""
        caller = self._principals.get_or_load((principal_arn, session_issued_at), self._load_principal)
        if caller is None or not hmac.compare_digest(caller.user_id, principal_id):
            return None
        return caller

    def _load_principal(self, key: tuple[str, int | None]) -> Caller | None:
        with self._store.snapshot():  # as _load_key_snapshot
            return self._load_principal_now(*key)

    def _load_principal_now(self, principal_arn: str, issued: int | None) -> Caller | None:
        role_session = split_assumed_role_arn(principal_arn)
        if role_session is not None:
            return None if issued is None else self._load_role_session(*role_session, issued)
        parts = principal_arn.split(":", 5)
        if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("user/"):
            return None
        name = parts[5].rsplit("/", 1)[-1]
        caller = self.load_user_caller(parts[4], name)
        if caller is None or caller.arn != principal_arn:
            return None
        return caller if issued is None else replace(caller, session_issued_at=float(issued))

    def _load_role_session(self, account_id: str, role_name: str, session_name: str, issued: int) -> Caller | None:
        sessions = self._store.find_role_sessions(account_id, role_name, session_name, issued)
        callers = [caller for caller in map(self.session_caller, sessions) if caller is not None]
        if not callers:
            return None
        # Two sessions of one name issued in the same second are one principal to a token only if they carry
        # the same session policies and tags; otherwise the token cannot tell which one minted it.
        first = callers[0]
        if any(
            (c.session_policies, c.principal_tags) != (first.session_policies, first.principal_tags)
            for c in callers[1:]
        ):
            return None
        chosen = max(callers, key=lambda c: c.session_issued_at or 0.0)
        return replace(chosen, access_key_id="", session_issued_at=float(issued))

    def key_use_due(self, access_key_id: str) -> bool:
        """Whether a use of this long-term key should be recorded now (GetAccessKeyLastUsed): at most once a
        minute per key, so authentication stays a read-only path."""
        if not access_key_id.startswith("AKIA"):
            return False
        now = self._clock()
        if now - self._last_recorded.get(access_key_id, 0.0) < KEY_USE_INTERVAL:
            return False
        if len(self._last_recorded) > 100_000:
            self._last_recorded.clear()
        self._last_recorded[access_key_id] = now
        return True

    def record_key_use(self, access_key_id: str, service: str, region: str) -> None:
        self._store.record_access_key_use(access_key_id, self._clock(), service, region)

    def invalidate(self) -> None:
        """Forget cached identities (after a change made through this process)."""
        self._keys.invalidate()
        self._principals.invalidate()
