"""IAM on the query wire (``POST /``) with boto3's ``iam`` client and the ``aws iam`` CLI: roles, users, groups,
access keys, inline and managed policies with versions, attachments, AWS managed policies, IAM's error codes as
boto3 exception classes, and ``coffer admin create-account``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.functional.conftest import ACCOUNT, coffer, make_client, read_profile
from tests.functional.test_aws_cli import run_aws

READ_ONLY = "arn:aws:iam::aws:policy/AWSCodeArtifactReadOnlyAccess"
CA_ADMIN = "arn:aws:iam::aws:policy/AWSCodeArtifactAdminAccess"
ADMINISTRATOR = "arn:aws:iam::aws:policy/AdministratorAccess"
BEARER_TOKEN_STATEMENT = {
    "Effect": "Allow",
    "Action": "sts:GetServiceBearerToken",
    "Resource": "*",
    "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}},
}


def trust(principal: str = f"arn:aws:iam::{ACCOUNT}:root") -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}],
    }


def allow(action: str | list[str], resource: str = "*") -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}


def error_code(exc: ClientError) -> str:
    return str(exc.response["Error"]["Code"])


@pytest.fixture(scope="module")
def iam(server: Any) -> Any:
    """The admin's IAM client."""
    return make_client(server, service="iam")


def eventually(check: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


# --- roles ------------------------------------------------------------------------------------------------------


def test_role_lifecycle(iam: Any, unique: Callable[[str], str]) -> None:
    name = unique("role")
    created = iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps(trust()),
        Description="builds things",
        MaxSessionDuration=7200,
        Path="/ci/",
    )["Role"]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/ci/{name}"
    assert created["RoleId"].startswith("AROA") and len(created["RoleId"]) == 21
    assert created["AssumeRolePolicyDocument"] == trust()  # URL-encoded on the wire, decoded by botocore
    role = iam.get_role(RoleName=name)["Role"]
    assert (role["MaxSessionDuration"], role["Description"], role["Path"]) == (7200, "builds things", "/ci/")
    assert role["CreateDate"].tzinfo is not None
    assert name in [r["RoleName"] for r in iam.list_roles(PathPrefix="/ci/")["Roles"]]
    iam.update_role(RoleName=name, Description="deploys things", MaxSessionDuration=43200)
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust(f"arn:aws:iam::{ACCOUNT}:user/x")))
    role = iam.get_role(RoleName=name)["Role"]
    assert (role["Description"], role["MaxSessionDuration"]) == ("deploys things", 43200)
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["AWS"].endswith(":user/x")
    with pytest.raises(ClientError) as err:
        iam.update_role(RoleName=name, MaxSessionDuration=50000)
    assert error_code(err.value) == "ValidationError"
    assert "43200" in err.value.response["Error"]["Message"]
    with pytest.raises(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust()))
    iam.delete_role(RoleName=name)
    with pytest.raises(iam.exceptions.NoSuchEntityException) as missing:
        iam.get_role(RoleName=name)
    assert missing.value.response["Error"]["Message"] == f"The role with name {name} cannot be found."
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_malformed_policy_documents(iam: Any, unique: Callable[[str], str]) -> None:
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
        iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=json.dumps(allow("s3:*")))  # no Principal
    user = unique("u")
    iam.create_user(UserName=user)
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException) as err:
        iam.put_user_policy(UserName=user, PolicyName="bad", PolicyDocument='{"Statement": [{"Effect": "Allow"}]}')
    assert err.value.response["Error"]["Message"]
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
        iam.create_policy(PolicyName=unique("p"), PolicyDocument="not json")
    iam.delete_user(UserName=user)


# --- users, groups, keys ----------------------------------------------------------------------------------------


