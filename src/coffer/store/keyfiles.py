"""Key files (mode 0600): one JSON file per key. The token signing keys live in ``<data-dir>/keys``; the same
format holds the key-encryption keys of ``coffer.store.secrets``."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from coffer.atomic_files import PRIVATE_FILE_MODE, atomic_write, make_private_dir
from coffer.core.shared.signing import KeyRing, SigningKey

K = TypeVar("K")


def write_key_file(directory: Path, key_id: str, secret: bytes, created_at: float) -> Path:
    """One key as ``<directory>/<key_id>.json`` (0600, written atomically); the directory is made private."""
    make_private_dir(directory)
    body = {"key_id": key_id, "secret": base64.b64encode(secret).decode("ascii"), "created_at": created_at}
    path = directory / f"{key_id}.json"
    atomic_write(path, json.dumps(body).encode("utf-8"), mode=PRIVATE_FILE_MODE)
    return path


def read_key_files(directory: Path, make: Callable[[str, bytes, float], K], what: str) -> list[K]:
    """Every ``*.json`` key of ``directory`` (none if it is missing), built by ``make(key_id, secret, created_at)``,
    which may raise ValueError for a secret it cannot use. RuntimeError names an unreadable file (``what`` says
    which kind of key it holds)."""
    if not directory.is_dir():
        return []
    keys = []
    for path in sorted(directory.glob("*.json")):
        try:
            raw = json.loads(path.read_text("utf-8"))
            keys.append(make(str(raw["key_id"]), base64.b64decode(raw["secret"]), float(raw["created_at"])))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RuntimeError(f"{what} file {path} is unreadable: {exc}") from exc
    return keys


def rotation_time(existing: Iterable[float], now: float) -> float:
    """The creation time of a new key: now, but strictly after every existing one (the newest key is active)."""
    return max(now, max(existing, default=0.0) + 1e-3)


def write_key(directory: Path, key: SigningKey) -> Path:
    return write_key_file(directory, key.key_id, key.secret, key.created_at)


def read_keys(directory: Path) -> list[SigningKey]:
    return read_key_files(directory, SigningKey, "signing key")


def ensure_key(directory: Path, now: float) -> None:
    """Create the first signing key if there is none."""
    if not read_keys(directory):
        write_key(directory, SigningKey.generate(now))


def rotate(directory: Path, now: float) -> SigningKey:
    """Start a new signing key; older keys keep verifying the tokens they signed."""
    key = SigningKey.generate(rotation_time((k.created_at for k in read_keys(directory)), now))
    write_key(directory, key)
    return key


class KeyRingFiles:
    """The key ring from the files, reloaded at most once per ``interval`` seconds when the directory changed
    (so ``coffer admin rotate-keys`` takes effect in a running server within a second)."""

    def __init__(self, directory: Path, interval: float = 1.0) -> None:
        self._dir = directory
        self._interval = interval
        self._lock = threading.Lock()
        self._ring = KeyRing(read_keys(directory))
        self._stamp = self._dir_stamp()
        self._checked = time.monotonic()

    def _dir_stamp(self) -> tuple[int, int]:
        st = self._dir.stat()
        return st.st_mtime_ns, st.st_ino

    def __call__(self) -> KeyRing:
        now = time.monotonic()
        if now - self._checked >= self._interval:
            with self._lock:
                if now - self._checked >= self._interval:
                    self._checked = now
                    stamp = self._dir_stamp()
                    if stamp != self._stamp:
                        self._ring = KeyRing(read_keys(self._dir))
                        self._stamp = stamp
        return self._ring
