"""The IamStore contract (coffer.core.ports), checked on every backend (see conftest.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import MetaData, event, inspect, select

from coffer.core.identity.iam_models import (
    AWS_MANAGED,
    AccessKey,
    Account,
    Group,
    ManagedPolicy,
    NamedPolicy,
    PolicyVersion,
    PrincipalType,
    Role,
    Session,
    User,
)
from coffer.core.identity.identity_store import IamStore
from coffer.core.ports import Store
from coffer.core.shared.errors import ConflictError, ResourceNotFoundError, ValidationError
from coffer.store import schema
from coffer.store.engine import create_engine_for
from coffer.store.migrations import m0002_packages, m0003_iam
from coffer.store.migrations.runner import LATEST_VERSION, MIGRATIONS, apply_migrations, schema_version
from coffer.store.sql_store import SqlStore, open_store

from .test_package_store_contract import asset, pref, pver, shape
from .test_store_contract import OTHER, OWNER, make_domain, make_repo, race

TRUST = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
DOC = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'


def make_user(name: str, account: str = OWNER) -> User:
    return User(account_id=account, name=name, user_id=f"AIDA{account}{name.upper()}", created_at=1_700_000_000.5)


def make_role(name: str, account: str = OWNER, path: str = "/", role_id: str | None = None) -> Role:
    return Role(
        account_id=account,
        name=name,
        role_id=role_id or f"AROA{account}{name.upper()}",
        trust_policy=TRUST,
        created_at=1_700_000_001.25,
        path=path,
        description=f"role {name}",
        max_session_duration=7200,
    )


def make_group(name: str, account: str = OWNER, path: str = "/", group_id: str | None = None) -> Group:
    return Group(
        account_id=account,
        name=name,
        group_id=group_id or f"AGPA{account}{name.upper()}",
        created_at=1_700_000_002.5,
        path=path,
    )


def make_policy(name: str, account: str = OWNER, path: str = "/", version: str = "v1") -> ManagedPolicy:
    return ManagedPolicy(
        account_id=account,
        name=name,
        policy_id=f"ANPA{account}{name.upper()}",
        default_version_id=version,
        created_at=1_700_000_003.5,
        updated_at=1_700_000_003.5,
        path=path,
        description=f"policy {name}",
    )


def make_session(key: str = "ASIA1", **fields: object) -> Session:
    base = Session(
        access_key_id=key,
        secret_access_key="secret",
        session_token="token-" + key,
        account_id=OWNER,
        expires_at=1_700_003_600.5,
        issued_at=1_700_000_000.75,
        role_name="ci",
        session_name="build-1",
        source_arn=f"arn:aws:iam::{OWNER}:user/alice",
    )
    return replace(base, **fields)  # type: ignore[arg-type]


@pytest.fixture
def iam(store: SqlStore) -> Store:
    """A store with accounts OWNER and OTHER and users alice and bob in OWNER."""
    store.create_account(Account(OWNER, 1.0))
    store.create_account(Account(OTHER, 1.0))
    store.create_user(make_user("alice"))
    store.create_user(make_user("bob"))
    return store


def test_sql_store_satisfies_the_iam_port(store: SqlStore) -> None:
    typed: IamStore = store
    assert callable(typed.create_role)


# --- roles --------------------------------------------------------------------------------------------


def test_roles_round_trip_and_conflicts(iam: Store) -> None:
    role = make_role("ci")
    iam.create_role(role)
    assert iam.get_role(OWNER, "ci") == role
    assert iam.get_role(OWNER, "CI") == role  # names are case-insensitive; the stored spelling comes back
    assert iam.get_role(OTHER, "ci") is None
    assert iam.get_role(OWNER, "nope") is None
    with pytest.raises(ConflictError, match=r"^Role with name ci already exists\.$"):
        iam.create_role(make_role("ci", role_id="AROAX"))
    with pytest.raises(ConflictError, match="Role with name Ci already exists"):
        iam.create_role(make_role("Ci", role_id="AROAY"))
    with pytest.raises(ConflictError):  # same role id
        iam.create_role(make_role("other", role_id=role.role_id))
    iam.create_role(make_role("ci", account=OTHER))  # per account
    with pytest.raises((ConflictError, ResourceNotFoundError)):
        iam.create_role(make_role("x", account="999999999999"))
    assert iam.list_roles(OWNER) == [role]


def test_list_roles_order_and_path_prefix(iam: Store) -> None:
    for name, path in [("b", "/"), ("D", "/team/"), ("a", "/team/x/"), ("c", "/Team/")]:
        iam.create_role(make_role(name, path=path))
    assert [r.name for r in iam.list_roles(OWNER)] == ["D", "a", "b", "c"]  # stored names, bytewise
    assert [r.name for r in iam.list_roles(OWNER, "/team/")] == ["D", "a"]
    assert [r.name for r in iam.list_roles(OWNER, "/team/x/")] == ["a"]
    assert iam.list_roles(OTHER) == []


def test_update_role(iam: Store) -> None:
    role = make_role("ci")
    iam.create_role(role)
    changed = replace(role, trust_policy="{}", description="new", max_session_duration=43200)
    iam.update_role(replace(changed, name="CI", path="/ignored/", role_id="ignored", created_at=5.0))
    assert iam.get_role(OWNER, "ci") == changed
    with pytest.raises(ResourceNotFoundError, match=r"^The role with name nope cannot be found\.$"):
        iam.update_role(make_role("nope"))


def test_delete_role(iam: Store) -> None:
    iam.create_role(make_role("ci"))
    with pytest.raises(ResourceNotFoundError, match="The role with name nope cannot be found"):
        iam.delete_role(OWNER, "nope")
    iam.create_managed_policy(make_policy("p"), DOC)
    arn = make_policy("p").arn

    iam.put_inline_policy(OWNER, "role", "ci", NamedPolicy("inline", DOC))
    with pytest.raises(ConflictError, match="must delete policies first"):
        iam.delete_role(OWNER, "ci")
    iam.delete_inline_policy(OWNER, "role", "ci", "inline")

    iam.attach_policy(OWNER, "role", "ci", arn)
    with pytest.raises(ConflictError, match=r"^Cannot delete entity, must detach all policies first\.$"):
        iam.delete_role(OWNER, "ci")
    assert iam.get_role(OWNER, "ci") is not None
    iam.detach_policy(OWNER, "role", "ci", arn)

    iam.delete_role(OWNER, "CI")
    assert iam.get_role(OWNER, "ci") is None
    iam.create_role(make_role("ci"))  # the name is free again


# --- groups and membership ----------------------------------------------------------------------------


def test_groups_round_trip_and_conflicts(iam: Store) -> None:
    group = make_group("devs", path="/eng/")
    iam.create_group(group)
    assert iam.get_group(OWNER, "devs") == group
    assert iam.get_group(OWNER, "DEVS") == group
    assert iam.get_group(OTHER, "devs") is None
    with pytest.raises(ConflictError, match=r"^Group with name DEVS already exists\.$"):
        iam.create_group(make_group("DEVS", group_id="AGPAX"))
    iam.create_group(make_group("admins"))
    iam.create_group(make_group("devs", account=OTHER))
    assert [g.name for g in iam.list_groups(OWNER)] == ["admins", "devs"]
    assert iam.list_groups(OWNER, "/eng/") == [group]
    assert iam.list_groups(OWNER, "/none/") == []


def test_membership(iam: Store) -> None:
    iam.create_group(make_group("devs"))
    iam.create_group(make_group("ops"))
    iam.add_user_to_group(OWNER, "devs", "bob")
    iam.add_user_to_group(OWNER, "DEVS", "alice")
    iam.add_user_to_group(OWNER, "devs", "alice")  # idempotent
    iam.add_user_to_group(OWNER, "ops", "alice")
    assert iam.list_group_members(OWNER, "devs") == [make_user("alice"), make_user("bob")]
    assert [g.name for g in iam.list_groups_for_user(OWNER, "alice")] == ["devs", "ops"]
    assert [g.name for g in iam.list_groups_for_user(OWNER, "bob")] == ["devs"]

    with pytest.raises(ResourceNotFoundError, match="The group with name nope cannot be found"):
        iam.add_user_to_group(OWNER, "nope", "alice")
    with pytest.raises(ResourceNotFoundError, match="The user with name carol cannot be found"):
        iam.add_user_to_group(OWNER, "devs", "carol")
    with pytest.raises(ResourceNotFoundError):
        iam.add_user_to_group(OTHER, "devs", "alice")
    with pytest.raises(ResourceNotFoundError):
        iam.list_group_members(OWNER, "nope")
    with pytest.raises(ResourceNotFoundError):
        iam.list_groups_for_user(OWNER, "carol")

    iam.remove_user_from_group(OWNER, "Devs", "bob")
    assert iam.list_group_members(OWNER, "devs") == [make_user("alice")]
    with pytest.raises(ResourceNotFoundError, match="not a member"):
        iam.remove_user_from_group(OWNER, "devs", "bob")
    with pytest.raises(ResourceNotFoundError):
        iam.remove_user_from_group(OWNER, "nope", "bob")


def test_delete_group(iam: Store) -> None:
    iam.create_group(make_group("devs"))
    iam.create_managed_policy(make_policy("p"), DOC)
    iam.add_user_to_group(OWNER, "devs", "alice")
    with pytest.raises(ConflictError, match=r"^Cannot delete entity, must remove users from group first\.$"):
        iam.delete_group(OWNER, "devs")
    iam.remove_user_from_group(OWNER, "devs", "alice")
    iam.put_inline_policy(OWNER, "group", "devs", NamedPolicy("inline", DOC))
    with pytest.raises(ConflictError, match="must delete policies first"):
        iam.delete_group(OWNER, "devs")
    iam.delete_inline_policy(OWNER, "group", "devs", "inline")
    iam.attach_policy(OWNER, "group", "devs", make_policy("p").arn)
    with pytest.raises(ConflictError, match="must detach all policies first"):
        iam.delete_group(OWNER, "devs")
    iam.detach_policy(OWNER, "group", "devs", make_policy("p").arn)
    iam.delete_group(OWNER, "DEVS")
    assert iam.get_group(OWNER, "devs") is None
    with pytest.raises(ResourceNotFoundError, match="The group with name devs cannot be found"):
        iam.delete_group(OWNER, "devs")


def test_deleting_a_user_removes_memberships_and_attachments(iam: Store) -> None:
    iam.create_group(make_group("devs"))
    iam.create_managed_policy(make_policy("p"), DOC)
    arn = make_policy("p").arn
    iam.add_user_to_group(OWNER, "devs", "alice")
    iam.add_user_to_group(OWNER, "devs", "bob")
    iam.attach_policy(OWNER, "user", "alice", arn)
    iam.attach_policy(OWNER, "user", "bob", arn)
    iam.put_inline_policy(OWNER, "user", "alice", NamedPolicy("inline", DOC))
    iam.create_access_key(AccessKey("AKIAALICE", "s", OWNER, "alice", 2.0))
    iam.record_access_key_use("AKIAALICE", 3.0, "codeartifact", "us-east-1")

    iam.delete_user(OWNER, "alice")
    assert iam.list_group_members(OWNER, "devs") == [make_user("bob")]
    assert iam.list_policy_attachments(arn) == [(OWNER, "user", "bob")]
    assert iam.get_access_key_last_used("AKIAALICE") is None
    policy = iam.get_managed_policy(arn)
    assert policy is not None and policy.attachment_count == 1
    # a new alice starts clean
    iam.create_user(make_user("alice"))
    assert iam.list_groups_for_user(OWNER, "alice") == []


def test_deleting_a_user_role_or_policy_drops_its_tags_in_the_same_transaction(iam: Store) -> None:
    # Tags are keyed by ARN: left behind, they would be a namesake's from birth.
    alice = make_user("alice").arn
    role = make_role("Builder", path="/ci/")
    policy = make_policy("p")
    iam.create_role(role)
    iam.create_managed_policy(policy, DOC)
    untouched = make_user("bob").arn
    for arn in (alice, role.arn, policy.arn, untouched):
        iam.tag_resource(arn, {"team": "infra", "cost": "42"})

    iam.delete_user(OWNER, "alice")
    iam.delete_role(OWNER, "builder")  # names of roles match in any case
    iam.delete_managed_policy(policy.arn)
    for arn in (alice, role.arn, policy.arn):
        assert iam.get_tags(arn) == {}, arn
    assert iam.get_tags(untouched) == {"team": "infra", "cost": "42"}

    # a refused delete keeps them
    iam.create_user(make_user("carol"))
    iam.put_inline_policy(OWNER, "user", "carol", NamedPolicy("inline", DOC))
    iam.tag_resource(make_user("carol").arn, {"k": "v"})
    with pytest.raises(ConflictError):
        iam.delete_user(OWNER, "carol", cascade=False)
    assert iam.get_tags(make_user("carol").arn) == {"k": "v"}


def _alice_with_everything(iam: Store) -> str:
    """alice with an access key, an inline policy, an attached policy and a group; returns the policy's ARN."""
    iam.create_group(make_group("devs"))
    iam.create_managed_policy(make_policy("p"), DOC)
    arn = make_policy("p").arn
    iam.create_access_key(AccessKey("AKIAALICE", "s", OWNER, "alice", 2.0))
    iam.put_inline_policy(OWNER, "user", "alice", NamedPolicy("inline", DOC))
    iam.attach_policy(OWNER, "user", "alice", arn)
    iam.add_user_to_group(OWNER, "devs", "alice")
    return arn


