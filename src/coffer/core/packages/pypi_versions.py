"""A PyPI package version as Coffer stores it, from a distribution's core metadata: one rule for files uploaded
(twine) and files fetched through an external connection."""

from __future__ import annotations

from coffer.core.packages.package_models import PackageRef, PackageVersion, RepoRef
from coffer.core.packages.pypi_dists import CoreMetadata
from coffer.core.packages.pypi_names import normalize_version


def pypi_version(
    ref: PackageRef,
    meta: CoreMetadata,
    *,
    when: float,
    origin_repository: RepoRef | None,
    origin_external: str | None = None,
) -> PackageVersion:
    """The version ``meta`` describes, in package ``ref``, first seen at ``when``."""
    return PackageVersion(
        package=ref,
        version=normalize_version(meta.version),
        display_version=meta.version,
        status="Published",
        revision="",
        published_time=when,
        summary=meta.summary,
        home_page=meta.home_page,
        source_code_repository=meta.source_url,
        licenses=(meta.license,) if meta.license else (),
        requires_python=meta.requires_python,
        readme=meta.description,
        readme_content_type=meta.description_content_type,
        origin_repository=origin_repository,
        origin_external=origin_external,
        extra={"display_name": meta.name},
    )
