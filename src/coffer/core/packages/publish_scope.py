"""Policies seen from a repository's whole package space: "may this caller publish *some* package here?".

An upload is authorized before its body is read, when the package's name is not known yet
(``PackagePublishing.authorize_publish_to_repository``). Each statement of the caller's policies is then seen as
it applies to a package ARN in the space ``arn:...:package/<domain>/<repo>/<fmt>/`` whose name is unknown: an
Allow counts when one of its resource patterns could match a package there, a Deny only when one provably matches
every package there; NotResource the other way round. The policy engine then evaluates the result as usual.
"""

from __future__ import annotations

import dataclasses

from coffer.core.policy import PolicyDocument, Statement
from coffer.core.policy.variables import Lookup, resolve
from coffer.core.policy.wildcards import Parts, compile_parts


def _parts(statement: Statement, pattern: str, lookup: Lookup) -> Parts | None:
    """A Resource/NotResource pattern with its policy variables resolved (None: a variable has no value, so the
    pattern matches nothing, as in the engine)."""
    return resolve(pattern, lookup) if statement.resource_variables else ((pattern, False),)


def _may_match_within(parts: Parts, space: str) -> bool:
    """Whether the pattern could match some ARN that starts with ``space``: its text before the first wildcard
    and ``space`` agree on their common length (an over-approximation: wildcards are assumed to match anything)."""
    head: list[str] = []
    wildcard = False
    for text, literal in parts:
        cut = -1 if literal else min((i for i in (text.find("*"), text.find("?")) if i >= 0), default=-1)
        if cut >= 0:
            head.append(text[:cut])
            wildcard = True
            break
        head.append(text)
    literal_head = "".join(head)
    if not wildcard:
        return literal_head.startswith(space)
    return literal_head.startswith(space) or space.startswith(literal_head)


def _covers(parts: Parts, space: str) -> bool:
    """Whether the pattern provably matches every ARN that starts with ``space``: it is ``Q*`` (a trailing,
    non-literal ``*``, which matches anything, colons included) with ``Q`` matching some prefix of ``space``."""
    if not parts:
        return False
    text, literal = parts[-1]
    if literal or not text.endswith("*"):
        return False
    head = compile_parts((*parts[:-1], (text[:-1], False)), True)
    return any(head.fullmatch(space, 0, end) for end in range(len(space) + 1))


def _within_space(statement: Statement, space: str, lookup: Lookup) -> Statement | None:
    """``statement`` as it applies to a package ARN in ``space`` whose name is not known yet: an Allow is kept
    (for every resource) when it could apply to some package there, a Deny only when it applies to all of them;
    None when the statement is dropped. Action, principal and conditions are kept as they are."""
    if statement.resource is None and statement.not_resource is None:
        return statement
    patterns = [_parts(statement, p, lookup) for p in statement.resource or statement.not_resource or ()]
    resolved = [p for p in patterns if p is not None]
    if statement.resource is not None:
        if statement.effect == "Allow":
            keep = any(_may_match_within(p, space) for p in resolved)
        else:
            keep = any(_covers(p, space) for p in resolved)
    elif statement.effect == "Allow":  # NotResource: everything the patterns do not match
        keep = not any(_covers(p, space) for p in resolved)
    else:
        keep = not any(_may_match_within(p, space) for p in resolved)
    if not keep:
        return None
    return dataclasses.replace(statement, resource=("*",), not_resource=None, resource_variables=False)


def policy_within_space(policy: PolicyDocument, space: str, lookup: Lookup) -> PolicyDocument:
    kept = (_within_space(s, space, lookup) for s in policy.statements)
    return dataclasses.replace(policy, statements=tuple(s for s in kept if s is not None))
