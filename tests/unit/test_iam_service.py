"""IamService on the real SqlStore (a temporary SQLite file): validation, IAM's error codes, authorization,
managed policies with versions, attachments, and the AWS managed policies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from coffer.aws.handlers.iam import HANDLERS, IamHandlerServices
from coffer.aws.query_form import validate_params
from coffer.aws.query_model import load_query_service
from coffer.aws.query_xml import query_error
from coffer.core.identity.authorizer import Authorizer
from coffer.core.identity.callers import Caller, root_caller
from coffer.core.identity.iam_models import AWS_MANAGED, Account, PrincipalType
from coffer.core.identity.iam_service import IamService
from coffer.core.identity.key_resolution import IdentityService
from coffer.core.identity.managed_policies import (
    ADMINISTRATOR_ACCESS,
    AWS_MANAGED_POLICIES,
    CODEARTIFACT_READ_ONLY_ACCESS,
    ensure_aws_managed_policies,
)
from coffer.core.policy import MalformedPolicyDocumentError
from coffer.core.shared.errors import AccessDeniedError, CofferError, ExactCodeError, ValidationError
from coffer.core.shared.pagination import Paginator
from coffer.core.shared.signing import KeyRing, SigningKey
from coffer.store.sql_store import SqlStore
from tests.conftest import Ticker

REGION = "us-east-1"
ACCOUNT = "111122223333"
OTHER = "444455556666"
RING = KeyRing([SigningKey.generate(0.0)])
READ_ONLY = "arn:aws:iam::aws:policy/AWSCodeArtifactReadOnlyAccess"

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def doc(action: str = "codeartifact:List*", resource: str = "*") -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}
    )


@pytest.fixture
def store(store: SqlStore) -> SqlStore:
    """The shared store (tests/conftest.py) with the account."""
    store.create_account(Account(ACCOUNT, 0.0))
    return store


@pytest.fixture
def identities(store: SqlStore) -> IdentityService:
    return IdentityService(store, Ticker())


@pytest.fixture
def iam(store: SqlStore, identities: IdentityService) -> IamService:
    clock = Ticker()
    svc = IamService(store, identities, Authorizer(clock, REGION), clock)
    svc.ensure_aws_managed_policies()
    return svc


@pytest.fixture
def root() -> Caller:
    return root_caller(ACCOUNT, "")


def code_of(exc: pytest.ExceptionInfo[Any]) -> str:
    return str(exc.value.code)


def wire_error(operation: str, params: dict[str, Any]) -> tuple[str, str]:
    """(code, message) the IAM API answers for ``params`` that the model refuses, before the service runs."""
    with pytest.raises(ValidationError) as err:
        validate_params(load_query_service("iam").operations[operation], params)
    return query_error(err.value, load_query_service("iam"))[0], err.value.message


def user_caller(identities: IdentityService, name: str) -> Caller:
    caller = identities.load_user_caller(ACCOUNT, name)
    assert caller is not None
    return caller


# --- users, groups, keys --------------------------------------------------------------------------------------


def test_users_validation_and_errors(iam: IamService, root: Caller) -> None:
    user = iam.create_user(root, "alice", "/eng/")
    assert user.arn == f"arn:aws:iam::{ACCOUNT}:user/eng/alice"
    assert user.user_id.startswith("AIDA") and len(user.user_id) == 21
    with pytest.raises(ExactCodeError) as err:
        iam.create_user(root, "alice")
    assert (code_of(err), err.value.status) == ("EntityAlreadyExists", 409)
    assert err.value.message == "User with name alice already exists."
    for bad in ("no spaces", "x" * 65, ""):
        assert wire_error("CreateUser", {"UserName": bad})[0] == "ValidationError"
    code, message = wire_error("CreateUser", {"UserName": "bob", "Path": "no-slashes"})
    assert code == "ValidationError" and "'path'" in message
    with pytest.raises(ExactCodeError) as err:
        iam.get_user(root, "nobody")
    assert (code_of(err), err.value.status) == ("NoSuchEntity", 404)
    assert err.value.message == "The user with name nobody cannot be found."
    assert [u.name for u in iam.list_users(root, "/eng/")] == ["alice"]
    assert isinstance(iam.get_user(root), Account)


def test_get_user_without_name_is_the_caller(iam: IamService, identities: IdentityService, root: Caller) -> None:
    iam.create_user(root, "carol")
    iam.put_inline_policy(root, "user", "carol", "self", doc("iam:GetUser", f"arn:aws:iam::{ACCOUNT}:user/carol"))
    me = iam.get_user(user_caller(identities, "carol"))
    assert not isinstance(me, Account) and me.name == "carol"


def test_delete_user_conflicts_unless_cascading(iam: IamService, root: Caller) -> None:
    iam.create_user(root, "dave")
    key = iam.create_access_key(root, "dave")
    iam.create_group(root, "devs")
    iam.add_user_to_group(root, "devs", "dave")
    iam.attach_policy(root, "user", "dave", READ_ONLY)
    with pytest.raises(ExactCodeError) as err:
        iam.delete_user(root, "dave")
    assert (code_of(err), err.value.status) == ("DeleteConflict", 409)
    assert "access keys" in err.value.message
    iam.delete_access_key(root, key.access_key_id, "dave")
    with pytest.raises(ExactCodeError) as err:
        iam.delete_user(root, "dave")
    assert "detach all policies" in err.value.message
    iam.detach_policy(root, "user", "dave", READ_ONLY)
    with pytest.raises(ExactCodeError) as err:
        iam.delete_user(root, "dave")
    assert "groups" in err.value.message
    iam.attach_policy(root, "user", "dave", READ_ONLY)
    iam.create_access_key(root, "dave")
    iam.put_inline_policy(root, "user", "dave", "p", doc())
    iam.delete_user(root, "dave", cascade=True)
    assert iam.list_users(root) == []
    assert iam.get_group(root, "devs")[1] == []


def test_groups_and_membership(iam: IamService, root: Caller) -> None:
    group = iam.create_group(root, "readers")
    assert group.group_id.startswith("AGPA") and len(group.group_id) == 21
    iam.create_user(root, "erin")
    iam.add_user_to_group(root, "readers", "erin")
    iam.add_user_to_group(root, "readers", "erin")  # idempotent
    assert [u.name for u in iam.get_group(root, "readers")[1]] == ["erin"]
    assert [g.name for g in iam.list_groups_for_user(root, "erin")] == ["readers"]
    with pytest.raises(ExactCodeError) as err:
        iam.delete_group(root, "readers")
    assert code_of(err) == "DeleteConflict"
    with pytest.raises(ExactCodeError) as err:
        iam.add_user_to_group(root, "readers", "ghost")
    assert code_of(err) == "NoSuchEntity"
    iam.remove_user_from_group(root, "readers", "erin")
    with pytest.raises(ExactCodeError) as err:
        iam.remove_user_from_group(root, "readers", "erin")
    assert code_of(err) == "NoSuchEntity"
    iam.delete_group(root, "readers")
    assert iam.list_groups(root) == []


def test_access_keys(iam: IamService, identities: IdentityService, root: Caller) -> None:
    iam.create_user(root, "frank")
    first = iam.create_access_key(root, "frank")
    iam.create_access_key(root, "frank")
    with pytest.raises(ExactCodeError) as err:
        iam.create_access_key(root, "frank")
    assert (code_of(err), err.value.status) == ("LimitExceeded", 409)
    assert identities.resolve_access_key(first.access_key_id) is not None
    iam.update_access_key(root, first.access_key_id, "Inactive", "frank")
    assert identities.resolve_access_key(first.access_key_id) is None  # at once: the cache is dropped
    assert {k.status for k in iam.list_access_keys(root, "frank")} == {"Active", "Inactive"}
    with pytest.raises(ExactCodeError) as err:
        iam.update_access_key(root, first.access_key_id, "Paused", "frank")
    assert code_of(err) == "ValidationError"
    iam.create_user(root, "grace")
    with pytest.raises(ExactCodeError) as err:  # not grace's key
        iam.delete_access_key(root, first.access_key_id, "grace")
    assert code_of(err) == "NoSuchEntity"
    used = iam.get_access_key_last_used(root, first.access_key_id)
    assert (used.user_name, used.last_used_at, used.service_name, used.region) == ("frank", None, "N/A", "N/A")
    iam.delete_access_key(root, first.access_key_id, "frank")
    assert len(iam.list_access_keys(root, "frank")) == 1


def test_user_manages_own_keys_without_user_name(iam: IamService, identities: IdentityService, root: Caller) -> None:
    iam.create_user(root, "heidi")
    own = f"arn:aws:iam::{ACCOUNT}:user/heidi"
    iam.put_inline_policy(root, "user", "heidi", "keys", doc("iam:*AccessKey*", own))
    heidi = user_caller(identities, "heidi")
    key = iam.create_access_key(heidi)
    assert key.user_name == "heidi"
    assert [k.access_key_id for k in iam.list_access_keys(heidi)] == [key.access_key_id]
    with pytest.raises(AccessDeniedError):
        iam.create_access_key(heidi, "admin-of-nothing")


# --- roles ----------------------------------------------------------------------------------------------------


def test_roles(iam: IamService, root: Caller) -> None:
    role = iam.create_role(root, "deployer", TRUST, description="CI", max_session_duration=7200, tags={"team": "x"})
    assert role.role_id.startswith("AROA") and len(role.role_id) == 21
    assert role.arn == f"arn:aws:iam::{ACCOUNT}:role/deployer"
    assert iam.get_role(root, "deployer").max_session_duration == 7200
    assert iam.tags(role.arn) == {"team": "x"}
    for duration in (3599, 43201):
        params: dict[str, Any] = {"RoleName": "r2", "AssumeRolePolicyDocument": TRUST, "MaxSessionDuration": duration}
        code, message = wire_error("CreateRole", params)
        assert code == "ValidationError" and "maxSessionDuration" in message
    assert wire_error("CreateRole", {"RoleName": "r" * 65, "AssumeRolePolicyDocument": TRUST})[0] == "ValidationError"
    with pytest.raises(MalformedPolicyDocumentError) as bad:
        iam.create_role(root, "r3", doc())  # a trust policy needs a Principal
    assert bad.value.code == "MalformedPolicyDocument"
    with pytest.raises(ExactCodeError) as err:
        iam.create_role(root, "deployer", TRUST)
    assert code_of(err) == "EntityAlreadyExists"
    updated = iam.update_role(root, "deployer", description="new", max_session_duration=43200)
    assert (updated.description, updated.max_session_duration) == ("new", 43200)
    new_trust = TRUST.replace(":root", ":user/alice")
    iam.update_assume_role_policy(root, "deployer", new_trust)
    assert iam.get_role(root, "deployer").trust_policy == new_trust
    iam.put_inline_policy(root, "role", "deployer", "inline", doc())
    with pytest.raises(ExactCodeError) as err:
        iam.delete_role(root, "deployer")
    assert code_of(err) == "DeleteConflict"
    iam.delete_inline_policy(root, "role", "deployer", "inline")
    iam.delete_role(root, "deployer")
    assert iam.list_roles(root) == []
    assert iam.tags(role.arn) == {}


# --- inline policies --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["user", "group", "role"])
def test_inline_policies(iam: IamService, root: Caller, kind: PrincipalType) -> None:
    if kind == "user":
        iam.create_user(root, "p")
    elif kind == "group":
        iam.create_group(root, "p")
    else:
        iam.create_role(root, "p", TRUST)
    iam.put_inline_policy(root, kind, "p", "one", doc())
    iam.put_inline_policy(root, kind, "p", "one", doc("codeartifact:Describe*"))  # replaces
    iam.put_inline_policy(root, kind, "p", "two", doc())
    assert [p.name for p in iam.list_inline_policies(root, kind, "p")] == ["one", "two"]
    assert "Describe" in iam.get_inline_policy(root, kind, "p", "one").document
    with pytest.raises(MalformedPolicyDocumentError):
        iam.put_inline_policy(root, kind, "p", "bad", '{"Statement": [{"Effect": "Allow"}]}')
    with pytest.raises(ExactCodeError) as err:
        iam.get_inline_policy(root, kind, "p", "nope")
    assert code_of(err) == "NoSuchEntity"
    with pytest.raises(ExactCodeError) as err:
        iam.put_inline_policy(root, kind, "ghost", "x", doc())
    assert code_of(err) == "NoSuchEntity"
    iam.delete_inline_policy(root, kind, "p", "one")
    assert [p.name for p in iam.list_inline_policies(root, kind, "p")] == ["two"]


def statements(n: int) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": f"codeartifact:Action{i:04d}", "Resource": "*"} for i in range(n)
            ],
        }
    )


def test_inline_policy_size_quotas(iam: IamService, root: Caller) -> None:
    """IAM's aggregate quotas (whitespace not counted): user 2,048, group 5,120, role 10,240; LimitExceeded."""
    iam.create_user(root, "q")
    half = statements(15)
    iam.put_inline_policy(root, "user", "q", "a", half)
    iam.put_inline_policy(root, "user", "q", "a", half)  # replacing does not count twice
    with pytest.raises(ExactCodeError) as err:
        iam.put_inline_policy(root, "user", "q", "b", half)
    assert code_of(err) == "LimitExceeded" and "2048" in err.value.message
    iam.create_role(root, "big", TRUST)
    iam.put_inline_policy(root, "role", "big", "a", statements(60))  # over a user's quota, within a role's
    with pytest.raises(ExactCodeError) as err:
        iam.create_policy(root, "Huge", statements(100))
    assert code_of(err) == "LimitExceeded" and "PolicySize: 6144" in err.value.message


