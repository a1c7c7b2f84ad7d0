"""The Store contract (coffer.core.ports), checked on every backend (see conftest.py)."""

from __future__ import annotations

import dataclasses
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

import coffer
from coffer.core.codeartifact.resources import Domain, ExternalConnection, Repository
from coffer.core.identity.iam_models import AccessKey, Account, NamedPolicy, User
from coffer.core.ports import Store
from coffer.core.shared.errors import ConflictError, ResourceNotFoundError, ValidationError
from coffer.store.engine import create_engine_for, normalize_url, sqlite_url_for
from coffer.store.migrations.runner import LATEST_VERSION, SchemaTooNewError, apply_migrations, schema_version
from coffer.store.sql_store import SqlStore, open_store

OWNER = "111111111111"
OTHER = "222222222222"
REGION = "us-east-1"

# names whose order differs between byte order and any linguistic collation
TRICKY_NAMES = ["b", "B", "a-b", "a.b", "a_b", "ab", "A", "Z", "z9", "z10", "é", "e", "a b"]


def domain_arn(owner: str, name: str) -> str:
    return f"arn:aws:codeartifact:{REGION}:{owner}:domain/{name}"


def repo_arn(owner: str, domain: str, name: str) -> str:
    return f"arn:aws:codeartifact:{REGION}:{owner}:repository/{domain}/{name}"


def make_domain(name: str, owner: str = OWNER, created: float = 1_700_000_000.123456) -> Domain:
    return Domain(
        name=name,
        owner=owner,
        arn=domain_arn(owner, name),
        created_time=created,
        encryption_key=f"arn:aws:kms:{REGION}:{owner}:key/coffer",
    )


def make_repo(
    domain: str,
    name: str,
    owner: str = OWNER,
    *,
    upstreams: tuple[str, ...] = (),
    admin: str | None = None,
    description: str = "",
    connections: tuple[ExternalConnection, ...] = (),
) -> Repository:
    return Repository(
        domain_name=domain,
        domain_owner=owner,
        name=name,
        arn=repo_arn(owner, domain, name),
        administrator_account=admin or owner,
        created_time=1_700_000_100.5,
        description=description,
        upstreams=upstreams,
        external_connections=connections,
    )


def list_all_repos(store: Store, limit: int = 1000, **filters: str | None) -> list[Repository]:
    args: dict[str, str | None] = {"administrator_account": None, "owner": None, "domain": None, "prefix": None}
    args.update(filters)
    out: list[Repository] = []
    after: str | None = None
    while True:
        page = store.list_repositories(**args, after=after, limit=limit)
        out.extend(page.items)
        if page.next_key is None:
            return out
        assert len(page.items) == limit
        after = page.next_key


def test_sql_store_satisfies_the_port(store: SqlStore) -> None:
    typed: Store = store  # mypy checks the structural match; this checks the object at run time
    assert callable(typed.close)


# --- accounts ---------------------------------------------------------------------------------------


def test_accounts(store: Store) -> None:
    assert store.get_account(OWNER) is None
    assert store.list_accounts() == []
    store.create_account(Account(OWNER, 10.25))
    store.create_account(Account("000000000001", 11.0))
    assert store.get_account(OWNER) == Account(OWNER, 10.25)
    assert [a.account_id for a in store.list_accounts()] == ["000000000001", OWNER]
    with pytest.raises(ConflictError) as err:
        store.create_account(Account(OWNER, 99.0))
    assert err.value.resource_id == OWNER
    assert store.get_account(OWNER) == Account(OWNER, 10.25)


# --- users, access keys, inline policies ------------------------------------------------------------


def make_user(name: str, account: str = OWNER) -> User:
    return User(account_id=account, name=name, user_id=f"AIDA{account}{name.encode().hex()}", created_at=5.5)


ALICE_ID = make_user("alice").user_id


def test_users(store: Store) -> None:
    with pytest.raises(ResourceNotFoundError):  # the account must exist
        store.create_user(make_user("alice"))
    store.create_account(Account(OWNER, 1.0))
    store.create_account(Account(OTHER, 1.0))
    for name in TRICKY_NAMES:
        store.create_user(make_user(name))
    store.create_user(make_user("alice", OTHER))
    store.create_user(User(OWNER, "carol", "AIDACAROL", 7.0, path="/team/"))
    with pytest.raises(ConflictError) as err:
        store.create_user(User(OWNER, "carol", "AIDAOTHER", 8.0))
    assert err.value.resource_id == "carol"
    with pytest.raises(ConflictError):  # user ids are unique too
        store.create_user(User(OWNER, "dave", "AIDACAROL", 8.0))
    assert store.get_user(OWNER, "carol") == User(OWNER, "carol", "AIDACAROL", 7.0, path="/team/")
    assert store.get_user(OWNER, "nobody") is None
    assert store.get_user(OTHER, "carol") is None
    assert [u.name for u in store.list_users(OWNER)] == sorted([*TRICKY_NAMES, "carol"])
    assert [u.name for u in store.list_users(OTHER)] == ["alice"]
    assert store.list_users("333333333333") == []
    store.delete_user(OWNER, "carol")
    assert store.get_user(OWNER, "carol") is None
    with pytest.raises(ResourceNotFoundError):
        store.delete_user(OWNER, "carol")


