"""StsService, IdentityService (temporary credentials) and session-aware authorization on the real SqlStore
(a temporary SQLite file) with a FixedClock."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from coffer.aws.query_form import validate_params
from coffer.aws.query_model import load_query_service
from coffer.aws.query_xml import query_error
from coffer.core.codeartifact.authorization_tokens import AuthorizationTokenService, PrincipalGoneError
from coffer.core.codeartifact.deps import Deps
from coffer.core.codeartifact.resources import Domain
from coffer.core.identity.authorizer import Authorizer
from coffer.core.identity.callers import Caller, root_caller
from coffer.core.identity.iam_models import Group, ManagedPolicy, NamedPolicy, Role
from coffer.core.identity.iam_service import IamService
from coffer.core.identity.identity_ids import new_user_id
from coffer.core.identity.key_resolution import IdentityService
from coffer.core.identity.managed_policies import ensure_aws_managed_policies
from coffer.core.identity.sts import StsService
from coffer.core.policy import MalformedPolicyDocumentError
from coffer.core.shared.clock import FixedClock
from coffer.core.shared.errors import AccessDeniedError, ExactCodeError, ExpiredTokenError, ValidationError
from coffer.core.shared.pagination import Paginator
from coffer.core.shared.signing import KeyRing, SigningKey
from coffer.store.sql_store import SqlStore

REGION = "us-east-1"
A = "111122223333"
B = "444455556666"
T0 = 1_800_000_000.0
ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def trust(*principals: str) -> str:
    return doc(
        {"Effect": "Allow", "Principal": {"AWS": list(principals)}, "Action": ["sts:AssumeRole", "sts:TagSession"]}
    )


class World:
    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.clock = FixedClock(T0)
        self.identities = IdentityService(store, self.clock)
        self.authorizer = Authorizer(self.clock, REGION)
        self.sts = StsService(store, self.identities, self.authorizer, self.clock)
        self.ring = KeyRing([SigningKey.generate(0.0)])
        self.deps = Deps(
            store=store,
            clock=self.clock,
            region=REGION,
            authorizer=self.authorizer,
            paginator=Paginator(lambda: self.ring),
        )
        self.tokens = AuthorizationTokenService(self.deps, self.identities, lambda: self.ring)
        self.iam = IamService(store, self.identities, self.authorizer, self.clock)
        for account in (A, B):
            self.iam.ensure_account(account)

    def user(self, name: str, policy: str | None = ALLOW_ALL, account: str = A) -> Caller:
        root = root_caller(account, "")
        self.iam.create_user(root, name)
        if policy is not None:
            self.iam.put_inline_policy(root, "user", name, "p", policy)
        key = self.iam.create_access_key(root, name)
        return self.caller(key.access_key_id)

    def root(self, account: str = A) -> Caller:
        return self.caller(self.iam.create_access_key(root_caller(account, "")).access_key_id)

    def caller(self, access_key_id: str) -> Caller:
        self.identities.invalidate()
        resolved = self.identities.resolve_access_key(access_key_id)
        assert resolved is not None
        return resolved.caller

    def role(self, name: str, trust_policy: str, policy: str | None = ALLOW_ALL, account: str = A, **kw: Any) -> Role:
        role = Role(
            account_id=account,
            name=name,
            role_id="AROA" + new_user_id()[4:],
            trust_policy=trust_policy,
            created_at=T0,
            **kw,
        )
        self.store.create_role(role)
        if policy is not None:
            self.store.put_inline_policy(account, "role", name, NamedPolicy("p", policy))
        return role

    def assume(self, caller: Caller, role: Role, session: str = "s1", **kw: Any) -> Caller:
        out = self.sts.assume_role(caller, role.arn, session, **kw)
        return self.caller(out.credentials.access_key_id)


@pytest.fixture
def w(store: SqlStore) -> World:
    return World(store)


def allowed(w: World, caller: Caller, action: str, resource: str = "*", **kw: Any) -> bool:
    return w.authorizer.decide(caller, action, resource, **kw).allowed


def wire_error(operation: str, params: dict[str, Any]) -> tuple[str, str]:
    """(code, message) STS answers for ``params`` that the model refuses, before the service runs."""
    with pytest.raises(ValidationError) as err:
        validate_params(load_query_service("sts").operations[operation], params)
    return query_error(err.value, load_query_service("sts"))[0], err.value.message


def error_of(exc: pytest.ExceptionInfo[ExactCodeError]) -> tuple[str, str]:
    return exc.value.code, exc.value.message


# --- AssumeRole ---------------------------------------------------------------------------------------------


def test_assume_role_issues_temporary_credentials(w: World) -> None:
    alice = w.user("alice")
    role = w.role("Builder", trust(alice.arn))
    out = w.sts.assume_role(alice, role.arn, "ci-42", duration=900)
    c = out.credentials
    assert c.access_key_id.startswith("ASIA") and len(c.access_key_id) == 20
    assert len(c.secret_access_key) == 40 and len(c.session_token) > 200
    assert c.expiration == int(T0) + 900
    assert out.arn == f"arn:aws:sts::{A}:assumed-role/Builder/ci-42"
    assert out.assumed_role_id == f"{role.role_id}:ci-42"
    assert out.packed_policy_size is None

    resolved = w.identities.resolve_access_key(c.access_key_id)
    assert resolved is not None
    assert resolved.secret_access_key == c.secret_access_key
    assert resolved.session_token == c.session_token
    session = resolved.caller
    assert session.kind == "assumed-role" and session.arn == out.arn
    assert session.user_id == out.assumed_role_id
    assert session.session_expires_at == c.expiration and session.session_issued_at == int(T0)
    assert session.session_policies is None
    who = w.sts.get_caller_identity(session)
    assert (who.user_id, who.account, who.arn) == (out.assumed_role_id, A, out.arn)


def test_default_duration_is_an_hour_and_role_max_is_enforced(w: World) -> None:
    alice = w.user("alice")
    role = w.role("R", trust(alice.arn), max_session_duration=7200)
    assert w.sts.assume_role(alice, role.arn, "s1").credentials.expiration == int(T0) + 3600
    assert w.sts.assume_role(alice, role.arn, "s1", duration=7200).credentials.expiration == int(T0) + 7200
    with pytest.raises(ExactCodeError) as err:
        w.sts.assume_role(alice, role.arn, "s1", duration=7201)
    assert error_of(err) == (
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    )


@pytest.mark.parametrize(
    ("duration", "fragment"),
    [
        (
            899,
            "Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900",
        ),
        (43201, "Member must have value less than or equal to 43200"),
    ],
)
def test_duration_bounds(w: World, duration: int, fragment: str) -> None:
    alice = w.user("alice")
    role = w.role("R", trust(alice.arn))
    code, message = wire_error(
        "AssumeRole", {"RoleArn": role.arn, "RoleSessionName": "s1", "DurationSeconds": duration}
    )
    assert code == "ValidationError"
    assert message.startswith("1 validation error detected: ") and fragment in message


@pytest.mark.parametrize("name", ["a", "x" * 65, "bad name", "naïve", "a/b"])
def test_role_session_name_is_validated(w: World, name: str) -> None:
    alice = w.user("alice")
    role = w.role("R", trust(alice.arn))
    code, message = wire_error("AssumeRole", {"RoleArn": role.arn, "RoleSessionName": name})
    assert code == "ValidationError" and "'roleSessionName'" in message


@pytest.mark.parametrize("name", ["ab", "x" * 64, "a+b=c,d.e@f-g_h"])
def test_role_session_name_accepts_the_pattern(w: World, name: str) -> None:
    alice = w.user("alice")
    role = w.role("R", trust(alice.arn))
    assert w.sts.assume_role(alice, role.arn, name).arn.endswith("/" + name)


def test_role_chaining_is_capped_at_one_hour(w: World) -> None:
    alice = w.user("alice")
    first = w.role("First", trust(alice.arn), max_session_duration=43200)
    second = w.role("Second", trust(first.arn), max_session_duration=43200)
    session = w.assume(alice, first, duration=43200)
    with pytest.raises(ExactCodeError) as err:
        w.sts.assume_role(session, second.arn, "chained", duration=3601)
    assert error_of(err) == (
        "ValidationError",
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
    )
    chained = w.assume(session, second, "chained", duration=3600)
    assert chained.chained and chained.session_expires_at == int(T0) + 3600
    assert chained.arn == f"arn:aws:sts::{A}:assumed-role/Second/chained"


def test_trust_policy_must_allow_the_caller(w: World) -> None:
    alice = w.user("alice")
    bob = w.user("bob")
    role = w.role("R", trust(alice.arn))
    with pytest.raises(ExactCodeError) as err:
        w.sts.assume_role(bob, role.arn, "s1")
    assert error_of(err) == (
        "AccessDenied",
        f"User: {bob.arn} is not authorized to perform: sts:AssumeRole on resource: {role.arn} "
        "because no resource-based policy allows the sts:AssumeRole action",
    )


def test_identity_policy_must_allow_too(w: World) -> None:
    carol = w.user("carol", policy=doc({"Effect": "Allow", "Action": "codeartifact:*", "Resource": "*"}))
    role = w.role("R", trust(carol.arn))
    with pytest.raises(ExactCodeError) as err:
        w.sts.assume_role(carol, role.arn, "s1")
    assert err.value.code == "AccessDenied"
    assert err.value.message.endswith("because no identity-based policy allows the sts:AssumeRole action")


def test_explicit_deny_in_trust_policy_wins(w: World) -> None:
    alice = w.user("alice")
    policy = json.loads(trust(A))
    policy["Statement"].append({"Effect": "Deny", "Principal": {"AWS": alice.arn}, "Action": "sts:AssumeRole"})
    role = w.role("R", json.dumps(policy))
    with pytest.raises(ExactCodeError) as err:
        w.sts.assume_role(alice, role.arn, "s1")
    assert err.value.message.endswith("with an explicit deny in a resource-based policy")


def test_missing_role_and_root_are_refused(w: World) -> None:
    alice = w.user("alice")
    with pytest.raises(ExactCodeError) as err:
        w.sts.assume_role(alice, f"arn:aws:iam::{A}:role/Nope", "s1")
    assert err.value.code == "AccessDenied"
    root = w.root()
    role = w.role("R", trust(A))
    with pytest.raises(ExactCodeError) as err:
        w.sts.assume_role(root, role.arn, "s1")
    assert error_of(err) == ("AccessDenied", "Roles may not be assumed by root accounts.")
    with pytest.raises(ExactCodeError) as err:
        w.sts.assume_role(alice, "not-an-arn-at-all-really", "s1")
    assert err.value.code == "ValidationError"


def test_role_path_must_match(w: World) -> None:
    alice = w.user("alice")
    role = w.role("R", trust(alice.arn), path="/team/")
    assert role.arn == f"arn:aws:iam::{A}:role/team/R"
    assert w.sts.assume_role(alice, role.arn, "s1").arn == f"arn:aws:sts::{A}:assumed-role/R/s1"
    with pytest.raises(ExactCodeError):
        w.sts.assume_role(alice, f"arn:aws:iam::{A}:role/R", "s1")


def test_cross_account_needs_identity_policy_and_trust(w: World) -> None:
    alice = w.user("alice")  # account A, allowed everything
    carol = w.user("carol", policy=doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))
    role = w.role("Shared", trust(A), account=B)
    session = w.assume(alice, role)
    assert session.account_id == B and session.arn == f"arn:aws:sts::{B}:assumed-role/Shared/s1"
    with pytest.raises(ExactCodeError) as err:
        w.sts.assume_role(carol, role.arn, "s1")
    assert err.value.message.endswith("because no identity-based policy allows the sts:AssumeRole action")
    other = w.role("Private", trust(B), account=B)
    with pytest.raises(ExactCodeError) as err:
        w.sts.assume_role(alice, other.arn, "s1")
    assert err.value.message.endswith("because no resource-based policy allows the sts:AssumeRole action")


# --- session policies and tags ------------------------------------------------------------------------------


def test_inline_session_policy_intersects(w: World) -> None:
    alice = w.user("alice")
    role = w.role("R", trust(alice.arn))
    read_only = doc({"Effect": "Allow", "Action": "codeartifact:ReadFromRepository", "Resource": "*"})
    out = w.sts.assume_role(alice, role.arn, "s1", policy=read_only)
    assert out.packed_policy_size is not None and 0 < out.packed_policy_size <= 100
    session = w.caller(out.credentials.access_key_id)
    assert session.session_policies is not None
    assert allowed(w, session, "codeartifact:ReadFromRepository")
    decision = w.authorizer.decide(session, "codeartifact:PublishPackageVersion", "*")
    assert not decision.allowed and decision.reason.name == "NO_SESSION_ALLOW"
    with pytest.raises(AccessDeniedError, match="because no session policy allows"):
        w.authorizer.require(session, "codeartifact:PublishPackageVersion", "*")


def test_session_policy_cannot_grant_more_than_the_role(w: World) -> None:
    alice = w.user("alice")
    role = w.role("R", trust(alice.arn), policy=doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))
    session = w.assume(alice, role, policy=ALLOW_ALL)
    assert allowed(w, session, "s3:GetObject")
    assert not allowed(w, session, "codeartifact:ReadFromRepository")


def test_managed_session_policies(w: World) -> None:
    ensure_aws_managed_policies(w.store, w.clock)
    alice = w.user("alice")
    role = w.role("R", trust(alice.arn))
    ro = "arn:aws:iam::aws:policy/AWSCodeArtifactReadOnlyAccess"
    session = w.assume(alice, role, policy_arns=[ro])
    assert allowed(w, session, "codeartifact:ReadFromRepository")
    assert not allowed(w, session, "codeartifact:PublishPackageVersion")
    assert not allowed(w, session, "iam:CreateUser")


def test_malformed_and_oversized_session_policies(w: World) -> None:
    alice = w.user("alice")
    role = w.role("R", trust(alice.arn))
    with pytest.raises(MalformedPolicyDocumentError):
        w.sts.assume_role(alice, role.arn, "s1", policy='{"Statement": 1}')
    big = doc(*({"Effect": "Allow", "Action": f"s3:Get{i:04d}", "Resource": "*"} for i in range(20)))
    arns = [f"arn:aws:iam::{A}:policy/{'p' * 100}{i}" for i in range(10)]
    with pytest.raises(ExactCodeError) as err:
        w.sts.assume_role(alice, role.arn, "s1", policy=big, policy_arns=arns)
    assert err.value.code == "PackedPolicyTooLarge"
    assert err.value.message.startswith("Packed policy consumes ")


def test_session_tags_are_principal_tags(w: World) -> None:
    alice = w.user("alice")
    tagged = doc(
        {
            "Effect": "Allow",
            "Action": "codeartifact:*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}},
        }
    )
    role = w.role("R", trust(alice.arn), policy=tagged)
    blue = w.assume(alice, role, tags=[("team", "blue")])
    assert dict(blue.principal_tags) == {"team": "blue"}
    assert allowed(w, blue, "codeartifact:ReadFromRepository")
    red = w.assume(alice, role, "s2", tags=[("team", "red")])
    assert not allowed(w, red, "codeartifact:ReadFromRepository")
    with pytest.raises(ExactCodeError) as err:
        w.sts.assume_role(alice, role.arn, "s1", tags=[("Team", "a"), ("team", "b")])
    assert err.value.code == "InvalidParameterValue"


def test_session_tags_need_tag_session_in_the_trust_policy(w: World) -> None:
    alice = w.user("alice")
    only_assume = doc({"Effect": "Allow", "Principal": {"AWS": alice.arn}, "Action": "sts:AssumeRole"})
    role = w.role("R", only_assume)
    w.assume(alice, role)
    with pytest.raises(ExactCodeError) as err:
        w.sts.assume_role(alice, role.arn, "s1", tags=[("team", "blue")])
    assert "sts:TagSession" in err.value.message


def test_trust_policy_conditions_see_the_request(w: World) -> None:
    alice = w.user("alice")
    conditioned = doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": alice.arn},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": "xyz-123"}},
        }
    )
    role = w.role("R", conditioned)
    with pytest.raises(ExactCodeError):
        w.sts.assume_role(alice, role.arn, "s1")
    w.sts.assume_role(alice, role.arn, "s1", external_id="xyz-123")


# --- temporary credentials ------------------------------------------------------------------------------------


def test_expired_session_is_expired_token(w: World) -> None:
    alice = w.user("alice")
    role = w.role("R", trust(alice.arn))
    out = w.sts.assume_role(alice, role.arn, "s1", duration=900)
    key = out.credentials.access_key_id
    assert w.identities.resolve_access_key(key) is not None  # cached from now on
    w.clock.advance(899)
    assert w.identities.resolve_access_key(key) is not None
    w.clock.advance(1)
    with pytest.raises(ExpiredTokenError, match="The security token included in the request is expired"):
        w.identities.resolve_access_key(key)
    assert w.identities.resolve_access_key("ASIA" + "A" * 16) is None


def test_role_policies_are_read_fresh(w: World) -> None:
    alice = w.user("alice")
    role = w.role("R", trust(alice.arn), policy=None)
    session = w.assume(alice, role)
    assert not allowed(w, session, "codeartifact:ReadFromRepository")
    w.store.put_inline_policy(A, "role", "R", NamedPolicy("p", ALLOW_ALL))
    w.identities.invalidate()
    assert allowed(w, w.caller(session.access_key_id), "codeartifact:ReadFromRepository")


def test_user_policies_include_groups_and_managed(w: World) -> None:
    ensure_aws_managed_policies(w.store, w.clock)
    dave = w.user("dave", policy=None)
    assert not allowed(w, dave, "codeartifact:ReadFromRepository")
    w.store.attach_policy(A, "user", "dave", "arn:aws:iam::aws:policy/AWSCodeArtifactReadOnlyAccess")
    assert allowed(w, w.caller(dave.access_key_id), "codeartifact:ReadFromRepository")
    w.store.create_group(Group(A, "devs", "AGPA" + new_user_id()[4:], T0))
    w.store.add_user_to_group(A, "devs", "dave")
    w.store.put_inline_policy(
        A, "group", "devs", NamedPolicy("g", doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))
    )
    custom = ManagedPolicy(A, "Pub", "ANPA" + new_user_id()[4:], "v1", T0, T0)
    w.store.create_managed_policy(custom, doc({"Effect": "Allow", "Action": "codeartifact:Publish*", "Resource": "*"}))
    w.store.attach_policy(A, "group", "devs", custom.arn)
    dave = w.caller(dave.access_key_id)
    assert allowed(w, dave, "s3:GetObject")
    assert allowed(w, dave, "codeartifact:PublishPackageVersion")


def test_get_session_token(w: World) -> None:
    alice = w.user("alice")
    creds = w.sts.get_session_token(alice)
    assert creds.expiration == int(T0) + 43200 and creds.access_key_id.startswith("ASIA")
    session = w.caller(creds.access_key_id)
    assert (session.kind, session.arn, session.user_id) == ("user", alice.arn, alice.user_id)
    assert session.session_expires_at == int(T0) + 43200 and session.session_issued_at == int(T0)
    assert allowed(w, session, "codeartifact:ReadFromRepository")
    assert w.sts.get_caller_identity(session).arn == alice.arn
    with pytest.raises(ExactCodeError) as err:
        w.sts.get_session_token(session)
    assert error_of(err) == ("AccessDenied", "Cannot call GetSessionToken with session credentials")
    assert w.sts.get_session_token(alice, 129600).expiration == int(T0) + 129600
    assert "less than or equal to 129600" in wire_error("GetSessionToken", {"DurationSeconds": 129601})[1]
    role_session = w.assume(alice, w.role("R", trust(alice.arn)))
    with pytest.raises(ExactCodeError):
        w.sts.get_session_token(role_session)


def test_root_session_token_is_capped_at_an_hour(w: World) -> None:
    root = w.root()
    creds = w.sts.get_session_token(root, 7200)
    assert creds.expiration == int(T0) + 3600
    session = w.caller(creds.access_key_id)
    assert session.is_root and session.arn == f"arn:aws:iam::{A}:root"


# --- CodeArtifact tokens minted by sessions ---------------------------------------------------------------------


@pytest.fixture
def domain(w: World) -> str:
    w.store.create_domain(Domain("dom", A, f"arn:aws:codeartifact:{REGION}:{A}:domain/dom", T0, "key"), {})
    return "dom"


def test_duration_zero_is_exactly_the_session_expiry(w: World, domain: str) -> None:
    alice = w.user("alice")
    role = w.role("R", trust(alice.arn))
    out = w.sts.assume_role(alice, role.arn, "s1", duration=900)
    session = w.caller(out.credentials.access_key_id)
    w.clock.advance(100.5)
    issued = w.tokens.issue(session, domain, None, 0)
    assert issued.expiration == out.credentials.expiration
    assert w.tokens.issue(session, domain, None, 43200).expiration == int(T0 + 100.5) + 43200
    assert w.tokens.issue(alice, domain, None, 0).expiration == int(T0 + 100.5) + 43200


def test_token_acts_for_the_session(w: World, domain: str) -> None:
    alice = w.user("alice")
    role = w.role("R", trust(alice.arn))
    read_only = doc(
        {
            "Effect": "Allow",
            "Action": [
                "codeartifact:GetAuthorizationToken",
                "codeartifact:ReadFromRepository",
                "sts:GetServiceBearerToken",
            ],
            "Resource": "*",
        }
    )
    session = w.assume(alice, role, policy=read_only, tags=[("team", "blue")], duration=900)
    issued = w.tokens.issue(session, domain, None, 43200)
    w.clock.advance(3600)  # the session has expired; its 12-hour token still works, still limited
    _, acting = w.tokens.verify(issued.token, A, domain)
    assert acting.arn == session.arn and acting.session_policies is not None
    assert dict(acting.principal_tags) == {"team": "blue"}
    assert allowed(w, acting, "codeartifact:ReadFromRepository")
    assert not allowed(w, acting, "codeartifact:PublishPackageVersion")


def test_revoking_older_sessions_cuts_off_their_tokens(w: World, domain: str) -> None:
    alice = w.user("alice")
    role = w.role("R", trust(alice.arn))
    old = w.assume(alice, role, "old")
    old_token = w.tokens.issue(old, domain, None, 43200).token
    long_term_token = w.tokens.issue(alice, domain, None, 43200).token
    w.clock.advance(60)
    cutoff = w.clock() - 1
    revoke = doc(
        {
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": _iso(cutoff)}},
        }
    )
    w.store.put_inline_policy(A, "role", "R", NamedPolicy("AWSRevokeOlderSessions", revoke))
    w.identities.invalidate()
    _, acting = w.tokens.verify(old_token, A, domain)
    decision = w.authorizer.decide(acting, "codeartifact:ReadFromRepository", "*")
    assert not decision.allowed and decision.reason.name == "EXPLICIT_DENY_IDENTITY"
    with pytest.raises(AccessDeniedError):
        w.tokens.issue(w.caller(old.access_key_id), domain, None, 900)
    new = w.assume(alice, role, "new")
    new_token = w.tokens.issue(new, domain, None, 43200).token
    _, acting = w.tokens.verify(new_token, A, domain)
    assert allowed(w, acting, "codeartifact:ReadFromRepository")
    _, acting = w.tokens.verify(long_term_token, A, domain)  # long-term keys have no aws:TokenIssueTime
    assert allowed(w, acting, "codeartifact:ReadFromRepository")


def test_token_of_a_deleted_role_session_is_refused(w: World, domain: str) -> None:
    alice = w.user("alice")
    role = w.role("R", trust(alice.arn), policy=None)
    w.store.put_inline_policy(A, "role", "R", NamedPolicy("p", ALLOW_ALL))
    session = w.assume(alice, role)
    token = w.tokens.issue(session, domain, None, 900).token
    w.store.delete_inline_policy(A, "role", "R", "p")
    w.store.delete_role(A, "R")
    w.identities.invalidate()
    with pytest.raises(PrincipalGoneError):
        w.tokens.verify(token, A, domain)


def test_root_gets_no_token_even_through_a_session(w: World, domain: str) -> None:
    root = w.root()
    session = w.caller(w.sts.get_session_token(root).access_key_id)
    with pytest.raises(AccessDeniedError, match="root user"):
        w.tokens.issue(session, domain, None, 0)


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(seconds)))
