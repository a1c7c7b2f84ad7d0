"""STS operations on the query endpoint: each turns the parsed, validated params (botocore's member names) into a
:class:`StsService` call and the result into the output shape's members. Operations of the model missing here
answer NotImplemented (the endpoint does it)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from coffer.core.identity.callers import Caller
from coffer.core.identity.sts import Credentials, StsService

Params = Mapping[str, Any]
Result = dict[str, Any]


@dataclass(frozen=True)
class StsHandlerServices:
    sts: StsService


Handler = Callable[[StsHandlerServices, Caller, Params], Result]


def credentials_shape(c: Credentials) -> Result:
    return {
        "AccessKeyId": c.access_key_id,
        "SecretAccessKey": c.secret_access_key,
        "SessionToken": c.session_token,
        "Expiration": c.expiration,  # epoch seconds; the serializer writes ISO 8601
    }


def get_caller_identity(s: StsHandlerServices, caller: Caller, p: Params) -> Result:
    who = s.sts.get_caller_identity(caller)
    return {"UserId": who.user_id, "Account": who.account, "Arn": who.arn}


def assume_role(s: StsHandlerServices, caller: Caller, p: Params) -> Result:
    tags = [(str(t.get("Key", "")), str(t.get("Value", ""))) for t in p.get("Tags") or ()]
    out = s.sts.assume_role(
        caller,
        p["RoleArn"],
        p["RoleSessionName"],
        duration=p.get("DurationSeconds"),
        policy=p.get("Policy"),
        policy_arns=[str(d.get("arn", "")) for d in p.get("PolicyArns") or ()],
        tags=tags,
        transitive_tag_keys=list(p.get("TransitiveTagKeys") or ()),
        external_id=p.get("ExternalId"),
        source_identity=p.get("SourceIdentity"),
    )
    result: Result = {
        "Credentials": credentials_shape(out.credentials),
        "AssumedRoleUser": {"AssumedRoleId": out.assumed_role_id, "Arn": out.arn},
    }
    if out.packed_policy_size is not None:
        result["PackedPolicySize"] = out.packed_policy_size
    if out.source_identity is not None:
        result["SourceIdentity"] = out.source_identity
    return result


def get_session_token(s: StsHandlerServices, caller: Caller, p: Params) -> Result:
    return {"Credentials": credentials_shape(s.sts.get_session_token(caller, p.get("DurationSeconds")))}


HANDLERS: Mapping[str, Handler] = {
    "GetCallerIdentity": get_caller_identity,
    "AssumeRole": assume_role,
    "GetSessionToken": get_session_token,
}
