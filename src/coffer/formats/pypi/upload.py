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
   (403), before any of its bytes is kept. Its bytes then go, in blocks of about a MiB through a bounded queue,
   to one writer thread while the event loop receives the next ones (memory stays flat however large the
   upload). The thread writes them into a pending blob (``PackageService.begin_blob``: a locked temporary file in
   the blob store, invisible until kept), which hashes them on the way: MD5, SHA-1, SHA-256 and SHA-512 as for
   every blob, and BLAKE2b-256 when the form names ``blake2_256_digest`` (or names no digest before the file). The
   file is written once and hashed in one pass; at the end of the part it is flushed to disk, still invisible.
4. Once the whole body is in: the supplied digests are compared (400 on a mismatch; a BLAKE2b-256 digest named
   only after the file, when others came before it, costs one more read of the file), then the file's metadata
   is read back from the pending blob and checked against the form and the file name (400). Only then is the
   blob kept, which makes it visible under its content address. Any refusal before discards it, and the end of
   the request discards whatever was not kept: a refused upload leaves nothing in the blob store (a killed
   server leaves an unlocked temporary file, which the next sweep removes).
   Last, one transaction (``PackageService.publish``) makes the file visible in the repository.

The file size limit is CodeArtifact's asset quota, 5 GiB; ``COFFER_MAX_UPLOAD_BYTES`` (``Settings.max_upload_bytes``,
passed to the endpoint when it is built) lowers or raises it. Errors are 4xx with the message both as the HTTP
reason phrase (what twine prints, as Warehouse does; see ``coffer.formats.reason``) and as a ``text/plain`` body.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response

from coffer.core.identity.callers import Caller
from coffer.core.packages.package_models import Asset, BlobInfo, PackageRef, PackageVersion, RepoRef
from coffer.core.packages.package_service import PackageService
from coffer.core.packages.package_store import PendingBlob
from coffer.core.packages.pypi_dists import (
    DistFilename,
    DistributionError,
    check_consistent,
    parse_filename,
    read_core_metadata,
)
from coffer.core.packages.pypi_versions import pypi_version
from coffer.core.shared.clock import Clock
from coffer.core.shared.errors import CofferError, ConflictError
from coffer.formats.multipart import MAX_FIELDS_BYTES, FilePart, FormError, FormLimits, boundary_of, read_form
from coffer.formats.responses import refusal, to_response

#: what a body may hold beyond its file: every field and part header (capped on their own), multipart framing,
#: a gpg_signature file (dropped)
BODY_ALLOWANCE = MAX_FIELDS_BYTES + 1024 * 1024
CHUNK = 1024 * 1024
FEED_QUEUE_BLOCKS = 4  # blocks of about CHUNK bytes queued between the event loop and the writer thread
_DIGESTS = {"md5_digest": "md5", "sha256_digest": "sha256", "blake2_256_digest": "blake2_256"}
_BLAKE2 = "blake2b_256"  # the blob store's name for that extra hash (``BlobStore.begin``)
_KEPT_FIELDS = frozenset({":action", "protocol_version", "name", "version", *_DIGESTS})
T = TypeVar("T")


class UploadRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _no_space(exc: BaseException) -> UploadRefused | None:
    """The refusal for a disk that is full (507), or None for another error."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return UploadRefused(507, "The server has no space left to store the upload")
    return None


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
            no_space = _no_space(self._error)
            if no_space is not None:
                raise no_space from self._error
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
    """The uploaded file as it arrives, written once: a ``_Feeder`` thread writes its blocks into ``blob``, a
    pending blob of the blob store (``PackageService.begin_blob``), which hashes them in the same pass. ``close()``
    (the file part is complete) waits for the writer: the bytes are then on disk and their digests known, but the
    blob is not visible. ``blob.keep()`` (once the checks passed) makes it visible under its content address;
    ``discard()`` (always called, at the end of the request) stops the writer and drops the blob if not kept."""

    def __init__(self, packages: PackageService, extra_hashes: tuple[str, ...]) -> None:
        self.blob: PendingBlob = packages.begin_blob(extra_hashes)
        self._info: BlobInfo | None = None
        try:
            self._writer = _Feeder("upload-writer", self._write)
        except BaseException:
            self.blob.discard()
            raise

    def _write(self, blocks: Iterator[bytes]) -> BlobInfo:
        write = self.blob.write
        for block in blocks:
            write(block)
        return self.blob.finish()

    async def write(self, data: bytes) -> None:
        await self._writer.put(data)

    async def close(self) -> None:
        await run_in_threadpool(self.finished)

    def finished(self) -> BlobInfo:
        """The file's size and digests once the writer is done (worker thread)."""
        if self._info is None:
            self._info = self._writer.finish()
        return self._info

    def digest(self, algorithm: str) -> str:
        """The file's hex digest by the form's name for it (worker thread). BLAKE2b-256 was computed with the
        others unless the form named it only after the file (and others before): then it is computed now."""
        info = self.finished()
        if algorithm == "md5":
            return info.md5
        if algorithm == "sha256":
            return info.sha256
        computed = self.blob.extra_digests.get(_BLAKE2)
        if computed is None:
            blake2 = hashlib.blake2b(digest_size=32)
            with self.blob.open() as file:
                while chunk := file.read(CHUNK):
                    blake2.update(chunk)
            computed = blake2.hexdigest()
        return computed

    async def discard(self) -> None:
        """Drop the pending blob, if not kept. The writer stops at once (its queue is emptied; a block being
        written is finished): waiting for it costs milliseconds, and no temporary file outlives the request."""
        self._writer.abort()
        await run_in_threadpool(self._stopped)

    def _stopped(self) -> None:
        self._writer.join()
        self.blob.discard()


