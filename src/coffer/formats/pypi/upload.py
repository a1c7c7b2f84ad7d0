"""The legacy upload API twine speaks: ``POST`` multipart/form-data with ``:action=file_upload`` to the repository
endpoint URL itself.

Starlette's multipart parser spools the file to a temporary file on disk (memory stays flat however large the
upload), an unlinked one, so a killed server leaves nothing behind. The file's metadata is read and checked
against the form and the file name, the bytes are streamed into the blob store (content-addressed, written
atomically) and only then one transaction (``PackageService.publish``) makes the file visible.

Errors are 4xx with the message both as the HTTP reason phrase (what twine prints, as Warehouse does; see
``coffer.formats.reason``) and as a ``text/plain`` body.
"""

from __future__ import annotations

import hashlib
import hmac
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response

from coffer.core.codeartifact.packages import PackageService
from coffer.core.errors import AccessDeniedError, CofferError, ConflictError
from coffer.core.identity import Caller
from coffer.core.packages import Asset, PackageRef, PackageVersion, RepoRef
from coffer.core.ports import Clock
from coffer.core.pypi import (
    DistFilename,
    DistributionError,
    check_consistent,
    normalize_version,
    parse_filename,
    read_core_metadata,
)
from coffer.formats.reason import ReasonResponse

MAX_UPLOAD_BYTES = 5 * 1024**3  # CodeArtifact's asset size quota
MAX_FIELD_BYTES = 4 * 1024 * 1024  # one non-file form field (a long description)
CHUNK = 1024 * 1024
_DIGESTS = {"md5_digest": "md5", "sha256_digest": "sha256", "blake2_256_digest": "blake2_256"}


def upload_error(status: int, message: str) -> Response:
    """A refused upload: the message is the reason phrase and the body."""
    return ReasonResponse(message, status, headers={"Cache-Control": "no-store"})


class UploadRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class _Form:
    name: str
    version: str
    content: UploadFile
    digests: dict[str, str]


def _field(form: FormData, key: str) -> str:
    value = form.get(key)
    return value.strip() if isinstance(value, str) else ""


def _read_form(form: FormData) -> _Form:
    action = _field(form, ":action")
    if action != "file_upload":
        raise UploadRefused(400, f"Invalid request: unsupported :action {action!r}; only file_upload is supported")
    protocol = _field(form, "protocol_version") or "1"
    if protocol != "1":
        raise UploadRefused(400, f"Unknown protocol version {protocol!r}")
    content = form.get("content")
    if not isinstance(content, UploadFile):
        raise UploadRefused(400, "Invalid request: upload has no 'content' file")
    name, version = _field(form, "name"), _field(form, "version")
    if not name or not version:
        raise UploadRefused(400, "Invalid request: 'name' and 'version' are required")
    digests = {algo: _field(form, key).lower() for key, algo in _DIGESTS.items() if _field(form, key)}
    if "md5" not in digests and "sha256" not in digests and "blake2_256" not in digests:
        raise UploadRefused(400, "Include at least one message digest (md5_digest, sha256_digest or blake2_256_digest)")
    return _Form(name, version, content, digests)


class _BackgroundHash:
    """BLAKE2b-256 computed on another thread while the blob store hashes and writes (hashlib releases the GIL,
    so the extra digest costs no wall time on large uploads)."""

    def __init__(self) -> None:
        self._hash = hashlib.blake2b(digest_size=32)
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
        self._thread = threading.Thread(target=self._run, name="upload-blake2", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            self._hash.update(chunk)

    def update(self, chunk: bytes) -> None:
        self._queue.put(chunk)

    def hexdigest(self) -> str:
        self._queue.put(None)
        self._thread.join()
        return self._hash.hexdigest()


class Uploader:
    def __init__(self, packages: PackageService, clock: Clock) -> None:
        self._packages = packages
        self._clock = clock

    async def __call__(self, request: Request, repo: RepoRef, caller: Caller) -> Response:
        content_type = request.headers.get("content-type", "")
        if not content_type.lower().startswith("multipart/form-data"):
            return upload_error(400, "Invalid request: expected multipart/form-data (the legacy upload API)")
        try:
            declared = int(request.headers.get("content-length", "0"))
        except ValueError:
            declared = 0
        if declared > MAX_UPLOAD_BYTES + MAX_FIELD_BYTES:
            return upload_error(413, f"File too large: the limit is {MAX_UPLOAD_BYTES} bytes")
        try:
            async with request.form(max_files=3, max_fields=200, max_part_size=MAX_FIELD_BYTES) as form:
                parsed = _read_form(form)
                return await self._upload(repo, caller, parsed)
        except HTTPException as exc:  # malformed multipart body
            return upload_error(400, f"Invalid request: {exc.detail}")
        except MultiPartException as exc:
            return upload_error(400, f"Invalid request: {exc.message}")
        except ClientDisconnect:
            return upload_error(400, "Invalid request: the client disconnected during the upload")
        except UploadRefused as exc:
            return upload_error(exc.status, exc.message)

    async def _upload(self, repo: RepoRef, caller: Caller, form: _Form) -> Response:
        try:
            dist = parse_filename(form.content.filename or "")
        except DistributionError as exc:
            return upload_error(400, str(exc))
        if (form.content.size or 0) > MAX_UPLOAD_BYTES:
            return upload_error(413, f"File too large: the limit is {MAX_UPLOAD_BYTES} bytes")
        ref = PackageRef(repo=repo, format="pypi", namespace=None, name=dist.name)
        try:
            await run_in_threadpool(self._packages.authorize_publish, caller, ref)
            version, asset = await run_in_threadpool(self._ingest, ref, dist, form)
            await run_in_threadpool(self._packages.publish, caller, version, asset)
        except DistributionError as exc:
            return upload_error(400, str(exc))
        except ConflictError as exc:
            if exc.resource_type in (None, "asset"):
                return upload_error(
                    400,
                    f"File already exists ('{dist.filename}'). "
                    "A file name can be uploaded once per version; upload a new version instead.",
                )
            return upload_error(400, exc.message)
        except AccessDeniedError as exc:
            return upload_error(403, exc.message)
        except CofferError as exc:
            return upload_error(exc.status if 400 <= exc.status < 600 else 500, exc.message)
        return PlainTextResponse("OK\n")

    def _ingest(self, ref: PackageRef, dist: DistFilename, form: _Form) -> tuple[PackageVersion, Asset]:
        """Check the file against its metadata, the form and the digests, then store it (and its METADATA)."""
        file: IO[bytes] = form.content.file
        meta = read_core_metadata(file, dist)
        check_consistent(dist, meta, form.name, form.version)
        file.seek(0)
        blake = _BackgroundHash() if "blake2_256" in form.digests else None

        def chunks() -> Iterator[bytes]:
            while chunk := file.read(CHUNK):
                if blake is not None:
                    blake.update(chunk)
                yield chunk

        try:
            blob = self._packages.store_blob(chunks())
        finally:
            blake_digest = blake.hexdigest() if blake is not None else ""
        actual = {"md5": blob.md5, "sha256": blob.sha256, "blake2_256": blake_digest}
        for algo, supplied in form.digests.items():
            if not hmac.compare_digest(supplied, actual[algo]):
                raise UploadRefused(
                    400, f"The digest supplied does not match a digest calculated from the uploaded file ({algo})."
                )
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
