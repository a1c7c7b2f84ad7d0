"""Authorizing a caller's action on a resource with the policy engine, filling in AWS's global condition keys."""

from __future__ import annotations

from collections.abc import Mapping

from coffer.core.identity.callers import Caller
from coffer.core.policy import Decision, PolicyDocument, Principal, RequestContext, denial_message, evaluate
from coffer.core.policy.context import derived_keys
from coffer.core.shared.clock import Clock, iso_utc
from coffer.core.shared.errors import AccessDeniedError

#: extra condition keys: one value, or several (``aws:TagKeys``)
ContextValues = Mapping[str, str | tuple[str, ...]]
Keys = dict[str, tuple[str, ...]]

#: callers whose condition keys are cached (see Authorizer._caller_keys); the cache is emptied when full
_MAX_CACHED_CALLERS = 4096


def principal_of(caller: Caller) -> Principal:
    return Principal(arn=caller.arn, account_id=caller.account_id, kind=caller.kind, user_id=caller.user_id)


class Authorizer:
    def __init__(self, clock: Clock, region: str) -> None:
        self._clock = clock
        self._region = region
        # (second, aws:CurrentTime, aws:EpochTime), replaced as one tuple so threads never see a torn update
        self._formatted: tuple[int, tuple[str], tuple[str]] = (-1, ("",), ("",))
        # id(caller) -> (caller, its Principal, aws:CurrentTime it was built for, its keys): see _caller_keys
        self._by_caller: dict[int, tuple[Caller, Principal, tuple[str], Keys]] = {}

    def _times(self) -> tuple[tuple[str], tuple[str]]:
        """aws:CurrentTime and aws:EpochTime, formatted once per second (this runs twice per request)."""
        second = int(self._clock())
        formatted = self._formatted
        if second != formatted[0]:
            formatted = self._formatted = (second, (iso_utc(second),), (str(second),))
        return formatted[1], formatted[2]

    def _caller_keys(self, caller: Caller) -> tuple[Principal, Keys]:
        """The caller's Principal and the complete condition-key map of a request without extra keys (the
        principal's derived keys plus ``context_for``), as ``RequestContext`` would build it.

        Cached per Caller object (callers are frozen; the identity caches and the authenticator hand out the
        same object for a key, source IP and session while cached), so a request's checks, and the next
        requests of that caller within the second, share one map; only the time keys are refreshed. The entry
        holds the caller itself, so the id cannot be reused while cached. The map is shared: never mutate it.
        """
        current, epoch = self._times()
        entry = self._by_caller.get(id(caller))
        if entry is not None and entry[0] is caller:
            if entry[2] is current:
                return entry[1], entry[3]
            principal = entry[1]
            keys = dict(entry[3])
            keys["aws:currenttime"] = current
            keys["aws:epochtime"] = epoch
        else:
            principal = principal_of(caller)
            keys = derived_keys(principal)
            keys.update(self.context_for(caller))  # already lower-case names and tuple values
        if len(self._by_caller) >= _MAX_CACHED_CALLERS:
            self._by_caller.clear()
        self._by_caller[id(caller)] = (caller, principal, current, keys)
        return principal, keys

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
            ctx["aws:tokenissuetime"] = (iso_utc(caller.session_issued_at),)
        if caller.session_expires_at is not None:
            ctx["aws:multifactorauthpresent"] = ("false",)
        for key, value in caller.principal_tags:
            ctx["aws:principaltag/" + key.lower()] = (value,)
        if extra:
            for k, v in extra.items():
                ctx[k.lower()] = (v,) if isinstance(v, str) else v
        return ctx

    def request(self, caller: Caller, action: str, resource: str, extra: ContextValues | None = None) -> RequestContext:
        principal, keys = self._caller_keys(caller)
        if extra:
            keys = dict(keys)  # the cached map is shared
            for k, v in extra.items():
                keys[k.lower()] = (v,) if isinstance(v, str) else tuple(v)
        return RequestContext.with_keys(principal, action, resource, keys)

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