@dataclass(frozen=True)
class _Form:
    name: str
    version: str
    dist: DistFilename
    content: _Spool
    digests: dict[str, str]


class _UploadForm:
    """What the streaming form reader tells us: the fields the upload uses, and the ``content`` file."""

    def __init__(self, packages: PackageService, repo: RepoRef, caller: Caller) -> None:
        self._packages = packages
        self._repo = repo
        self._caller = caller
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
        await run_in_threadpool(self._packages.authorize_publish, self._caller, ref)  # CofferError: refused
        # Twine sends the digests before the file. MD5 and SHA-256 the blob store computes anyway; BLAKE2b-256 only
        # if named, or if no digest came yet (they may all come after the file).
        named = {algo for key, algo in _DIGESTS.items() if self._field(key)}
        extra_hashes = (_BLAKE2,) if not named or "blake2_256" in named else ()
        self.dist = dist
        try:
            self.spool = await run_in_threadpool(_Spool, self._packages, extra_hashes)
        except OSError as exc:
            no_space = _no_space(exc)
            if no_space is None:
                raise
            raise no_space from exc
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
        max_file_bytes: int,
    ) -> None:
        """``max_file_bytes``: the file size limit (``Settings.max_upload_bytes``). Uploads in flight are written
        into the blob store's temporary files (``PackageService.begin_blob``)."""
        self._packages = packages
        self._clock = clock
        max_file = max_file_bytes
        self._limits = FormLimits(
            max_body_bytes=max_file + BODY_ALLOWANCE,
            max_file_bytes=max_file,
            file_fields=frozenset({"content"}),
        )

    async def __call__(self, request: Request, repo: RepoRef, caller: Caller) -> Response:
        # Before the body: may this caller publish here at all? (The package is not known yet.)
        try:
            await run_in_threadpool(self._packages.authorize_publish_to_repository, caller, repo, "pypi")
        except CofferError as exc:
            return to_response(exc, repo, phrase=True, close=True)
        boundary = boundary_of(request.headers.get("content-type", ""))
        if boundary is None:
            return refusal(
                400, "Invalid request: expected multipart/form-data with a boundary (the legacy upload API)", close=True
            )
        declared = request.headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self._limits.max_body_bytes:
            return refusal(413, f"Request body too large: the limit is {self._limits.max_body_bytes} bytes", close=True)
        form = _UploadForm(self._packages, repo, caller)
        try:
            try:
                await read_form(request.stream(), boundary, self._limits, form)
            except (FormError, UploadRefused) as exc:
                return refusal(exc.status, exc.message, close=True)
            except CofferError as exc:
                return to_response(exc, repo, phrase=True, close=True)
            except ClientDisconnect:
                return refusal(400, "Invalid request: the client disconnected during the upload", close=True)
            try:
                return await self._upload(repo, caller, form.result())
            except UploadRefused as exc:
                return refusal(exc.status, exc.message)
        finally:
            if form.spool is not None:
                await form.spool.discard()

    async def _upload(self, repo: RepoRef, caller: Caller, form: _Form) -> Response:
        ref = PackageRef(repo=repo, format="pypi", namespace=None, name=form.dist.name)
        try:
            version, asset = await run_in_threadpool(self._ingest, ref, form)
            await run_in_threadpool(self._packages.publish, caller, version, asset)
        except DistributionError as exc:
            return refusal(400, str(exc))
        except ConflictError as exc:
            if exc.resource_type in (None, "asset"):
                return refusal(
                    400,
                    f"File already exists ('{form.dist.filename}'). "
                    "A file name can be uploaded once per version; upload a new version instead.",
                )
            # a version that cannot take the file (its status, an upstream holding it) is a 409, as in the API
            return refusal(409 if exc.resource_type == "package-version" else 400, exc.message)
        except CofferError as exc:
            return to_response(exc, repo, phrase=True)
        except OSError as exc:
            no_space = _no_space(exc)
            if no_space is None:
                raise
            return refusal(no_space.status, no_space.message)
        return PlainTextResponse("OK\n")

    def _ingest(self, ref: PackageRef, form: _Form) -> tuple[PackageVersion, Asset]:
        """Check the pending blob against the digests, then its metadata against the form and its name; only then
        keep it (and store its METADATA) in the blob store."""
        spool, dist = form.content, form.dist
        for algo, supplied in form.digests.items():
            if not hmac.compare_digest(supplied, spool.digest(algo)):
                raise UploadRefused(
                    400, f"The digest supplied does not match a digest calculated from the uploaded file ({algo})."
                )
        with spool.blob.open() as file:
            meta = read_core_metadata(file, dist)
        check_consistent(dist, meta, form.name, form.version)
        blob = spool.blob.keep()
        metadata_sha256 = self._packages.store_bytes(meta.raw).sha256 if dist.kind == "wheel" else None
        now = self._clock()
        version = pypi_version(ref, meta, when=now, origin_repository=ref.repo)
        return version, Asset(name=dist.filename, blob=blob, created_at=now, metadata_sha256=metadata_sha256)
