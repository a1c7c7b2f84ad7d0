"""The package store ports: packages, versions and assets, and the content-addressed blob store
(contract in coffer.core.ports)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Literal, Protocol

from coffer.core.packages.package_models import Asset, BlobInfo, Package, PackageRef, PackageVersion, RepoRef
from coffer.core.shared.pagination import Page
from coffer.core.shared.snapshots import Snapshots

OriginMode = Literal["ALLOW", "BLOCK"]


@dataclass(frozen=True)
class OriginConfiguration:
    """A package's origin restrictions in one repository (CodeArtifact's ``PackageOriginRestrictions``):
    ``publish``, may versions be published to it directly; ``upstream``, may versions be retained from its
    upstreams and external connections."""

    publish: OriginMode
    upstream: OriginMode


#: The defaults of a package whose first version was published to the repository (AWS's rule).
PUBLISHED_FIRST = OriginConfiguration(publish="ALLOW", upstream="BLOCK")
#: The defaults of a package whose first version arrived from an upstream or an external connection.
FETCHED_FIRST = OriginConfiguration(publish="BLOCK", upstream="ALLOW")


class PendingBlob(Protocol):
    """A blob being written (``BlobStore.begin``): bytes go in with ``write``, ``finish`` makes them durable and
    tells their digests, ``open`` reads them back, and only ``keep`` makes them a blob; ``discard`` (or leaving the
    ``with`` block without ``keep``) drops them. Used by one thread at a time."""

    def write(self, chunk: bytes) -> None:
        """The next bytes, hashed as they are written."""
        ...

    def finish(self) -> BlobInfo:
        """No more bytes: flush them to stable storage and return their size and digests (MD5, SHA-1, SHA-256,
        SHA-512). Not yet visible under the content address. Idempotent."""
        ...

    @property
    def extra_digests(self) -> Mapping[str, str]:
        """After ``finish``: the hex digests of the ``extra_hashes`` given to ``begin``, by name."""
        ...

    def open(self) -> BinaryIO:
        """After ``finish``: the bytes written, opened for (seekable) binary reading; the caller closes it."""
        ...

    def keep(self) -> BlobInfo:
        """``finish`` if needed, then atomically make the bytes the blob of their SHA-256. A blob already there is
        replaced by this copy (same bytes), whose fresh modification time restarts its garbage-collection grace
        period. Idempotent."""
        ...

    def discard(self) -> None:
        """Drop what was written, unless kept (then nothing happens). Idempotent."""
        ...

    def __enter__(self) -> PendingBlob: ...

    def __exit__(self, *exc: object) -> None:
        """``discard()``: a pending blob not kept inside the block leaves nothing behind."""
        ...


class BlobStore(Protocol):
    """Content-addressed bytes (assets, extracted metadata files). Writes are atomic: a blob is either fully
    present under its SHA-256 or absent; a crash mid-write leaves only a temporary file that ``sweep`` removes."""

    def begin(self, extra_hashes: Iterable[str] = ()) -> PendingBlob:
        """Start writing a blob (nothing is visible until its ``keep``). ``extra_hashes``: digests computed in the
        same pass besides the four of ``BlobInfo``; ``"blake2b_256"`` (BLAKE2b with a 32-byte digest) is the one
        supported (``ValueError`` for another)."""
        ...

    def write(self, chunks: Iterable[bytes]) -> BlobInfo:
        """Stream ``chunks`` to storage, hashing as it goes (MD5, SHA-1, SHA-256, SHA-512): ``begin``, ``write``
        each chunk, ``keep``. If iterating ``chunks`` fails, nothing is left behind."""
        ...

    def write_bytes(self, data: bytes) -> BlobInfo: ...

    def open(self, sha256: str) -> BinaryIO:
        """A readable file; ``FileNotFoundError`` if absent."""
        ...

    def path(self, sha256: str) -> str | None:
        """A local filesystem path for zero-copy sending, when the store has one."""
        ...

    def exists(self, sha256: str) -> bool: ...

    def sweep(self) -> int:
        """Remove leftovers of interrupted writes; returns how many."""
        ...


class PackageStore(Snapshots, Protocol):
    """Packages, versions and assets of repositories. Repositories are named by ``RepoRef``; a repository that
    does not exist is ``ResourceNotFoundError`` on writes and empty on reads."""

    def add_asset(
        self,
        version: PackageVersion,
        asset: Asset,
        *,
        origin: OriginConfiguration = PUBLISHED_FIRST,
    ) -> PackageVersion:
        """Atomically: create the package (display name from the version's first publish) and the version (with
        all of ``version``'s fields) when absent, then attach ``asset``. ``ConflictError`` (resource type "asset")
        if the version already has an asset of that name: of two concurrent identical uploads exactly one wins.
        Returns the version as stored (a new ``revision`` each time).

        ``origin`` is the origin configuration the package gets *if this call creates it*, i.e. how its first
        version arrived: ``PUBLISHED_FIRST`` (the default: publish=ALLOW, upstream=BLOCK) for a publish or a
        copy, ``FETCHED_FIRST`` (publish=BLOCK, upstream=ALLOW) for a version retained from an upstream or an
        external connection. A package that exists already (with versions, or a record made by
        ``put_origin_configuration``) keeps its configuration, whatever ``origin`` says."""
        ...

    def put_origin_configuration(self, ref: PackageRef, origin: OriginConfiguration, display_name: str) -> Package:
        """Set the package's origin configuration. A package that does not exist is created with no versions
        (display name ``display_name``), holding ``origin``: CodeArtifact's pre-emptive record, which blocks
        publishing or upstreams before any version exists. Returns the package as stored;
        ``ResourceNotFoundError`` if the repository does not exist."""
        ...

    def package_revisions(self, repos: Sequence[RepoRef]) -> tuple[str | None, ...]:
        """Per repository, in order: an opaque value that every write to its packages, versions, assets or tags
        changes, in the write's own transaction (None: no such repository). Equal values mean the repository's
        packages are as they were; a repository deleted and created again never gets an earlier value."""
        ...

    def get_package(self, ref: PackageRef) -> Package | None: ...

    def list_packages(
        self,
        repo: RepoRef,
        *,
        format: str | None,
        namespace: str | None,
        prefix: str | None,
        after: str | None,
        limit: int,
    ) -> Page[Package]:
        """Ordered by (format, namespace, name); ``prefix`` on the normalized name."""
        ...

    def get_version(self, ref: PackageRef, version: str) -> PackageVersion | None: ...

    def list_versions(
        self, ref: PackageRef, *, status: str | None, after: str | None, limit: int
    ) -> Page[PackageVersion]:
        """Ordered by published time, then version."""
        ...

    def list_assets(self, ref: PackageRef, version: str) -> list[Asset]:
        """Ordered by name."""
        ...

    def list_package_assets(self, ref: PackageRef) -> dict[str, list[Asset]]:
        """The assets of every version of the package, by (normalized) version, each list ordered by name;
        versions without assets are absent."""
        ...

    def set_status(self, ref: PackageRef, version: str, status: str, expected_status: str | None) -> PackageVersion:
        """Change one version's status (new revision). ``ConflictError`` if ``expected_status`` is given and
        differs; ``ResourceNotFoundError`` if the version is absent."""
        ...

    def delete_version(self, ref: PackageRef, version: str, expected_status: str | None) -> PackageVersion:
        """Remove the version and its assets (blobs stay; they may be shared). The package row stays."""
        ...

    def delete_package(self, ref: PackageRef) -> Package:
        """Remove the package with all its versions and assets."""
        ...

    def get_package_tags(self, ref: PackageRef) -> dict[str, str]:
        """The package's tags (npm's dist-tags: tag -> normalized version); empty if it has none or is absent."""
        ...

    def set_package_tag(self, ref: PackageRef, tag: str, version: str) -> None:
        """Point ``tag`` at ``version`` (normalized), replacing where it pointed. ``ResourceNotFoundError`` if the
        version is not in the repository."""
        ...

    def delete_package_tag(self, ref: PackageRef, tag: str) -> bool:
        """Remove the tag; False if the package had no such tag."""
        ...

    def update_version_extra(self, ref: PackageRef, version: str, changes: Mapping[str, str | None]) -> PackageVersion:
        """Set (or with None remove) keys of the version's ``extra``, atomically, with a new revision (npm's
        deprecation message). ``ResourceNotFoundError`` if the version is absent."""
        ...

    def blobs_in_use(self, sha256s: Iterable[str]) -> set[str]:
        """Which of ``sha256s`` some asset of any repository still uses, as its file or its extracted metadata
        (garbage collection keeps those blobs). Any number of digests; unknown ones are simply not returned."""
        ...

    def add_asset_to_unfinished(self, version: PackageVersion, asset: Asset, *, finish: bool) -> PackageVersion:
        """For versions built asset by asset (the generic format), atomically: create the package (with
        ``PUBLISHED_FIRST``) and the version (with all of ``version``'s fields, its status ``Unfinished`` or
        ``Published``) when absent; an existing version takes the asset only while it is ``Unfinished``
        (``ConflictError``, resource type "package-version", otherwise). Then attach ``asset``: when the version has
        an asset of that name already, the same sha256 is kept as it is (nothing added) and another is
        ``ConflictError`` (resource type "asset"). With ``finish`` the version becomes ``Published`` in the same
        transaction. Returns the version as stored (a new ``revision`` each time).

        Unlike ``add_asset``, the asset's name is not recorded for the package: it belongs to its version only."""
        ...
