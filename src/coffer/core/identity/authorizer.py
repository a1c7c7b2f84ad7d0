"""Authorizing a caller's action on a resource with the policy engine, filling in AWS's global condition keys."""

from __future__ import annotations

from collections.abc import Mapping

from coffer.core.identity.callers import MAX_DECISIONS, Caller, Keys
from coffer.core.policy import Decision, PolicyDocument, RequestContext, denial_message, evaluate
from coffer.core.shared.bounded import remember
from coffer.core.shared.clock import Clock, iso_utc
from coffer.core.shared.errors import AccessDeniedError

#: extra condition keys: one value, or several (``aws:TagKeys``)
ContextValues = Mapping[str, str | tuple[str, ...]]


class Authorizer:
    def __init__(self, clock: Clock, region: str) -> None:
        self._clock = clock
        self._region = region
        # (second, the keys of a request at that second besides the caller's), replaced as one tuple so threads
        # never see a torn update; Caller.condition_keys memoizes on the keys object
        self._request_keys: tuple[int, Keys] = (-1, {})

    def _keys_now(self) -> Keys:
        """aws:CurrentTime, aws:EpochTime and the server's keys, built once per second (this runs twice per
        request). The map is shared: never mutate it."""
        second = int(self._clock())
        stamp = self._request_keys
        if second != stamp[0]:
            keys: Keys = {
                "aws:currenttime": (iso_utc(second),),
                "aws:epochtime": (str(second),),
                "aws:securetransport": ("false",),
                "aws:requestedregion": (self._region,),
                "aws:viaawsservice": ("false",),
                "aws:principalisawsservice": ("false",),
            }
            stamp = self._request_keys = (second, keys)
        return stamp[1]

    def request(self, caller: Caller, action: str, resource: str, extra: ContextValues | None = None) -> RequestContext:
        keys = caller.condition_keys(self._keys_now())
        if extra:
            merged = dict(keys)  # the memoized map is shared
            for k, v in extra.items():
                merged[k.lower()] = (v,) if isinstance(v, str) else tuple(v)
            keys = merged
        return RequestContext.with_keys(caller.principal, action, resource, keys)

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
        # When no policy involved reads a condition key (no Condition, no policy variable), the decision depends
        # on the caller, action, resource and the policies alone: it is kept on the caller object, which the
        # identity caches hand out (with the same policy objects) until they reload it, and reused while the
        # resource policy is the same object too.
        key = (action, resource, resource_account)
        kept = caller.decisions.get(key)
        if kept is not None and kept[0] is resource_policy:
            return kept[1]
        request = self.request(caller, action, resource, extra_context)
        # The root user holds every identity-based permission of its account (the engine knows; it has no
        # policies of its own); resource-policy denies still apply, and across accounts it needs the resource policy.
        decision = evaluate(request, caller.policies, resource_policy, resource_account, caller.session_policies)
        if caller.decides_by_request_alone and (resource_policy is None or resource_policy.context_free):
            remember(caller.decisions, key, (resource_policy, decision), MAX_DECISIONS)
        return decision

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
