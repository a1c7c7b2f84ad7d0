"""``FileBlobStore``: core's ``BlobStore`` port on a local directory, content-addressed by SHA-256.

Layout under ``root``::

    sha256/ab/cd/abcd…  one file per blob (mode 0600), named by its SHA-256 (64 lowercase hex digits)
    tmp/                 writes in progress (``*.part``) and blobs being collected (``*.gc``)

A write streams into a temporary file in ``tmp/`` (same filesystem), hashing every chunk with MD5, SHA-1,
SHA-256 and SHA-512 in one pass, fsyncs it, and ``os.replace``s it to its content address (then fsyncs the
directory). Readers therefore see a blob either complete or not at all. A blob that already exists is replaced
by the new copy (same content by definition): its mtime is then fresh, which is what garbage collection's grace
period counts from. Memory use does not depend on the blob's size. Every directory is 0700, every file 0600.

Temporary files and other processes: the writer holds an exclusive ``flock`` on its ``.part`` for the whole
write, rename included. ``sweep`` (run by every command that opens the data directory, and by the server's
collector) removes a ``.part`` only when it can take that lock without waiting *and* the file is older than
``SWEEP_MIN_AGE`` (which covers the instant between the file's creation and its lock). A live writer in any
process is therefore never disturbed; a crashed one's lock is gone with it.

Garbage collection (``remove_if_older``, driven by ``coffer.store.gc``): a blob no asset references is renamed
into ``tmp/`` and deleted there only if the renamed file is still older than the cutoff; a writer that stored the
same bytes just before the rename made it fresh, and it is put back. A writer after the rename stores a new copy.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import re
import secrets
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from coffer.core.packages import BlobInfo
from coffer.store.files import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, fsync_dir, make_private_dir, tighten_mode

_SHA256: Final = re.compile(r"[0-9a-f]{64}")
_SHARD: Final = re.compile(r"[0-9a-f]{2}")
_TMP_SUFFIX: Final = ".part"
_GC_SUFFIX: Final = ".gc"

SWEEP_MIN_AGE: Final = 60.0
"""Seconds a temporary file must be unmodified before ``sweep`` may remove it (and only if no writer locks it)."""


def _check_sha256(sha256: str) -> str:
    """``sha256`` if it is 64 lowercase hex digits (so it can never name a path outside the store)."""
    if not isinstance(sha256, str) or _SHA256.fullmatch(sha256) is None:
        raise ValueError(f"Not a SHA-256 hex digest: {sha256!r}")
    return sha256


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    mtime: float


class FileBlobStore:
    """Implements ``coffer.core.ports.BlobStore`` on the directory ``root`` (created if missing, unless
    ``read_only``: then nothing is created, written or removed)."""

    def __init__(self, root: Path, *, read_only: bool = False) -> None:
        self._root = Path(root)
        self._blobs = self._root / "sha256"
        self._tmp = self._root / "tmp"
        self._read_only = read_only
        if not read_only:
            for directory in (self._root, self._blobs, self._tmp):
                make_private_dir(directory)
                tighten_mode(directory, PRIVATE_DIR_MODE)  # made by an older Coffer under a lax umask

    @property
    def root(self) -> Path:
        return self._root

    @property
    def read_only(self) -> bool:
        return self._read_only

    def _blob_path(self, sha256: str) -> Path:
        _check_sha256(sha256)
        return self._blobs / sha256[:2] / sha256[2:4] / sha256

    def _refuse_if_read_only(self) -> None:
        if self._read_only:
            raise OSError(errno.EROFS, "the blob store is open read-only", str(self._root))

    def write(self, chunks: Iterable[bytes]) -> BlobInfo:
        """Stream ``chunks`` into the store. If iterating ``chunks`` (or writing) fails, the exception
        propagates and nothing is left behind."""
        self._refuse_if_read_only()
        md5 = hashlib.md5(usedforsecurity=False)
        sha1 = hashlib.sha1(usedforsecurity=False)
        sha256 = hashlib.sha256()
        sha512 = hashlib.sha512()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, suffix=_TMP_SUFFIX)
        tmp = Path(tmp_name)
        try:
            # held until the file is closed, after it has been renamed away: sweeps in any process leave it be
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.fchmod(fd, PRIVATE_FILE_MODE)
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
                # Also when the blob exists: the fresh copy restarts its garbage-collection grace period, so a
                # publish between this write and its commit never loses the blob to a collector.
                make_private_dir(final.parent)
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

    # --- temporary files -----------------------------------------------------------------------------------

    def sweep(self, min_age: float = SWEEP_MIN_AGE) -> int:
        """Remove the ``.part`` files no live writer holds (see the module doc) that are older than ``min_age``
        seconds; returns how many. Safe while other processes write."""
        if self._read_only:
            return 0
        removed = 0
        cutoff = time.time() - min_age
        try:
            entries = list(self._tmp.iterdir())
        except FileNotFoundError:
            return 0
        for entry in entries:
            if entry.name.endswith(_TMP_SUFFIX) and _remove_unlocked(entry, cutoff):
                removed += 1
        return removed

    # --- garbage collection (coffer.store.gc) -----------------------------------------------------------------

    def shards(self) -> list[str]:
        """The first-level directories of the blob tree (``00`` to ``ff``, those that exist), in order."""
        try:
            return sorted(e.name for e in os.scandir(self._blobs) if _SHARD.fullmatch(e.name) and e.is_dir())
        except FileNotFoundError:
            return []

    def scan(self, shard: str) -> Iterator[StoredBlob]:
        """The blobs under one first-level directory (files not named as blobs are ignored)."""
        if _SHARD.fullmatch(shard) is None:
            raise ValueError(f"Not a shard name: {shard!r}")
        top = self._blobs / shard
        try:
            subdirs = sorted(e.path for e in os.scandir(top) if _SHARD.fullmatch(e.name) and e.is_dir())
        except FileNotFoundError:
            return
        for sub in subdirs:
            prefix = shard + os.path.basename(sub)
            try:
                entries = list(os.scandir(sub))
            except FileNotFoundError:
                continue
            for entry in sorted(entries, key=lambda e: e.name):
                if _SHA256.fullmatch(entry.name) is None or not entry.name.startswith(prefix):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                yield StoredBlob(entry.name, st.st_size, st.st_mtime)

    def remove_if_older(self, sha256: str, cutoff: float) -> int | None:
        """Delete the blob if its file was last modified before ``cutoff`` (a Unix time): its size, or None if it
        was kept (fresh, a writer just stored it again) or absent. The caller has checked that nothing uses it."""
        self._refuse_if_read_only()
        path = self._blob_path(sha256)
        doomed = self._tmp / f"{sha256}.{secrets.token_hex(4)}{_GC_SUFFIX}"
        try:
            os.rename(path, doomed)
        except FileNotFoundError:
            return None
        try:
            st = os.stat(doomed)
        except FileNotFoundError:
            return None
        if st.st_mtime >= cutoff:
            # a writer stored these bytes between our check and the rename: put them back (if a newer copy is
            # there by now, this replaces it with the same bytes)
            os.replace(doomed, path)
            return None
        with contextlib.suppress(FileNotFoundError):
            doomed.unlink()
        return st.st_size

    def sweep_collected(self, cutoff: float) -> int:
        """Remove what an interrupted collection left in ``tmp/`` (``*.gc`` older than ``cutoff``)."""
        if self._read_only:
            return 0
        removed = 0
        try:
            entries = list(self._tmp.iterdir())
        except FileNotFoundError:
            return 0
        for entry in entries:
            if entry.name.endswith(_GC_SUFFIX) and _remove_unlocked(entry, cutoff):
                removed += 1
        return removed


def _remove_unlocked(path: Path, cutoff: float) -> bool:
    """Delete ``path`` if nobody holds its lock and it was last modified before ``cutoff``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return False
    except OSError:  # a symlink or something else odd: not ours to judge, but not a blob either
        with contextlib.suppress(FileNotFoundError):
            if path.is_symlink():
                path.unlink()
                return True
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a live writer
        if os.fstat(fd).st_mtime >= cutoff:
            return False
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        return True
    finally:
        os.close(fd)