def test_access_keys(store: Store) -> None:
    key = AccessKey("AKIAAAA", "secret-a", OWNER, "alice", 20.0)
    with pytest.raises(ResourceNotFoundError):
        store.create_access_key(key)  # no such user
    store.create_account(Account(OWNER, 1.0))
    store.create_user(make_user("alice"))
    store.create_user(make_user("bob"))
    store.create_access_key(key)
    store.create_access_key(AccessKey("AKIAZZZ", "secret-z", OWNER, "alice", 10.0, status="Inactive"))
    store.create_access_key(AccessKey("AKIABBB", "secret-b", OWNER, "bob", 30.0))
    with pytest.raises(ConflictError) as err:
        store.create_access_key(AccessKey("AKIAAAA", "other", OWNER, "bob", 40.0))
    assert err.value.resource_id == "AKIAAAA"
    assert store.get_access_key("AKIAAAA") == replace(key, user_id=make_user("alice").user_id)  # bound by the store
    assert store.get_access_key("AKIANONE") is None
    assert [k.access_key_id for k in store.list_access_keys(OWNER, "alice")] == ["AKIAZZZ", "AKIAAAA"]
    assert store.list_access_keys(OWNER, "alice")[0].status == "Inactive"
    assert store.list_access_keys(OWNER, "nobody") == []
    store.delete_access_key("AKIAAAA")
    assert store.get_access_key("AKIAAAA") is None
    with pytest.raises(ResourceNotFoundError):
        store.delete_access_key("AKIAAAA")


def test_user_policies(store: Store) -> None:
    with pytest.raises(ResourceNotFoundError):
        store.put_user_policy(OWNER, "alice", NamedPolicy("p", "{}"))
    store.create_account(Account(OWNER, 1.0))
    store.create_user(make_user("alice"))
    store.put_user_policy(OWNER, "alice", NamedPolicy("write", '{"v": 1}'))
    store.put_user_policy(OWNER, "alice", NamedPolicy("Read", "{}"))
    store.put_user_policy(OWNER, "alice", NamedPolicy("write", '{"v": 2}'))  # replaces
    assert store.list_user_policies(OWNER, "alice") == [
        NamedPolicy("Read", "{}"),
        NamedPolicy("write", '{"v": 2}'),
    ]
    assert store.list_user_policies(OWNER, "nobody") == []
    store.delete_user_policy(OWNER, "alice", "Read")
    assert store.list_user_policies(OWNER, "alice") == [NamedPolicy("write", '{"v": 2}')]
    with pytest.raises(ResourceNotFoundError):
        store.delete_user_policy(OWNER, "alice", "Read")
    with pytest.raises(ResourceNotFoundError):
        store.delete_user_policy(OWNER, "nobody", "write")


def test_deleting_a_user_deletes_its_keys_and_policies(store: Store) -> None:
    store.create_account(Account(OWNER, 1.0))
    store.create_user(make_user("alice"))
    store.create_user(make_user("bob"))
    store.create_access_key(AccessKey("AKIA1", "s", OWNER, "alice", 1.0))
    store.create_access_key(AccessKey("AKIA2", "s", OWNER, "bob", 1.0))
    store.put_user_policy(OWNER, "alice", NamedPolicy("p", "{}"))
    store.put_user_policy(OWNER, "bob", NamedPolicy("p", "{}"))
    store.delete_user(OWNER, "alice")
    assert store.get_access_key("AKIA1") is None
    assert store.get_access_key("AKIA2") is not None
    assert store.list_user_policies(OWNER, "bob") == [NamedPolicy("p", "{}")]
    store.create_user(make_user("alice"))  # a new user of the same name starts empty
    assert store.list_access_keys(OWNER, "alice") == []
    assert store.list_user_policies(OWNER, "alice") == []


# --- domains ----------------------------------------------------------------------------------------


def test_create_and_get_domain(store: Store) -> None:
    domain = make_domain("acme", created=1_732_874_123.987654)
    store.create_domain(domain, {"team": "platform", "cost-center": "42"})
    assert store.get_domain(OWNER, "acme") == domain
    assert store.get_domain(OWNER, "acme").created_time == 1_732_874_123.987654  # type: ignore[union-attr]
    assert store.get_tags(domain.arn) == {"team": "platform", "cost-center": "42"}
    assert store.get_domain(OWNER, "nope") is None
    assert store.get_domain(OTHER, "acme") is None
    store.create_domain(make_domain("acme", OTHER), {})  # same name, other account
    assert store.get_domain(OTHER, "acme") == make_domain("acme", OTHER)


