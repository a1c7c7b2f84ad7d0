"""Authorizing a caller's action on a resource with the policy engine, filling in AWS's global condition keys."""

from __future__ import annotations

import time
from collections.abc import Mapping

from coffer.core.errors import AccessDeniedError
from coffer.core.identity import Caller
from coffer.core.policy import PolicyDocument, Principal, RequestContext, denial_message, evaluate
from coffer.core.ports import Clock


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
            self._formatted = ((time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second)),), (str(second),))
        return self._formatted

    def context_for(self, caller: Caller, extra: Mapping[str, str] | None = None) -> dict[str, tuple[str, ...]]:
        current, epoch = self._times()
        # aws:PrincipalArn, PrincipalAccount, PrincipalType, username and userid come from the Principal.
        ctx: dict[str, tuple[str, ...]] = {
            "aws:currenttime": current,
            "aws:epochtime": epoch,
            "aws:securetransport": ("false",),
            "aws:requestedregion": (self._region,),
        }
        if caller.source_ip is not None:
            ctx["aws:sourceip"] = (caller.source_ip,)
        if caller.session_issued_at is not None:
            ctx["aws:tokenissuetime"] = (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(caller.session_issued_at)),)
        if extra:
            for k, v in extra.items():
                ctx[k.lower()] = (v,)
        return ctx

    def require(
        self,
        caller: Caller,
        action: str,
        resource: str,
        *,
        resource_account: str | None = None,
        resource_policy: PolicyDocument | None = None,
        extra_context: Mapping[str, str] | None = None,
    ) -> None:
        """Raise AccessDeniedException with AWS's message unless the policies allow ``action`` on ``resource``."""
        principal = Principal(arn=caller.arn, account_id=caller.account_id, kind=caller.kind, user_id=caller.user_id)
        request = RequestContext(
            principal=principal,
            action=action,
            resource=resource,
            context=self.context_for(caller, extra_context),
        )
        if caller.is_root and (resource_account is None or resource_account == caller.account_id):
            # The root user holds every permission in its own account; resource-policy denies still apply.
            decision = evaluate(request, (), resource_policy, resource_account)
            if decision.allowed or not decision.reason.name.startswith("EXPLICIT_DENY"):
                return
        else:
            decision = evaluate(request, caller.policies, resource_policy, resource_account)
            if decision.allowed:
                return
        raise AccessDeniedError(denial_message(caller.arn, action, resource, decision))
