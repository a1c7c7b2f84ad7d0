"""The ports core needs from the outside world, as Protocols. Adapters implement them.

Store contract (every implementation must honour it; ``tests/contract`` checks it on each backend):
- Every method is atomic: it either fully happens or not at all, also if the process dies mid-call.
- Lookups return ``None`` when the thing is absent; mutations of absent things raise
  ``ResourceNotFoundError``; creating something that exists raises ``ConflictError``.
- Listings are ordered by the key named in the method's doc and start strictly after ``after``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import BinaryIO, Protocol

from coffer.core.iam import Group, ManagedPolicy, PolicyVersion, PrincipalType, Role, Session
from coffer.core.models import (
    AccessKey,
    Account,
    Domain,
    NamedPolicy,
    Page,
    Repository,
    ResourcePolicy,
    User,
)
from coffer.core.packages import Asset, BlobInfo, Package, PackageRef, PackageVersion, RepoRef


class Clock(Protocol):
    def __call__(self) -> float:
        """Seconds since the epoch."""
        ...


class IdentityStore(Protocol):
    # accounts
    def create_account(self, account: Account) -> None: ...
    def get_account(self, account_id: str) -> Account | None: ...
    def list_accounts(self) -> list[Account]: ...

    # users (unique per account by name)
    def create_user(self, user: User) -> None: ...
    def get_user(self, account_id: str, name: str) -> User | None: ...
    def list_users(self, account_id: str) -> list[User]:
        """Ordered by name."""
        ...

    def delete_user(self, account_id: str, name: str) -> None:
        """Deletes the user with its access keys and inline policies."""
        ...

    # access keys (globally unique id)
    def create_access_key(self, key: AccessKey) -> None:
        """ResourceNotFoundError if the user does not exist."""
        ...

    def get_access_key(self, access_key_id: str) -> AccessKey | None: ...
    def list_access_keys(self, account_id: str, user_name: str) -> list[AccessKey]: ...
    def delete_access_key(self, access_key_id: str) -> None: ...

    # inline user policies (unique per user by name; put replaces)
    def put_user_policy(self, account_id: str, user_name: str, policy: NamedPolicy) -> None:
        """ResourceNotFoundError if the user does not exist."""
        ...

    def list_user_policies(self, account_id: str, user_name: str) -> list[NamedPolicy]:
        """Ordered by name."""
        ...

    def delete_user_policy(self, account_id: str, user_name: str, policy_name: str) -> None: ...


class DomainStore(Protocol):
    def create_domain(self, domain: Domain, tags: Mapping[str, str]) -> None:
        """ConflictError if (owner, name) exists. Tags are stored with it atomically."""
        ...

    def get_domain(self, owner: str, name: str, *, with_size: bool = False) -> Domain | None:
        """The domain with ``repository_count`` filled in, and ``asset_size_bytes`` when ``with_size`` (the sum of
        its assets' sizes, each content once; it costs an aggregate over the domain's assets)."""
        ...

    def list_domains(self, owner: str, after: str | None, limit: int) -> Page[Domain]:
        """Domains of one owner ordered by name; ``next_key`` is the last name returned when more remain."""
        ...

    def count_domains(self, owner: str) -> int: ...

    def delete_domain(self, owner: str, name: str) -> Domain:
        """Deletes and returns the domain; ConflictError while it holds repositories; removes the domain's
        resource policy and tags in the same transaction."""
        ...


class RepositoryStore(Protocol):
    def create_repository(self, repository: Repository, tags: Mapping[str, str]) -> None:
        """ResourceNotFoundError if the domain does not exist; ConflictError if the name is taken in it.
        Tags are stored with it atomically.
        Every upstream named must exist in the same domain (ResourceNotFoundError otherwise)."""
        ...

    def get_repository(self, owner: str, domain: str, name: str) -> Repository | None: ...

    def update_repository(self, repository: Repository) -> None:
        """Replaces description, upstreams and external connections (same upstream rules as create)."""
        ...

    def delete_repository(self, owner: str, domain: str, name: str) -> Repository:
        """Deletes and returns it, with its resource policy and tags. ConflictError if another repository
        names it as an upstream."""
        ...

    def list_repositories(
        self,
        *,
        administrator_account: str | None,
        owner: str | None,
        domain: str | None,
        prefix: str | None,
        after: str | None,
        limit: int,
    ) -> Page[Repository]:
        """Filtered by the given fields (None: any), ordered by (name, domain, owner); ``after`` and
        ``next_key`` are opaque strings made by the store."""
        ...

    def list_downstreams(self, owner: str, domain: str, name: str) -> list[Repository]:
        """Repositories in the domain that name this one as an upstream."""
        ...


class PolicyStore(Protocol):
    def get_resource_policy(self, resource_arn: str) -> ResourcePolicy | None: ...

    def put_resource_policy(self, resource_arn: str, document: str, expected_revision: str | None) -> ResourcePolicy:
        """Creates or replaces. If ``expected_revision`` is given it must equal the current revision
        (ConflictError otherwise, also when there is no policy). A new revision string is generated."""
        ...

    def delete_resource_policy(self, resource_arn: str, expected_revision: str | None) -> ResourcePolicy:
        """ResourceNotFoundError if none; ConflictError on a stale ``expected_revision``."""
        ...


class TagStore(Protocol):
    def get_tags(self, resource_arn: str) -> dict[str, str]: ...

    def tag_resource(self, resource_arn: str, tags: Mapping[str, str]) -> None:
        """Adds or overwrites keys."""
        ...

    def untag_resource(self, resource_arn: str, keys: Sequence[str]) -> None: ...


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


class PackageStore(Protocol):
    """Packages, versions and assets of repositories. Repositories are named by ``RepoRef``; a repository that
    does not exist is ``ResourceNotFoundError`` on writes and empty on reads."""

    def add_asset(
        self,
        version: PackageVersion,
        asset: Asset,
    ) -> PackageVersion:
        """Atomically: create the package (display name from the version's first publish) and the version (with
        all of ``version``'s fields) when absent, then attach ``asset``. ``ConflictError`` (resource type "asset")
        if the version already has an asset of that name: of two concurrent identical uploads exactly one wins.
        Returns the version as stored (a new ``revision`` each time)."""
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

    def blobs_in_use(self, sha256s: Iterable[str]) -> set[str]:
        """Which of ``sha256s`` some asset of any repository still uses, as its file or its extracted metadata
        (garbage collection keeps those blobs). Any number of digests; unknown ones are simply not returned."""
        ...


class RevocationStore(Protocol):
    def revoke_token(self, token_id: str, expires_at: float, revoked_at: float) -> None:
        """Idempotent."""
        ...

    def revoked_tokens(self, now: float) -> set[str]:
        """Ids of revoked tokens that have not expired yet (expired ones need no list)."""
        ...


class IamStore(Protocol):
    """Roles, groups, inline and managed policies, attachments, access-key state and STS sessions.

    ``principal_type`` is "user", "group" or "role"; the principal must exist (ResourceNotFoundError). Names are
    unique per account (roles, groups, customer managed policies by name; IAM compares them case-insensitively:
    ConflictError on a case-insensitive clash). Deleting something still in use is ConflictError, as IAM's
    DeleteConflict: a role or group with inline or attached policies, a group with members, a policy still attached
    or with non-default versions.
    """

    # roles
    def create_role(self, role: Role) -> None: ...
    def get_role(self, account_id: str, name: str) -> Role | None: ...
    def list_roles(self, account_id: str, path_prefix: str = "/") -> list[Role]:
        """Ordered by name."""
        ...

    def update_role(self, role: Role) -> None:
        """Replaces trust policy, description and max session duration."""
        ...

    def delete_role(self, account_id: str, name: str) -> None: ...

    # groups and membership
    def create_group(self, group: Group) -> None: ...
    def get_group(self, account_id: str, name: str) -> Group | None: ...
    def list_groups(self, account_id: str, path_prefix: str = "/") -> list[Group]: ...
    def delete_group(self, account_id: str, name: str) -> None: ...
    def add_user_to_group(self, account_id: str, group_name: str, user_name: str) -> None:
        """Idempotent."""
        ...

    def remove_user_from_group(self, account_id: str, group_name: str, user_name: str) -> None: ...
    def list_group_members(self, account_id: str, group_name: str) -> list[User]: ...
    def list_groups_for_user(self, account_id: str, user_name: str) -> list[Group]: ...

    # inline policies of any principal type (users too: same rows as put_user_policy)
    def put_inline_policy(
        self, account_id: str, principal_type: PrincipalType, principal_name: str, policy: NamedPolicy
    ) -> None: ...
    def get_inline_policy(
        self, account_id: str, principal_type: PrincipalType, principal_name: str, policy_name: str
    ) -> NamedPolicy | None: ...
    def list_inline_policies(
        self, account_id: str, principal_type: PrincipalType, principal_name: str
    ) -> list[NamedPolicy]: ...
    def delete_inline_policy(
        self, account_id: str, principal_type: PrincipalType, principal_name: str, policy_name: str
    ) -> None: ...

    # managed policies and versions (AWS managed ones live under account_id "aws")
    def create_managed_policy(self, policy: ManagedPolicy, document: str) -> None:
        """Creates the policy with version ``policy.default_version_id`` (normally "v1") holding ``document``."""
        ...

    def get_managed_policy(self, arn: str) -> ManagedPolicy | None:
        """With ``attachment_count`` filled in."""
        ...

    def list_managed_policies(self, account_id: str | None, only_attached: bool = False) -> list[ManagedPolicy]:
        """``account_id`` None: every account's and AWS's; "aws": AWS managed only. Ordered by name."""
        ...

    def delete_managed_policy(self, arn: str) -> None: ...
    def create_policy_version(self, arn: str, document: str, set_as_default: bool, created_at: float) -> PolicyVersion:
        """Next id ("v" + one more than the highest ever used); ConflictError (LimitExceeded) beyond 5 versions."""
        ...

    def get_policy_version(self, arn: str, version_id: str) -> PolicyVersion | None: ...
    def list_policy_versions(self, arn: str) -> list[PolicyVersion]: ...
    def delete_policy_version(self, arn: str, version_id: str) -> None:
        """ConflictError for the default version."""
        ...

    def set_default_policy_version(self, arn: str, version_id: str) -> None: ...

    # attachments
    def attach_policy(self, account_id: str, principal_type: PrincipalType, principal_name: str, arn: str) -> None:
        """Idempotent; ResourceNotFoundError if the policy or principal does not exist."""
        ...

    def detach_policy(self, account_id: str, principal_type: PrincipalType, principal_name: str, arn: str) -> None:
        """ResourceNotFoundError if not attached."""
        ...

    def list_attached_policies(
        self, account_id: str, principal_type: PrincipalType, principal_name: str
    ) -> list[ManagedPolicy]: ...
    def list_policy_attachments(self, arn: str) -> list[tuple[str, PrincipalType, str]]:
        """(account_id, principal type, principal name) of everything the policy is attached to."""
        ...

    # access keys
    def update_access_key_status(self, access_key_id: str, status: str) -> None: ...
    def record_access_key_use(self, access_key_id: str, when: float, service: str, region: str) -> None:
        """Best effort, cheap; callers may call it at most once a minute per key."""
        ...

    def get_access_key_last_used(self, access_key_id: str) -> tuple[float, str, str] | None:
        """(when, service, region) of the last recorded use."""
        ...

    # STS sessions
    def create_session(self, session: Session) -> None: ...
    def get_session(self, access_key_id: str) -> Session | None: ...
    def find_role_sessions(
        self, account_id: str, role_name: str, session_name: str, issued_second: int
    ) -> list[Session]:
        """Sessions of that role with that RoleSessionName whose ``int(issued_at) == issued_second``, expired ones
        included (a CodeArtifact token minted by a session acts for it, for up to 12 hours, also after the session
        expired: keep expired sessions that long before ``delete_expired_sessions`` removes them)."""
        ...

    def delete_expired_sessions(self, now: float) -> int: ...


class Store(
    IdentityStore,
    DomainStore,
    RepositoryStore,
    PolicyStore,
    TagStore,
    PackageStore,
    RevocationStore,
    IamStore,
    Protocol,
):
    """Everything core persists. ``close()`` releases connections."""

    def close(self) -> None: ...
