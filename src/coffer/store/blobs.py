"""``FileBlobStore``: core's ``BlobStore`` port on a local directory, content-addressed by SHA-256.

Layout under ``root``::

    sha256/ab/cd/abcd…  one file per blob (mode 0600), named by its SHA-256 (64 lowercase hex digits)
    tmp/                 writes in progress (``*.part``); leftovers of a crash are removed by ``sweep``

A write streams into a temporary file in ``tmp/`` (same filesystem), hashing every chunk with MD5, SHA-1,
SHA-256 and SHA-512 in one pass, fsyncs it, and ``os.replace``s it to its content address (then fsyncs the
directory). Readers therefore see a blob either complete or not at all. A blob that already exists is kept
and the temporary file dropped (same content by definition). Memory use does not depend on the blob's size.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO, Final

from coffer.core.packages import BlobInfo
from coffer.store.files import fsync_dir

_SHA256: Final = re.compile(r"[0-9a-f]{64}")
_TMP_SUFFIX: Final = ".part"
_DIR_MODE: Final = 0o700
_FILE_MODE: Final = 0o600


def _check_sha256(sha256: str) -> str:
    """``sha256`` if it is 64 lowercase hex digits (so it can never name a path outside the store)."""
    if not isinstance(sha256, str) or _SHA256.fullmatch(sha256) is None:
        raise ValueError(f"Not a SHA-256 hex digest: {sha256!r}")
    return sha256


class FileBlobStore:
    """Implements ``coffer.core.ports.BlobStore`` on the directory ``root`` (created if missing)."""

    def __init__(self, root: Path) -> None:
        self._root = Path(root)
        self._blobs = self._root / "sha256"
        self._tmp = self._root / "tmp"
        for directory in (self._root, self._blobs, self._tmp):
            directory.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)

    @property
    def root(self) -> Path:
        return self._root

    def _blob_path(self, sha256: str) -> Path:
        _check_sha256(sha256)
        return self._blobs / sha256[:2] / sha256[2:4] / sha256

    def write(self, chunks: Iterable[bytes]) -> BlobInfo:
        """Stream ``chunks`` into the store. If iterating ``chunks`` (or writing) fails, the exception
        propagates and nothing is left behind."""
        md5 = hashlib.md5(usedforsecurity=False)
        sha1 = hashlib.sha1(usedforsecurity=False)
        sha256 = hashlib.sha256()
        sha512 = hashlib.sha512()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, suffix=_TMP_SUFFIX)
        tmp = Path(tmp_name)
        try:
            os.fchmod(fd, _FILE_MODE)
            with os.fdopen(fd, "wb", buffering=0) as fh:
                for chunk in chunks:
                    if not chunk:
                        continue
                    view = memoryview(chunk)
                    md5.update(view)
                    sha1.update(view)
                    sha256.update(view)
                    sha512.update(view)
                    size += len(view)
                    while view:  # unbuffered: write may be partial
                        written = fh.write(view)
                        view = view[written or 0 :]
                os.fsync(fh.fileno())
            digest = sha256.hexdigest()
            final = self._blob_path(digest)
            if final.exists():
                tmp.unlink()
            else:
                final.parent.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
                os.replace(tmp, final)
                fsync_dir(final.parent)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        return BlobInfo(sha256=digest, size=size, md5=md5.hexdigest(), sha1=sha1.hexdigest(), sha512=sha512.hexdigest())

    def write_bytes(self, data: bytes) -> BlobInfo:
        return self.write((data,))

    def open(self, sha256: str) -> BinaryIO:
        """The blob opened for binary reading; ``FileNotFoundError`` if absent, ``ValueError`` for a malformed
        digest."""
        return self._blob_path(sha256).open("rb")

    def path(self, sha256: str) -> str | None:
        """The blob's file path, or None if it is absent."""
        path = self._blob_path(sha256)
        return str(path) if path.is_file() else None

    def exists(self, sha256: str) -> bool:
        return self._blob_path(sha256).is_file()

    def sweep(self) -> int:
        """Delete every file in ``tmp/`` (meant for start-up: a write in progress would lose its file and fail)."""
        removed = 0
        for entry in self._tmp.iterdir():
            if entry.is_file() or entry.is_symlink():
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
                    removed += 1
        return removed