def _assert_alice_intact(iam: Store, arn: str) -> None:
    assert iam.get_user(OWNER, "alice") == make_user("alice")
    assert [k.access_key_id for k in iam.list_access_keys(OWNER, "alice")] == ["AKIAALICE"]
    assert iam.list_inline_policies(OWNER, "user", "alice") == [NamedPolicy("inline", DOC)]
    assert iam.list_policy_attachments(arn) == [(OWNER, "user", "alice")]
    assert iam.list_group_members(OWNER, "devs") == [make_user("alice")]


def test_deleting_a_user_without_cascade_refuses_while_anything_remains(iam: Store) -> None:
    arn = _alice_with_everything(iam)
    # the reasons in IAM's order: keys, inline policies, attached policies, groups
    with pytest.raises(ConflictError, match=r"^Cannot delete entity, must delete access keys first\.$"):
        iam.delete_user(OWNER, "alice", cascade=False)
    _assert_alice_intact(iam, arn)
    iam.delete_access_key("AKIAALICE")
    with pytest.raises(ConflictError, match=r"^Cannot delete entity, must delete policies first\.$"):
        iam.delete_user(OWNER, "alice", cascade=False)
    iam.delete_inline_policy(OWNER, "user", "alice", "inline")
    with pytest.raises(ConflictError, match=r"^Cannot delete entity, must detach all policies first\.$"):
        iam.delete_user(OWNER, "alice", cascade=False)
    iam.detach_policy(OWNER, "user", "alice", arn)
    with pytest.raises(ConflictError, match=r"^Cannot delete entity, must remove user from all groups first\.$"):
        iam.delete_user(OWNER, "alice", cascade=False)
    iam.remove_user_from_group(OWNER, "devs", "alice")
    iam.delete_user(OWNER, "alice", cascade=False)
    assert iam.get_user(OWNER, "alice") is None
    with pytest.raises(ResourceNotFoundError, match="The user with name alice cannot be found"):
        iam.delete_user(OWNER, "alice", cascade=False)


