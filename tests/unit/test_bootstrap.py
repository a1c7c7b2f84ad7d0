"""What every start does to the data: sessions long past are removed, recent ones kept for their tokens."""

from __future__ import annotations

import time
from pathlib import Path

from coffer.bootstrap import open_data
from coffer.core.iam import Session
from coffer.settings import Settings


def _session(key: str, expires_at: float) -> Session:
    return Session(
        access_key_id=key,
        secret_access_key="s" * 40,
        session_token="t" * 64,
        account_id="111122223333",
        expires_at=expires_at,
        issued_at=expires_at - 900,
        role_name=None,
        session_name="admin",
        user_name="admin",
    )


def test_start_removes_only_sessions_no_token_can_outlive(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", account_id="111122223333")
    boot = open_data(settings)
    now = time.time()
    boot.store.create_session(_session("ASIAOLD0000000000000", now - 43200 - 60))
    boot.store.create_session(_session("ASIARECENT0000000000", now - 60))
    boot.store.close()
    boot = open_data(settings)
    try:
        assert boot.store.get_session("ASIAOLD0000000000000") is None
        assert boot.store.get_session("ASIARECENT0000000000") is not None
    finally:
        boot.store.close()
