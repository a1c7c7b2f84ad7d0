"""Packages, their versions and assets: the models every package format shares (CodeArtifact's terms), and the
words the service and the store use about them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

PackageFormat = Literal["npm", "pypi", "maven", "nuget", "generic", "ruby", "swift", "cargo"]
VersionStatus = Literal["Published", "Unfinished", "Unlisted", "Archived", "Disposed", "Deleted"]

# What each status allows (CodeArtifact's definitions).
LISTED_STATUSES: frozenset[str] = frozenset({"Published"})  # shown in the package index
DOWNLOADABLE_STATUSES: frozenset[str] = frozenset({"Published", "Unlisted"})  # assets can be fetched
TAGGED_FORMATS: frozenset[str] = frozenset({"npm"})  # formats whose packages have tags (npm's dist-tags)


@dataclass(frozen=True)
class RepoRef:
    """A repository by its coordinates."""

    domain_owner: str
    domain: str
    name: str


@dataclass(frozen=True)
class PackageRef:
    repo: RepoRef
    format: str
    namespace: str | None  # None for formats without namespaces (pypi); npm scope without '@'
    name: str  # normalized as the format requires (pypi: PEP 503)


@dataclass(frozen=True)
class Package:
    ref: PackageRef
    display_name: str  # the name as first published
    publish: Literal["ALLOW", "BLOCK"] = "ALLOW"  # origin configuration
    upstream: Literal["ALLOW", "BLOCK"] = "ALLOW"


@dataclass(frozen=True)
class BlobInfo:
    """A stored blob, content-addressed by SHA-256."""

    sha256: str
    size: int
    md5: str
    sha1: str
    sha512: str


@dataclass(frozen=True)
class FetchLocation:
    """A file a public registry offers: its URL there, and the repository whose external connection lists it."""

    url: str
    connection: str  # e.g. public:pypi
    repo: RepoRef


@dataclass(frozen=True)
class Asset:
    name: str  # file name, e.g. mypkg-1.0-py3-none-any.whl
    blob: BlobInfo
    created_at: float
    metadata_sha256: str | None = None  # PEP 658: the extracted core metadata file, itself a blob
    #: where a file an external connection lists is fetched from (None: its blob is in the store)
    fetch_from: FetchLocation | None = field(default=None, compare=False)

    @property
    def hashes(self) -> dict[str, str]:
        return {"MD5": self.blob.md5, "SHA-1": self.blob.sha1, "SHA-256": self.blob.sha256, "SHA-512": self.blob.sha512}


@dataclass(frozen=True)
class PackageVersion:
    package: PackageRef
    version: str  # normalized where the format defines it (pypi: packaging's canonical form)
    display_version: str  # as published
    status: str
    revision: str  # changes whenever the version's assets or status change
    published_time: float
    summary: str = ""
    home_page: str = ""
    source_code_repository: str = ""
    licenses: tuple[str, ...] = ()
    requires_python: str | None = None
    readme: str = ""
    readme_content_type: str = ""
    origin_repository: RepoRef | None = None  # where it was first published (CodeArtifact's domainEntryPoint)
    #: the external connection it was fetched through (originType EXTERNAL); None for a published version
    origin_external: str | None = None
    extra: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class ResolvedVersion:
    """A version as a repository serves it: found in ``source`` (the repository itself or an upstream)."""

    version: PackageVersion
    assets: tuple[Asset, ...]
    source: RepoRef
    #: assets merged in from later repositories of the search order, by name -> the repository holding them
    merged_from: dict[str, RepoRef] = field(default_factory=dict, hash=False, compare=False)

    def source_of(self, asset_name: str) -> RepoRef:
        """The repository holding the asset of that name."""
        return self.merged_from.get(asset_name, self.source)


@dataclass(frozen=True, eq=False)
class PackageView:
    """One package as a repository serves it through its search order: the versions its index shows (see
    ``package_reads.PackageReads.index_versions``) and its tags merged across the sources. A view is cached and
    shared: the same object is given out until a write (or the cache's second) replaces it, so renderings of it
    can be cached by its identity."""

    versions: tuple[ResolvedVersion, ...]
    #: tag -> version, only tags naming a version shown; where two sources tag one name, the later source of
    #: the search order (the upstream) wins, as on AWS
    tags: Mapping[str, str]


@dataclass(frozen=True)
class Dependency:
    """CodeArtifact's ``PackageDependency``: one direct dependency of a version, as its metadata names it."""

    package: str
    dependency_type: str
    version_requirement: str
    namespace: str | None = None  # npm: the scope without '@'; none for pypi


#: ``ConflictError.resource_type`` of ``Store.add_asset`` refusing a file name used before with other content
ASSET_NAME_REUSED = "asset-name"


def name_reused(name: str, repository: str) -> str:
    """The message for a file name that was used in ``repository`` before with other content."""
    return (
        f"The file name {name!r} has already been used in repository {repository} with other content; "
        "a file name, once used, is never reused with different content"
    )


def package_label(ref: PackageRef) -> str:
    """``namespace/name``, or the name alone, as messages show a package."""
    return f"{ref.namespace}/{ref.name}" if ref.namespace else ref.name
