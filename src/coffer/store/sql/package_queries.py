"""The package read path's statements, built once with bound parameters (``package_params``): building a
select per call cost more than running it (measured: two thirds of a package-version read on SQLite). Every
statement, the store's writes included, finds a package by ``_PACKAGE_BY_PARAMS``."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import BindParameter, Select, and_, bindparam, or_, select, update

from coffer.core.packages.package_models import PackageRef, RepoRef
from coffer.store.schema import assets, domains, package_tags, package_versions, packages, repositories

# The parameters' names are no column's ("pkg_" ...): a write's VALUES or SET binds take the column names, and
# must never meet these.
_DOMAIN_BY_PARAMS = and_(domains.c.owner == bindparam("pkg_owner"), domains.c.name == bindparam("pkg_domain"))
_PACKAGE_BY_PARAMS = and_(
    _DOMAIN_BY_PARAMS,
    repositories.c.name == bindparam("pkg_repository"),
    packages.c.format == bindparam("pkg_format"),
    packages.c.namespace == bindparam("pkg_namespace"),
    packages.c.name == bindparam("pkg_name"),
)
PACKAGE_ID = (
    select(packages.c.id)
    .join(repositories, packages.c.repository_id == repositories.c.id)
    .join(domains, repositories.c.domain_id == domains.c.id)
    .where(_PACKAGE_BY_PARAMS)
)
"""The package's id; the writes use it with its parameters bound in (``PACKAGE_ID.params(package_params(ref))``)."""
_PACKAGE_ID_BY_PARAMS = PACKAGE_ID.scalar_subquery()
GET_PACKAGE = (
    select(packages)
    .join(repositories, packages.c.repository_id == repositories.c.id)
    .join(domains, repositories.c.domain_id == domains.c.id)
    .where(_PACKAGE_BY_PARAMS)
)
_VERSION_BY_PARAMS = and_(
    package_versions.c.package_id == _PACKAGE_ID_BY_PARAMS, package_versions.c.version == bindparam("pkg_version")
)
VERSION_ID = select(package_versions.c.id).where(_VERSION_BY_PARAMS)
"""The version's id (``pkg_version`` bound too); the writes bind the parameters in, as with ``PACKAGE_ID``."""
GET_VERSION = select(package_versions).where(_VERSION_BY_PARAMS)
LIST_ASSETS = select(assets).where(assets.c.version_id == VERSION_ID.scalar_subquery()).order_by(assets.c.name)
LIST_PACKAGE_ASSETS = (
    select(assets, package_versions.c.version.label("version_number"))
    .join(package_versions, assets.c.version_id == package_versions.c.id)
    .where(package_versions.c.package_id == _PACKAGE_ID_BY_PARAMS)
    .order_by(package_versions.c.version, assets.c.name)
)
RENEW_PACKAGE_REVISION = (
    update(repositories)
    .where(
        repositories.c.domain_id == select(domains.c.id).where(_DOMAIN_BY_PARAMS).scalar_subquery(),
        repositories.c.name == bindparam("pkg_repository"),
    )
    .values(package_revision=bindparam("new_package_revision"))
)
"""Every write to a repository's packages begins with it (``package_params_of(repo)``, ``new_package_revision``)."""
PACKAGE_REVISIONS = (
    select(repositories.c.name, repositories.c.id, repositories.c.package_revision)
    .join(domains, repositories.c.domain_id == domains.c.id)
    .where(_DOMAIN_BY_PARAMS, repositories.c.name.in_(bindparam("names", expanding=True)))
)
"""The revisions of a domain's repositories named ``names`` (``pkg_owner``, ``pkg_domain`` bound too)."""
GET_PACKAGE_TAGS = (
    select(package_tags.c.tag, package_tags.c.version)
    .where(package_tags.c.package_id == _PACKAGE_ID_BY_PARAMS)
    .order_by(package_tags.c.tag)
)


@functools.cache
def list_versions_statement(*, status: bool, after: bool) -> Select[Any]:
    """The page of a package's versions: with ``status`` (bound ``status``) and after a position (bound
    ``after_time``, ``after_version``) when asked; ``limit`` bound too."""
    pv = package_versions
    stmt = select(pv).where(pv.c.package_id == _PACKAGE_ID_BY_PARAMS)
    if status:
        stmt = stmt.where(pv.c.status == bindparam("status"))
    if after:
        after_time: BindParameter[float] = bindparam("after_time")
        stmt = stmt.where(
            or_(
                pv.c.published_time > after_time,
                and_(pv.c.published_time == after_time, pv.c.version > bindparam("after_version")),
            )
        )
    return stmt.order_by(pv.c.published_time, pv.c.version).limit(bindparam("limit"))


def package_params_of(repo: RepoRef) -> dict[str, object]:
    """The repository's part of ``package_params``."""
    return {"pkg_owner": repo.domain_owner, "pkg_domain": repo.domain, "pkg_repository": repo.name}


def package_params(ref: PackageRef, **more: object) -> dict[str, object]:
    """The bound parameters of ``_PACKAGE_BY_PARAMS``: the package ``ref`` names."""
    repo = ref.repo
    return {
        "pkg_owner": repo.domain_owner,
        "pkg_domain": repo.domain,
        "pkg_repository": repo.name,
        "pkg_format": ref.format,
        "pkg_namespace": ref.namespace or "",
        "pkg_name": ref.name,
        **more,
    }
