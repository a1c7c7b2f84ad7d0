"""Packages, their versions and assets, the file names a repository has used, and which blobs are in use."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Final

from sqlalchemy import Connection, Select, and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from coffer.core.packages.package_models import Asset, BlobInfo, Package, PackageRef, PackageVersion, RepoRef
from coffer.core.packages.package_store import PUBLISHED_FIRST, OriginConfiguration
from coffer.core.shared.errors import CofferError, ConflictError, ResourceNotFoundError, ValidationError
from coffer.core.shared.pagination import Page
from coffer.store.schema import asset_names, assets, package_tags, package_versions, packages
from coffer.store.sql.base import (
    SqlBase,
    check_limit,
    decode_key,
    encode_key,
    from_row,
    new_revision,
    row_values,
    starts_with,
)
from coffer.store.sql.package_queries import (
    GET_PACKAGE,
    GET_PACKAGE_TAGS,
    GET_VERSION,
    LIST_ASSETS,
    LIST_PACKAGE_ASSETS,
    PACKAGE_ID,
    PACKAGE_REVISIONS,
    RENEW_PACKAGE_REVISION,
    VERSION_ID,
    list_versions_statement,
    package_params,
    package_params_of,
)
from coffer.store.sql.repositories import lookup_repository_id, no_repository

_BLOB_BATCH: Final = 500


def _normalized(ref: PackageRef) -> PackageRef:
    """``ref`` with an empty namespace as None (how packages without one are stored and returned)."""
    return ref if ref.namespace is None or ref.namespace else replace(ref, namespace=None)


def _package_label(ref: PackageRef) -> str:
    return f"{ref.namespace}/{ref.name}" if ref.namespace else ref.name


def _package_id_select(ref: PackageRef) -> Select[Any]:
    """The id of ``ref``'s package row, for the writes (the read path's statement, its parameters bound in). One
    package per statement: two would share the parameters' names, and so the first one's values."""
    return PACKAGE_ID.params(package_params(ref))


def _version_id_select(ref: PackageRef, version: str) -> Select[Any]:
    """The id of the version's row, for the writes (as ``_package_id_select``)."""
    return VERSION_ID.params(package_params(ref, pkg_version=version))


def _no_package(ref: PackageRef) -> ResourceNotFoundError:
    return ResourceNotFoundError(
        f"Package {_package_label(ref)} not found in repository {ref.repo.name}",
        resource_id=ref.name,
        resource_type="package",
    )


def _no_version(ref: PackageRef, version: str) -> ResourceNotFoundError:
    return ResourceNotFoundError(
        f"Version {version} of package {_package_label(ref)} not found in repository {ref.repo.name}",
        resource_id=version,
        resource_type="package-version",
    )


# the external connection a version was fetched through, kept in the version's ``extra`` column
_ORIGIN_EXTERNAL = "coffer:origin-external"


def _extra_column(version: PackageVersion) -> str:
    extra = dict(version.extra)
    if version.origin_external is not None:
        extra[_ORIGIN_EXTERNAL] = version.origin_external
    return json.dumps(extra, sort_keys=True)


def _version_row(version: PackageVersion, package_id: int, revision: str) -> dict[str, Any]:
    """The ``package_versions`` row of a new version."""
    entry = version.origin_repository
    return row_values(
        version,
        package_versions,
        package_id=package_id,
        revision=revision,
        licenses=json.dumps(list(version.licenses)),
        origin_domain_owner=None if entry is None else entry.domain_owner,
        origin_domain=None if entry is None else entry.domain,
        origin_repository=None if entry is None else entry.name,
        extra=_extra_column(version),
    )


def _to_package(repo: RepoRef, row: Any) -> Package:
    return from_row(
        Package, row, ref=PackageRef(repo=repo, format=row.format, namespace=row.namespace or None, name=row.name)
    )


def _to_version(ref: PackageRef, row: Any) -> PackageVersion:
    origin = None
    if row.origin_repository is not None:
        origin = RepoRef(domain_owner=row.origin_domain_owner, domain=row.origin_domain, name=row.origin_repository)
    extra = dict(json.loads(row.extra))
    return from_row(
        PackageVersion,
        row,
        package=_normalized(ref),
        licenses=tuple(json.loads(row.licenses)),
        origin_repository=origin,
        origin_external=extra.pop(_ORIGIN_EXTERNAL, None),
        extra=extra,
    )


def _to_asset(row: Any) -> Asset:
    return from_row(Asset, row, blob=from_row(BlobInfo, row, size=int(row.size)))


