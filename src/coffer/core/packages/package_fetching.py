"""Downloads through upstreams: bytes fetched once from a public registry, checked, stored, and the version
retained where CodeArtifact retains it.

When a client downloads a file the repository it asked does not hold itself:

- a file of an internal upstream is already in the blob store; its version is retained in the repository asked;
- a file an external connection lists (``Asset.fetch_from``) is fetched from the registry into the blob store,
  once however many clients ask at the same moment (single flight per file: its strongest announced digest),
  every digest the registry announced (SHA-256 for PyPI; npm's SHA-512 and SHA-1) and its size, when announced,
  checked before anything is stored; bytes that do not match are dropped and the download fails (502). The
  version is then retained in the repository holding the connection and in the repository asked, not in the
  repositories between (AWS's rule), with the origin configuration of a package that arrived from upstream
  first (publish BLOCK, upstream ALLOW) where the package is new.

A retained version survives its upstream going away: the next reads find it in the repository itself.

The fetched file describes the version retained, as an uploaded one would (per format, ``_describe``):

- pypi: core metadata (PEP 658) is extracted from a fetched wheel and stored like an uploaded one's; a
  ``.metadata`` file the registry offers is fetched on its own (checked the same way) when a client asks for it
  before the wheel;
- npm: the version is the manifest the registry listed (what the packument promised installers) with the
  README of the tarball.

A file whose own metadata names another package or version is still retained as listed, without that metadata.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from coffer.core.packages.npm_manifest import DEPRECATED_KEY, manifest_of, npm_version
from coffer.core.packages.npm_names import clean_version, full_name
from coffer.core.packages.npm_tarball import read_tarball
from coffer.core.packages.package_access import PackageAccess, in_repo
from coffer.core.packages.package_models import (
    Asset,
    BlobInfo,
    PackageRef,
    PackageVersion,
    RepoRef,
    ResolvedVersion,
)
from coffer.core.packages.package_store import FETCHED_FIRST, PendingBlob
from coffer.core.packages.pypi_dists import parse_filename, read_core_metadata
from coffer.core.packages.pypi_names import normalize_name, normalize_version
from coffer.core.packages.pypi_versions import pypi_version
from coffer.core.packages.upstreams import (
    UpstreamIndex,
    UpstreamIntegrityError,
    UpstreamUnavailableError,
)
from coffer.core.shared.errors import ConflictError
from coffer.core.shared.single_flight import SingleFlight

_log = logging.getLogger("coffer.upstreams")

MAX_METADATA_FETCH_BYTES = 4 * 1024 * 1024  # a .metadata file larger than this is refused


@dataclasses.dataclass(frozen=True)
class _Fetched:
    blob: BlobInfo
    metadata_sha256: str | None
    version: PackageVersion | None  # described by the file's own metadata (None: it has none we can read)


def _file_key(blob: BlobInfo) -> str:
    """What identifies a listed file's bytes: its strongest announced digest."""
    return blob.sha256 or blob.sha512 or blob.sha1


def _verify(connection: str, asset: Asset, got: BlobInfo) -> None:
    """UpstreamIntegrityError unless the fetched bytes have every digest, and the size, the registry announced."""
    announced = asset.blob
    for label, expected, actual in (
        ("SHA-256", announced.sha256, got.sha256),
        ("SHA-512", announced.sha512, got.sha512),
        ("SHA-1", announced.sha1, got.sha1),
    ):
        if expected and expected.lower() != actual:
            raise UpstreamIntegrityError(
                f"{connection} sent {asset.name} with {label} {actual}, not the {expected} it lists: the file was "
                "not stored"
            )
    if announced.size and got.size != announced.size:
        raise UpstreamIntegrityError(
            f"{connection} sent {got.size} bytes of {asset.name}, not the {announced.size} it lists: the file was "
            "not stored"
        )


def _same_bytes(announced: BlobInfo, stored: BlobInfo) -> bool:
    """Whether a stored file has every digest a registry announced (at least one)."""
    pairs = ((announced.sha256, stored.sha256), (announced.sha512, stored.sha512), (announced.sha1, stored.sha1))
    given = [(a.lower(), b) for a, b in pairs if a]
    return bool(given) and all(a == b for a, b in given)