def test_create_domain_conflict_is_atomic(store: Store) -> None:
    store.create_domain(make_domain("acme"), {"a": "1"})
    with pytest.raises(ConflictError) as err:
        store.create_domain(make_domain("acme", created=5.0), {"a": "2", "b": "3"})
    assert err.value.resource_id == "acme"
    assert err.value.resource_type == "domain"
    assert "acme" in err.value.message
    assert store.get_domain(OWNER, "acme") == make_domain("acme")
    assert store.get_tags(domain_arn(OWNER, "acme")) == {"a": "1"}


def test_domain_repository_count(store: Store) -> None:
    store.create_domain(make_domain("acme"), {})
    store.create_domain(make_domain("other"), {})
    for name in ("r1", "r2", "r3"):
        store.create_repository(make_repo("acme", name), {})
    store.create_repository(make_repo("other", "r1"), {})
    domain = store.get_domain(OWNER, "acme")
    assert domain is not None and domain.repository_count == 3 and domain.asset_size_bytes == 0
    listed = {d.name: d.repository_count for d in store.list_domains(OWNER, None, 10).items}
    assert listed == {"acme": 3, "other": 1}


def walk_domains(store: Store, owner: str, limit: int) -> list[list[str]]:
    pages: list[list[str]] = []
    after: str | None = None
    while True:
        page = store.list_domains(owner, after, limit)
        pages.append([d.name for d in page.items])
        if page.next_key is None:
            return pages
        assert page.next_key == page.items[-1].name
        after = page.next_key


def test_list_domains_pages(store: Store) -> None:
    names = [f"d{i:02d}" for i in range(25)]
    for name in random.Random(7).sample(names, len(names)):
        store.create_domain(make_domain(name), {})
    store.create_domain(make_domain("d00", OTHER), {})
    store.create_domain(make_domain("zz", OTHER), {})
    pages = walk_domains(store, OWNER, 7)
    assert [len(p) for p in pages] == [7, 7, 7, 4]
    assert [n for p in pages for n in p] == names
    assert walk_domains(store, OTHER, 7) == [["d00", "zz"]]
    assert walk_domains(store, "333333333333", 7) == [[]]
    assert store.count_domains(OWNER) == 25
    assert store.count_domains(OTHER) == 2
    assert store.count_domains("333333333333") == 0
    # a page that ends exactly at the end says so
    assert [len(p) for p in walk_domains(store, OWNER, 5)] == [5, 5, 5, 5, 5]
    assert store.list_domains(OWNER, "d23", 7).items[0].name == "d24"
    assert store.list_domains(OWNER, "d105", 2).items[0].name == "d11"  # `after` need not exist
    assert store.list_domains(OWNER, "d24", 7).items == ()


def test_list_domains_orders_by_code_point(store: SqlStore) -> None:
    for name in TRICKY_NAMES:
        store.create_domain(make_domain(name), {})
    assert [n for p in walk_domains(store, OWNER, 4) for n in p] == sorted(TRICKY_NAMES)
    if store.engine.dialect.name == "postgresql":  # independent of the server's default collation
        with store.engine.connect() as conn:
            collations = conn.execute(
                text(
                    "SELECT table_name, column_name, collation_name FROM information_schema.columns "
                    "WHERE column_name = 'name' AND table_schema = current_schema()"
                )
            ).all()
        assert collations and all(c.collation_name == "C" for c in collations), collations


def test_list_rejects_a_page_size_below_one(store: Store) -> None:
    with pytest.raises(ValidationError):
        store.list_domains(OWNER, None, 0)
    with pytest.raises(ValidationError):
        store.list_repositories(administrator_account=None, owner=None, domain=None, prefix=None, after=None, limit=0)


def test_delete_domain(store: Store) -> None:
    domain = make_domain("acme")
    store.create_domain(domain, {"a": "1"})
    store.create_domain(make_domain("keep"), {"k": "v"})
    store.put_resource_policy(domain.arn, '{"Version": "2012-10-17"}', None)
    store.put_resource_policy(domain_arn(OWNER, "keep"), "{}", None)
    assert store.delete_domain(OWNER, "acme") == domain
    assert store.get_domain(OWNER, "acme") is None
    assert store.get_tags(domain.arn) == {}
    assert store.get_resource_policy(domain.arn) is None
    assert store.get_tags(domain_arn(OWNER, "keep")) == {"k": "v"}
    assert store.get_resource_policy(domain_arn(OWNER, "keep")) is not None
    with pytest.raises(ResourceNotFoundError) as err:
        store.delete_domain(OWNER, "acme")
    assert (err.value.resource_id, err.value.resource_type) == ("acme", "domain")
    assert err.value.message == f"Domain acme not found in account {OWNER}"
    store.create_domain(domain, {})  # the name is free again, with no tags left over
    assert store.get_tags(domain.arn) == {}