# --- managed policies -------------------------------------------------------------------------------------------


def test_managed_policy_versions(iam: IamService, root: Caller) -> None:
    policy = iam.create_policy(root, "Readers", doc(), path="/team/", description="read things")
    assert policy.arn == f"arn:aws:iam::{ACCOUNT}:policy/team/Readers"
    assert policy.policy_id.startswith("ANPA") and policy.default_version_id == "v1"
    with pytest.raises(ExactCodeError) as err:
        iam.create_policy(root, "readers", doc())
    assert code_of(err) == "EntityAlreadyExists"
    v2 = iam.create_policy_version(root, policy.arn, doc("codeartifact:Get*"))
    assert (v2.version_id, v2.is_default) == ("v2", False)
    v3 = iam.create_policy_version(root, policy.arn, doc("codeartifact:Describe*"), set_as_default=True)
    assert iam.get_policy(root, policy.arn).default_version_id == "v3" and v3.is_default
    iam.set_default_policy_version(root, policy.arn, "v1")
    assert iam.get_policy(root, policy.arn).default_version_id == "v1"
    assert iam.get_policy_version(root, policy.arn, "v2").document == doc("codeartifact:Get*")
    iam.create_policy_version(root, policy.arn, doc())
    iam.create_policy_version(root, policy.arn, doc())
    with pytest.raises(ExactCodeError) as err:
        iam.create_policy_version(root, policy.arn, doc())
    assert code_of(err) == "LimitExceeded"
    with pytest.raises(ExactCodeError) as err:
        iam.delete_policy_version(root, policy.arn, "v1")
    assert code_of(err) == "DeleteConflict"
    with pytest.raises(ExactCodeError) as err:
        iam.delete_policy(root, policy.arn)
    assert code_of(err) == "DeleteConflict"
    for v in iam.list_policy_versions(root, policy.arn):
        if not v.is_default:
            iam.delete_policy_version(root, policy.arn, v.version_id)
    assert [v.version_id for v in iam.list_policy_versions(root, policy.arn)] == ["v1"]
    with pytest.raises(ExactCodeError) as err:
        iam.get_policy_version(root, policy.arn, "v2")
    assert code_of(err) == "NoSuchEntity"
    assert wire_error("GetPolicyVersion", {"PolicyArn": policy.arn, "VersionId": "two"})[0] == "ValidationError"
    with pytest.raises(MalformedPolicyDocumentError):
        iam.create_policy(root, "Bad", "not json")
    iam.delete_policy(root, policy.arn)
    with pytest.raises(ExactCodeError) as err:
        iam.get_policy(root, policy.arn)
    assert code_of(err) == "NoSuchEntity"
    with pytest.raises(ExactCodeError) as err:
        iam.get_policy(root, "arn:aws:iam::bad")
    assert code_of(err) == "InvalidInput"