def test_users_groups_and_membership(iam: Any, unique: Callable[[str], str]) -> None:
    user, group = unique("user"), unique("group")
    created = iam.create_user(UserName=user, Path="/people/")["User"]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/people/{user}"
    assert created["UserId"].startswith("AIDA")
    assert iam.get_user(UserName=user)["User"]["UserName"] == user
    assert iam.get_user()["User"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/admin"  # no name: the caller
    assert user in [u["UserName"] for u in iam.list_users(PathPrefix="/people/")["Users"]]
    g = iam.create_group(GroupName=group)["Group"]
    assert g["GroupId"].startswith("AGPA")
    iam.add_user_to_group(GroupName=group, UserName=user)
    got = iam.get_group(GroupName=group)
    assert [u["UserName"] for u in got["Users"]] == [user]
    assert [x["GroupName"] for x in iam.list_groups_for_user(UserName=user)["Groups"]] == [group]
    assert group in [x["GroupName"] for x in iam.list_groups()["Groups"]]
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_group(GroupName=group)
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_user(UserName=user)  # still in a group
    iam.remove_user_from_group(GroupName=group, UserName=user)
    iam.delete_group(GroupName=group)
    iam.delete_user(UserName=user)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_user(UserName=user)
    with pytest.raises(iam.exceptions.EntityAlreadyExistsException):
        iam.create_user(UserName="admin")


def test_access_keys(iam: Any, server: Any, unique: Callable[[str], str]) -> None:
    user = unique("keys")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="list", PolicyDocument=json.dumps(allow("codeartifact:ListDomains")))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA") and key["Status"] == "Active" and key["SecretAccessKey"]
    listed = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"], k["UserName"]) for k in listed] == [(key["AccessKeyId"], "Active", user)]
    used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    assert used["UserName"] == user
    assert used["AccessKeyLastUsed"]["ServiceName"] == "N/A" and "LastUsedDate" not in used["AccessKeyLastUsed"]

    ca = make_client(server, (key["AccessKeyId"], key["SecretAccessKey"]))
    ca.list_domains()
    iam.update_access_key(UserName=user, AccessKeyId=key["AccessKeyId"], Status="Inactive")

    def refused() -> bool:
        try:
            ca.list_domains()
        except ClientError as exc:
            return error_code(exc) == "UnrecognizedClientException"
        return False

    started = time.monotonic()
    assert eventually(refused)
    assert time.monotonic() - started < 1.5  # "within a second" (plus a poll)
    assert iam.list_access_keys(UserName=user)["AccessKeyMetadata"][0]["Status"] == "Inactive"
    iam.update_access_key(UserName=user, AccessKeyId=key["AccessKeyId"], Status="Active")
    assert eventually(lambda: not refused())
    iam.create_access_key(UserName=user)
    with pytest.raises(iam.exceptions.LimitExceededException):
        iam.create_access_key(UserName=user)
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_user(UserName=user)
    for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=user, AccessKeyId=k["AccessKeyId"])
    assert iam.list_access_keys(UserName=user)["AccessKeyMetadata"] == []
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    iam.delete_user_policy(UserName=user, PolicyName="list")
    iam.delete_user(UserName=user)


def test_access_key_last_used_after_use(iam: Any, server: Any, unique: Callable[[str], str]) -> None:
    user = unique("used")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="list", PolicyDocument=json.dumps(allow("codeartifact:ListDomains")))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    before = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
    assert "LastUsedDate" not in before
    make_client(server, (key["AccessKeyId"], key["SecretAccessKey"])).list_domains()
    import time

    deadline = time.monotonic() + 5  # the use is recorded off the request path
    while True:
        last = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
        if "LastUsedDate" in last or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert last["ServiceName"] == "codeartifact" and "LastUsedDate" in last
    assert last["Region"] == "us-east-1"


# --- policies ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["User", "Group", "Role"])
def test_inline_policies(iam: Any, unique: Callable[[str], str], kind: str) -> None:
    name = unique(kind.lower())
    ident = {f"{kind}Name": name}
    if kind == "Role":
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust()))
    else:
        getattr(iam, f"create_{kind.lower()}")(**ident)
    snake = kind.lower()
    put = getattr(iam, f"put_{snake}_policy")
    put(**ident, PolicyName="read", PolicyDocument=json.dumps(allow("codeartifact:Get*")))
    put(**ident, PolicyName="list", PolicyDocument=json.dumps(allow("codeartifact:List*")))
    got = getattr(iam, f"get_{snake}_policy")(**ident, PolicyName="read")
    assert got[f"{kind}Name"] == name and got["PolicyName"] == "read"
    assert got["PolicyDocument"] == allow("codeartifact:Get*")
    assert getattr(iam, f"list_{snake}_policies")(**ident)["PolicyNames"] == ["list", "read"]
    if kind != "User":
        with pytest.raises(iam.exceptions.DeleteConflictException):
            getattr(iam, f"delete_{snake}")(**ident)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        getattr(iam, f"get_{snake}_policy")(**ident, PolicyName="nope")
    for policy in ("read", "list"):
        getattr(iam, f"delete_{snake}_policy")(**ident, PolicyName=policy)
    assert getattr(iam, f"list_{snake}_policies")(**ident)["PolicyNames"] == []
    getattr(iam, f"delete_{snake}")(**ident)