def test_delete_domain_refuses_while_it_holds_repositories(store: Store) -> None:
    store.create_domain(make_domain("acme"), {"a": "1"})
    store.create_repository(make_repo("acme", "r1"), {})
    with pytest.raises(ConflictError) as err:
        store.delete_domain(OWNER, "acme")
    assert err.value.message == "Domain acme contains repositories"
    assert (err.value.resource_id, err.value.resource_type) == ("acme", "domain")
    assert store.get_tags(domain_arn(OWNER, "acme")) == {"a": "1"}
    store.delete_repository(OWNER, "acme", "r1")
    assert store.delete_domain(OWNER, "acme").name == "acme"


# --- repositories -----------------------------------------------------------------------------------

PYPI = ExternalConnection("public:pypi", "pypi")
NPM = ExternalConnection("public:npmjs", "npm", status="AVAILABLE")


def test_create_and_get_repository(store: Store) -> None:
    store.create_domain(make_domain("acme"), {})
    for name in ("c", "a", "b"):
        store.create_repository(make_repo("acme", name), {})
    repo = make_repo(
        "acme",
        "main",
        upstreams=("c", "a", "b"),
        admin=OTHER,
        description="the main one",
        connections=(PYPI,),
    )
    store.create_repository(repo, {"env": "prod"})
    assert store.get_repository(OWNER, "acme", "main") == repo  # upstream order preserved
    assert store.get_tags(repo.arn) == {"env": "prod"}
    assert store.get_repository(OWNER, "acme", "nope") is None
    assert store.get_repository(OWNER, "nope", "main") is None
    assert store.get_repository(OTHER, "acme", "main") is None


def test_external_connections_change_only_from_what_was_read(store: Store) -> None:
    store.create_domain(make_domain("acme"), {})
    store.create_repository(make_repo("acme", "store", description="d"), {})
    store.set_external_connections(OWNER, "acme", "store", (PYPI,), expected=[])
    assert store.get_repository(OWNER, "acme", "store") == make_repo("acme", "store", description="d",
                                                                     connections=(PYPI,))  # fmt: skip
    # a change computed from a stale read is refused: two concurrent associations never both land
    with pytest.raises(ConflictError):
        store.set_external_connections(OWNER, "acme", "store", (NPM,), expected=[])
    # UpdateRepository (description, upstreams) leaves the connections alone, whatever its read said
    store.update_repository(make_repo("acme", "store", description="new"))
    assert store.get_repository(OWNER, "acme", "store") == make_repo("acme", "store", description="new",
                                                                     connections=(PYPI,))  # fmt: skip
    store.set_external_connections(OWNER, "acme", "store", (), expected=["public:pypi"])
    assert store.get_repository(OWNER, "acme", "store") == make_repo("acme", "store", description="new")
    with pytest.raises(ResourceNotFoundError):
        store.set_external_connections(OWNER, "acme", "nope", (PYPI,), expected=[])


def test_create_repository_errors(store: Store) -> None:
    with pytest.raises(ResourceNotFoundError) as err:
        store.create_repository(make_repo("acme", "r1"), {})
    assert (err.value.resource_id, err.value.resource_type) == ("acme", "domain")
    store.create_domain(make_domain("acme"), {})
    store.create_domain(make_domain("other"), {})
    store.create_repository(make_repo("acme", "r1"), {"a": "1"})
    with pytest.raises(ConflictError) as conflict:
        store.create_repository(make_repo("acme", "r1", description="again"), {"a": "2"})
    assert (conflict.value.resource_id, conflict.value.resource_type) == ("r1", "repository")
    assert store.get_repository(OWNER, "acme", "r1") == make_repo("acme", "r1")
    assert store.get_tags(repo_arn(OWNER, "acme", "r1")) == {"a": "1"}
    store.create_repository(make_repo("other", "r1"), {})  # same name, other domain


def test_upstreams_must_exist_in_the_same_domain(store: Store) -> None:
    store.create_domain(make_domain("acme"), {})
    store.create_domain(make_domain("other"), {})
    store.create_repository(make_repo("acme", "up"), {})
    store.create_repository(make_repo("other", "elsewhere"), {})
    for upstreams, missing in [
        (("up", "ghost"), "ghost"),
        (("elsewhere",), "elsewhere"),  # exists, but in another domain
        (("new",), "new"),  # itself
    ]:
        with pytest.raises(ResourceNotFoundError) as err:
            store.create_repository(make_repo("acme", "new", upstreams=upstreams), {"t": "v"})
        assert (err.value.resource_id, err.value.resource_type) == (missing, "repository")
        assert missing in err.value.message
        assert store.get_repository(OWNER, "acme", "new") is None
        assert store.get_tags(repo_arn(OWNER, "acme", "new")) == {}
    with pytest.raises(ValidationError):
        store.create_repository(make_repo("acme", "new", upstreams=("up", "up")), {})