def test_the_cascading_delete_of_a_user_is_one_transaction(iam: Store, store: SqlStore) -> None:
    """A failure at the last statement (the user's row) leaves everything as it was; then it all goes at once."""
    arn = _alice_with_everything(iam)

    def fail_at_the_user_row(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("DELETE FROM USERS"):
            raise RuntimeError("the process died here")

    event.listen(store.engine, "before_cursor_execute", fail_at_the_user_row)
    try:
        with pytest.raises(RuntimeError, match="the process died here"):
            iam.delete_user(OWNER, "alice", cascade=True)
    finally:
        event.remove(store.engine, "before_cursor_execute", fail_at_the_user_row)
    _assert_alice_intact(iam, arn)

    iam.delete_user(OWNER, "alice", cascade=True)
    assert iam.get_user(OWNER, "alice") is None
    assert iam.get_access_key("AKIAALICE") is None
    assert iam.list_policy_attachments(arn) == []
    assert iam.list_group_members(OWNER, "devs") == []
    iam.create_user(make_user("alice"))
    assert iam.list_inline_policies(OWNER, "user", "alice") == []
    assert iam.list_attached_policies(OWNER, "user", "alice") == []
    assert iam.list_inline_policies(OWNER, "user", "alice") == []


# --- inline policies ----------------------------------------------------------------------------------


@pytest.mark.parametrize("ptype", ["user", "group", "role"])
def test_inline_policies(iam: Store, ptype: PrincipalType) -> None:
    iam.create_group(make_group("devs"))
    iam.create_role(make_role("ci"))
    name = {"user": "alice", "group": "devs", "role": "ci"}[ptype]
    other = {"user": "bob", "group": "ops", "role": "deploy"}[ptype]
    if ptype == "group":
        iam.create_group(make_group("ops"))
    if ptype == "role":
        iam.create_role(make_role("deploy"))

    iam.put_inline_policy(OWNER, ptype, name, NamedPolicy("b", DOC))
    iam.put_inline_policy(OWNER, ptype, name, NamedPolicy("a", "{}"))
    iam.put_inline_policy(OWNER, ptype, name, NamedPolicy("b", "{ }"))  # replaces
    iam.put_inline_policy(OWNER, ptype, other, NamedPolicy("a", "other"))
    assert iam.list_inline_policies(OWNER, ptype, name) == [NamedPolicy("a", "{}"), NamedPolicy("b", "{ }")]
    assert iam.get_inline_policy(OWNER, ptype, name, "b") == NamedPolicy("b", "{ }")
    assert iam.get_inline_policy(OWNER, ptype, name, "c") is None
    assert iam.get_inline_policy(OWNER, ptype, "nobody", "b") is None

    iam.delete_inline_policy(OWNER, ptype, name, "a")
    assert iam.list_inline_policies(OWNER, ptype, name) == [NamedPolicy("b", "{ }")]
    assert iam.list_inline_policies(OWNER, ptype, other) == [NamedPolicy("a", "other")]
    with pytest.raises(ResourceNotFoundError, match=f"The {ptype} policy with name a cannot be found"):
        iam.delete_inline_policy(OWNER, ptype, name, "a")
    with pytest.raises(ResourceNotFoundError, match=f"The {ptype} with name nobody cannot be found"):
        iam.put_inline_policy(OWNER, ptype, "nobody", NamedPolicy("a", "{}"))
    with pytest.raises(ResourceNotFoundError):
        iam.delete_inline_policy(OWNER, ptype, "nobody", "a")
    with pytest.raises(ResourceNotFoundError):
        iam.list_inline_policies(OWNER, ptype, "nobody")


def test_group_and_role_inline_policies_follow_case_insensitive_names(iam: Store) -> None:
    iam.create_role(make_role("Ci"))
    iam.put_inline_policy(OWNER, "role", "CI", NamedPolicy("p", DOC))
    assert iam.list_inline_policies(OWNER, "role", "ci") == [NamedPolicy("p", DOC)]
    assert iam.get_inline_policy(OWNER, "role", "cI", "p") == NamedPolicy("p", DOC)


def test_user_inline_policies_are_the_user_policies(iam: Store) -> None:
    iam.put_user_policy(OWNER, "alice", NamedPolicy("old", "1"))
    iam.put_inline_policy(OWNER, "user", "alice", NamedPolicy("new", "2"))
    assert iam.list_user_policies(OWNER, "alice") == [NamedPolicy("new", "2"), NamedPolicy("old", "1")]
    assert iam.list_inline_policies(OWNER, "user", "alice") == iam.list_user_policies(OWNER, "alice")
    iam.delete_user_policy(OWNER, "alice", "new")
    iam.delete_inline_policy(OWNER, "user", "alice", "old")
    assert iam.list_user_policies(OWNER, "alice") == []


# --- managed policies and versions --------------------------------------------------------------------


def test_managed_policies_round_trip_and_conflicts(iam: Store) -> None:
    policy = make_policy("ReadOnly", path="/team/")
    iam.create_managed_policy(policy, DOC)
    assert policy.arn == f"arn:aws:iam::{OWNER}:policy/team/ReadOnly"
    assert iam.get_managed_policy(policy.arn) == policy
    assert iam.get_managed_policy(make_policy("readonly").arn) is None  # ARNs are exact
    assert iam.get_policy_version(policy.arn, "v1") == PolicyVersion(policy.arn, "v1", DOC, True, policy.created_at)
    with pytest.raises(ConflictError, match=r"^A policy called readonly already exists\. Duplicate names"):
        iam.create_managed_policy(replace(make_policy("readonly"), policy_id="ANPAX"), DOC)
    with pytest.raises(ConflictError):  # same policy id
        iam.create_managed_policy(replace(make_policy("other"), policy_id=policy.policy_id), DOC)
    with pytest.raises(ValidationError):
        iam.create_managed_policy(make_policy("bad", version="1"), DOC)
    iam.create_managed_policy(make_policy("ReadOnly", account=OTHER), DOC)  # per account
    assert iam.get_managed_policy(make_policy("ReadOnly", account=OTHER).arn) is not None


def test_list_managed_policies_scopes(iam: Store) -> None:
    iam.create_managed_policy(make_policy("b"), DOC)
    iam.create_managed_policy(make_policy("a", account=OTHER), DOC)
    iam.create_managed_policy(make_policy("AdministratorAccess", account=AWS_MANAGED, version="v3"), DOC)
    iam.create_managed_policy(make_policy("c", account=AWS_MANAGED), DOC)
    names = [(p.account_id, p.name) for p in iam.list_managed_policies(None)]
    assert names == [("aws", "AdministratorAccess"), (OTHER, "a"), (OWNER, "b"), ("aws", "c")]
    assert [p.name for p in iam.list_managed_policies(AWS_MANAGED)] == ["AdministratorAccess", "c"]
    assert [p.name for p in iam.list_managed_policies(OWNER)] == ["b"]
    assert iam.list_managed_policies("333333333333") == []

    aws_arn = make_policy("AdministratorAccess", account=AWS_MANAGED).arn
    assert aws_arn == "arn:aws:iam::aws:policy/AdministratorAccess"
    iam.attach_policy(OWNER, "user", "alice", aws_arn)
    iam.attach_policy(OWNER, "user", "alice", make_policy("b").arn)
    assert [p.name for p in iam.list_managed_policies(None, only_attached=True)] == ["AdministratorAccess", "b"]
    assert [p.name for p in iam.list_managed_policies(AWS_MANAGED, only_attached=True)] == ["AdministratorAccess"]
    assert iam.list_managed_policies(OTHER, only_attached=True) == []
    # an AWS managed policy created at v3 continues at v4
    assert iam.create_policy_version(aws_arn, "{}", False, 9.0).version_id == "v4"
    got = iam.get_managed_policy(aws_arn)
    assert got is not None and got.default_version_id == "v3" and got.attachment_count == 1


def test_policy_versions(iam: Store) -> None:
    policy = make_policy("p")
    arn = policy.arn
    iam.create_managed_policy(policy, "doc1")
    v2 = iam.create_policy_version(arn, "doc2", False, 10.0)
    assert v2 == PolicyVersion(arn, "v2", "doc2", False, 10.0)
    v3 = iam.create_policy_version(arn, "doc3", True, 11.0)
    assert v3 == PolicyVersion(arn, "v3", "doc3", True, 11.0)
    got = iam.get_managed_policy(arn)
    assert got == replace(policy, default_version_id="v3", updated_at=11.0)
    assert [(v.version_id, v.is_default) for v in iam.list_policy_versions(arn)] == [
        ("v1", False),
        ("v2", False),
        ("v3", True),
    ]
    assert iam.get_policy_version(arn, "v1") == PolicyVersion(arn, "v1", "doc1", False, policy.created_at)
    assert iam.get_policy_version(arn, "v9") is None
    assert iam.get_policy_version(arn, "1") is None
    assert iam.get_policy_version(make_policy("nope").arn, "v1") is None

    # default version can't be deleted; others can; ids are never reused
    with pytest.raises(ConflictError, match=r"^Cannot delete the default version of a policy\.$"):
        iam.delete_policy_version(arn, "v3")
    iam.delete_policy_version(arn, "v2")
    with pytest.raises(ResourceNotFoundError):
        iam.delete_policy_version(arn, "v2")
    with pytest.raises(ResourceNotFoundError):
        iam.delete_policy_version(arn, "bogus")
    assert iam.create_policy_version(arn, "doc4", False, 12.0).version_id == "v4"

    # set default
    iam.set_default_policy_version(arn, "v1")
    assert [(v.version_id, v.is_default) for v in iam.list_policy_versions(arn)] == [
        ("v1", True),
        ("v3", False),
        ("v4", False),
    ]
    got = iam.get_managed_policy(arn)
    assert got is not None and got.default_version_id == "v1"
    iam.delete_policy_version(arn, "v3")
    with pytest.raises(ResourceNotFoundError, match="version v3 does not exist"):
        iam.set_default_policy_version(arn, "v3")
    with pytest.raises(ResourceNotFoundError):
        iam.set_default_policy_version(arn, "x")
    with pytest.raises(ResourceNotFoundError, match="was not found"):
        iam.set_default_policy_version(make_policy("nope").arn, "v1")
    with pytest.raises(ResourceNotFoundError):
        iam.create_policy_version(make_policy("nope").arn, "{}", False, 1.0)
    with pytest.raises(ResourceNotFoundError):
        iam.list_policy_versions(make_policy("nope").arn)


def test_at_most_five_versions(iam: Store) -> None:
    arn = make_policy("p").arn
    iam.create_managed_policy(make_policy("p"), "doc1")
    for n in range(2, 6):
        assert iam.create_policy_version(arn, f"doc{n}", n == 5, float(n)).version_id == f"v{n}"
    with pytest.raises(ConflictError, match=r"^A managed policy can have up to 5 versions\."):
        iam.create_policy_version(arn, "doc6", True, 6.0)
    assert len(iam.list_policy_versions(arn)) == 5
    got = iam.get_managed_policy(arn)
    assert got is not None and got.default_version_id == "v5" and got.updated_at == 5.0
    iam.delete_policy_version(arn, "v1")
    assert iam.create_policy_version(arn, "doc6", False, 6.0).version_id == "v6"


def test_concurrent_version_creation_respects_the_limit(iam: Store) -> None:
    arn = make_policy("p").arn
    iam.create_managed_policy(make_policy("p"), "doc1")
    outcomes = race(8, lambda i: iam.create_policy_version(arn, f"d{i}", False, float(i)))
    assert outcomes.count(None) == 4
    assert all(isinstance(o, ConflictError) for o in outcomes if o is not None)
    assert [v.version_id for v in iam.list_policy_versions(arn)] == ["v1", "v2", "v3", "v4", "v5"]


def test_delete_managed_policy(iam: Store) -> None:
    arn = make_policy("p").arn
    iam.create_managed_policy(make_policy("p"), "doc1")
    iam.create_policy_version(arn, "doc2", True, 2.0)
    with pytest.raises(ConflictError, match="more than one version"):
        iam.delete_managed_policy(arn)
    iam.delete_policy_version(arn, "v1")
    iam.attach_policy(OWNER, "user", "alice", arn)
    with pytest.raises(ConflictError, match=r"^Cannot delete a policy attached to entities\.$"):
        iam.delete_managed_policy(arn)
    iam.detach_policy(OWNER, "user", "alice", arn)
    iam.delete_managed_policy(arn)
    assert iam.get_managed_policy(arn) is None
    assert iam.get_policy_version(arn, "v2") is None
    with pytest.raises(ResourceNotFoundError, match=f"Policy {arn} was not found"):
        iam.delete_managed_policy(arn)
    iam.create_managed_policy(make_policy("P"), "again")  # the name is free again
    assert [v.version_id for v in iam.list_policy_versions(make_policy("P").arn)] == ["v1"]


# --- attachments --------------------------------------------------------------------------------------


def test_attachments_and_counts(iam: Store) -> None:
    iam.create_group(make_group("devs"))
    iam.create_role(make_role("ci"))
    p, q = make_policy("p"), make_policy("q")
    aws = make_policy("AWSRead", account=AWS_MANAGED)
    for policy in (p, q, aws):
        iam.create_managed_policy(policy, DOC)
    iam.attach_policy(OWNER, "user", "alice", p.arn)
    iam.attach_policy(OWNER, "user", "alice", p.arn)  # idempotent
    iam.attach_policy(OWNER, "group", "DEVS", p.arn)
    iam.attach_policy(OWNER, "role", "ci", p.arn)
    iam.attach_policy(OWNER, "role", "CI", aws.arn)
    iam.attach_policy(OWNER, "user", "alice", q.arn)

    got = iam.get_managed_policy(p.arn)
    assert got is not None and got.attachment_count == 3
    assert iam.list_policy_attachments(p.arn) == [
        (OWNER, "group", "devs"),
        (OWNER, "role", "ci"),
        (OWNER, "user", "alice"),
    ]
    assert iam.list_attached_policies(OWNER, "user", "alice") == [
        replace(p, attachment_count=3),
        replace(q, attachment_count=1),
    ]
    assert [x.name for x in iam.list_attached_policies(OWNER, "role", "Ci")] == ["AWSRead", "p"]
    assert [x.name for x in iam.list_attached_policies(OWNER, "group", "devs")] == ["p"]
    assert iam.list_attached_policies(OWNER, "user", "bob") == []
    assert [x.attachment_count for x in iam.list_managed_policies(None)] == [1, 3, 1]

    with pytest.raises(ResourceNotFoundError, match="was not found"):
        iam.attach_policy(OWNER, "user", "alice", make_policy("nope").arn)
    with pytest.raises(ResourceNotFoundError, match="The role with name nope cannot be found"):
        iam.attach_policy(OWNER, "role", "nope", p.arn)
    with pytest.raises(ResourceNotFoundError):
        iam.attach_policy(OTHER, "user", "alice", p.arn)
    with pytest.raises(ResourceNotFoundError):
        iam.list_attached_policies(OWNER, "group", "nope")
    with pytest.raises(ResourceNotFoundError):
        iam.list_policy_attachments(make_policy("nope").arn)

    iam.detach_policy(OWNER, "user", "alice", p.arn)
    with pytest.raises(ResourceNotFoundError, match="was not attached"):
        iam.detach_policy(OWNER, "user", "alice", p.arn)
    with pytest.raises(ResourceNotFoundError):
        iam.detach_policy(OWNER, "user", "bob", p.arn)
    with pytest.raises(ResourceNotFoundError):
        iam.detach_policy(OWNER, "user", "alice", make_policy("nope").arn)
    with pytest.raises(ResourceNotFoundError):
        iam.detach_policy(OWNER, "role", "nope", p.arn)
    got = iam.get_managed_policy(p.arn)
    assert got is not None and got.attachment_count == 2
    assert [x.name for x in iam.list_attached_policies(OWNER, "user", "alice")] == ["q"]


def test_concurrent_attach_and_delete_leave_no_dangling_attachment(iam: Store) -> None:
    arn = make_policy("p").arn
    iam.create_managed_policy(make_policy("p"), DOC)
    for round_ in range(5):
        name = f"r{round_}"
        iam.create_role(make_role(name))

        def act(i: int, name: str = name) -> None:
            if i % 2:
                iam.attach_policy(OWNER, "role", name, arn)
            else:
                iam.delete_role(OWNER, name)

        race(4, act)
        attached = (OWNER, "role", name) in iam.list_policy_attachments(arn)
        assert attached == (iam.get_role(OWNER, name) is not None)
        if attached:
            iam.detach_policy(OWNER, "role", name, arn)
            iam.delete_role(OWNER, name)
    iam.delete_managed_policy(arn)


# --- access keys --------------------------------------------------------------------------------------


def test_access_key_status_and_last_use(iam: Store) -> None:
    iam.create_access_key(AccessKey("AKIA1", "s", OWNER, "alice", 2.0))
    iam.update_access_key_status("AKIA1", "Inactive")
    alice_id = make_user("alice").user_id
    assert iam.get_access_key("AKIA1") == AccessKey("AKIA1", "s", OWNER, "alice", 2.0, "Inactive", alice_id)
    iam.update_access_key_status("AKIA1", "Active")
    key = iam.get_access_key("AKIA1")
    assert key is not None and key.status == "Active"
    with pytest.raises(ResourceNotFoundError, match="The Access Key with id AKIA2 cannot be found"):
        iam.update_access_key_status("AKIA2", "Inactive")

    assert iam.get_access_key_last_used("AKIA1") is None
    iam.record_access_key_use("AKIA1", 100.5, "codeartifact", "us-east-1")
    assert iam.get_access_key_last_used("AKIA1") == (100.5, "codeartifact", "us-east-1")
    iam.record_access_key_use("AKIA1", 200.25, "sts", "eu-west-1")
    assert iam.get_access_key_last_used("AKIA1") == (200.25, "sts", "eu-west-1")
    iam.record_access_key_use("AKIA-NONE", 1.0, "sts", "eu-west-1")  # best effort: ignored
    assert iam.get_access_key_last_used("AKIA-NONE") is None
    iam.delete_access_key("AKIA1")
    assert iam.get_access_key_last_used("AKIA1") is None


# --- sessions -----------------------------------------------------------------------------------------


def test_sessions_round_trip(iam: Store) -> None:
    role_session = make_session(
        "ASIA1",
        session_policy='{"Version":"2012-10-17"}',
        session_policy_arns=("arn:aws:iam::aws:policy/A", "arn:aws:iam::111111111111:policy/B"),
        tags={"team": "é", "Project": "x"},
        chained=True,
    )
    user_session = make_session("ASIA2", role_name=None, session_name="alice", user_name="alice")
    iam.create_session(role_session)
    iam.create_session(user_session)
    got = iam.get_session("ASIA1")
    assert got == role_session and got.tags == role_session.tags
    assert got.arn == f"arn:aws:sts::{OWNER}:assumed-role/ci/build-1"
    got2 = iam.get_session("ASIA2")
    assert got2 == user_session and got2.tags == {} and got2.session_policy is None
    assert got2.arn == f"arn:aws:iam::{OWNER}:user/alice"
    assert iam.get_session("ASIA3") is None
    with pytest.raises(ConflictError):
        iam.create_session(replace(role_session, session_token="other"))


def test_find_role_sessions(iam: Store) -> None:
    a = make_session("ASIA1", issued_at=1000.0)
    b = make_session("ASIA2", issued_at=1000.999)
    iam.create_session(a)
    iam.create_session(b)
    iam.create_session(make_session("ASIA3", issued_at=1001.0))
    iam.create_session(make_session("ASIA4", issued_at=999.5))
    iam.create_session(make_session("ASIA5", issued_at=1000.5, session_name="other"))
    iam.create_session(make_session("ASIA6", issued_at=1000.5, role_name="deploy"))
    iam.create_session(make_session("ASIA7", issued_at=1000.5, account_id=OTHER))
    iam.create_session(make_session("ASIA8", issued_at=1000.5, role_name=None, user_name="ci"))
    assert iam.find_role_sessions(OWNER, "ci", "build-1", 1000) == [a, b]
    assert iam.delete_expired_sessions(2e9) == 8
    assert iam.find_role_sessions(OWNER, "ci", "build-1", 1000) == []


def test_delete_expired_sessions(iam: Store) -> None:
    iam.create_session(make_session("ASIA1", expires_at=100.0))
    iam.create_session(make_session("ASIA2", expires_at=200.0))
    iam.create_session(make_session("ASIA3", expires_at=300.0))
    assert iam.delete_expired_sessions(50.0) == 0
    assert iam.delete_expired_sessions(200.0) == 2
    assert iam.get_session("ASIA1") is None and iam.get_session("ASIA2") is None
    assert iam.get_session("ASIA3") is not None
    assert iam.delete_expired_sessions(200.0) == 0


# --- migrations ---------------------------------------------------------------------------------------


def assert_frozen_prefix(frozen: MetaData) -> None:
    """Every table of a frozen schema starts with exactly its frozen columns in ``schema.py``."""
    for name, table in frozen.tables.items():
        current = [(c.name, str(c.type), c.nullable) for c in schema.metadata.tables[name].columns]
        assert [(c.name, str(c.type), c.nullable) for c in table.columns] == current[: len(table.columns)], name


def test_version_2_is_frozen_and_a_version_2_database_upgrades(db_url: str) -> None:
    assert LATEST_VERSION == 7
    engine = create_engine_for(db_url)
    try:
        # a database as Coffer 2 made it: migrations 1 and 2
        with engine.begin() as conn:
            schema_version.create(conn)
            for number in (1, 2):
                MIGRATIONS[number - 1](conn)
                conn.execute(schema_version.insert().values(version=number, applied_at=1.0))
        v2_tables = sorted(m0002_packages.metadata.tables)
        assert sorted(t for t in inspect(engine).get_table_names() if t != "schema_version") == v2_tables
        v2_shape = shape(engine, v2_tables)
        # the frozen version 2 is what schema.py has for those tables (later migrations only add columns)
        assert_frozen_prefix(m0002_packages.metadata)
        old = SqlStore(engine)
        alice_id = make_user("alice").user_id
        old.create_account(Account(OWNER, 1.0))
        old.create_user(make_user("alice"))
        with engine.begin() as conn:  # as version 2 wrote keys (no user_id column yet)
            conn.execute(
                m0002_packages.metadata.tables["access_keys"]
                .insert()
                .values(access_key_id="AKIA1", secret_access_key="s", account_id=OWNER, user_name="alice")
                .values(status="Active", created_at=2.0)
            )
        old.put_user_policy(OWNER, "alice", NamedPolicy("inline", DOC))
        old.create_domain(make_domain("acme"), {"a": "1"})
        old.create_repository(make_repo("acme", "main"), {})
        old._record_asset_name = lambda *args: None  # type: ignore[method-assign]  # as version 2 wrote assets
        old._changing = lambda repo: old._write()  # type: ignore[method-assign]  # nor renewed revisions
        stored = old.add_asset(pver(), asset())
        old.revoke_token("t", 2e9, 1e9)

        assert apply_migrations(engine) == LATEST_VERSION - 2
        assert apply_migrations(engine) == 0
        with engine.connect() as conn:
            assert list(conn.execute(select(schema_version.c.version)).scalars()) == list(range(1, LATEST_VERSION + 1))
        # migration 4 only adds columns to version-2 tables, and an index on assets.metadata_sha256
        after = shape(engine, v2_tables)
        assert {t: s[1:3] for t, s in after.items()} == {t: s[1:3] for t, s in v2_shape.items()}  # type: ignore[index]
        for table in v2_tables:
            added = [("metadata_sha256",)] if table == "assets" else []
            assert after[table][3] == sorted([*v2_shape[table][3], *added]), table  # type: ignore[index]
        assert set(inspect(engine).get_table_names()) == set(schema.metadata.tables) | {"schema_version"}
    finally:
        engine.dispose()

    upgraded = open_store(db_url)
    try:
        assert upgraded.get_user(OWNER, "alice") == make_user("alice")
        # migration 4 bound the key to alice's unique id
        assert upgraded.get_access_key("AKIA1") == AccessKey("AKIA1", "s", OWNER, "alice", 2.0, user_id=alice_id)
        assert upgraded.list_inline_policies(OWNER, "user", "alice") == [NamedPolicy("inline", DOC)]
        assert upgraded.get_version(pref(), "1.0") == stored
        assert upgraded.revoked_tokens(1.5e9) == {"t"}
        # migration 4 recorded the file names in use: the name cannot come back with other bytes
        upgraded.delete_version(pref(), "1.0", None)
        with pytest.raises(ConflictError) as reuse:
            upgraded.add_asset(pver(), replace(asset(), blob=replace(asset().blob, sha256="f" * 64)))
        assert reuse.value.resource_type == "asset-name"
        assert upgraded.add_asset(pver(), asset()).version == "1.0"
        # and the new tables work on the upgraded database
        upgraded.create_role(make_role("ci"))
        upgraded.create_managed_policy(make_policy("p"), DOC)
        upgraded.attach_policy(OWNER, "user", "alice", make_policy("p").arn)
        upgraded.create_session(make_session())
        assert upgraded.get_session("ASIA1") == make_session()
    finally:
        upgraded.close()


def test_version_3_is_frozen_and_migration_4_binds_keys_and_sessions_to_unique_ids(db_url: str) -> None:
    engine = create_engine_for(db_url)
    try:
        with engine.begin() as conn:  # a database as Coffer 3 made it: migrations 1 to 3
            schema_version.create(conn)
            for number in (1, 2, 3):
                MIGRATIONS[number - 1](conn)
                conn.execute(schema_version.insert().values(version=number, applied_at=1.0))
        assert sorted(t for t in inspect(engine).get_table_names() if t != "schema_version") == sorted(
            m0003_iam.metadata.tables
        )
        assert_frozen_prefix(m0003_iam.metadata)
        v3 = m0003_iam.metadata.tables
        role, user = make_role("ci"), make_user("alice")
        with engine.begin() as conn:
            conn.execute(v3["accounts"].insert().values(account_id=OWNER, created_at=1.0))
            conn.execute(
                v3["users"]
                .insert()
                .values(account_id=OWNER, name="alice", user_id=user.user_id, path="/")
                .values(created_at=1.0)
            )
            conn.execute(
                v3["roles"]
                .insert()
                .values(
                    account_id=OWNER,
                    name="ci",
                    name_key="ci",
                    role_id=role.role_id,
                    path="/",
                    trust_policy=role.trust_policy,
                    description="",
                    max_session_duration=3600,
                    created_at=1.0,
                )
            )
            common = dict(
                secret_access_key="s",
                session_token="t",
                account_id=OWNER,
                expires_at=9e9,
                issued_at=1.0,
                source_arn="x",
                session_policy=None,
                session_policy_arns="[]",
                tags="{}",
                chained=False,
            )
            conn.execute(
                v3["sessions"]
                .insert()
                .values(access_key_id="ASIAROLE", role_name="ci", session_name="s1", user_name=None, **common)
            )
            conn.execute(
                v3["sessions"]
                .insert()
                .values(access_key_id="ASIAUSER", role_name=None, session_name="alice", user_name="alice", **common)
            )
        assert apply_migrations(engine) == LATEST_VERSION - 3
    finally:
        engine.dispose()
    upgraded = open_store(db_url)
    try:
        role_session, user_session = upgraded.get_session("ASIAROLE"), upgraded.get_session("ASIAUSER")
        assert role_session is not None and role_session.principal_id == role.role_id
        assert user_session is not None and user_session.principal_id == user.user_id
        upgraded.create_session(make_session("ASIANEW", principal_id="AROANEW"))
        assert upgraded.get_session("ASIANEW") == make_session("ASIANEW", principal_id="AROANEW")
    finally:
        upgraded.close()


def test_a_fresh_database_has_the_iam_tables(db_url: str) -> None:
    fresh = open_store(db_url)
    try:
        iam_tables = [
            "roles",
            "groups",
            "group_members",
            "group_policies",
            "role_policies",
            "managed_policies",
            "policy_versions",
            "policy_attachments",
            "access_key_usage",
            "sessions",
        ]
        got = shape(fresh.engine, iam_tables)
        for t in iam_tables:
            columns = sorted((c.name, bool(c.nullable)) for c in schema.metadata.tables[t].columns)
            assert got[t][0] == columns  # type: ignore[index]
        uniques = {t: got[t][1] for t in ("roles", "groups", "managed_policies")}  # type: ignore[index]
        assert ("account_id", "name_key") in uniques["roles"]
        assert ("account_id", "name_key") in uniques["groups"]
        assert ("arn",) in uniques["managed_policies"]
    finally:
        fresh.close()


def test_iam_data_survives_reopen(db_url: str) -> None:
    first = open_store(db_url)
    try:
        first.create_account(Account(OWNER, 1.0))
        first.create_user(make_user("alice"))
        first.create_role(make_role("ci"))
        first.create_group(make_group("devs"))
        first.add_user_to_group(OWNER, "devs", "alice")
        first.create_managed_policy(make_policy("p"), DOC)
        first.attach_policy(OWNER, "group", "devs", make_policy("p").arn)
        first.create_session(make_session(tags={"k": "v"}))
    finally:
        first.close()
    second = open_store(db_url)
    try:
        assert second.get_role(OWNER, "ci") == make_role("ci")
        assert second.list_group_members(OWNER, "devs") == [make_user("alice")]
        assert second.get_managed_policy(make_policy("p").arn) == replace(make_policy("p"), attachment_count=1)
        assert second.get_session("ASIA1") == make_session(tags={"k": "v"})
    finally:
        second.close()