def test_managed_policy_versions(iam: Any, unique: Callable[[str], str]) -> None:
    name = unique("Policy")
    policy = iam.create_policy(
        PolicyName=name, PolicyDocument=json.dumps(allow("codeartifact:List*")), Description="v1 lists"
    )["Policy"]
    arn = policy["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:policy/{name}"
    assert (policy["DefaultVersionId"], policy["AttachmentCount"], policy["IsAttachable"]) == ("v1", 0, True)
    with pytest.raises(iam.exceptions.EntityAlreadyExistsException):
        iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(allow("s3:*")))
    v2 = iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(allow("codeartifact:Get*")))
    assert v2["PolicyVersion"]["VersionId"] == "v2" and not v2["PolicyVersion"]["IsDefaultVersion"]
    v3 = iam.create_policy_version(
        PolicyArn=arn, PolicyDocument=json.dumps(allow("codeartifact:Describe*")), SetAsDefault=True
    )
    assert v3["PolicyVersion"]["IsDefaultVersion"]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"
    got = iam.get_policy_version(PolicyArn=arn, VersionId="v2")["PolicyVersion"]
    assert got["Document"] == allow("codeartifact:Get*") and not got["IsDefaultVersion"]
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert sorted(v["VersionId"] for v in versions) == ["v1", "v2", "v3"]
    assert [v["VersionId"] for v in versions if v["IsDefaultVersion"]] == ["v3"]
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v1"
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_policy_version(PolicyArn=arn, VersionId="v1")  # the default
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_policy(PolicyArn=arn)  # other versions remain
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(allow("s3:*")))
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(allow("s3:*")))
    with pytest.raises(iam.exceptions.LimitExceededException):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(allow("s3:*")))
    for version in ("v2", "v3", "v4", "v5"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=version)
    assert name in [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]]
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_policy(PolicyArn=arn)


