"""Package group origin controls: INHERIT resolution, the effective rules for one package, and how they combine
with the package-level origin controls. Pure: no SQL, no HTTP.

Restrictions (AWS's "Package group origin controls"): ``PUBLISH`` (direct publishing to a repository),
``EXTERNAL_UPSTREAM`` (ingesting from a public repository through an external connection), ``INTERNAL_UPSTREAM``
(retaining from another repository of the domain configured as an upstream). Each is ``ALLOW`` (every repository),
``BLOCK`` (none), ``ALLOW_SPECIFIC_REPOSITORIES`` (those on the restriction's allowed-repository list) or
``INHERIT`` (the setting of the first ancestor group whose setting is not INHERIT; the root cannot inherit).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from coffer.core.packages.package_groups import (
    RESTRICTION_TYPES,
    AssociationType,
    PackageGroup,
    RestrictionMode,
    RestrictionType,
    ancestors,
    most_specific,
)

PackageMode = Literal["ALLOW", "BLOCK"]


@dataclass(frozen=True)
class GroupRef:
    """A package group by its identifiers (the model's PackageGroupReference)."""

    pattern: str
    arn: str

    @classmethod
    def of(cls, group: PackageGroup) -> GroupRef:
        return cls(pattern=group.pattern, arn=group.arn)


@dataclass(frozen=True)
class ResolvedRestriction:
    """One restriction of a group as DescribePackageGroup shows it: the group's own ``mode``, the
    ``effective_mode`` after INHERIT, ``inherited_from`` (the ancestor that decided; None if the group's own mode
    did), ``repositories_count`` (the group's own allowed list) and the allowed repositories that apply (those of
    the group that decided)."""

    mode: RestrictionMode
    effective_mode: RestrictionMode
    inherited_from: GroupRef | None
    repositories_count: int
    effective_repositories: frozenset[str]

    def allows(self, repository_name: str) -> bool:
        if self.effective_mode == "ALLOW":
            return True
        if self.effective_mode == "ALLOW_SPECIFIC_REPOSITORIES":
            return repository_name in self.effective_repositories
        return False  # BLOCK (an unresolvable INHERIT never reaches here: the root cannot inherit)


def resolve(group: PackageGroup, groups: Iterable[PackageGroup]) -> dict[RestrictionType, ResolvedRestriction]:
    """Each restriction of ``group`` with INHERIT resolved against its ancestors in ``groups`` (the domain's)."""
    chain: list[PackageGroup] | None = None
    out: dict[RestrictionType, ResolvedRestriction] = {}
    for restriction in RESTRICTION_TYPES:
        own = group.mode(restriction)
        count = len(group.allowed_repositories(restriction))
        decider, inherited = group, False
        if own == "INHERIT":
            if chain is None:
                chain = ancestors(groups, group.pattern)
            found = next((a for a in chain if a.mode(restriction) != "INHERIT"), None)
            inherited = found is not None
            decider = found if found is not None else group
        effective = decider.mode(restriction)
        out[restriction] = ResolvedRestriction(
            mode=own,
            effective_mode="ALLOW" if effective == "INHERIT" else effective,  # no ancestor decides: the root default
            inherited_from=GroupRef.of(decider) if inherited else None,
            repositories_count=count,
            effective_repositories=frozenset(decider.allowed_repositories(restriction)),
        )
    return out


@dataclass(frozen=True)
class EffectiveOriginRules:
    """The package group rules for one package: ``group`` is the group it belongs to (the most specific match),
    ``association`` how it matched, ``restrictions`` that group's resolved settings.

    A WEAK association (the package matches only a variation of the group's pattern: case, runs of ``-._``) does
    not apply the group's settings: it blocks every origin, so that a look-alike of a package a group pins down
    (``/npm//React`` next to ``/npm//react$``) cannot enter the domain under that group's permissions. (The
    upstreams spec marks this reading of AWS's matching-behaviour page as unverified.)"""

    group: GroupRef
    association: AssociationType
    restrictions: Mapping[RestrictionType, ResolvedRestriction]

    def allows(self, restriction: RestrictionType, repository_name: str) -> bool:
        """Whether the group rules let a version enter ``repository_name`` by ``restriction``."""
        if self.association == "WEAK":
            return False
        return self.restrictions[restriction].allows(repository_name)

    def decided_by(self, restriction: RestrictionType) -> GroupRef:
        """The group whose setting decides ``restriction`` (the group itself, or the ancestor it inherits from), for
        error messages."""
        return self.restrictions[restriction].inherited_from or self.group


ALLOW_ALL = ResolvedRestriction("ALLOW", "ALLOW", None, 0, frozenset())


def rules_for(
    groups: Iterable[PackageGroup], fmt: str, namespace: str | None, name: str, root: PackageGroup
) -> EffectiveOriginRules:
    """The effective group rules for the package (normalized coordinates) among the domain's ``groups``; ``root``
    is the domain's root group (used if ``groups`` lacks it)."""
    everything = list(groups)
    if not any(g.pattern == root.pattern for g in everything):
        everything.append(root)
    found = most_specific(everything, fmt, namespace, name)
    group, association = found if found is not None else (root, "STRONG")
    return EffectiveOriginRules(GroupRef.of(group), association, resolve(group, everything))


@dataclass(frozen=True)
class OriginDecision:
    """Whether a version may enter a repository by an origin, and if not, which control refused it: ``"package"``
    (the package's own origin configuration in that repository) or ``"package-group"`` (``group``'s setting)."""

    allowed: bool
    blocked_by: Literal["package", "package-group"] | None
    group: GroupRef


def combine(
    rules: EffectiveOriginRules,
    restriction: RestrictionType,
    repository_name: str,
    package_publish: PackageMode | None = None,
    package_upstream: PackageMode | None = None,
) -> OriginDecision:
    """Package-level and package-group origin controls together, as AWS's "Package group origin controls" page
    states their interaction: BLOCK always wins over ALLOW. A version may enter only if both allow it:

    - the package's own origin configuration in the repository (``Package.publish`` / ``Package.upstream``; None
      when the repository has no record of the package yet, which restricts nothing): ``PUBLISH`` is checked
      against ``publish``, both ``EXTERNAL_UPSTREAM`` and ``INTERNAL_UPSTREAM`` against ``upstream`` (the
      package level has the one upstream setting);
    - the group rules (``EffectiveOriginRules.allows``: ALLOW, BLOCK, ALLOW_SPECIFIC_REPOSITORIES for
      ``repository_name``; a weak association blocks).

    A package-level BLOCK is reported first (it is the more specific control)."""
    package_mode = package_publish if restriction == "PUBLISH" else package_upstream
    if package_mode == "BLOCK":
        return OriginDecision(False, "package", rules.decided_by(restriction))
    if not rules.allows(restriction, repository_name):
        return OriginDecision(False, "package-group", rules.decided_by(restriction))
    return OriginDecision(True, None, rules.decided_by(restriction))