def test_attachments_and_entities(iam: IamService, root: Caller) -> None:
    iam.create_user(root, "u")
    iam.create_group(root, "g")
    iam.create_role(root, "r", TRUST)
    local = iam.create_policy(root, "Mine", doc())
    principals: list[tuple[PrincipalType, str]] = [("user", "u"), ("group", "g"), ("role", "r")]
    for kind, name in principals:
        iam.attach_policy(root, kind, name, READ_ONLY)
        iam.attach_policy(root, kind, name, local.arn)
        assert {p.arn for p in iam.list_attached_policies(root, kind, name)} == {READ_ONLY, local.arn}
    entities = iam.list_entities_for_policy(root, READ_ONLY)
    assert ([u.name for u in entities.users], [g.name for g in entities.groups], [r.name for r in entities.roles]) == (
        ["u"],
        ["g"],
        ["r"],
    )
    assert [r.name for r in iam.list_entities_for_policy(root, READ_ONLY, entity_filter="Role").roles] == ["r"]
    assert iam.list_entities_for_policy(root, READ_ONLY, entity_filter="Role").users == ()
    assert iam.get_policy(root, READ_ONLY).attachment_count == 3
    assert iam.get_policy(root_caller(OTHER, ""), READ_ONLY).attachment_count == 0  # counted per account
    attached = iam.list_policies(root, only_attached=True)
    assert {p.arn for p in attached} == {READ_ONLY, local.arn}
    with pytest.raises(ExactCodeError) as err:
        iam.delete_policy(root, local.arn)
    assert code_of(err) == "DeleteConflict"
    with pytest.raises(ExactCodeError) as err:
        iam.attach_policy(root, "user", "u", f"arn:aws:iam::{ACCOUNT}:policy/Nope")
    assert code_of(err) == "NoSuchEntity" and "does not exist or is not attachable" in err.value.message
    with pytest.raises(ExactCodeError) as err:
        iam.attach_policy(root, "user", "u", f"arn:aws:iam::{OTHER}:policy/Mine")
    assert code_of(err) == "NoSuchEntity"
    iam.detach_policy(root, "user", "u", READ_ONLY)
    with pytest.raises(ExactCodeError) as err:
        iam.detach_policy(root, "user", "u", READ_ONLY)
    assert code_of(err) == "NoSuchEntity"
    assert iam.get_policy(root, READ_ONLY).attachment_count == 2