def test_update_repository(store: Store) -> None:
    store.create_domain(make_domain("acme"), {})
    for name in ("u1", "u2", "u3"):
        store.create_repository(make_repo("acme", name), {})
    store.create_repository(make_repo("acme", "main", upstreams=("u1", "u2"), connections=(PYPI,)), {})
    updated = make_repo("acme", "main", upstreams=("u3", "u1"), description="new", connections=(PYPI,))
    # the connections stay whatever the record given says (they change through set_external_connections)
    store.update_repository(dataclasses.replace(updated, external_connections=(NPM,)))
    assert store.get_repository(OWNER, "acme", "main") == updated
    store.update_repository(make_repo("acme", "main"))
    assert store.get_repository(OWNER, "acme", "main") == make_repo("acme", "main", connections=(PYPI,))
    # a failed update changes nothing
    store.update_repository(updated)
    with pytest.raises(ResourceNotFoundError) as err:
        store.update_repository(make_repo("acme", "main", upstreams=("u2", "ghost"), description="x"))
    assert (err.value.resource_id, err.value.resource_type) == ("ghost", "repository")
    assert store.get_repository(OWNER, "acme", "main") == updated
    with pytest.raises(ResourceNotFoundError) as err:
        store.update_repository(make_repo("acme", "nope"))
    assert (err.value.resource_id, err.value.resource_type) == ("nope", "repository")
    with pytest.raises(ResourceNotFoundError) as err:
        store.update_repository(make_repo("nodomain", "main"))
    assert err.value.resource_type == "domain"


def test_delete_repository(store: Store) -> None:
    store.create_domain(make_domain("acme"), {})
    repo = make_repo("acme", "r1", upstreams=(), connections=(PYPI,), description="d")
    store.create_repository(repo, {"a": "1"})
    store.create_repository(make_repo("acme", "r2"), {"b": "2"})
    store.put_resource_policy(repo.arn, "{}", None)
    store.put_resource_policy(repo_arn(OWNER, "acme", "r2"), "{}", None)
    assert store.delete_repository(OWNER, "acme", "r1") == repo
    assert store.get_repository(OWNER, "acme", "r1") is None
    assert store.get_tags(repo.arn) == {}
    assert store.get_resource_policy(repo.arn) is None
    assert store.get_tags(repo_arn(OWNER, "acme", "r2")) == {"b": "2"}
    assert store.get_resource_policy(repo_arn(OWNER, "acme", "r2")) is not None
    with pytest.raises(ResourceNotFoundError) as err:
        store.delete_repository(OWNER, "acme", "r1")
    assert (err.value.resource_id, err.value.resource_type) == ("r1", "repository")
    with pytest.raises(ResourceNotFoundError):
        store.delete_repository(OWNER, "nope", "r2")
    assert store.get_domain(OWNER, "acme").repository_count == 1  # type: ignore[union-attr]


def test_delete_repository_refuses_while_it_is_an_upstream(store: Store) -> None:
    store.create_domain(make_domain("acme"), {})
    store.create_repository(make_repo("acme", "base"), {"t": "v"})
    store.create_repository(make_repo("acme", "mid", upstreams=("base",)), {})
    store.create_repository(make_repo("acme", "app", upstreams=("mid", "base")), {})
    assert [r.name for r in store.list_downstreams(OWNER, "acme", "base")] == ["app", "mid"]
    assert store.list_downstreams(OWNER, "acme", "mid") == [make_repo("acme", "app", upstreams=("mid", "base"))]
    assert store.list_downstreams(OWNER, "acme", "app") == []
    assert store.list_downstreams(OWNER, "acme", "ghost") == []
    with pytest.raises(ConflictError) as err:
        store.delete_repository(OWNER, "acme", "base")
    assert (err.value.resource_id, err.value.resource_type) == ("base", "repository")
    assert "app" in err.value.message and "mid" in err.value.message
    assert store.get_tags(repo_arn(OWNER, "acme", "base")) == {"t": "v"}
    store.delete_repository(OWNER, "acme", "app")
    store.update_repository(make_repo("acme", "mid"))
    store.delete_repository(OWNER, "acme", "base")
    assert store.get_domain(OWNER, "acme").repository_count == 1  # type: ignore[union-attr]


def test_a_repository_that_names_itself_can_be_deleted(store: Store) -> None:
    store.create_domain(make_domain("acme"), {})
    store.create_repository(make_repo("acme", "loop"), {})
    store.update_repository(make_repo("acme", "loop", upstreams=("loop",)))
    assert store.get_repository(OWNER, "acme", "loop").upstreams == ("loop",)  # type: ignore[union-attr]
    store.delete_repository(OWNER, "acme", "loop")


def _repo_key(r: Repository) -> tuple[str, str, str]:
    return (r.name, r.domain_name, r.domain_owner)


