"""Packages in repositories: the one service the package endpoints (``coffer.formats``: the caller is the
principal a token acts for) and the AWS package operations (``coffer.aws.handlers``) use.

``PackageService`` puts its parts together, each a module of its own on ``PackageAccess`` (the shared
dependencies, caches, authorization and lookups): the read path through upstreams (``package_reads``), the
downloads fetched from them (``package_fetching``), the publish path (``package_publishing``; generic packages'
PublishPackageVersion in ``generic_publishing``), tags and version fields (``package_tagging``), the package and
version queries of the API (``package_queries``) and the batch operations on versions (``version_batches``).
Every public method authorizes its caller itself.

Names and versions are normalized on the way in, for every method, by the format's rules (``package_names``), so
that the endpoints and the API agree on what "the same package" is.
"""

from __future__ import annotations

from coffer.core.packages.generic_publishing import GenericPublishing
from coffer.core.packages.package_fetching import PackageFetching
from coffer.core.packages.package_publishing import PackagePublishing
from coffer.core.packages.package_queries import PackageQueries
from coffer.core.packages.package_reads import PackageReads
from coffer.core.packages.package_tagging import PackageTagging
from coffer.core.packages.version_batches import VersionBatches


class PackageService(
    GenericPublishing,
    PackagePublishing,
    PackageTagging,
    PackageQueries,
    VersionBatches,
    PackageFetching,
    PackageReads,
):
    """Every package operation; constructed with ``PackageService(deps, blobs, upstreams)``."""
