"""GetAuthorizationToken (spec §1, §4) and the verification the package endpoints use."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from coffer.core.codeartifact import token_format as tokens
from coffer.core.codeartifact.deps import Deps
from coffer.core.codeartifact.token_format import TokenClaims, TokenError
from coffer.core.identity.callers import Caller
from coffer.core.identity.key_resolution import IdentityService
from coffer.core.shared.aws_limits import MAX_SESSION_SECONDS, MIN_SESSION_SECONDS
from coffer.core.shared.bounded import remember
from coffer.core.shared.errors import AccessDeniedError, ValidationError
from coffer.core.shared.signing import KeyRing

DEFAULT_DURATION = MAX_DURATION = MAX_SESSION_SECONDS
MIN_DURATION = MIN_SESSION_SECONDS
BEARER_SERVICE = "codeartifact.amazonaws.com"
MAX_VERIFIED = 10_000  # verified tokens remembered (all forgotten when full)


class IssuedToken(NamedTuple):
    token: str
    expiration: int  # epoch seconds, exactly the token's expiry


class PrincipalGoneError(TokenError):
    reason = "the identity this token was issued to no longer exists"


def check_duration(duration: int | None) -> int:
    """The requested duration as the ``sts:DurationSeconds`` key sees it; ValidationException if not allowed."""
    if duration is None:
        return DEFAULT_DURATION
    if duration == 0 or MIN_DURATION <= duration <= MAX_DURATION:
        return duration
    bound = (
        f"greater than or equal to {MIN_DURATION}"
        if duration < MIN_DURATION
        else f"less than or equal to {MAX_DURATION}"
    )
    raise ValidationError(
        f"1 validation error detected: Value '{duration}' at 'durationSeconds' failed to satisfy constraint: "
        f"Member must have value {bound}, or be 0"
    )


class AuthorizationTokenService:
    def __init__(
        self,
        deps: Deps,
        identities: IdentityService,
        key_ring: Callable[[], KeyRing],
        is_revoked: Callable[[str], bool] | None = None,
    ) -> None:
        self._d = deps
        self._identities = identities
        self._key_ring = key_ring
        self._is_revoked = is_revoked
        # tokens whose MAC was checked, by their exact text: a token presented again skips the decoding and
        # the MAC (what can change, its key, expiry and revocation, is checked every time)
        self._verified: dict[str, TokenClaims] = {}

    def issue(self, caller: Caller, domain: str, domain_owner: str | None, duration: int | None) -> IssuedToken:
        requested = check_duration(duration)
        owner = self._d.owner_of(caller, domain_owner)
        if caller.is_root:
            raise AccessDeniedError(
                f"User: {caller.arn} is not authorized to perform: codeartifact:GetAuthorizationToken on resource: "
                f"{self._d.domain_arn(owner, domain)} because the root user of an account cannot be issued an "
                "authorization token"
            )
        self._d.authorize_domain(caller, "GetAuthorizationToken", owner, domain)
        self._d.authorizer.require(
            caller,
            "sts:GetServiceBearerToken",
            "*",
            extra_context={"sts:AWSServiceName": BEARER_SERVICE, "sts:DurationSeconds": str(requested)},
        )
        if not self._d.domain_exists(owner, domain):
            self._d.require_domain(owner, domain)  # raises ResourceNotFoundException (read fresh, not cached)
        now = int(self._d.clock())
        if requested == 0:
            # Exactly when the caller's temporary credentials expire (spec §1); long-term keys: the default 12 h.
            session_end = caller.session_expires_at
            expires = int(session_end) if session_end is not None else now + MAX_SESSION_SECONDS
        else:
            expires = now + requested
        ring = self._key_ring()
        session_issued_at = caller.session_issued_at
        claims = TokenClaims(  # positionally: this runs once per token
            tokens.new_token_id(),  # token_id
            ring.active.key_id,
            caller.account_id,
            owner,  # domain_owner
            domain,
            caller.arn,  # principal_arn
            now,  # issued_at
            expires,  # expires_at
            None if session_issued_at is None else int(session_issued_at),
            caller.user_id,  # principal_id
        )
        return IssuedToken(tokens.mint(ring, claims), expires)

    def verify(self, token: str, domain_owner: str, domain: str) -> tuple[TokenClaims, Caller]:
        """Check a token presented to a repository of ``domain_owner``/``domain`` and return the identity it
        acts for, with that identity's current policies (so a policy change cuts off issued tokens)."""
        ring, now = self._key_ring(), self._d.clock()
        verified = self._verified.get(token)
        if verified is not None:
            claims = tokens.check_claims(
                verified, ring, now=now, domain_owner=domain_owner, domain=domain, is_revoked=self._is_revoked
            )
        else:
            claims = tokens.verify(
                ring, token, now=now, domain_owner=domain_owner, domain=domain, is_revoked=self._is_revoked
            )
            remember(self._verified, token, claims, MAX_VERIFIED)
        # A token minted by temporary credentials acts for that session (its session policies and tags, and
        # aws:TokenIssueTime, so a "revoke older sessions" deny also cuts off its tokens).
        caller = self._identities.caller_for_principal(
            claims.principal_arn, claims.principal_id, claims.session_issued_at
        )
        if caller is None:
            raise PrincipalGoneError()
        return claims, caller
