"""The publish path: who may publish, the blobs an upload writes, the package's origin configuration
(PutPackageOriginConfiguration and the rules it sets on publishing) and the one transaction that makes a file
visible in a repository."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from coffer.core.codeartifact.resources import Repository
from coffer.core.identity.callers import Caller
from coffer.core.packages.package_models import (
    DOWNLOADABLE_STATUSES,
    Asset,
    BlobInfo,
    Package,
    PackageRef,
    PackageVersion,
    RepoRef,
    package_label,
)
from coffer.core.packages.package_names import normalize_ref, normalize_version
from coffer.core.packages.package_reads import PackageReads
from coffer.core.packages.package_sources import PackageSource
from coffer.core.packages.package_store import OriginConfiguration, OriginMode, PendingBlob
from coffer.core.packages.publish_scope import policy_within_space
from coffer.core.policy import denial_message, evaluate
from coffer.core.shared.arns import package_arn
from coffer.core.shared.errors import AccessDeniedError, ConflictError, ValidationError

ORIGIN_MODES: tuple[OriginMode, ...] = ("ALLOW", "BLOCK")


def publish_blocked(ref: PackageRef) -> str:
    """The message of a publish refused by the package's origin configuration (what twine prints)."""
    return (
        f"Publishing to package {package_label(ref)} in repository {ref.repo.name} is blocked by its package "
        "origin configuration (publish=BLOCK); an administrator can allow it with PutPackageOriginConfiguration"
    )


def version_in_upstream_message(ref: PackageRef, version: str, upstream: RepoRef) -> str:
    """The message of a publish refused because an upstream has the version already."""
    return (
        f"Package version {version} of {package_label(ref)} already exists in upstream repository "
        f"{upstream.name} of repository {ref.repo.name}: its package origin configuration allows upstream "
        "versions (upstream=ALLOW), so publishing the same version here is refused; publish a new version, or "
        "set upstream=BLOCK with PutPackageOriginConfiguration"
    )


