"""STS: AssumeRole, GetSessionToken and GetCallerIdentity, issuing temporary credentials (``ASIA...`` keys with a
session token that SigV4 checks) stored as sessions.

AssumeRole is authorized twice over: the caller's identity-based policies (with its own session policies, if it
is a role session) must allow ``sts:AssumeRole`` on the role ARN, *and* the role's trust policy (evaluated as a
resource-based policy with Principal matching) must allow the caller. Coffer asks for both in the same account
too; AWS lets a trust policy that names a same-account user or role directly stand alone (documented deviation).
Passing session tags needs ``sts:TagSession`` the same way. Times are whole epoch seconds, so a token asked for
with duration 0 can expire exactly with the session.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from coffer.core.identity.authorizer import Authorizer, ContextValues
from coffer.core.identity.callers import Caller
from coffer.core.identity.iam_errors import (
    IamAccessDeniedError,
    IamValidationError,
    InvalidParameterValueError,
    PackedPolicyTooLargeError,
)
from coffer.core.identity.iam_models import Role, Session
from coffer.core.identity.identity_ids import new_secret_access_key, new_session_access_key_id, new_session_token
from coffer.core.identity.key_resolution import IdentityService, parse_stored_policy
from coffer.core.policy import denial_message, evaluate, parse_policy, policy_size
from coffer.core.shared.aws_limits import MAX_SESSION_SECONDS, ONE_HOUR
from coffer.core.shared.clock import Clock
from coffer.core.shared.errors import ConflictError

SESSION_TOKEN_DEFAULT_DURATION = MAX_SESSION_SECONDS
PACKED_POLICY_LIMIT = 2048  # characters of session policy (whitespace excluded), policy ARNs and session tags
MAX_POLICY_ARNS = 10
MAX_SOURCE_IDENTITY = 64  # the model allows 256; STS takes at most 64 characters

# Parsing, not validation: the model only bounds an ARN's length and characters.
_ROLE_ARN = re.compile(r"arn:aws:iam::(?P<account>\d{12}):role(?P<path>/(?:[\x21-\x7e]+/)?)(?P<name>[\w+=,.@-]{1,64})")
_POLICY_ARN = re.compile(r"arn:aws:iam::(?:\d{12}|aws):policy/[\x21-\x7e]+")


class StsBackend(Protocol):
    def get_role(self, account_id: str, name: str) -> Role | None: ...
    def create_session(self, session: Session) -> None: ...


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: int  # epoch seconds


@dataclass(frozen=True)
class AssumedRole:
    credentials: Credentials
    assumed_role_id: str  # AROA...:session
    arn: str  # arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION
    packed_policy_size: int | None  # percent of the packed limit; None when no session policy or tags were passed
    source_identity: str | None = None


@dataclass(frozen=True)
class CallerIdentity:
    user_id: str
    account: str
    arn: str


def _validation(errors: Sequence[str]) -> IamValidationError:
    count = f"{len(errors)} validation error{'s' if len(errors) > 1 else ''} detected: "
    return IamValidationError(count + "; ".join(errors))


def _constraint(value: object, member: str, constraint: str) -> str:
    return f"Value '{value}' at '{member}' failed to satisfy constraint: Member must {constraint}"


def check_tag_keys(tags: Sequence[tuple[str, str]], transitive: Sequence[str]) -> None:
    """What the model cannot say about session tags: keys are unique (case-insensitively), and every transitive
    key is one of them."""
    lowered = [key.lower() for key, _ in tags]
    if len(set(lowered)) != len(lowered):
        raise InvalidParameterValueError("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
    missing = {key.lower() for key in transitive} - set(lowered)
    if missing:
        raise InvalidParameterValueError("The specified transitive tag key must be included in the requested tags.")


def packed_policy_size(policy: str | None, policy_arns: Sequence[str], tags: Sequence[tuple[str, str]]) -> int:
    """Percent of the packed-policy limit the session policy, policy ARNs and session tags use."""
    used = (policy_size(policy, "session") if policy is not None else 0) + sum(map(len, policy_arns))
    used += sum(len(key) + len(value) for key, value in tags)
    return -(-used * 100 // PACKED_POLICY_LIMIT)


class StsService:
    def __init__(self, store: StsBackend, identities: IdentityService, authorizer: Authorizer, clock: Clock) -> None:
        self._store = store
        self._identities = identities
        self._authorizer = authorizer
        self._clock = clock

    # --- GetCallerIdentity --------------------------------------------------------------------------------

    def get_caller_identity(self, caller: Caller) -> CallerIdentity:
        """Needs no permission (an explicit deny on sts:GetCallerIdentity is ignored, as on AWS)."""
        return CallerIdentity(user_id=caller.user_id, account=caller.account_id, arn=caller.arn)

    # --- AssumeRole ---------------------------------------------------------------------------------------

    def assume_role(
        self,
        caller: Caller,
        role_arn: str,
        session_name: str,
        *,
        duration: int | None = None,
        policy: str | None = None,
        policy_arns: Sequence[str] = (),
        tags: Sequence[tuple[str, str]] = (),
        transitive_tag_keys: Sequence[str] = (),
        external_id: str | None = None,
        source_identity: str | None = None,
    ) -> AssumedRole:
        requested = ONE_HOUR if duration is None else duration
        errors: list[str] = []
        if len(policy_arns) > MAX_POLICY_ARNS:
            errors.append(_constraint("[...]", "policyArns", f"have length less than or equal to {MAX_POLICY_ARNS}"))
        for index, arn in enumerate(policy_arns, 1):
            if not _POLICY_ARN.fullmatch(arn):
                errors.append(_constraint(arn, f"policyArns.{index}.member.arn", "be a valid IAM policy ARN"))
        if source_identity is not None and len(source_identity) > MAX_SOURCE_IDENTITY:
            errors.append(_constraint(source_identity, "sourceIdentity", "have length between 2 and 64"))
        if errors:
            raise _validation(errors)
        check_tag_keys(tags, transitive_tag_keys)
        if policy is not None:
            parse_policy(policy, "session")  # MalformedPolicyDocument, with IAM's texts
        packed = packed_policy_size(policy, policy_arns, tags)
        if packed > 100:
            raise PackedPolicyTooLargeError(
                f"Packed policy consumes {packed}% of allotted space, please use smaller policy.",
            )

        if caller.is_root:
            raise IamAccessDeniedError("Roles may not be assumed by root accounts.")
        role = self._find_role(role_arn)
        context: dict[str, str | tuple[str, ...]] = {"sts:RoleSessionName": session_name}
        if external_id is not None:
            context["sts:ExternalId"] = external_id
        if source_identity is not None:
            context["sts:SourceIdentity"] = source_identity
        if tags:
            context["aws:TagKeys"] = tuple(key for key, _ in tags)
            context["sts:TransitiveTagKeys"] = tuple(transitive_tag_keys)
            for key, value in tags:
                context[f"aws:RequestTag/{key}"] = value
        role = self._require_trusted(caller, "sts:AssumeRole", role_arn, role, context)
        if tags:
            self._require_trusted(caller, "sts:TagSession", role_arn, role, context)
        if source_identity is not None:
            self._require_trusted(caller, "sts:SetSourceIdentity", role_arn, role, context)

        chained = caller.kind == "assumed-role"
        if chained and requested > ONE_HOUR:
            raise IamValidationError(
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
            )
        if requested > role.max_session_duration:
            raise IamValidationError("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")

        session = self._create(
            account_id=role.account_id,
            duration=requested,
            role_name=role.name,
            principal_id=role.role_id,
            session_name=session_name,
            source_arn=caller.arn,
            session_policy=policy,
            session_policy_arns=tuple(policy_arns),
            tags=dict(tags),
            chained=chained,
        )
        return AssumedRole(
            credentials=_credentials(session),
            assumed_role_id=f"{role.role_id}:{session_name}",
            arn=session.arn,
            packed_policy_size=packed if policy is not None or policy_arns or tags else None,
            source_identity=source_identity,
        )

    def _find_role(self, role_arn: str) -> Role | None:
        found = _ROLE_ARN.fullmatch(role_arn)
        if found is None:
            raise IamValidationError(f"{role_arn} is invalid")
        role = self._store.get_role(found["account"], found["name"])
        if role is None or role.arn != role_arn:
            return None
        return role

    def _require_trusted(
        self, caller: Caller, action: str, role_arn: str, role: Role | None, context: ContextValues
    ) -> Role:
        """Identity-based policies (with the caller's session policies) AND the trust policy must allow; a role
        that does not exist is refused like one whose trust policy does not allow the caller."""
        request = self._authorizer.request(caller, action, role_arn, context)
        trust = parse_stored_policy(role.trust_policy, "trust") if role is not None else None
        # A resource account other than the caller's makes the engine require both grants, as across accounts.
        both = role.account_id if role is not None and role.account_id != caller.account_id else ""
        decision = evaluate(request, caller.policies, trust, both, caller.session_policies)
        if not decision.allowed or role is None:
            raise IamAccessDeniedError(denial_message(caller.arn, action, role_arn, decision))
        return role

    # --- GetSessionToken ----------------------------------------------------------------------------------

    def get_session_token(self, caller: Caller, duration: int | None = None) -> Credentials:
        """For IAM users and the root user with long-term keys; needs no permission."""
        if caller.is_session:
            raise IamAccessDeniedError("Cannot call GetSessionToken with session credentials")
        if caller.is_root:
            # AWS: the root user's sessions last at most an hour; a longer request is silently shortened.
            requested = ONE_HOUR if duration is None else min(duration, ONE_HOUR)
        else:
            requested = SESSION_TOKEN_DEFAULT_DURATION if duration is None else duration
        session = self._create(
            account_id=caller.account_id,
            duration=requested,
            role_name=None,
            principal_id=None if caller.is_root else caller.user_id,
            session_name=caller.user_name or caller.account_id,
            user_name=caller.user_name,
            source_arn=caller.arn,
        )
        return _credentials(session)

    # --- sessions -----------------------------------------------------------------------------------------

    def _create(
        self,
        *,
        account_id: str,
        duration: int,
        role_name: str | None,
        principal_id: str | None,
        session_name: str,
        source_arn: str,
        user_name: str | None = None,
        session_policy: str | None = None,
        session_policy_arns: tuple[str, ...] = (),
        tags: Mapping[str, str] | None = None,
        chained: bool = False,
    ) -> Session:
        issued = int(self._clock())
        for _ in range(3):
            session = Session(
                access_key_id=new_session_access_key_id(),
                secret_access_key=new_secret_access_key(),
                session_token=new_session_token(),
                account_id=account_id,
                expires_at=issued + duration,
                issued_at=issued,
                role_name=role_name,
                session_name=session_name,
                user_name=user_name,
                source_arn=source_arn,
                session_policy=session_policy,
                session_policy_arns=session_policy_arns,
                tags=dict(tags or {}),
                chained=chained,
                principal_id=principal_id,
            )
            try:
                self._store.create_session(session)
            except ConflictError:  # an access key id clash (2^80 ids): draw again
                continue
            return session
        raise ConflictError("Could not allocate a unique access key id", None, "session")


def _credentials(session: Session) -> Credentials:
    return Credentials(
        access_key_id=session.access_key_id,
        secret_access_key=session.secret_access_key,
        session_token=session.session_token,
        expiration=int(session.expires_at),
    )
