"""Token signing keys as files (mode 0600) in ``<data-dir>/keys``: one JSON file per key."""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path

from coffer.core.tokens import KeyRing, SigningKey
from coffer.store.files import PRIVATE_FILE_MODE, atomic_write, make_private_dir


def _key_path(directory: Path, key_id: str) -> Path:
    return directory / f"{key_id}.json"


def write_key(directory: Path, key: SigningKey) -> Path:
    make_private_dir(directory)
    body = {
        "key_id": key.key_id,
        "secret": base64.b64encode(key.secret).decode("ascii"),
        "created_at": key.created_at,
    }
    path = _key_path(directory, key.key_id)
    atomic_write(path, json.dumps(body).encode("utf-8"), mode=PRIVATE_FILE_MODE)
    return path


def read_keys(directory: Path) -> list[SigningKey]:
    keys = []
    for path in sorted(directory.glob("*.json")):
        try:
            raw = json.loads(path.read_text("utf-8"))
            keys.append(
                SigningKey(
                    key_id=str(raw["key_id"]),
                    secret=base64.b64decode(raw["secret"]),
                    created_at=float(raw["created_at"]),
                )
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RuntimeError(f"signing key file {path} is unreadable: {exc}") from exc
    return keys


def ensure_key(directory: Path, now: float) -> None:
    """Create the first signing key if there is none."""
    if not directory.exists() or not read_keys(directory):
        write_key(directory, SigningKey.generate(now))


def rotate(directory: Path, now: float) -> SigningKey:
    """Start a new signing key; older keys keep verifying the tokens they signed."""
    key = SigningKey.generate(max(now, max((k.created_at for k in read_keys(directory)), default=0) + 1e-3))
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
