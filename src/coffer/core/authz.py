"""Authorizing a caller's action on a resource with the policy engine, filling in AWS's global condition keys."""

from __future__ import annotations

import time
from collections.abc import Mapping

from coffer.core.errors import AccessDeniedError
from coffer.core.identity import Caller
from coffer.core.policy import Decision, PolicyDocument, Principal, RequestContext, denial_message, evaluate
from coffer.core.ports import Clock

#: extra condition keys: one value, or several (``aws:TagKeys``)
ContextValues = Mapping[str, str | tuple[str, ...]]


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(seconds)))


def principal_of(caller: Caller) -> Principal:
    return Principal(arn=caller.arn, account_id=caller.account_id, kind=caller.kind, user_id=caller.user_id)


class Authorizer:
    def __init__(self, clock: Clock, region: str) -> None:
        self._clock = clock
        self._region = region
        self._second = -1
        self._formatted: tuple[tuple[str], tuple[str]] = (("",), ("",))

    def _times(self) -> tuple[tuple[str], tuple[str]]:
        """aws:CurrentTime and aws:EpochTime, formatted once per second (this runs twice per request)."""
        second = int(self._clock())
        if second != self._second:
            self._second = second
            self._formatted = ((_iso(second),), (str(second),))
        return self._formatted

    def context_for(self, caller: Caller, extra: ContextValues | None = None) -> dict[str, tuple[str, ...]]:
        current, epoch = self._times()
        # aws:PrincipalArn, PrincipalAccount, PrincipalType, username and userid come from the Principal.
        ctx: dict[str, tuple[str, ...]] = {
            "aws:currenttime": current,
            "aws:epochtime": epoch,
            "aws:securetransport": ("false",),
            "aws:requestedregion": (self._region,),
            "aws:viaawsservice": ("false",),
            "aws:principalisawsservice": ("false",),
        }
        if caller.source_ip is not None:
            ctx["aws:sourceip"] = (caller.source_ip,)
        if caller.session_issued_at is not None:
            # AWS's "revoke active sessions" denies on this key; long-term keys have none.
            ctx["aws:tokenissuetime"] = (_iso(caller.session_issued_at),)
        if caller.session_expires_at is not None:
            ctx["aws:multifactorauthpresent"] = ("false",)
        for key, value in caller.principal_tags:
            ctx["aws:principaltag/" + key.lower()] = (value,)
        if extra:
            for k, v in extra.items():
                ctx[k.lower()] = (v,) if isinstance(v, str) else v
        return ctx

    def request(self, caller: Caller, action: str, resource: str, extra: ContextValues | None = None) -> RequestContext:
        return RequestContext(
            principal=principal_of(caller),
            action=action,
            resource=resource,
            context=self.context_for(caller, extra),
        )

    def decide(
        self,
        caller: Caller,
        action: str,
        resource: str,
        *,
        resource_account: str | None = None,
        resource_policy: PolicyDocument | None = None,
        extra_context: ContextValues | None = None,
    ) -> Decision:
        """The policy engine's decision for ``action`` on ``resource`` with every policy the caller carries
        (identity, session) and the resource's policy."""
        request = self.request(caller, action, resource, extra_context)
        # The root user holds every identity-based permission of its account (the engine knows; it has no
        # policies of its own); resource-policy denies still apply, and across accounts it needs the resource policy.
        return evaluate(request, caller.policies, resource_policy, resource_account, caller.session_policies)

    def require(
        self,
        caller: Caller,
        action: str,
        resource: str,
        *,
        resource_account: str | None = None,
        resource_policy: PolicyDocument | None = None,
        extra_context: ContextValues | None = None,
    ) -> None:
        """Raise AccessDeniedException with AWS's message unless the policies allow ``action`` on ``resource``."""
        decision = self.decide(
            caller,
            action,
            resource,
            resource_account=resource_account,
            resource_policy=resource_policy,
            extra_context=extra_context,
        )
        if not decision.allowed:
            raise AccessDeniedError(denial_message(caller.arn, action, resource, decision))