def test_list_policies_scopes(iam: IamService, root: Caller) -> None:
    iam.create_policy(root, "Local1", doc())
    aws = {p.name for p in iam.list_policies(root, scope="AWS")}
    assert aws == {p.name for p in AWS_MANAGED_POLICIES}
    assert [p.name for p in iam.list_policies(root, scope="Local")] == ["Local1"]
    assert len(iam.list_policies(root)) == len(AWS_MANAGED_POLICIES) + 1
    assert iam.list_policies(root_caller(OTHER, ""), scope="Local") == []


def test_aws_managed_policies_are_read_only(iam: IamService, root: Caller) -> None:
    with pytest.raises(ExactCodeError) as err:
        iam.create_policy_version(root, READ_ONLY, doc())
    assert (code_of(err), err.value.status) == ("AccessDenied", 403)
    with pytest.raises(ExactCodeError):
        iam.delete_policy(root, READ_ONLY)


def test_aws_managed_policy_contents(iam: IamService, root: Caller, store: SqlStore) -> None:
    policy = iam.get_policy(root, READ_ONLY)
    assert policy.account_id == AWS_MANAGED and policy.default_version_id == "v1"
    document = json.loads(iam.get_policy_version(root, READ_ONLY, "v1").document)
    assert document["Statement"][0]["Action"] == [
        "codeartifact:Describe*",
        "codeartifact:Get*",
        "codeartifact:List*",
        "codeartifact:ReadFromRepository",
    ]
    assert document["Statement"][1] == {
        "Effect": "Allow",
        "Action": "sts:GetServiceBearerToken",
        "Resource": "*",
        "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}},
    }
    admin = json.loads(iam.get_policy_version(root, ADMINISTRATOR_ACCESS.arn, "v1").document)
    assert admin["Statement"] == [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
    ca_admin = json.loads(
        iam.get_policy_version(root, "arn:aws:iam::aws:policy/AWSCodeArtifactAdminAccess", "v1").document
    )
    assert ca_admin["Statement"][0]["Action"] == ["codeartifact:*"]
    # idempotent at every start; a changed text becomes a new default version
    assert ensure_aws_managed_policies(store, Ticker()) == []
    stale = CODEARTIFACT_READ_ONLY_ACCESS
    store.create_policy_version(stale.arn, doc(), True, 1.0)
    assert ensure_aws_managed_policies(store, Ticker()) == [stale.arn]
    current = iam.get_policy(root, stale.arn)
    assert current.default_version_id == "v3"
    assert iam.get_policy_version(root, stale.arn, "v3").document == stale.document


# --- authorization ----------------------------------------------------------------------------------------------


def test_every_operation_needs_its_iam_permission(iam: IamService, identities: IdentityService, root: Caller) -> None:
    iam.create_user(root, "ivan")
    ivan = user_caller(identities, "ivan")
    with pytest.raises(AccessDeniedError) as denied:
        iam.create_user(ivan, "mallory")
    assert f"iam:CreateUser on resource: arn:aws:iam::{ACCOUNT}:user/mallory" in denied.value.message
    with pytest.raises(AccessDeniedError):
        iam.list_roles(ivan)
    with pytest.raises(AccessDeniedError):  # not even a hint that the role is missing
        iam.get_role(ivan, "ghost")
    iam.put_inline_policy(root, "user", "ivan", "roles", doc("iam:*Role*"))
    ivan = user_caller(identities, "ivan")
    iam.create_role(ivan, "made-by-ivan", TRUST)
    assert [r.name for r in iam.list_roles(ivan)] == ["made-by-ivan"]
    with pytest.raises(AccessDeniedError):
        iam.create_group(ivan, "nope")


def test_create_account(iam: IamService, identities: IdentityService, store: SqlStore) -> None:
    key = iam.create_account(OTHER)
    assert key.account_id == OTHER and key.user_name == "admin"
    resolved = identities.resolve_access_key(key.access_key_id)
    assert resolved is not None and resolved.caller.arn == f"arn:aws:iam::{OTHER}:user/admin"
    with pytest.raises(ExactCodeError) as err:
        iam.create_account(OTHER)
    assert code_of(err) == "EntityAlreadyExists"
    with pytest.raises(ExactCodeError) as err:
        iam.create_account("123")
    assert code_of(err) == "InvalidInput"
    # the new account's admin may administer its own account, not ours
    admin = resolved.caller
    iam.create_user(admin, "someone")
    assert [u.name for u in iam.list_users(admin)] == ["admin", "someone"]
    assert "someone" not in {u.name for u in iam.list_users(root_caller(ACCOUNT, ""))}


# --- handlers ---------------------------------------------------------------------------------------------------


def test_handlers_shape_outputs(iam: IamService, identities: IdentityService, root: Caller) -> None:
    s = IamHandlerServices(iam=iam, paginator=Paginator(lambda: RING))
    out = HANDLERS["CreateRole"](
        s,
        root,
        {"RoleName": "shaped", "AssumeRolePolicyDocument": TRUST, "MaxSessionDuration": 7200, "Description": "d"},
    )
    role = out["Role"]
    assert set(role) >= {"Path", "RoleName", "RoleId", "Arn", "CreateDate", "AssumeRolePolicyDocument"}
    assert role["AssumeRolePolicyDocument"] == TRUST and role["MaxSessionDuration"] == 7200
    for n in range(5):
        HANDLERS["CreateUser"](s, root, {"UserName": f"user{n}"})
    first = HANDLERS["ListUsers"](s, root, {"MaxItems": 2})
    assert [u["UserName"] for u in first["Users"]] == ["user0", "user1"] and first["IsTruncated"]
    second = HANDLERS["ListUsers"](s, root, {"MaxItems": 2, "Marker": first["Marker"]})
    assert [u["UserName"] for u in second["Users"]] == ["user2", "user3"]
    last = HANDLERS["ListUsers"](s, root, {"Marker": second["Marker"]})
    assert [u["UserName"] for u in last["Users"]] == ["user4"] and last["IsTruncated"] is False
    assert "Marker" not in last
    got = HANDLERS["GetPolicyVersion"](s, root, {"PolicyArn": READ_ONLY, "VersionId": "v1"})
    assert json.loads(got["PolicyVersion"]["Document"])["Version"] == "2012-10-17"
    assert HANDLERS["GetUser"](s, root, {})["User"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    with pytest.raises(ExactCodeError) as err:
        HANDLERS["ListUsers"](s, root, {"Marker": "%%%"})
    assert code_of(err) == "InvalidInput"
    with pytest.raises(ExactCodeError) as err:  # a marker of another listing
        HANDLERS["ListUsers"](s, root, {"Marker": HANDLERS["ListPolicies"](s, root, {"MaxItems": 1})["Marker"]})
    assert (code_of(err), err.value.message) == ("InvalidInput", "Invalid Marker.")


def test_markers_are_bound_to_the_caller_and_listing(
    iam: IamService, identities: IdentityService, root: Caller
) -> None:
    s = IamHandlerServices(iam=iam, paginator=Paginator(lambda: RING))
    for n in range(3):
        HANDLERS["CreateUser"](s, root, {"UserName": f"m{n}", "Path": "/m/"})
    marker = HANDLERS["ListUsers"](s, root, {"MaxItems": 1, "PathPrefix": "/m/"})["Marker"]
    assert "m0" not in marker  # signed, not the plain position
    resumed = HANDLERS["ListUsers"](s, root, {"MaxItems": 1, "PathPrefix": "/m/", "Marker": marker})
    assert [u["UserName"] for u in resumed["Users"]] == ["m1"]
    refused: list[CofferError] = []
    for caller, params in (
        (root, {"Marker": marker}),  # another listing: no PathPrefix
        (root_caller(OTHER, ""), {"PathPrefix": "/m/", "Marker": marker}),  # another caller
        (root, {"PathPrefix": "/m/", "Marker": marker[:-2] + ("AA" if marker[-2:] != "AA" else "BB")}),  # tampered
    ):
        with pytest.raises(ExactCodeError) as err:
            HANDLERS["ListUsers"](s, caller, params)
        refused.append(err.value)
    assert {(e.code, e.status, e.message) for e in refused} == {("InvalidInput", 400, "Invalid Marker.")}