def test_list_repositories_order_filters_and_pages(store: Store) -> None:
    expected: list[Repository] = []
    for owner in (OWNER, OTHER):
        for domain in ("beta", "alpha"):
            store.create_domain(make_domain(domain, owner), {})
    rng = random.Random(3)
    specs = [
        (f"repo{i % 9}", domain, owner)
        for i, (domain, owner) in enumerate([(d, o) for o in (OWNER, OTHER) for d in ("alpha", "beta")] * 7)
    ]
    specs = sorted(set(specs))[:25]
    assert len(specs) == 25
    for name, domain, owner in rng.sample(specs, len(specs)):
        admin = OTHER if name.endswith(("1", "2")) else owner
        repo = make_repo(domain, name, owner, admin=admin)
        store.create_repository(repo, {})
        expected.append(repo)
    expected.sort(key=_repo_key)

    pages: list[list[Repository]] = []
    after: str | None = None
    while True:
        page = store.list_repositories(
            administrator_account=None, owner=None, domain=None, prefix=None, after=after, limit=7
        )
        pages.append(list(page.items))
        if page.next_key is None:
            break
        after = page.next_key
    assert [len(p) for p in pages] == [7, 7, 7, 4]
    assert [r for p in pages for r in p] == expected

    assert list_all_repos(store, 4, owner=OTHER) == [r for r in expected if r.domain_owner == OTHER]
    assert list_all_repos(store, 3, domain="alpha") == [r for r in expected if r.domain_name == "alpha"]
    assert list_all_repos(store, 2, owner=OWNER, domain="beta") == [
        r for r in expected if (r.domain_owner, r.domain_name) == (OWNER, "beta")
    ]
    assert list_all_repos(store, 5, administrator_account=OTHER) == [
        r for r in expected if r.administrator_account == OTHER
    ]
    assert list_all_repos(store, 3, prefix="repo1") == [r for r in expected if r.name == "repo1"]
    assert list_all_repos(store, 3, owner="333333333333") == []


def test_list_repositories_orders_by_code_point(store: Store) -> None:
    store.create_domain(make_domain("acme"), {})
    for name in TRICKY_NAMES:
        store.create_repository(make_repo("acme", name), {})
    assert [r.name for r in list_all_repos(store, 3)] == sorted(TRICKY_NAMES)


def test_list_repositories_prefix_is_literal_and_case_sensitive(store: Store) -> None:
    store.create_domain(make_domain("acme"), {})
    names = ["a_b", "axb", "a%c", "abc", "A_b", "a\\b", "a", "b_a"]
    for name in names:
        store.create_repository(make_repo("acme", name), {})

    def listed(prefix: str) -> list[str]:
        return [r.name for r in list_all_repos(store, 2, prefix=prefix)]

    assert listed("a_") == ["a_b"]
    assert listed("a%") == ["a%c"]
    assert listed("a\\") == ["a\\b"]
    assert listed("A") == ["A_b"]
    assert listed("a") == sorted(n for n in names if n.startswith("a"))
    assert listed("zz") == []
    assert listed("") == sorted(names)  # empty prefix: no filter


def test_list_repositories_rejects_a_bad_token(store: Store) -> None:
    for token in ("not base64!", "bm90IGpzb24", "WzFd"):
        with pytest.raises(ValidationError):
            store.list_repositories(
                administrator_account=None, owner=None, domain=None, prefix=None, after=token, limit=5
            )


# --- resource policies ------------------------------------------------------------------------------


def test_resource_policies(store: Store) -> None:
    arn = domain_arn(OWNER, "acme")
    assert store.get_resource_policy(arn) is None
    with pytest.raises(ConflictError):  # an expected revision when there is no policy
        store.put_resource_policy(arn, "{}", "rev-that-never-was")
    assert store.get_resource_policy(arn) is None

    first = store.put_resource_policy(arn, '{"v": 1}', None)
    assert first.resource_arn == arn and first.document == '{"v": 1}' and first.revision
    assert store.get_resource_policy(arn) == first

    second = store.put_resource_policy(arn, '{"v": 2}', first.revision)
    assert second.revision != first.revision
    assert store.get_resource_policy(arn) == second

    with pytest.raises(ConflictError) as err:  # stale revision on put
        store.put_resource_policy(arn, '{"v": 3}', first.revision)
    assert (err.value.resource_id, err.value.resource_type) == ("acme", "domain")
    assert store.get_resource_policy(arn) == second

    third = store.put_resource_policy(arn, '{"v": 3}', None)  # no revision: unconditional replace
    assert third.revision not in (first.revision, second.revision)

    with pytest.raises(ConflictError):  # stale revision on delete
        store.delete_resource_policy(arn, second.revision)
    assert store.get_resource_policy(arn) == third
    assert store.delete_resource_policy(arn, third.revision) == third
    assert store.get_resource_policy(arn) is None

    with pytest.raises(ResourceNotFoundError) as missing:
        store.delete_resource_policy(arn, None)
    assert (missing.value.resource_id, missing.value.resource_type) == ("acme", "domain")
    with pytest.raises(ResourceNotFoundError):
        store.delete_resource_policy(arn, third.revision)

    rarn = repo_arn(OWNER, "acme", "r1")
    policy = store.put_resource_policy(rarn, "{}", None)
    assert store.delete_resource_policy(rarn, None) == policy
    revisions = {store.put_resource_policy(rarn, "{}", None).revision for _ in range(20)}
    assert len(revisions) == 20