def test_aws_managed_policies_have_real_contents(iam: Any) -> None:
    names = {p["PolicyName"] for p in iam.list_policies(Scope="AWS")["Policies"]}
    assert {"AdministratorAccess", "AWSCodeArtifactAdminAccess", "AWSCodeArtifactReadOnlyAccess"} <= names
    read_only = iam.get_policy(PolicyArn=READ_ONLY)["Policy"]
    assert read_only["Arn"] == READ_ONLY and read_only["PolicyId"].startswith("ANPA")
    doc = iam.get_policy_version(PolicyArn=READ_ONLY, VersionId=read_only["DefaultVersionId"])["PolicyVersion"]
    assert doc["Document"] == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Action": [
                    "codeartifact:Describe*",
                    "codeartifact:Get*",
                    "codeartifact:List*",
                    "codeartifact:ReadFromRepository",
                ],
                "Effect": "Allow",
                "Resource": "*",
            },
            BEARER_TOKEN_STATEMENT,
        ],
    }
    admin = iam.get_policy_version(PolicyArn=CA_ADMIN, VersionId="v1")["PolicyVersion"]["Document"]
    assert admin["Statement"] == [
        {"Action": ["codeartifact:*"], "Effect": "Allow", "Resource": "*"},
        BEARER_TOKEN_STATEMENT,
    ]
    everything = iam.get_policy_version(PolicyArn=ADMINISTRATOR, VersionId="v1")["PolicyVersion"]["Document"]
    assert everything["Statement"] == [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
    with pytest.raises(ClientError) as err:  # AWS's own policies cannot be changed
        iam.create_policy_version(PolicyArn=READ_ONLY, PolicyDocument=json.dumps(allow("*")))
    assert error_code(err.value) == "AccessDenied"


def test_attach_and_detach(iam: Any, server: Any, unique: Callable[[str], str]) -> None:
    user, group, role = unique("att-u"), unique("att-g"), unique("att-r")
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust()))
    local = iam.create_policy(PolicyName=unique("Local"), PolicyDocument=json.dumps(allow("codeartifact:List*")))
    local_arn = local["Policy"]["Arn"]
    iam.attach_user_policy(UserName=user, PolicyArn=READ_ONLY)
    iam.attach_group_policy(GroupName=group, PolicyArn=READ_ONLY)
    iam.attach_role_policy(RoleName=role, PolicyArn=READ_ONLY)
    iam.attach_role_policy(RoleName=role, PolicyArn=local_arn)
    assert iam.list_attached_user_policies(UserName=user)["AttachedPolicies"] == [
        {"PolicyName": "AWSCodeArtifactReadOnlyAccess", "PolicyArn": READ_ONLY}
    ]
    assert [p["PolicyArn"] for p in iam.list_attached_group_policies(GroupName=group)["AttachedPolicies"]] == [
        READ_ONLY
    ]
    assert {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]} == {
        READ_ONLY,
        local_arn,
    }
    entities = iam.list_entities_for_policy(PolicyArn=READ_ONLY)
    assert user in [u["UserName"] for u in entities["PolicyUsers"]]
    assert group in [g["GroupName"] for g in entities["PolicyGroups"]]
    assert role in [r["RoleName"] for r in entities["PolicyRoles"]]
    assert local_arn in [p["Arn"] for p in iam.list_policies(Scope="Local", OnlyAttached=True)["Policies"]]
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_policy(PolicyArn=local_arn)
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_role(RoleName=role)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.attach_user_policy(UserName=user, PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/DoesNotExist")

    # the attached AWS managed policy is what the user may do on CodeArtifact
    key = iam.create_access_key(UserName=user)["AccessKey"]
    ca = make_client(server, (key["AccessKeyId"], key["SecretAccessKey"]))
    ca.list_domains()
    with pytest.raises(ca.exceptions.AccessDeniedException):
        ca.create_domain(domain=unique("nope"))
    iam.detach_user_policy(UserName=user, PolicyArn=READ_ONLY)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.detach_user_policy(UserName=user, PolicyArn=READ_ONLY)

    def denied() -> bool:
        try:
            ca.list_domains()
        except ca.exceptions.AccessDeniedException:
            return True
        return False

    assert eventually(denied)
    iam.detach_group_policy(GroupName=group, PolicyArn=READ_ONLY)
    iam.detach_role_policy(RoleName=role, PolicyArn=READ_ONLY)
    iam.detach_role_policy(RoleName=role, PolicyArn=local_arn)
    iam.delete_policy(PolicyArn=local_arn)
    iam.delete_role(RoleName=role)
    iam.delete_group(GroupName=group)


def test_list_paging(iam: Any, unique: Callable[[str], str]) -> None:
    prefix = f"/{unique('page')}/"
    names = sorted(unique("pg") for _ in range(5))
    for name in names:
        iam.create_group(GroupName=name, Path=prefix)
    first = iam.list_groups(PathPrefix=prefix, MaxItems=2)
    assert first["IsTruncated"] and len(first["Groups"]) == 2
    paginator = iam.get_paginator("list_groups")
    seen = [
        g["GroupName"]
        for page in paginator.paginate(PathPrefix=prefix, PaginationConfig={"PageSize": 2})
        for g in page["Groups"]
    ]
    assert seen == names
    for name in names:
        iam.delete_group(GroupName=name)


# --- the aws CLI --------------------------------------------------------------------------------------------------


def test_aws_cli_iam(iam: Any, server: Any, tmp_path: Path, unique: Callable[[str], str]) -> None:
    role = unique("cli-role")
    trust_file = tmp_path / "trust.json"
    trust_file.write_text(json.dumps(trust()))
    r = run_aws(
        server,
        tmp_path,
        "iam",
        "create-role",
        "--role-name",
        role,
        "--assume-role-policy-document",
        f"file://{trust_file}",
        "--max-session-duration",
        "3600",
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)["Role"]
    assert out["RoleName"] == role and out["AssumeRolePolicyDocument"] == trust()
    r = run_aws(server, tmp_path, "iam", "attach-role-policy", "--role-name", role, "--policy-arn", READ_ONLY)
    assert r.returncode == 0, r.stderr
    r = run_aws(server, tmp_path, "iam", "list-attached-role-policies", "--role-name", role)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["AttachedPolicies"] == [
        {"PolicyName": "AWSCodeArtifactReadOnlyAccess", "PolicyArn": READ_ONLY}
    ]
    r = run_aws(server, tmp_path, "iam", "get-policy-version", "--policy-arn", READ_ONLY, "--version-id", "v1")
    assert r.returncode == 0, r.stderr
    assert BEARER_TOKEN_STATEMENT in json.loads(r.stdout)["PolicyVersion"]["Document"]["Statement"]
    r = run_aws(server, tmp_path, "iam", "delete-role", "--role-name", role)
    assert r.returncode != 0
    assert "DeleteConflict" in r.stderr
    run_aws(server, tmp_path, "iam", "detach-role-policy", "--role-name", role, "--policy-arn", READ_ONLY)
    r = run_aws(server, tmp_path, "iam", "delete-role", "--role-name", role)
    assert r.returncode == 0, r.stderr
    r = run_aws(server, tmp_path, "iam", "get-role", "--role-name", role)
    assert r.returncode != 0 and "NoSuchEntity" in r.stderr


# --- coffer admin -------------------------------------------------------------------------------------------------


NEW_ACCOUNT = "999988887777"


@pytest.fixture(scope="module")
def created_account(server: Any) -> dict[str, str]:
    """``coffer admin create-account`` (works on the data directory directly: no IAM endpoint needed)."""
    r = coffer(server, "create-account", "--account-id", NEW_ACCOUNT)
    assert r.returncode == 0, r.stderr
    out: dict[str, str] = json.loads(r.stdout)
    return out


def test_admin_create_account(server: Any, created_account: dict[str, str]) -> None:
    assert created_account["AccountId"] == NEW_ACCOUNT and created_account["Profile"] == NEW_ACCOUNT
    key = read_profile(server.credentials_file, NEW_ACCOUNT)
    assert key == (created_account["AccessKeyId"], created_account["SecretAccessKey"])
    assert read_profile(server.credentials_file)[0] != key[0]  # the default profile is untouched
    other_ca = make_client(server, key)
    other_ca.create_domain(domain="elsewhere")
    assert other_ca.describe_domain(domain="elsewhere")["domain"]["owner"] == NEW_ACCOUNT
    assert "elsewhere" not in [d["name"] for d in make_client(server).list_domains()["domains"]]
    again = coffer(server, "create-account", "--account-id", NEW_ACCOUNT)
    assert again.returncode != 0 and "EntityAlreadyExists" in again.stderr
    bad = coffer(server, "create-account", "--account-id", "12")
    assert bad.returncode != 0


@pytest.mark.usefixtures("created_account")
def test_created_account_has_its_own_iam(iam: Any, server: Any) -> None:
    key = read_profile(server.credentials_file, NEW_ACCOUNT)
    other_iam = make_client(server, key, service="iam")
    assert other_iam.get_user()["User"]["Arn"] == f"arn:aws:iam::{NEW_ACCOUNT}:user/admin"
    assert [u["UserName"] for u in other_iam.list_users()["Users"]] == ["admin"]
    assert "admin" in [u["UserName"] for u in iam.list_users()["Users"]]  # each account has its own admin
    iam.create_user(UserName="only-in-the-first-account")
    with pytest.raises(other_iam.exceptions.NoSuchEntityException):
        other_iam.get_user(UserName="only-in-the-first-account")
    iam.delete_user(UserName="only-in-the-first-account")


def test_admin_commands_use_iam(iam: Any, server: Any, unique: Callable[[str], str]) -> None:
    """Users made with ``coffer admin`` are IAM users: the API sees them, and the admin sees API-made policies."""
    name = unique("adm")
    assert coffer(server, "create-user", name).returncode == 0
    assert iam.get_user(UserName=name)["User"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"
    iam.attach_user_policy(UserName=name, PolicyArn=READ_ONLY)
    users = json.loads(coffer(server, "list-users", "--json").stdout)
    row = next(u for u in users if u["UserName"] == name)
    assert "AWSCodeArtifactReadOnlyAccess" in row["Policies"]
    assert coffer(server, "delete-user", name).returncode == 0  # the admin command removes attachments too
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_user(UserName=name)
