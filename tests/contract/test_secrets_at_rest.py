"""Secret columns are sealed (AES-GCM) in the database: no raw row holds a usable secret, on either backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from coffer.core.identity.iam_models import AccessKey, Account
from coffer.store import schema
from coffer.store.secrets import (
    EncryptionKey,
    SecretCipher,
    SecretSealError,
    key_secret_context,
    rotate_encryption_key,
    write_encryption_key,
)
from coffer.store.sql_store import SqlStore, open_store

from .test_iam_store_contract import make_session
from .test_store_contract import OWNER, make_user

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture
def kek_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "kek"
    write_encryption_key(directory, EncryptionKey.generate(1.0))
    return directory


def _raw(store: SqlStore) -> list[str]:
    with store.engine.connect() as conn:
        keys = conn.execute(select(schema.access_keys.c.secret_access_key)).scalars().all()
        sessions = conn.execute(select(schema.sessions.c.secret_access_key, schema.sessions.c.session_token)).all()
    return [*keys, *(v for row in sessions for v in row)]


def test_secrets_are_sealed_in_the_rows_and_open_on_read(db_url: str, kek_dir: Path) -> None:
    store = open_store(db_url, SecretCipher.from_directory(kek_dir))
    try:
        store.create_account(Account(OWNER, 1.0))
        store.create_user(make_user("alice"))
        store.create_access_key(AccessKey("AKIA1", SECRET, OWNER, "alice", 2.0))
        session = make_session("ASIA1", secret_access_key=SECRET, session_token="tok-" + SECRET, role_name=None)
        store.create_session(session)
        raw = _raw(store)
        assert len(raw) == 3 and all(v.startswith("cfe1:") and SECRET not in v for v in raw)
        key = store.get_access_key("AKIA1")
        assert key is not None and key.secret_access_key == SECRET
        assert store.get_session("ASIA1") == session
    finally:
        store.close()
    # a store without the keys cannot read them
    stranger = kek_dir.parent / "other"
    write_encryption_key(stranger, EncryptionKey.generate(1.0))
    other = open_store(db_url, SecretCipher.from_directory(stranger))
    try:
        with pytest.raises(SecretSealError):
            other.get_access_key("AKIA1")
    finally:
        other.close()


def test_plaintext_rows_are_resealed_and_rotation_reseals_everything(db_url: str, kek_dir: Path) -> None:
    plain = open_store(db_url)  # as rows were written before secrets were sealed
    try:
        plain.create_account(Account(OWNER, 1.0))
        plain.create_user(make_user("alice"))
        plain.create_access_key(AccessKey("AKIA1", SECRET, OWNER, "alice", 2.0))
        plain.create_session(make_session("ASIA1", secret_access_key=SECRET))
        assert SECRET in _raw(plain)
    finally:
        plain.close()
    cipher = SecretCipher.from_directory(kek_dir)
    store = open_store(db_url, cipher)
    try:
        assert store.reseal_secrets() == 2
        assert store.reseal_secrets() == 0
        first = _raw(store)
        assert all(v.startswith(f"cfe1:{cipher.active_key_id}:") for v in first)
        new = rotate_encryption_key(kek_dir, 2.0)
        store.cipher_refresh()
        assert store.reseal_secrets() == 2
        assert all(v.startswith(f"cfe1:{new.key_id}:") for v in _raw(store))
        key = store.get_access_key("AKIA1")
        assert key is not None and key.secret_access_key == SECRET
        assert store.get_session("ASIA1") == make_session("ASIA1", secret_access_key=SECRET)
    finally:
        store.close()


def test_a_sealed_value_moved_to_another_row_does_not_open(kek_dir: Path) -> None:
    cipher = SecretCipher.from_directory(kek_dir)
    sealed = cipher.seal(SECRET, key_secret_context("AKIA1"))
    assert cipher.open(sealed, key_secret_context("AKIA1")) == SECRET
    with pytest.raises(SecretSealError):
        cipher.open(sealed, key_secret_context("AKIA2"))
    tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(SecretSealError):
        cipher.open(tampered, key_secret_context("AKIA1"))
