"""Secrets at rest: access-key secrets and STS session secrets are sealed with AES-256-GCM before they reach
the database, so a copy of ``coffer.db`` or a PostgreSQL dump holds no usable credential.

Sealed values are text::

    cfe1:<key id>:<base64url(12-byte nonce || ciphertext || 16-byte tag)>

The associated data is the row and column the value belongs to (e.g. ``access_keys/AKIA.../secret``), so a
sealed value moved to another row does not open. The key-encryption keys (KEKs) live as files next to the
token signing keys (``<data-dir>/keys/kek/<id>.json``, mode 0600); the newest seals, every one opens, and
``coffer admin rotate-keys`` adds a new one and re-seals every row with it. A server that meets a value sealed
by a key it has not loaded yet (another process rotated) re-reads the key directory once.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from coffer.store import keyfiles

PREFIX: Final = "cfe1:"
_NONCE_BYTES: Final = 12
_RELOAD_INTERVAL: Final = 1.0


class SecretSealError(RuntimeError):
    """A sealed value cannot be opened: unknown key, wrong row, or tampered bytes."""


@dataclass(frozen=True)
class EncryptionKey:
    key_id: str
    secret: bytes  # 32 bytes: AES-256
    created_at: float

    @staticmethod
    def generate(created_at: float) -> EncryptionKey:
        return EncryptionKey(secrets.token_hex(4), AESGCM.generate_key(bit_length=256), created_at)


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- key files --------------------------------------------------------------------------------------------


def _encryption_key(key_id: str, secret: bytes, created_at: float) -> EncryptionKey:
    if len(secret) != 32:
        raise ValueError("not a 256-bit key")
    return EncryptionKey(key_id, secret, created_at)


def write_encryption_key(directory: Path, key: EncryptionKey) -> Path:
    return keyfiles.write_key_file(directory, key.key_id, key.secret, key.created_at)


def read_encryption_keys(directory: Path) -> list[EncryptionKey]:
    return keyfiles.read_key_files(directory, _encryption_key, "encryption key")


def ensure_encryption_key(directory: Path, now: float) -> None:
    """Create the first key-encryption key if there is none."""
    if not read_encryption_keys(directory):
        write_encryption_key(directory, EncryptionKey.generate(now))


def rotate_encryption_key(directory: Path, now: float) -> EncryptionKey:
    """A new key-encryption key, newer than every existing one (it seals from now on)."""
    key = EncryptionKey.generate(keyfiles.rotation_time((k.created_at for k in read_encryption_keys(directory)), now))
    write_encryption_key(directory, key)
    return key


# --- the cipher ---------------------------------------------------------------------------------------------


class SecretCipher:
    """Seals and opens secret columns with the key-encryption keys of ``directory``."""

    def __init__(self, keys: list[EncryptionKey], directory: Path | None = None) -> None:
        self._dir = directory
        self._lock = threading.Lock()
        self._checked = float("-inf")  # the first unknown key id re-reads the directory at once
        self._set(keys)

    @staticmethod
    def from_directory(directory: Path) -> SecretCipher:
        return SecretCipher(read_encryption_keys(directory), directory)

    def _set(self, keys: list[EncryptionKey]) -> None:
        if not keys:
            raise ValueError("a secret cipher needs at least one key-encryption key")
        self._keys = {k.key_id: AESGCM(k.secret) for k in keys}
        self._active_id = max(keys, key=lambda k: (k.created_at, k.key_id)).key_id

    @property
    def active_key_id(self) -> str:
        return self._active_id

    def seal(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._keys[self._active_id].encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
        return f"{PREFIX}{self._active_id}:{_b64e(nonce + sealed)}"

    def open(self, stored: str, context: str) -> str:
        """The plaintext of a sealed value. A value without the prefix was written before secrets were sealed
        (it is returned as it is; start-up re-seals such rows)."""
        if not stored.startswith(PREFIX):
            return stored
        key_id, sep, body = stored[len(PREFIX) :].partition(":")
        if not sep:
            raise SecretSealError("malformed sealed value")
        aead = self._keys.get(key_id) or self._reload(key_id)
        if aead is None:
            raise SecretSealError(f"sealed by key-encryption key {key_id}, which this server does not have")
        try:
            raw = _b64d(body)
            return aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode("utf-8")).decode("utf-8")
        except (binascii.Error, ValueError, InvalidTag) as exc:
            raise SecretSealError("sealed value does not open (tampered, or moved from another row)") from exc

    @property
    def current_prefix(self) -> str:
        """How every value sealed with the active key starts (a value without it is re-sealed at start-up)."""
        return f"{PREFIX}{self._active_id}:"

    def _reload(self, key_id: str) -> AESGCM | None:
        """Another process may have rotated: re-read the directory (at most once a second)."""
        if self._dir is None:
            return None
        with self._lock:
            if key_id not in self._keys and time.monotonic() - self._checked >= _RELOAD_INTERVAL:
                self._checked = time.monotonic()
                self._set(read_encryption_keys(self._dir))
            return self._keys.get(key_id)

    def refresh(self) -> None:
        """Re-read the key directory now (after a rotation in this process)."""
        if self._dir is not None:
            with self._lock:
                self._set(read_encryption_keys(self._dir))
                self._checked = time.monotonic()


# --- the rows secrets belong to (the associated data of each sealed column) ------------------------------


def key_secret_context(access_key_id: str) -> str:
    return f"access_keys/{access_key_id}/secret_access_key"


def session_secret_context(access_key_id: str) -> str:
    return f"sessions/{access_key_id}/secret_access_key"


def session_token_context(access_key_id: str) -> str:
    return f"sessions/{access_key_id}/session_token"