# --- tags -------------------------------------------------------------------------------------------


def test_tags(store: Store) -> None:
    arn = repo_arn(OWNER, "acme", "r1")
    assert store.get_tags(arn) == {}
    store.tag_resource(arn, {"a": "1", "b": "2"})
    store.tag_resource(arn, {"b": "20", "c": "3"})
    store.tag_resource(arn, {})
    store.tag_resource(domain_arn(OWNER, "acme"), {"a": "other"})
    assert store.get_tags(arn) == {"a": "1", "b": "20", "c": "3"}
    store.untag_resource(arn, ["a", "missing"])
    store.untag_resource(arn, [])
    assert store.get_tags(arn) == {"b": "20", "c": "3"}
    store.untag_resource(arn, ["b", "c"])
    assert store.get_tags(arn) == {}
    assert store.get_tags(domain_arn(OWNER, "acme")) == {"a": "other"}


# --- concurrency ------------------------------------------------------------------------------------


def race(n: int, action: Callable[[int], object]) -> list[BaseException | None]:
    """Runs ``action(i)`` in n threads released together; each thread's exception or None."""
    barrier = threading.Barrier(n)
    outcomes: list[BaseException | None] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            action(i)
        except BaseException as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes


def test_concurrent_creates_of_one_domain(store: Store) -> None:
    for round_ in range(5):
        name = f"race{round_}"

        def create(i: int, name: str = name) -> None:
            store.create_domain(make_domain(name), {"by": str(i)})

        outcomes = race(2 if round_ == 0 else 6, create)
        winners = [i for i, o in enumerate(outcomes) if o is None]
        assert len(winners) == 1, outcomes
        assert all(isinstance(o, ConflictError) for o in outcomes if o is not None), outcomes
        assert store.get_tags(domain_arn(OWNER, name)) == {"by": str(winners[0])}
    assert store.count_domains(OWNER) == 5


def test_concurrent_policy_puts_with_one_revision(store: Store) -> None:
    arn = domain_arn(OWNER, "acme")
    base = store.put_resource_policy(arn, "{}", None)
    outcomes = race(6, lambda i: store.put_resource_policy(arn, f'{{"by": {i}}}', base.revision))
    winners = [i for i, o in enumerate(outcomes) if o is None]
    assert len(winners) == 1, outcomes
    assert all(isinstance(o, ConflictError) for o in outcomes if o is not None), outcomes
    assert store.get_resource_policy(arn).document == f'{{"by": {winners[0]}}}'  # type: ignore[union-attr]


def test_concurrent_repository_writes(store: Store) -> None:
    store.create_domain(make_domain("acme"), {})
    store.create_repository(make_repo("acme", "base"), {})
    outcomes = race(8, lambda i: store.create_repository(make_repo("acme", f"r{i}", upstreams=("base",)), {}))
    assert outcomes == [None] * 8
    assert len(store.list_downstreams(OWNER, "acme", "base")) == 8
    assert store.get_domain(OWNER, "acme").repository_count == 9  # type: ignore[union-attr]


# --- migrations and durability ----------------------------------------------------------------------


def test_migrations_are_idempotent(db_url: str) -> None:
    first = open_store(db_url)
    try:
        first.create_domain(make_domain("acme"), {"a": "1"})
        assert apply_migrations(first.engine) == 0
    finally:
        first.close()
    second = open_store(db_url)
    try:
        assert store_has_domain(second)
        with second.engine.connect() as conn:
            versions = conn.execute(select(schema_version.c.version).order_by(schema_version.c.version))
            assert list(versions.scalars()) == list(range(1, LATEST_VERSION + 1))
    finally:
        second.close()


def test_a_newer_schema_is_refused(db_url: str) -> None:
    store = open_store(db_url)
    try:
        with store.engine.begin() as conn:
            conn.execute(schema_version.insert().values(version=LATEST_VERSION + 1, applied_at=0.0))
    finally:
        store.close()
    with pytest.raises(SchemaTooNewError):
        open_store(db_url)


def store_has_domain(store: Store) -> bool:
    return store.get_domain(OWNER, "acme") == make_domain("acme") and store.get_tags(domain_arn(OWNER, "acme")) == {
        "a": "1"
    }


def test_concurrent_starts_migrate_once(db_url: str) -> None:
    opened: list[SqlStore] = []
    lock = threading.Lock()

    def start(_: int) -> None:
        s = open_store(db_url)
        with lock:
            opened.append(s)

    try:
        assert race(4, start) == [None] * 4
        with opened[0].engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(schema_version)).scalar_one() == LATEST_VERSION
    finally:
        for s in opened:
            s.close()


