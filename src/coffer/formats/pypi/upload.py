"""The legacy upload API twine speaks: ``POST`` multipart/form-data with ``:action=file_upload`` to the repository
endpoint URL itself.

Nothing is buffered before it is authorized, and every limit holds as the bytes arrive:

1. Before any byte of the body is read (the token was checked by the endpoint): the caller must be allowed
   ``PublishPackageVersion`` on some package of the repository (``PackageService.authorize_publish_to_repository``)
   and the repository must exist (403, 404); the body must be ``multipart/form-data`` (400) and its
   Content-Length, if any, within the limit (413).
2. The body is parsed as it streams in (``coffer.formats.multipart``): the whole body, the number and size of the
   non-file fields and the file are capped as bytes arrive (413 as soon as one is passed, naming the limit;
   chunked bodies count the same). Only the fields the upload uses are kept; the others are counted and dropped.
   A refusal on the way answers at once, without reading the rest, with ``Connection: close``.
3. When the ``content`` part begins, its file name is checked (400) and the caller authorized on that package
   (403), before any of its bytes is kept. Its bytes then go, in blocks of about a MiB through bounded queues, to
   two writer threads while the event loop receives the next ones (memory stays flat however large the upload):
   one writes an unlinked temporary file in ``spool_dir`` (a killed server leaves nothing behind) and hashes it
   (MD5, SHA-256, BLAKE2b-256: those the form names, or all three when the digests come after the file); the
   other streams them into the blob store's own temporary file (``BlobStore.write``, hashing as it goes).
4. Once the whole body is in: the supplied digests are compared (400 on a mismatch) and the file's metadata is
   read from the temporary file and checked against the form and the file name (400). Only then is the blob
   store's write let finish, which makes the blob visible under its content address; any refusal before makes
   the write fail instead, and the blob store drops its temporary file. A refused upload leaves no blob behind.
   Last, one transaction (``PackageService.publish``) makes the file visible in the repository.

The file size limit is CodeArtifact's asset quota, 5 GiB; ``COFFER_MAX_UPLOAD_BYTES`` (read once, when the endpoint
is built) lowers or raises it. Errors are 4xx with the message both as the HTTP reason phrase (what twine prints,
as Warehouse does; see ``coffer.formats.reason``) and as a ``text/plain`` body.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, Generic, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response

from coffer.core.codeartifact.packages import PackageService
from coffer.core.errors import AccessDeniedError, CofferError, ConflictError
from coffer.core.identity import Caller
from coffer.core.packages import Asset, BlobInfo, PackageRef, PackageVersion, RepoRef
from coffer.core.ports import Clock
from coffer.core.pypi import (
    DistFilename,
    DistributionError,
    check_consistent,
    normalize_version,
    parse_filename,
    read_core_metadata,
)
from coffer.formats.multipart import MAX_FIELDS_BYTES, FilePart, FormError, FormLimits, boundary_of, read_form
from coffer.formats.reason import ReasonResponse

MAX_UPLOAD_BYTES = 5 * 1024**3  # CodeArtifact's asset size quota
MAX_UPLOAD_ENV = "COFFER_MAX_UPLOAD_BYTES"
#: what a body may hold beyond its file: every field and part header (capped on their own), multipart framing,
#: a gpg_signature file (dropped)
BODY_ALLOWANCE = MAX_FIELDS_BYTES + 1024 * 1024
CHUNK = 1024 * 1024
FEED_QUEUE_BLOCKS = 4  # blocks of about CHUNK bytes queued between the event loop and each writer thread
_DIGESTS = {"md5_digest": "md5", "sha256_digest": "sha256", "blake2_256_digest": "blake2_256"}
_KEPT_FIELDS = frozenset({":action", "protocol_version", "name", "version", *_DIGESTS})
T = TypeVar("T")


def upload_error(status: int, message: str, *, close: bool = False) -> Response:
    """A refused upload: the message is the reason phrase and the body. ``close``: the body was not read to its
    end, so the connection cannot carry another request."""
    headers = {"Cache-Control": "no-store"}
    if close:
        headers["Connection"] = "close"
    return ReasonResponse(message, status, headers=headers)


def max_upload_bytes(environ: Mapping[str, str] = os.environ) -> int:
    """The file size limit: ``COFFER_MAX_UPLOAD_BYTES`` if set (a positive number of bytes), else 5 GiB."""
    text = environ.get(MAX_UPLOAD_ENV, "").strip()
    if not text:
        return MAX_UPLOAD_BYTES
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(f"{MAX_UPLOAD_ENV} must be a positive number of bytes, not {text!r}")
    return value


class UploadRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _new_hash(algorithm: str) -> Any:
    if algorithm == "md5":
        return hashlib.md5(usedforsecurity=False)
    if algorithm == "sha256":
        return hashlib.sha256()
    return hashlib.blake2b(digest_size=32)


class _Aborted(Exception):
    """The upload was refused: the consumer must keep nothing."""


class _Sentinel:
    pass


_END = _Sentinel()  # the blocks are complete
_ABORT = _Sentinel()  # the blocks are abandoned


class _Feeder(Generic[T]):
    """A thread of its own running ``consume`` over the blocks the event loop puts into a bounded queue (a hop to
    the thread pool only when the queue is full). The blocks end with ``finish()`` (``consume``'s result is
    returned) or ``abort()`` (the iterator raises ``_Aborted`` in ``consume``). A consumer that fails keeps
    draining the queue, so the event loop never waits on a dead thread; its error is raised by the next ``put``
    or by ``finish``."""

    def __init__(self, name: str, consume: Callable[[Iterator[bytes]], T]) -> None:
        self._consume = consume
        self._queue: queue.Queue[bytes | _Sentinel] = queue.Queue(maxsize=FEED_QUEUE_BLOCKS)
        self._result: T | None = None
        self._error: BaseException | None = None
        self._done = False  # finish() or abort() was called
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _blocks(self) -> Iterator[bytes]:
        while True:
            block = self._queue.get()
            if block is _END:
                return
            if isinstance(block, _Sentinel):
                raise _Aborted()
            yield block

    def _run(self) -> None:
        blocks = self._blocks()
        try:
            self._result = self._consume(blocks)
        except _Aborted:
            return
        except BaseException as exc:
            self._error = exc
        with contextlib.suppress(_Aborted):
            for _ in blocks:  # whatever consume left (after an error): until the sentinel
                pass

    def _check(self) -> None:
        if self._error is not None:
            if isinstance(self._error, OSError) and self._error.errno == errno.ENOSPC:
                raise UploadRefused(507, "The server has no space left to store the upload") from self._error
            raise self._error

    async def put(self, block: bytes) -> None:
        self._check()
        try:
            self._queue.put_nowait(block)
        except queue.Full:
            await run_in_threadpool(self._queue.put, block)

    def finish(self) -> T:
        """Blocks until ``consume`` has returned (worker thread)."""
        self._done = True
        self._queue.put(_END)
        self._thread.join()
        self._check()
        assert self._result is not None
        return self._result

    def join(self) -> None:
        self._thread.join()

    def abort(self) -> None:
        """Never blocks: the thread stops on its own, ``consume`` having seen ``_Aborted``."""
        if self._done:
            return
        self._done = True
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()
        with contextlib.suppress(queue.Full):  # only the event loop puts: after the drain there is room
            self._queue.put_nowait(_ABORT)


class _Spool:
    """The uploaded file as it arrives, in two places at once, each fed by a ``_Feeder`` thread:

    * an unlinked temporary file in ``directory`` (a killed server leaves nothing behind), hashed on the way with
      the algorithms asked for: the digests are compared and the metadata read from it;
    * the blob store's own temporary file (``PackageService.store_blob``), which becomes the blob only on
      ``keep()``, called once the checks passed; ``discard()`` (always called, at the end of the request) drops
      the files and keeps nothing not kept.

    The blob store hashes and writes while the bytes arrive instead of after: no second pass over the file."""

    def __init__(self, packages: PackageService, directory: str | None, algorithms: Iterable[str]) -> None:
        self.file: IO[bytes] = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 (closed by discard)
        self._hashes = {algorithm: _new_hash(algorithm) for algorithm in algorithms}
        self._local = _Feeder("upload-spool", self._write_local)
        self._blob = _Feeder("upload-blob", packages.store_blob)

    def _write_local(self, blocks: Iterator[bytes]) -> bool:
        hashes = list(self._hashes.values())
        for block in blocks:
            for digest in hashes:
                digest.update(block)
            self.file.write(block)
        self.file.flush()
        return True

    async def write(self, data: bytes) -> None:
        await self._local.put(data)
        await self._blob.put(data)

    async def close(self) -> None:
        """The file part is complete: wait for the local copy (the blob store's waits for ``keep``)."""
        await run_in_threadpool(self._local.finish)

    def digest(self, algorithm: str) -> str:
        """The file's hex digest; one the form named only after the file is computed now (worker thread)."""
        if algorithm not in self._hashes:
            digest = _new_hash(algorithm)
            self.file.seek(0)
            while chunk := self.file.read(CHUNK):
                digest.update(chunk)
            self._hashes[algorithm] = digest
        return str(self._hashes[algorithm].hexdigest())

    def keep(self) -> BlobInfo:
        """Make the blob visible under its content address (worker thread)."""
        return self._blob.finish()

    async def discard(self) -> None:
        """Drop the local copy and the blob store's temporary file, if not kept. The writers stop at once (their
        queues are emptied; a block being written is finished): waiting for them costs milliseconds, and no
        temporary file outlives the request."""
        self._blob.abort()
        self._local.abort()
        await run_in_threadpool(self._stopped)

    def _stopped(self) -> None:
        self._blob.join()
        self._local.join()
        self.file.close()


@dataclass(frozen=True)
class _Form:
    name: str
    version: str
    dist: DistFilename
    content: _Spool
    digests: dict[str, str]


class _UploadForm:
    """What the streaming form reader tells us: the fields the upload uses, and the ``content`` file."""

    def __init__(self, packages: PackageService, repo: RepoRef, caller: Caller, spool_dir: str | None) -> None:
        self._packages = packages
        self._repo = repo
        self._caller = caller
        self._spool_dir = spool_dir
        self.fields: dict[str, str] = {}
        self.dist: DistFilename | None = None
        self.spool: _Spool | None = None

    def keeps(self, name: str) -> bool:
        return name in _KEPT_FIELDS

    def _field(self, key: str) -> str:
        return self.fields.get(key, "").strip()

    async def on_field(self, name: str, value: str) -> None:
        self.fields[name] = value  # a repeated field: the last one counts (as in Starlette's form)
        if name == ":action":
            _check_action(self._field(":action"))
        elif name == "protocol_version":
            _check_protocol(self._field("protocol_version") or "1")

    async def on_file(self, part: FilePart) -> _Spool:
        if self.spool is not None:
            raise UploadRefused(400, "Invalid request: the upload has more than one 'content' file")
        try:
            dist = parse_filename(part.filename)
        except DistributionError as exc:
            raise UploadRefused(400, str(exc)) from exc
        ref = PackageRef(repo=self._repo, format="pypi", namespace=None, name=dist.name)
        try:
            await run_in_threadpool(self._packages.authorize_publish, self._caller, ref)
        except AccessDeniedError as exc:
            raise UploadRefused(403, exc.message) from exc
        # Twine sends the digests before the file: hash only those; if none came yet, all three.
        algorithms = {algo for key, algo in _DIGESTS.items() if self._field(key)} or set(_DIGESTS.values())
        self.dist = dist
        self.spool = await run_in_threadpool(_Spool, self._packages, self._spool_dir, algorithms)
        return self.spool

    def result(self) -> _Form:
        _check_action(self._field(":action"))
        _check_protocol(self._field("protocol_version") or "1")
        if self.spool is None or self.dist is None:
            raise UploadRefused(400, "Invalid request: upload has no 'content' file")
        name, version = self._field("name"), self._field("version")
        if not name or not version:
            raise UploadRefused(400, "Invalid request: 'name' and 'version' are required")
        digests = {algo: self._field(key).lower() for key, algo in _DIGESTS.items() if self._field(key)}
        if not digests:
            raise UploadRefused(
                400, "Include at least one message digest (md5_digest, sha256_digest or blake2_256_digest)"
            )
        return _Form(name, version, self.dist, self.spool, digests)


def _check_action(action: str) -> None:
    if action != "file_upload":
        raise UploadRefused(400, f"Invalid request: unsupported :action {action!r}; only file_upload is supported")


def _check_protocol(protocol: str) -> None:
    if protocol != "1":
        raise UploadRefused(400, f"Unknown protocol version {protocol!r}")


class Uploader:
    def __init__(
        self,
        packages: PackageService,
        clock: Clock,
        *,
        spool_dir: str | None = None,
        max_file_bytes: int | None = None,
    ) -> None:
        """``spool_dir``: where uploads in flight are written (unlinked files; None: the system's temporary
        directory). ``max_file_bytes``: the file size limit (None: ``max_upload_bytes()``)."""
        self._packages = packages
        self._clock = clock
        self._spool_dir = spool_dir
        max_file = max_upload_bytes() if max_file_bytes is None else max_file_bytes
        self._limits = FormLimits(
            max_body_bytes=max_file + BODY_ALLOWANCE,
            max_file_bytes=max_file,
            file_fields=frozenset({"content"}),
        )

    async def __call__(self, request: Request, repo: RepoRef, caller: Caller) -> Response:
        # Before the body: may this caller publish here at all? (The package is not known yet.)
        try:
            await run_in_threadpool(self._packages.authorize_publish_to_repository, caller, repo, "pypi")
        except AccessDeniedError as exc:
            return upload_error(403, exc.message, close=True)
        except CofferError as exc:
            return upload_error(exc.status if 400 <= exc.status < 600 else 500, exc.message, close=True)
        boundary = boundary_of(request.headers.get("content-type", ""))
        if boundary is None:
            return upload_error(
                400, "Invalid request: expected multipart/form-data with a boundary (the legacy upload API)", close=True
            )
        declared = request.headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self._limits.max_body_bytes:
            return upload_error(
                413, f"Request body too large: the limit is {self._limits.max_body_bytes} bytes", close=True
            )
        form = _UploadForm(self._packages, repo, caller, self._spool_dir)
        try:
            try:
                await read_form(request.stream(), boundary, self._limits, form)
            except (FormError, UploadRefused) as exc:
                return upload_error(exc.status, exc.message, close=True)
            except ClientDisconnect:
                return upload_error(400, "Invalid request: the client disconnected during the upload", close=True)
            try:
                return await self._upload(repo, caller, form.result())
            except UploadRefused as exc:
                return upload_error(exc.status, exc.message)
        finally:
            if form.spool is not None:
                await form.spool.discard()

    async def _upload(self, repo: RepoRef, caller: Caller, form: _Form) -> Response:
        ref = PackageRef(repo=repo, format="pypi", namespace=None, name=form.dist.name)
        try:
            version, asset = await run_in_threadpool(self._ingest, ref, form)
            await run_in_threadpool(self._packages.publish, caller, version, asset)
        except DistributionError as exc:
            return upload_error(400, str(exc))
        except ConflictError as exc:
            if exc.resource_type in (None, "asset"):
                return upload_error(
                    400,
                    f"File already exists ('{form.dist.filename}'). "
                    "A file name can be uploaded once per version; upload a new version instead.",
                )
            return upload_error(400, exc.message)
        except AccessDeniedError as exc:
            return upload_error(403, exc.message)
        except CofferError as exc:
            return upload_error(exc.status if 400 <= exc.status < 600 else 500, exc.message)
        return PlainTextResponse("OK\n")

    def _ingest(self, ref: PackageRef, form: _Form) -> tuple[PackageVersion, Asset]:
        """Check the file against the digests, its metadata, the form and its name; only then store it (and its
        METADATA) in the blob store."""
        spool, dist = form.content, form.dist
        for algo, supplied in form.digests.items():
            if not hmac.compare_digest(supplied, spool.digest(algo)):
                raise UploadRefused(
                    400, f"The digest supplied does not match a digest calculated from the uploaded file ({algo})."
                )
        meta = read_core_metadata(spool.file, dist)
        check_consistent(dist, meta, form.name, form.version)
        blob = spool.keep()
        metadata_sha256 = self._packages.store_bytes(meta.raw).sha256 if dist.kind == "wheel" else None
        now = self._clock()
        version = PackageVersion(
            package=ref,
            version=normalize_version(meta.version),
            display_version=meta.version,
            status="Published",
            revision="",
            published_time=now,
            summary=meta.summary,
            home_page=meta.home_page,
            source_code_repository=meta.source_url,
            licenses=(meta.license,) if meta.license else (),
            requires_python=meta.requires_python,
            readme=meta.description,
            readme_content_type=meta.description_content_type,
            origin_repository=ref.repo,
            extra={"display_name": meta.name},
        )
        return version, Asset(name=dist.filename, blob=blob, created_at=now, metadata_sha256=metadata_sha256)
