"""Package groups: the ten CodeArtifact operations, and ``origin_rules``, the enforcement API of the publish and
fetch paths.

Every domain has the root group ``/*``: until it is changed it is virtual (all origins ALLOW, created with the
domain); the first change stores it. It can be changed but never deleted, and it cannot INHERIT (it has no
parent). Deleting a domain removes its groups (the store does it in the same transaction).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from coffer.core.codeartifact.deps import Deps
from coffer.core.codeartifact.resources import Domain
from coffer.core.identity.callers import Caller
from coffer.core.packages.package_group_origins import (
    EffectiveOriginRules,
    GroupRef,
    ResolvedRestriction,
    resolve,
    rules_for,
)
from coffer.core.packages.package_group_store import Coordinates
from coffer.core.packages.package_groups import (
    NEW_GROUP_MODES,
    RESTRICTION_MODES,
    RESTRICTION_TYPES,
    ROOT_MODES,
    ROOT_PATTERN,
    AssociationType,
    PackageGroup,
    RestrictionMode,
    RestrictionType,
    children_of,
    most_specific,
    parent_of,
    parse_pattern,
)
from coffer.core.packages.package_names import normalize_name
from coffer.core.shared.arns import package_group_arn
from coffer.core.shared.cache import TtlCache
from coffer.core.shared.errors import ConflictError, ResourceNotFoundError, ValidationError
from coffer.core.shared.pagination import Scope

MAX_TAGS = 50
_DOMAIN_PAGE = 500  # packages read at a time by ListAssociatedPackages


@dataclass(frozen=True)
class GroupView:
    """A group as the API describes it: its parent and its restrictions with INHERIT resolved."""

    group: PackageGroup
    parent: GroupRef | None
    restrictions: Mapping[RestrictionType, ResolvedRestriction]


@dataclass(frozen=True)
class AssociatedPackage:
    format: str
    namespace: str | None
    name: str
    association: AssociationType


def _no_group(domain: str, pattern: str) -> ResourceNotFoundError:
    return ResourceNotFoundError(
        f"Package group {pattern} not found in domain {domain}", resource_id=pattern, resource_type="package-group"
    )


def _restriction_type(value: object) -> RestrictionType:
    for r in RESTRICTION_TYPES:
        if value == r:
            return r
    raise ValidationError(f"Unknown origin restriction type {value!r} (one of {', '.join(RESTRICTION_TYPES)})")


def _restriction_mode(value: object) -> RestrictionMode:
    for m in RESTRICTION_MODES:
        if value == m:
            return m
    raise ValidationError(f"Unknown origin restriction mode {value!r} (one of {', '.join(RESTRICTION_MODES)})")


class PackageGroupService:
    def __init__(self, deps: Deps) -> None:
        self._d = deps
        # The groups of a domain, read by every publish and upstream fetch (origin_rules): cached briefly like the
        # other hot reads in Deps, dropped at once by changes made through this process.
        self._groups: TtlCache[tuple[str, str], tuple[PackageGroup, ...] | None] = TtlCache(deps.clock, deps.cache_ttl)

    # --- enforcement API ----------------------------------------------------------------------------------

    def origin_rules(
        self, domain_owner: str, domain: str, fmt: str, namespace: str | None, name: str
    ) -> EffectiveOriginRules:
        """The package group rules for a package of the domain: the group it belongs to (the most specific match,
        STRONG or WEAK), with INHERIT resolved. ``rules.allows("PUBLISH" | "EXTERNAL_UPSTREAM" |
        "INTERNAL_UPSTREAM", repository_name)`` says whether a version may enter that repository that way;
        ``rules.decided_by(restriction)`` names the group whose setting decided (for error messages).

        Combining with the package-level origin controls (``Package.publish`` / ``Package.upstream`` of the package
        in the repository), as AWS's "Package group origin controls" page states: BLOCK always wins over ALLOW, so
        a version enters only if both the package's setting and the group's allow it; PUBLISH is checked against
        the package's ``publish``, EXTERNAL_UPSTREAM and INTERNAL_UPSTREAM against its ``upstream``.
        ``package_group_origins.combine(rules, restriction, repository_name, package.publish, package.upstream)``
        does exactly that and says which control refused.

        ``name`` and ``namespace`` are taken as given or normalized (pypi: PEP 503; an empty namespace is none).
        No authorization: the caller has authorized the publish or read. Cached for ``cache_ttl`` seconds (changes
        through this process apply at once; AWS too makes group creation and deletion eventually consistent)."""
        groups = self._groups.get_or_load((domain_owner, domain), self._load_groups)
        norm = normalize_name(fmt, name)
        if groups is None:  # no such domain: the default root answers (the caller's own checks refuse it)
            root = self._root(domain_owner, domain, 0.0)
            return rules_for((), fmt, namespace or None, norm, root)
        root = next(g for g in groups if g.pattern == ROOT_PATTERN)
        return rules_for(groups, fmt, namespace or None, norm, root)

    def _load_groups(self, key: tuple[str, str]) -> tuple[PackageGroup, ...] | None:
        domain = self._d.store.get_domain(*key)
        return None if domain is None else self._all_groups(domain)

    def _invalidate(self) -> None:
        self._groups.invalidate()
        self._d.invalidate()  # what was built with the groups' rules (package views)

    # --- helpers ---------------------------------------------------------------------------------------------

    def _arn(self, owner: str, domain: str, pattern: str) -> str:
        return package_group_arn(self._d.region, owner, domain, pattern)

    def _root(self, owner: str, domain: str, created_time: float) -> PackageGroup:
        return PackageGroup(
            domain_owner=owner,
            domain_name=domain,
            pattern=ROOT_PATTERN,
            arn=self._arn(owner, domain, ROOT_PATTERN),
            created_time=created_time,
            modes=ROOT_MODES,
        )

    def _all_groups(self, domain: Domain) -> tuple[PackageGroup, ...]:
        """The domain's groups, the (virtual, until changed) root included, ordered by pattern."""
        stored = self._d.store.list_package_groups(domain.owner, domain.name)
        if any(g.pattern == ROOT_PATTERN for g in stored):
            return stored
        return tuple(sorted((*stored, self._root(domain.owner, domain.name, domain.created_time)), key=_by_pattern))

    def _view(self, group: PackageGroup, groups: Sequence[PackageGroup]) -> GroupView:
        parent = parent_of(groups, group.pattern)
        return GroupView(group, None if parent is None else GroupRef.of(parent), resolve(group, groups))

    def _find(self, groups: Sequence[PackageGroup], domain: str, pattern: str) -> PackageGroup:
        found = next((g for g in groups if g.pattern == pattern), None)
        if found is None:
            raise _no_group(domain, pattern)
        return found

    def _authorize_group(self, caller: Caller, action: str, owner: str, domain: str, pattern: str) -> str:
        return self._d.authorize_resource(caller, action, owner, self._arn(owner, domain, pattern))

    def _stored(self, owner: str, domain: Domain, pattern: str) -> None:
        """Make sure the group is stored (the root may still be virtual)."""
        if pattern == ROOT_PATTERN and self._d.store.get_package_group(owner, domain.name, pattern) is None:
            with contextlib.suppress(ConflictError):  # stored meanwhile by another request
                self._d.store.create_package_group(self._root(owner, domain.name, domain.created_time), {})

    def _page(
        self, scope: Scope, caller: Caller, items: Sequence[str], max_results: int | None, token: str | None
    ) -> tuple[list[str], str | None]:
        """A page of the sorted, distinct ``items`` after the token's position."""
        after = self._d.paginator.decode(scope, token, caller)
        rest = [i for i in items if after is None or i > after]
        size = self._d.page_size(max_results)
        page = rest[:size]
        more = len(rest) > size
        return page, self._d.paginator.encode(scope, page[-1] if more else None, caller)

    # --- operations ------------------------------------------------------------------------------------------

    def create(
        self,
        caller: Caller,
        domain: str,
        domain_owner: str | None,
        pattern: str,
        contact_info: str | None,
        description: str | None,
        tags: Mapping[str, str] | None = None,
    ) -> GroupView:
        owner, parsed, arn = self._open(caller, "CreatePackageGroup", domain, domain_owner, pattern)
        found = self._d.require_domain(owner, domain)
        if len(tags or {}) > MAX_TAGS:
            raise ValidationError(f"A package group can have at most {MAX_TAGS} tags")
        if parsed == ROOT_PATTERN:
            raise ConflictError(
                f"Package group {ROOT_PATTERN} already exists in domain {domain}: every domain has the root group",
                ROOT_PATTERN,
                "package-group",
            )
        group = PackageGroup(
            domain_owner=owner,
            domain_name=domain,
            pattern=parsed,
            arn=arn,
            created_time=self._d.clock(),
            description=description or "",
            contact_info=contact_info or "",
            modes=NEW_GROUP_MODES,
        )
        self._d.store.create_package_group(group, dict(tags or {}))
        self._invalidate()
        groups = self._all_groups(found)
        return self._view(self._find(groups, domain, parsed), groups)

    def _open(
        self, caller: Caller, action: str, domain: str, domain_owner: str | None, pattern: str
    ) -> tuple[str, str, str]:
        """(domain owner, the pattern as parsed, the group's ARN) once ``caller`` may do ``action`` on the group."""
        owner = self._d.owner_of(caller, domain_owner)
        parsed = parse_pattern(pattern).text
        return owner, parsed, self._authorize_group(caller, action, owner, domain, parsed)

    def describe(self, caller: Caller, domain: str, domain_owner: str | None, pattern: str) -> GroupView:
        owner, parsed, _ = self._open(caller, "DescribePackageGroup", domain, domain_owner, pattern)
        groups = self._all_groups(self._d.require_domain(owner, domain))
        return self._view(self._find(groups, domain, parsed), groups)

    def update(
        self,
        caller: Caller,
        domain: str,
        domain_owner: str | None,
        pattern: str,
        contact_info: str | None,
        description: str | None,
    ) -> GroupView:
        owner, parsed, _ = self._open(caller, "UpdatePackageGroup", domain, domain_owner, pattern)
        found = self._d.require_domain(owner, domain)
        self._stored(owner, found, parsed)
        self._d.store.update_package_group(owner, domain, parsed, description=description, contact_info=contact_info)
        self._invalidate()
        groups = self._all_groups(found)
        return self._view(self._find(groups, domain, parsed), groups)

    def delete(self, caller: Caller, domain: str, domain_owner: str | None, pattern: str) -> GroupView:
        """The deleted group as it was (its sub-groups now have its parent as theirs)."""
        owner, parsed, _ = self._open(caller, "DeletePackageGroup", domain, domain_owner, pattern)
        found = self._d.require_domain(owner, domain)
        if parsed == ROOT_PATTERN:
            raise ValidationError(f"The root package group {ROOT_PATTERN} cannot be deleted")
        groups = self._all_groups(found)
        view = self._view(self._find(groups, domain, parsed), groups)
        self._d.store.delete_package_group(owner, domain, parsed)
        self._invalidate()
        return view

    def list_page(
        self,
        caller: Caller,
        domain: str,
        domain_owner: str | None,
        prefix: str | None,
        max_results: int | None,
        next_token: str | None,
    ) -> tuple[list[GroupView], str | None]:
        """ListPackageGroups: the domain's groups (the root included) ordered by pattern, those starting with
        ``prefix`` when given."""
        owner = self._d.owner_of(caller, domain_owner)
        self._d.authorize_domain(caller, "ListPackageGroups", owner, domain)
        groups = self._all_groups(self._d.require_domain(owner, domain))
        patterns = [g.pattern for g in groups if g.pattern.startswith(prefix or "")]
        page, token = self._page(
            ("ListPackageGroups", owner, domain, prefix or ""), caller, patterns, max_results, next_token
        )
        by_pattern = {g.pattern: g for g in groups}
        return [self._view(by_pattern[p], groups) for p in page], token

    def list_sub_groups(
        self,
        caller: Caller,
        domain: str,
        domain_owner: str | None,
        pattern: str,
        max_results: int | None,
        next_token: str | None,
    ) -> tuple[list[GroupView], str | None]:
        """ListSubPackageGroups: the direct children (the groups whose parent this group is)."""
        owner, parsed, _ = self._open(caller, "ListSubPackageGroups", domain, domain_owner, pattern)
        groups = self._all_groups(self._d.require_domain(owner, domain))
        self._find(groups, domain, parsed)
        children = [g.pattern for g in children_of(groups, parsed)]
        page, token = self._page(
            ("ListSubPackageGroups", owner, domain, parsed), caller, children, max_results, next_token
        )
        by_pattern = {g.pattern: g for g in groups}
        return [self._view(by_pattern[p], groups) for p in page], token

    def associated_group(
        self, caller: Caller, domain: str, domain_owner: str | None, fmt: str, namespace: str | None, package: str
    ) -> tuple[GroupView, AssociationType]:
        """GetAssociatedPackageGroup: the group the package belongs to (it need not exist) and how it matches."""
        owner = self._d.owner_of(caller, domain_owner)
        self._d.authorize_domain(caller, "GetAssociatedPackageGroup", owner, domain)
        groups = self._all_groups(self._d.require_domain(owner, domain))
        found = most_specific(groups, fmt, namespace or None, normalize_name(fmt, package))
        assert found is not None  # the root matches every package
        return self._view(found[0], groups), found[1]

    def associated_packages(
        self,
        caller: Caller,
        domain: str,
        domain_owner: str | None,
        pattern: str,
        preview: bool,
        max_results: int | None,
        next_token: str | None,
    ) -> tuple[list[AssociatedPackage], str | None]:
        """ListAssociatedPackages: the domain's packages (in any of its repositories) that belong to the group;
        ``preview``: those that would if the group existed (it need not)."""
        owner = self._d.owner_of(caller, domain_owner)
        parsed = parse_pattern(pattern)
        text = parsed.text
        self._authorize_group(caller, "ListAssociatedPackages", owner, domain, text)
        groups = list(self._all_groups(self._d.require_domain(owner, domain)))
        if not any(g.pattern == text for g in groups):
            if not preview:
                raise _no_group(domain, text)
            arn = self._arn(owner, domain, text)
            groups.append(PackageGroup(owner, domain, text, arn, self._d.clock(), modes=NEW_GROUP_MODES))
        scope: Scope = ("ListAssociatedPackages", owner, domain, text, str(preview))
        position = self._d.paginator.decode(scope, next_token, caller)
        after: Coordinates | None = None
        if position is not None:
            fmt_, ns_, name_ = json.loads(position)
            after = (fmt_, ns_ or None, name_)
        size = self._d.page_size(max_results)
        out: list[AssociatedPackage] = []
        last: Coordinates | None = None
        more = False
        while not more:
            chunk = self._d.store.list_domain_packages(owner, domain, parsed.format, after, _DOMAIN_PAGE)
            for coords in chunk:
                found = most_specific(groups, *coords)
                if found is not None and found[0].pattern == text:
                    if len(out) == size:
                        more = True
                        break
                    out.append(AssociatedPackage(*coords, found[1]))
                    last = coords
            if len(chunk) < _DOMAIN_PAGE:
                break
            after = chunk[-1]
        token = None
        if more and last is not None:
            token = self._d.paginator.encode(scope, json.dumps([last[0], last[1] or "", last[2]]), caller)
        return out, token

    def allowed_repositories(
        self,
        caller: Caller,
        domain: str,
        domain_owner: str | None,
        pattern: str,
        restriction: str,
        max_results: int | None,
        next_token: str | None,
    ) -> tuple[list[str], str | None]:
        """ListAllowedRepositoriesForGroup: the group's allowed-repository list of one restriction type."""
        owner, parsed, _ = self._open(caller, "ListAllowedRepositoriesForGroup", domain, domain_owner, pattern)
        kind = _restriction_type(restriction)
        groups = self._all_groups(self._d.require_domain(owner, domain))
        names = sorted(self._find(groups, domain, parsed).allowed_repositories(kind))
        scope: Scope = ("ListAllowedRepositoriesForGroup", owner, domain, parsed, kind)
        return self._page(scope, caller, names, max_results, next_token)

    def update_origin(
        self,
        caller: Caller,
        domain: str,
        domain_owner: str | None,
        pattern: str,
        restrictions: Mapping[str, str] | None,
        add: Sequence[tuple[str, str]],
        remove: Sequence[tuple[str, str]],
    ) -> tuple[GroupView, dict[RestrictionType, dict[str, list[str]]]]:
        """UpdatePackageGroupOriginConfiguration: set modes, add and remove allowed repositories (each entry
        (restriction type, repository name)). Returns the group and the list changes requested, by restriction
        type, ``ADDED`` and ``REMOVED``. A repository added must exist in the domain; a list may be kept whatever
        the mode (it applies while the mode is ALLOW_SPECIFIC_REPOSITORIES)."""
        owner, parsed, _ = self._open(caller, "UpdatePackageGroupOriginConfiguration", domain, domain_owner, pattern)
        modes = {_restriction_type(k): _restriction_mode(v) for k, v in (restrictions or {}).items()}
        adds = [(_restriction_type(t), r) for t, r in add]
        removes = [(_restriction_type(t), r) for t, r in remove]
        if parsed == ROOT_PATTERN and "INHERIT" in modes.values():
            raise ValidationError(f"The root package group {ROOT_PATTERN} has no parent: its modes cannot be INHERIT")
        both = set(adds) & set(removes)
        if both:
            t, r = sorted(both)[0]
            raise ValidationError(f"Repository {r} is both added to and removed from the {t} allowed repositories")
        found = self._d.require_domain(owner, domain)
        for _, name in sorted(set(adds)):
            self._d.require_repository(owner, domain, name)
        self._stored(owner, found, parsed)
        self._d.store.update_package_group_origin(owner, domain, parsed, modes=modes, add=adds, remove=removes)
        self._invalidate()
        groups = self._all_groups(found)
        updates: dict[RestrictionType, dict[str, list[str]]] = {}
        for label, entries in (("ADDED", adds), ("REMOVED", removes)):
            for t, r in sorted(set(entries)):
                updates.setdefault(t, {}).setdefault(label, []).append(r)
        return self._view(self._find(groups, domain, parsed), groups), updates


def _by_pattern(group: PackageGroup) -> str:
    return group.pattern