class PackageFetching(PackageAccess):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fetches: SingleFlight[tuple[object, ...], tuple[PackageVersion, Asset]] = SingleFlight()
        self._metadata_fetches: SingleFlight[str, str] = SingleFlight()

    def local_asset(self, repo: RepoRef, resolved: ResolvedVersion, asset: Asset) -> Asset:
        """``asset`` (of ``resolved``, as the read path found it for ``repo``) with its bytes in the blob store,
        fetched if need be, and its version retained (see the module's description). ``UpstreamError`` when a
        registry cannot deliver it."""
        location = asset.fetch_from
        if location is None:
            holder = resolved.source_of(asset.name)
            if holder != repo:
                self._retain(repo, resolved.version, asset)
            return asset
        held = self._held(location.repo, resolved.version, asset)
        if held is not None:  # fetched meanwhile (a request that read the listing before the retention)
            stored_version, stored = held
            if repo != location.repo:
                self._retain(repo, stored_version, stored)
            return stored
        # the flight ends once the connection's repository holds the file: a request that read the listing
        # before then finds it there (``_held``) instead of fetching it again
        # one flight per file of one version retained into one repository: two packages (or two connections'
        # repositories) whose files have the same bytes are fetched and retained each for itself
        ref = resolved.version.package
        key = (location.connection, location.repo, ref.format, ref.namespace, ref.name, resolved.version.version)
        flight = (*key, asset.name, _file_key(asset.blob))
        version, local = self._fetches.do(flight, lambda: self._fetch_and_retain(resolved, asset))
        if repo != location.repo:
            self._retain(repo, version, local)
        return local

    def _fetch_and_retain(self, resolved: ResolvedVersion, asset: Asset) -> tuple[PackageVersion, Asset]:
        location = asset.fetch_from
        assert location is not None
        held = self._held(location.repo, resolved.version, asset)
        if held is not None:  # a flight that ended just before this one began retained it
            return held
        fetched = self._fetch(asset, resolved.version)
        local = Asset(
            name=asset.name,
            blob=fetched.blob,
            created_at=self._d.clock(),
            # the registry's metadata file only if it is here (fetched on its own before): never advertise a blob
            # that is absent
            metadata_sha256=fetched.metadata_sha256 or self._present(asset.metadata_sha256),
        )
        described = fetched.version or resolved.version
        version = dataclasses.replace(
            described,
            package=resolved.version.package,
            published_time=resolved.version.published_time or self._d.clock(),
            origin_repository=None,
            origin_external=location.connection,
        )
        self._retain(location.repo, version, local)
        return version, local

    def _held(self, holder: RepoRef, version: PackageVersion, asset: Asset) -> tuple[PackageVersion, Asset] | None:
        """The file as the connection's repository retained it already, if it did (same name, and every digest
        the registry announced), with the version as stored there."""
        ref = in_repo(version.package, holder)
        stored = self._d.store.get_version(ref, version.version)
        if stored is None:
            return None
        for candidate in self._d.store.list_assets(ref, stored.version):
            if candidate.name == asset.name and _same_bytes(asset.blob, candidate.blob):
                return stored, candidate
        return None

    def _present(self, sha256: str | None) -> str | None:
        return sha256 if sha256 is not None and self._blobs.exists(sha256) else None

    def local_metadata(self, asset: Asset) -> str | None:
        """The SHA-256 of the asset's core metadata file with its bytes in the blob store, fetched from the
        registry that lists it if need be; None when it has none."""
        wanted = asset.metadata_sha256
        if wanted is None or asset.fetch_from is None or self._blobs.exists(wanted):
            return wanted
        location = asset.fetch_from
        return self._metadata_fetches.do(
            wanted, lambda: self._fetch_metadata(location.connection, location.url, wanted)
        )

    # --- fetching -------------------------------------------------------------------------------------------

    def _index_of(self, connection: str) -> UpstreamIndex:
        cache = None if self._upstreams is None else self._upstreams.cache(connection)
        if cache is None:
            raise UpstreamUnavailableError(f"The external connection {connection} is not configured on this server")
        return cache.index

    def _fetch(self, asset: Asset, listed: PackageVersion) -> _Fetched:
        assert asset.fetch_from is not None
        location = asset.fetch_from
        sha256 = asset.blob.sha256
        with self._blobs.begin() as pending:
            if sha256 and self._blobs.exists(sha256):  # fetched before (for another repository): read it from here
                with self._blobs.open(sha256) as existing:
                    for chunk in iter(lambda: existing.read(1024 * 1024), b""):
                        pending.write(chunk)
            else:
                self._index_of(location.connection).download(location.url, pending, self._max_fetch_bytes)
            _verify(location.connection, asset, pending.finish())
            version, metadata = self._describe(pending, asset, listed)
            blob = pending.keep()
        metadata_sha256 = self._blobs.write_bytes(metadata).sha256 if metadata is not None else None
        return _Fetched(blob=blob, metadata_sha256=metadata_sha256, version=version)

    def _describe(
        self, pending: PendingBlob, asset: Asset, listed: PackageVersion
    ) -> tuple[PackageVersion | None, bytes | None]:
        """The version the fetched file describes (None: as listed), and a metadata file to store beside it."""
        if listed.package.format == "pypi":
            return self._describe_pypi(pending, asset, listed.package)
        if listed.package.format == "npm":
            return self._describe_npm(pending, asset, listed), None
        return None, None

    def _describe_pypi(
        self, pending: PendingBlob, asset: Asset, ref: PackageRef
    ) -> tuple[PackageVersion | None, bytes | None]:
        """The version the fetched file's own metadata describes, and (for a wheel) its METADATA file."""
        try:
            dist = parse_filename(asset.name)
            with pending.open() as file:
                meta = read_core_metadata(file, dist)
        except Exception as exc:  # any archive or metadata trouble: the file is still what the registry listed
            _log.warning("no usable core metadata in %s fetched from upstream: %s", asset.name, exc)
            return None, None
        if normalize_name(meta.name) != ref.name or normalize_version(meta.version) != normalize_version(dist.version):
            # metadata that contradicts the file name the registry listed is not believed: the version is kept
            # under the listed name and number, without that metadata
            _log.warning(
                "the core metadata of %s fetched from upstream names %s %s", asset.name, meta.name, meta.version
            )
            return None, None
        version = pypi_version(ref, meta, when=asset.created_at, origin_repository=None)
        return version, meta.raw if dist.kind == "wheel" else None

    def _describe_npm(self, pending: PendingBlob, asset: Asset, listed: PackageVersion) -> PackageVersion | None:
        """The listed version (its manifest is the registry's: what the packument promised installers) with the
        README of the fetched tarball, when the tarball's package.json is of that package and version."""
        ref = listed.package
        try:
            with pending.open() as file:
                contents = read_tarball(file)
        except Exception as exc:  # any archive or manifest trouble: the file is still what the registry listed
            _log.warning("no usable package.json in %s fetched from upstream: %s", asset.name, exc)
            return None
        name, number = contents.manifest.get("name"), contents.manifest.get("version")
        as_listed = name == full_name(ref.namespace, ref.name) and isinstance(number, str)
        if not as_listed or clean_version(str(number)) != listed.version:
            # a tarball of another package or version is kept as listed, but its README is not believed
            _log.warning("the package.json of %s fetched from upstream names %s %s", asset.name, name, number)
            return None
        return npm_version(
            ref,
            listed.version,
            manifest_of(listed),
            when=listed.published_time,
            readme=contents.readme,
            deprecated=listed.extra.get(DEPRECATED_KEY),
            origin_repository=None,
            origin_external=listed.origin_external,
        )

    def _fetch_metadata(self, connection: str, url: str, expected: str) -> str:
        with self._blobs.begin() as pending:
            self._index_of(connection).download(url + ".metadata", pending, MAX_METADATA_FETCH_BYTES)
            info = pending.finish()
            if info.sha256 != expected:
                raise UpstreamIntegrityError(
                    f"{connection} sent a core metadata file with SHA-256 {info.sha256}, not the {expected} it lists"
                )
            return pending.keep().sha256

    # --- retention ------------------------------------------------------------------------------------------

    def _retain(self, repo: RepoRef, version: PackageVersion, asset: Asset) -> None:
        """Keep ``version`` with ``asset`` in ``repo`` (idempotent: a file retained already stays as it is)."""
        package = in_repo(version.package, repo)
        retained = dataclasses.replace(version, package=package)
        try:
            self._d.store.add_asset(retained, asset, origin=FETCHED_FIRST)
        except ConflictError:
            return  # retained already (another request won), or a file name this repository used before
        self._changed()