def test_data_survives_close_and_reopen(stores: Callable[[], SqlStore]) -> None:
    first = stores()
    first.create_account(Account(OWNER, 1.0))
    first.create_user(make_user("alice"))
    first.create_access_key(AccessKey("AKIA1", "s", OWNER, "alice", 2.0))
    first.create_domain(make_domain("acme"), {"a": "1"})
    first.create_repository(make_repo("acme", "up"), {})
    repo = make_repo("acme", "r", upstreams=("up",), connections=(PYPI,))
    first.create_repository(repo, {"x": "y"})
    policy = first.put_resource_policy(repo.arn, "{}", None)
    first.close()
    second = stores()
    assert second.get_domain(OWNER, "acme") == replace(make_domain("acme"), repository_count=2)
    assert second.get_tags(domain_arn(OWNER, "acme")) == {"a": "1"}
    assert second.get_repository(OWNER, "acme", "r") == repo
    assert second.get_tags(repo.arn) == {"x": "y"}
    assert second.get_resource_policy(repo.arn) == policy
    assert second.get_access_key("AKIA1") == AccessKey("AKIA1", "s", OWNER, "alice", 2.0, user_id=ALICE_ID)


# --- SQLite specifics -------------------------------------------------------------------------------


def test_sqlite_connection_settings(tmp_path: Path) -> None:
    engine = create_engine_for(sqlite_url_for(tmp_path / "s.db"))
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    finally:
        engine.dispose()


def test_sqlite_transactions_are_real(tmp_path: Path) -> None:
    """The engine emits BEGIN itself: DDL and reads take part in transactions and roll back."""
    engine = create_engine_for(sqlite_url_for(tmp_path / "t.db"))
    try:
        with pytest.raises(RuntimeError), engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
            raise RuntimeError("roll back")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM sqlite_master WHERE name = 't'")).scalar() == 0
    finally:
        engine.dispose()


def test_engine_urls(tmp_path: Path) -> None:
    assert normalize_url("postgres://u:p@h:5433/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql+psycopg://u@h/db").render_as_string() == "postgresql+psycopg://u@h/db"
    assert sqlite_url_for(tmp_path / "x.db") == f"sqlite:///{tmp_path.resolve()}/x.db"
    assert normalize_url(sqlite_url_for(tmp_path / "x.db")).database == str(tmp_path.resolve() / "x.db")
    for bad in ("sqlite://", "sqlite:///:memory:", "mysql://h/db", "postgresql+psycopg2://h/db"):
        with pytest.raises(ValueError):
            normalize_url(bad)


_WRITER = textwrap.dedent(
    """
    import sys
    from coffer.core.codeartifact.resources import Domain, ExternalConnection, Repository
    from coffer.store.sql_store import open_store

    url, owner = sys.argv[1], sys.argv[2]
    store = open_store(url)
    if store.get_domain(owner, "acme") is None:
        store.create_domain(Domain("acme", owner, "arn:d", 1.0, "key"), {})
    i = store.get_domain(owner, "acme").repository_count
    while True:
        name = f"r{i:06d}"
        store.create_repository(
            Repository(
                "acme", owner, name, f"arn:{name}", owner, float(i),
                description=name * 200,
                upstreams=(f"r{i - 1:06d}",) if i else (),
                external_connections=(ExternalConnection("public:pypi", "pypi"),),
            ),
            {f"k{j:02d}": f"{name}-{j}" for j in range(25)},
        )
        print(i, flush=True)
        i += 1
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sqlite_survives_sigkill_mid_write(tmp_path: Path) -> None:
    path = tmp_path / "killed.db"
    url = sqlite_url_for(path)
    env = dict(os.environ)
    src = str(Path(coffer.__file__).resolve().parents[1])
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    rng = random.Random(11)
    printed = -1
    for _round in range(3):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, url, OWNER], stdout=subprocess.PIPE, env=env, text=True)
        assert proc.stdout is not None
        target = printed + 20 + rng.randrange(20)
        while printed < target:
            line = proc.stdout.readline()
            assert line, f"writer exited early with {proc.wait()}"
            printed = int(line)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        assert proc.returncode == -signal.SIGKILL
        proc.stdout.close()

        with sqlite3.connect(path) as raw:
            assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
        raw.close()

        store = open_store(url)
        try:
            count = store.get_domain(OWNER, "acme").repository_count  # type: ignore[union-attr]
            assert printed + 1 <= count <= printed + 2  # all reported writes, at most one more
            repos = list_all_repos(store, 500)
            assert [r.name for r in repos] == [f"r{i:06d}" for i in range(count)]
            for i, repo in enumerate(repos):
                assert repo.description == repo.name * 200
                assert repo.upstreams == ((f"r{i - 1:06d}",) if i else ())
                assert repo.external_connections == (ExternalConnection("public:pypi", "pypi"),)
                assert store.get_tags(repo.arn) == {f"k{j:02d}": f"{repo.name}-{j}" for j in range(25)}
            printed = count - 1
        finally:
            store.close()