class SqlPackages(SqlBase):
    def add_asset(
        self, version: PackageVersion, asset: Asset, *, origin: OriginConfiguration = PUBLISHED_FIRST
    ) -> PackageVersion:
        """The package's display name is ``version.extra["display_name"]`` when given, else its name. The
        package and version rows are upserts (ON CONFLICT), so concurrent first uploads never collide on them;
        the asset's unique key decides between two uploads of one file (ConflictError "asset"). ``origin`` is
        written by the insert only: the update of an existing row leaves its ``publish``/``upstream`` alone.

        The file name is recorded in ``asset_names`` in the same transaction, for good: a name once used in a
        package of the repository keeps its content, whatever is deleted later (PyPI's rule). A name used before
        with another sha256 is refused (ConflictError "asset-name"); the same bytes again are welcome. The
        record is an INSERT ... ON CONFLICT DO NOTHING followed by a read of the row: on PostgreSQL a concurrent
        first use of the name makes the insert wait for that transaction, and the read (READ COMMITTED) then
        sees its row; SQLite's write transactions are serialized."""
        ref = version.package
        revision = new_revision()
        with self._changing(ref.repo) as conn:
            repo_id = lookup_repository_id(conn, ref.repo)
            if repo_id is None:
                raise no_repository(ref.repo.domain, ref.repo.name)
            pkg = self._package_upsert(
                repo_id,
                ref,
                version.extra.get("display_name") or ref.name,
                origin,
                {"display_name": packages.c.display_name},  # unchanged; the update returns the row's id
            ).returning(packages.c.id)
            try:
                package_id = int(conn.execute(pkg).scalar_one())
            except IntegrityError as exc:  # the repository was deleted meanwhile
                raise no_repository(ref.repo.domain, ref.repo.name) from exc
            ver = self._insert(package_versions).values(_version_row(version, package_id, revision))
            ver = ver.on_conflict_do_update(
                index_elements=[package_versions.c.package_id, package_versions.c.version],
                set_={"revision": ver.excluded.revision},  # an existing version keeps its fields
            ).returning(*package_versions.c)
            row = conn.execute(ver).one()
            try:
                conn.execute(
                    insert(assets).values(
                        row_values(asset, assets, version_id=row.id, **row_values(asset.blob, assets))
                    )
                )
            except IntegrityError as exc:
                raise ConflictError(
                    f"File {asset.name} already exists in {_package_label(ref)} {version.version}",
                    resource_id=asset.name,
                    resource_type="asset",
                ) from exc
            self._record_asset_name(conn, repo_id, ref, asset)
        return _to_version(ref, row)

    def put_origin_configuration(self, ref: PackageRef, origin: OriginConfiguration, display_name: str) -> Package:
        """One upsert: the insert makes the pre-emptive record (no versions), the update changes only
        ``publish``/``upstream`` of an existing package."""
        with self._changing(ref.repo) as conn:
            repo_id = lookup_repository_id(conn, ref.repo)
            if repo_id is None:
                raise no_repository(ref.repo.domain, ref.repo.name)
            stmt = self._package_upsert(
                repo_id, ref, display_name or ref.name, origin, {"publish": origin.publish, "upstream": origin.upstream}
            ).returning(*packages.c)
            try:
                row = conn.execute(stmt).one()
            except IntegrityError as exc:  # the repository was deleted meanwhile
                raise no_repository(ref.repo.domain, ref.repo.name) from exc
        return _to_package(ref.repo, row)

    def _package_upsert(
        self, repo_id: int, ref: PackageRef, display_name: str, origin: OriginConfiguration, on_conflict: dict[str, Any]
    ) -> Any:
        """INSERT of the package's row (with ``origin`` for a new package), updating ``on_conflict`` when it exists."""
        stmt = self._insert(packages).values(
            repository_id=repo_id,
            format=ref.format,
            namespace=ref.namespace or "",
            name=ref.name,
            display_name=display_name,
            publish=origin.publish,
            upstream=origin.upstream,
        )
        return stmt.on_conflict_do_update(
            index_elements=[packages.c.repository_id, packages.c.format, packages.c.namespace, packages.c.name],
            set_=on_conflict,
        )

    def _record_asset_name(self, conn: Connection, repo_id: int, ref: PackageRef, asset: Asset) -> None:
        """See ``add_asset``."""
        key = {
            "repository_id": repo_id,
            "format": ref.format,
            "namespace": ref.namespace or "",
            "package": ref.name,
            "name": asset.name,
        }
        record = self._insert(asset_names).values(**key, sha256=asset.blob.sha256, first_used_at=asset.created_at)
        if conn.execute(record.on_conflict_do_nothing(index_elements=list(key))).rowcount == 1:
            return
        used = conn.execute(
            select(asset_names.c.sha256).where(*(asset_names.c[column] == value for column, value in key.items()))
        ).scalar_one()
        if used != asset.blob.sha256:
            raise ConflictError(
                f"The file name {asset.name!r} has already been used in repository {ref.repo.name} with other "
                "content; use a different version. A file name, once used, is never reused with different "
                "content (as on PyPI: https://pypi.org/help/#file-name-reuse).",
                resource_id=asset.name,
                resource_type="asset-name",
            )

    @contextmanager
    def _changing(self, repo: RepoRef) -> Iterator[Connection]:
        """The transaction of a write to ``repo``'s packages: ``_write()``, whose first statement renews the
        repository's ``package_revision`` (see ``package_revisions``); rolled back with the rest. On PostgreSQL
        that locks the repository's row until the commit, first, as deleting the repository does: writes to one
        repository's packages take turns (each is short: the bytes are stored before), and never deadlock with
        the deletion."""
        with self._write() as conn:
            conn.execute(RENEW_PACKAGE_REVISION, {**package_params_of(repo), "new_package_revision": new_revision()})
            yield conn

    def package_revisions(self, repos: Sequence[RepoRef]) -> tuple[str | None, ...]:
        """One read: per repository, a value that every write to its packages changes (None: no such repository).
        Repositories of one domain (a search order) take one statement."""
        found: dict[RepoRef, str] = {}
        by_domain: dict[tuple[str, str], list[str]] = {}
        for repo in repos:
            by_domain.setdefault((repo.domain_owner, repo.domain), []).append(repo.name)
        with self._read() as conn:
            for (owner, domain), names in by_domain.items():
                rows = conn.execute(PACKAGE_REVISIONS, {"pkg_owner": owner, "pkg_domain": domain, "names": names})
                for name, repo_id, revision in rows:
                    # the id too: a repository deleted and created again under its name starts anew
                    found[RepoRef(owner, domain, name)] = f"{repo_id}:{revision or ''}"
        return tuple(found.get(repo) for repo in repos)

    def get_package(self, ref: PackageRef) -> Package | None:
        with self._read() as conn:
            row = conn.execute(GET_PACKAGE, package_params(ref)).one_or_none()
        return None if row is None else _to_package(ref.repo, row)

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
        """``format`` and ``namespace`` match exactly when given (None: any; ``''`` is the same as None, i.e.
        any); ``prefix`` is literal and case-sensitive. ``after``/``next_key`` are opaque."""
        check_limit(limit)
        with self._read() as conn:
            repo_id = lookup_repository_id(conn, repo)
            if repo_id is None:
                return Page(items=())
            stmt = select(packages).where(packages.c.repository_id == repo_id)
            if format is not None:
                stmt = stmt.where(packages.c.format == format)
            if namespace:
                stmt = stmt.where(packages.c.namespace == namespace)
            if prefix:
                stmt = stmt.where(starts_with(packages.c.name, prefix))
            if after is not None:
                a_format, a_namespace, a_name = decode_key(after, 3)
                stmt = stmt.where(
                    or_(
                        packages.c.format > a_format,
                        and_(packages.c.format == a_format, packages.c.namespace > a_namespace),
                        and_(
                            packages.c.format == a_format,
                            packages.c.namespace == a_namespace,
                            packages.c.name > a_name,
                        ),
                    )
                )
            stmt = stmt.order_by(packages.c.format, packages.c.namespace, packages.c.name).limit(limit + 1)
            rows = conn.execute(stmt).all()
        items = tuple(_to_package(repo, r) for r in rows[:limit])
        next_key = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_key = encode_key([last.format, last.namespace, last.name])
        return Page(items=items, next_key=next_key)

    def get_version(self, ref: PackageRef, version: str) -> PackageVersion | None:
        with self._read() as conn:
            row = conn.execute(GET_VERSION, package_params(ref, pkg_version=version)).one_or_none()
        return None if row is None else _to_version(ref, row)

    def list_versions(
        self, ref: PackageRef, *, status: str | None, after: str | None, limit: int
    ) -> Page[PackageVersion]:
        """``status`` matches exactly when given; ``after``/``next_key`` are opaque."""
        check_limit(limit)
        params = package_params(ref, limit=limit + 1)
        stmt = list_versions_statement(status=status is not None, after=after is not None)
        if status is not None:
            params["status"] = status
        if after is not None:
            a_time, a_version = decode_key(after, 2)
            try:
                published = float(a_time)
            except ValueError as exc:
                raise ValidationError("The pagination token is invalid") from exc
            params["after_time"], params["after_version"] = published, a_version
        with self._read() as conn:
            rows = conn.execute(stmt, params).all()
        items = tuple(_to_version(ref, r) for r in rows[:limit])
        next_key = None
        if len(rows) > limit:
            last = items[-1]
            next_key = encode_key([repr(last.published_time), last.version])
        return Page(items=items, next_key=next_key)

    def list_assets(self, ref: PackageRef, version: str) -> list[Asset]:
        with self._read() as conn:
            rows = conn.execute(LIST_ASSETS, package_params(ref, pkg_version=version)).all()
        return [_to_asset(r) for r in rows]

    def list_package_assets(self, ref: PackageRef) -> dict[str, list[Asset]]:
        """One query: the assets joined to their versions of the package."""
        with self._read() as conn:
            rows = conn.execute(LIST_PACKAGE_ASSETS, package_params(ref)).all()
        found: dict[str, list[Asset]] = {}
        for row in rows:
            found.setdefault(row.version_number, []).append(_to_asset(row))
        return found

    def _version_mismatch(
        self, conn: Connection, ref: PackageRef, version: str, expected_status: str | None
    ) -> CofferError:
        """Why a conditional update/delete of a version matched no row."""
        current = conn.execute(
            select(package_versions.c.status).where(
                package_versions.c.id == _version_id_select(ref, version).scalar_subquery()
            )
        ).scalar_one_or_none()
        if current is None or expected_status is None:
            return _no_version(ref, version)
        return ConflictError(
            f"Version {version} of package {_package_label(ref)} has status {current}, not {expected_status}",
            resource_id=version,
            resource_type="package-version",
        )

    def set_status(self, ref: PackageRef, version: str, status: str, expected_status: str | None) -> PackageVersion:
        """The check of ``expected_status`` is part of the UPDATE, so concurrent changes cannot both pass it."""
        pv = package_versions
        stmt = update(pv).where(pv.c.id == _version_id_select(ref, version).scalar_subquery())
        if expected_status is not None:
            stmt = stmt.where(pv.c.status == expected_status)
        stmt = stmt.values(status=status, revision=new_revision()).returning(*pv.c)
        with self._changing(ref.repo) as conn:
            row = conn.execute(stmt).one_or_none()
            if row is None:
                raise self._version_mismatch(conn, ref, version, expected_status)
        return _to_version(ref, row)

    def delete_version(self, ref: PackageRef, version: str, expected_status: str | None) -> PackageVersion:
        """Returns the version as it was."""
        pv = package_versions
        stmt = delete(pv).where(pv.c.id == _version_id_select(ref, version).scalar_subquery())
        if expected_status is not None:
            stmt = stmt.where(pv.c.status == expected_status)
        with self._changing(ref.repo) as conn:
            row = conn.execute(stmt.returning(*pv.c)).one_or_none()
            if row is None:
                raise self._version_mismatch(conn, ref, version, expected_status)
        return _to_version(ref, row)

    def delete_package(self, ref: PackageRef) -> Package:
        """Returns the package as it was."""
        stmt = delete(packages).where(packages.c.id == _package_id_select(ref).scalar_subquery())
        with self._changing(ref.repo) as conn:
            row = conn.execute(stmt.returning(*packages.c)).one_or_none()
        if row is None:
            raise _no_package(ref)
        return _to_package(ref.repo, row)

    def get_package_tags(self, ref: PackageRef) -> dict[str, str]:
        with self._read() as conn:
            rows = conn.execute(GET_PACKAGE_TAGS, package_params(ref)).all()
        return {r.tag: r.version for r in rows}

    def set_package_tag(self, ref: PackageRef, tag: str, version: str) -> None:
        """One upsert, whose package id comes from the version's row: a tag can only point at a version that
        is in the repository at that moment."""
        with self._changing(ref.repo) as conn:
            package_id = conn.execute(
                select(package_versions.c.package_id).where(
                    package_versions.c.id == _version_id_select(ref, version).scalar_subquery()
                )
            ).scalar_one_or_none()
            if package_id is None:
                raise _no_version(ref, version)
            stmt = self._insert(package_tags).values(package_id=package_id, tag=tag, version=version)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[package_tags.c.package_id, package_tags.c.tag], set_={"version": version}
                )
            )

    def delete_package_tag(self, ref: PackageRef, tag: str) -> bool:
        stmt = delete(package_tags).where(
            package_tags.c.package_id == _package_id_select(ref).scalar_subquery(), package_tags.c.tag == tag
        )
        with self._changing(ref.repo) as conn:
            return bool(conn.execute(stmt).rowcount)

    def update_version_extra(self, ref: PackageRef, version: str, changes: Mapping[str, str | None]) -> PackageVersion:
        """A read and an update in one write transaction, the update conditional on the revision read: a
        concurrent change makes it match no row, and it is read again (at most a few rounds)."""
        pv = package_versions
        where = pv.c.id == _version_id_select(ref, version).scalar_subquery()
        with self._changing(ref.repo) as conn:
            for _attempt in range(5):
                row = conn.execute(select(pv.c.extra, pv.c.revision).where(where)).one_or_none()
                if row is None:
                    raise _no_version(ref, version)
                extra = dict(json.loads(row.extra))
                for key, value in changes.items():
                    if value is None:
                        extra.pop(key, None)
                    else:
                        extra[key] = value
                stmt = (
                    update(pv)
                    .where(where, pv.c.revision == row.revision)
                    .values(extra=json.dumps(extra, sort_keys=True), revision=new_revision())
                    .returning(*pv.c)
                )
                updated = conn.execute(stmt).one_or_none()
                if updated is not None:
                    return _to_version(ref, updated)
        raise ConflictError(
            f"Version {version} of package {_package_label(ref)} kept changing; try again",
            resource_id=version,
            resource_type="package-version",
        )

    def blobs_in_use(self, sha256s: Iterable[str]) -> set[str]:
        """Asks in batches of ``_BLOB_BATCH`` digests (well under either backend's bound-parameter limit)."""
        wanted = sorted(set(sha256s))
        used: set[str] = set()
        with self._read() as conn:
            for start in range(0, len(wanted), _BLOB_BATCH):
                batch = wanted[start : start + _BLOB_BATCH]
                as_file = select(assets.c.sha256).where(assets.c.sha256.in_(batch))
                as_metadata = select(assets.c.metadata_sha256).where(assets.c.metadata_sha256.in_(batch))
                used.update(conn.execute(as_file.union(as_metadata)).scalars())
        return used

    def add_asset_to_unfinished(self, version: PackageVersion, asset: Asset, *, finish: bool) -> PackageVersion:
        """The version row is an upsert whose update (a new revision) applies only while the row is Unfinished:
        on PostgreSQL it locks the row, so concurrent additions to one version run one after the other and each
        sees the assets the others committed; SQLite's write transactions are serialized. A version that exists
        with another status gets no row back: ConflictError, and the transaction (with the package upsert) is
        rolled back. The asset's name is not recorded in ``asset_names``."""
        ref = version.package
        pv = package_versions
        with self._changing(ref.repo) as conn:
            repo_id = lookup_repository_id(conn, ref.repo)
            if repo_id is None:
                raise no_repository(ref.repo.domain, ref.repo.name)
            display_name = version.extra.get("display_name") or ref.name
            keep = {"display_name": packages.c.display_name}  # unchanged; the update returns the row's id
            pkg = self._package_upsert(repo_id, ref, display_name, PUBLISHED_FIRST, keep).returning(packages.c.id)
            try:
                package_id = int(conn.execute(pkg).scalar_one())
            except IntegrityError as exc:  # the repository was deleted meanwhile
                raise no_repository(ref.repo.domain, ref.repo.name) from exc
            ver = self._insert(pv).values(_version_row(version, package_id, new_revision()))
            ver = ver.on_conflict_do_update(
                index_elements=[pv.c.package_id, pv.c.version],
                set_={"revision": ver.excluded.revision},  # an existing version keeps its fields
                where=pv.c.status == "Unfinished",
            ).returning(*pv.c)
            row = conn.execute(ver).one_or_none()
            if row is None:
                status = conn.execute(
                    select(pv.c.status).where(pv.c.package_id == package_id, pv.c.version == version.version)
                ).scalar_one()
                raise ConflictError(
                    f"Package version {version.version} of {_package_label(ref)} is {status}: assets can be added "
                    "only to an Unfinished version",
                    resource_id=version.version,
                    resource_type="package-version",
                )
            held = conn.execute(
                select(assets.c.sha256).where(assets.c.version_id == row.id, assets.c.name == asset.name)
            ).scalar_one_or_none()
            if held is None:
                conn.execute(
                    insert(assets).values(
                        row_values(asset, assets, version_id=row.id, **row_values(asset.blob, assets))
                    )
                )
            elif held != asset.blob.sha256:
                raise ConflictError(
                    f"Asset {asset.name} of package version {version.version} of {_package_label(ref)} already "
                    "exists with other content",
                    resource_id=asset.name,
                    resource_type="asset",
                )
            if finish and row.status != "Published":
                row = conn.execute(
                    update(pv).where(pv.c.id == row.id).values(status="Published").returning(*pv.c)
                ).one()
        return _to_version(ref, row)