class PackagePublishing(PackageReads):
    def authorize_publish(self, caller: Caller, package: PackageRef) -> None:
        """``codeartifact:PublishPackageVersion`` on the package ARN, with the repository's resource policy."""
        self._authorize_package(caller, "PublishPackageVersion", normalize_ref(package))

    def authorize_publish_to_repository(self, caller: Caller, repo: RepoRef, fmt: str) -> Repository:
        """May ``caller`` publish *some* ``fmt`` package to ``repo``? For an upload's first check, made from its URL
        and headers before any byte of the body is read, when the package's name is not known yet; the full
        ``authorize_publish`` on the package follows once it is (and ``publish`` checks again).

        Answered so that it never refuses a caller whom the per-package check would allow for some name (a
        policy may grant PublishPackageVersion on ``package/<domain>/<repo>/*``, on one package, or on a name
        prefix), and refuses everyone else, e.g. a read-only principal. The action is evaluated by the policy
        engine, with every rule it applies (identity, resource and session policies, principals, conditions,
        cross-account, root) on the resource ``arn:...:package/<domain>/<repo>/<fmt>//*`` (the name in the
        denial message), after each statement has been seen from the repository's package space
        ``arn:...:package/<domain>/<repo>/<fmt>/`` (``publish_scope``). A plain check on a wildcard-package
        resource would refuse callers allowed on one package only. Condition keys do not depend on the package,
        so conditions are evaluated as they are.

        Returns the repository; ResourceNotFoundError if the domain or repository does not exist (checked after
        authorization, like ``authorize_read``)."""
        action = "codeartifact:PublishPackageVersion"
        r = repo
        space = package_arn(self._d.region, r.domain_owner, r.domain, r.name, fmt, None, "").removesuffix("/")
        resource = package_arn(self._d.region, r.domain_owner, r.domain, r.name, fmt, None, "*")
        request = self._d.authorizer.request(caller, action, resource)
        resource_policy = self._d.resource_policy(self._d.repository_arn(r.domain_owner, r.domain, r.name))
        sessions = caller.session_policies
        decision = evaluate(
            request,
            [policy_within_space(p, space, request.get) for p in caller.policies],
            None if resource_policy is None else policy_within_space(resource_policy, space, request.get),
            r.domain_owner,
            None if sessions is None else [policy_within_space(p, space, request.get) for p in sessions],
        )
        if not decision.allowed:
            raise AccessDeniedError(denial_message(caller.arn, action, resource, decision))
        return self._require_repository(repo)

    def begin_blob(self, extra_hashes: Iterable[str] = ()) -> PendingBlob:
        """Start writing a blob that becomes visible only on its ``keep()`` (``BlobStore.begin``)."""
        return self._blobs.begin(extra_hashes)

    def store_bytes(self, data: bytes) -> BlobInfo:
        return self._blobs.write_bytes(data)

    def put_origin_configuration(self, caller: Caller, package: PackageRef, publish: str, upstream: str) -> Package:
        """PutPackageOriginConfiguration: authorized on the package ARN. A package that does not exist is
        created with no versions, holding the restrictions (pre-emptive blocking); ResourceNotFoundError if the
        repository does not exist (checked after authorization)."""
        ref = normalize_ref(package)
        self._authorize_package(caller, "PutPackageOriginConfiguration", ref)
        modes: list[OriginMode] = []
        for field, value in (("publish", publish), ("upstream", upstream)):
            mode = next((m for m in ORIGIN_MODES if m == value), None)
            if mode is None:
                raise ValidationError(
                    f"1 validation error detected: Value '{value}' at 'restrictions.{field}' failed to satisfy "
                    f"constraint: Member must satisfy enum value set: [{', '.join(ORIGIN_MODES)}]"
                )
            modes.append(mode)
        self._require_repository(ref.repo)
        result = self._d.store.put_origin_configuration(ref, OriginConfiguration(*modes), package.name)
        self._changed()
        return result

    def version_in_upstream(self, ref: PackageRef, version: str) -> tuple[PackageSource, PackageVersion] | None:
        """The first source of ``ref.repo``'s upstreams (its search order without the repository itself) that
        holds ``version`` (normalized) of the package, with the version as found there; None if none does.

        The sources come from the read path's own walk (``PackageReads._package_sources``), so the search stops
        at an upstream whose package blocks its own upstreams, exactly where a read would, and any kind of
        source there (a repository of the domain, an external connection) is asked the same way. The caller
        decides whether ``ref.repo``'s own configuration lets upstreams count at all."""
        for source, found_ref in self._package_sources(ref.repo, ref.format, ref.namespace, ref.name):
            if source.repo == ref.repo:
                continue
            found = source.version(found_ref, version)
            if found is not None:
                return source, found
        return None

    def check_publish_allowed(self, caller: Caller, package: PackageRef) -> None:
        """Everything about publishing to ``package`` that does not depend on the version: the caller may
        (``authorize_publish``), the package's origin configuration and its package group allow it. For a
        streamed publish, to refuse before its body is read; ``publish`` checks all of it again."""
        ref = normalize_ref(package)
        self._authorize_package(caller, "PublishPackageVersion", ref)
        self._require_repository(ref.repo)
        self._check_origin(self._d.store.get_package(ref), "", new_version=False)
        self._check_group_publish(ref)

    def _check_group_publish(self, ref: PackageRef) -> None:
        """ValidationError unless the package group controls let the package be published to its repository
        (both these and the package's own configuration must allow it: BLOCK wins, as on AWS)."""
        rules = self._group_rules(ref)
        if rules is None or rules.allows("PUBLISH", ref.repo.name):
            return
        group = rules.decided_by("PUBLISH")
        if rules.association == "WEAK":
            why = f"its name matches package group {group.pattern} only as a variation of it (case or -._)"
        else:
            mode = rules.restrictions["PUBLISH"].effective_mode
            why = f"package group {group.pattern} sets PUBLISH to {mode}"
        raise ValidationError(
            f"Publishing to package {package_label(ref)} in repository {ref.repo.name} is blocked by its package "
            f"group origin configuration: {why}; an administrator can change it with "
            "UpdatePackageGroupOriginConfiguration",
            "OTHER",
        )

    def _check_origin(self, package: Package | None, version: str, *, new_version: bool) -> None:
        """The origin rules a publish to ``package`` (None: not created yet, so it gets ``PUBLISHED_FIRST``,
        which blocks upstreams) must pass: ValidationError if publish=BLOCK; with publish=ALLOW and
        upstream=ALLOW, ConflictError if ``version`` is ``new_version`` in the repository and a reachable upstream
        has it already (a file joining a version the repository holds adds no version)."""
        if package is None:
            return
        if package.publish == "BLOCK":
            raise ValidationError(publish_blocked(package.ref), "OTHER")
        if new_version and package.upstream == "ALLOW":
            held = self.version_in_upstream(package.ref, version)
            if held is not None:
                source, found = held
                raise ConflictError(
                    version_in_upstream_message(package.ref, found.display_version, source.repo),
                    found.display_version,
                    "package-version",
                )

    def publish(self, caller: Caller, version: PackageVersion, asset: Asset) -> PackageVersion:
        """Authorize (PublishPackageVersion) and attach ``asset`` to ``version``, creating package and version as
        needed (a new package gets ``PUBLISHED_FIRST``). ValidationError if the package's origin configuration
        blocks publishing; ConflictError (resource type "package-version") if it allows upstreams and a
        reachable upstream has the version already (``version_in_upstream``), (resource type "asset") if that
        file exists already in the version, (``ASSET_NAME_REUSED``) if its name was used in the repository
        before with other content."""
        ref = normalize_ref(version.package)
        self._authorize_package(caller, "PublishPackageVersion", ref)
        self._require_repository(ref.repo)
        number = normalize_version(ref.format, version.version)
        existing = self._d.store.get_version(ref, number)
        self._check_origin(self._d.store.get_package(ref), number, new_version=existing is None)
        self._check_group_publish(ref)
        if existing is not None and existing.status not in DOWNLOADABLE_STATUSES:
            raise ConflictError(
                f"Package version {existing.display_version} of {package_label(ref)} is {existing.status}: "
                "no files can be added to it",
                existing.display_version,
                "package-version",
            )
        extra = dict(version.extra)
        if version.package.name != ref.name:
            extra.setdefault("display_name", version.package.name)
        normalized = dataclasses.replace(
            version,
            package=ref,
            version=number,
            published_time=version.published_time or self._d.clock(),
            origin_repository=version.origin_repository or ref.repo,
            extra=extra,
        )
        result = self._d.store.add_asset(normalized, asset)
        self._changed()
        return result
