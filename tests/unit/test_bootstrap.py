"""What every start does to the data: sessions long past are removed, recent ones kept for their tokens; modes;
what an unwritable data directory gets; only a start that may create (``coffer serve``) makes a new instance;
removing a deleted user's profiles from the credentials file."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from coffer.app import bootstrap
from coffer.app.bootstrap import BootstrapError, NoDataError, open_data, remove_credentials_profiles
from coffer.core.identity.iam_models import Account, Session
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
    boot = open_data(settings, create=True)
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


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.lstat().st_mode) for p in sorted(root.rglob("*"))}


def test_everything_created_is_private_whatever_the_umask(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir(mode=0o755)
    root.chmod(0o755)
    warnings: list[str] = []
    old = os.umask(0)
    try:
        boot = open_data(Settings(data_dir=root, account_id="111122223333"), create=True, warn=warnings.append)
        boot.blobs.write_bytes(b"a blob")
        boot.store.close()
    finally:
        os.umask(old)
    modes = _modes(root)
    assert {"coffer.db", "credentials", "keys", "blobs", "blobs/tmp"} <= set(modes)
    wrong = {name: oct(m) for name, m in modes.items() if m != (0o700 if (root / name).is_dir() else 0o600)}
    assert wrong == {}
    assert stat.S_IMODE(root.stat().st_mode) == 0o755  # the user's directory is theirs: told, not changed
    assert len(warnings) == 1
    assert str(root.resolve()) in warnings[0] and "0755" in warnings[0] and f"chmod 700 {root.resolve()}" in warnings[0]


def test_existing_database_files_lose_group_and_other_permissions(tmp_path: Path) -> None:
    root = tmp_path / "data"
    settings = Settings(data_dir=root, account_id="111122223333")
    open_data(settings, create=True).store.close()
    for name in ("coffer.db", "coffer.db-wal", "coffer.db-shm", "credentials"):
        path = root / name
        path.touch()
        path.chmod(0o644)
    (root / "keys").chmod(0o755)
    warnings: list[str] = []
    open_data(settings, warn=warnings.append).store.close()
    assert warnings == []  # the data directory Coffer made itself is 0700
    for name in ("coffer.db", "credentials"):
        assert stat.S_IMODE((root / name).stat().st_mode) == 0o600, name
    for name in ("coffer.db-wal", "coffer.db-shm"):
        if (root / name).exists():  # SQLite removes them when the last connection closes
            assert stat.S_IMODE((root / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE((root / "keys").stat().st_mode) == 0o700


def test_unwritable_data_is_refused_in_one_line_or_opened_read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a read-only command gets on a data directory it cannot write: the data, and nothing written (the
    real thing, a read-only mount, is in tests/security/test_data_dir.py)."""
    root = tmp_path / "data"
    settings = Settings(data_dir=root, account_id="111122223333")
    boot = open_data(settings, create=True)
    now = time.time()
    boot.store.create_session(_session("ASIAOLD0000000000000", now - 43200 - 60))
    boot.store.close()
    stale = root / "blobs" / "tmp" / "crashed.part"
    stale.write_bytes(b"x")
    os.utime(stale, (now - 7200, now - 7200))
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    monkeypatch.setattr(bootstrap, "_unwritable", lambda data, s: (data.root, "read-only file system"))
    with pytest.raises(BootstrapError) as err:
        open_data(settings)
    assert str(err.value) == f"cannot write to {root} (read-only file system)"
    boot = open_data(settings, read_only_ok=True)
    try:
        assert boot.read_only
        assert [u.name for u in boot.store.list_users("111122223333")] == ["admin"]
        assert boot.store.get_session("ASIAOLD0000000000000") is not None  # not cleaned up: that would write
        with pytest.raises(OperationalError):
            boot.store.create_account(Account("444455556666", now))
    finally:
        boot.store.close()
    assert stale.exists()  # no sweep either
    after = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    # (a read-only SQLite connection may make the -wal and -shm files where it can: not on a read-only mount)
    assert {p: t for p, t in after.items() if not p.name.endswith(("-wal", "-shm"))} == before


def test_a_data_directory_that_cannot_exist_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(BootstrapError) as err:
        open_data(Settings(data_dir=tmp_path / "file" / "data"), read_only_ok=True)
    assert str(err.value) == f"cannot use {tmp_path / 'file' / 'data'} (not a directory)"
    with pytest.raises(BootstrapError) as err:
        open_data(Settings(data_dir=tmp_path / "file"))
    assert str(err.value) == f"the data directory {tmp_path / 'file'} is not a directory"


def _refusal(tmp_path: Path, settings: Settings, read_only_ok: bool = False) -> str:
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(NoDataError) as err:
        open_data(settings, read_only_ok=read_only_ok)
    assert sorted(tmp_path.rglob("*")) == before  # nothing created
    message = str(err.value)
    assert "\n" not in message and "--data-dir" in message and "COFFER_DATA_DIR" in message
    return message


@pytest.mark.parametrize("read_only_ok", [False, True])
def test_only_a_start_that_may_create_makes_a_new_instance(tmp_path: Path, read_only_ok: bool) -> None:
    missing = tmp_path / "nothing" / "here"
    message = _refusal(tmp_path, Settings(data_dir=missing), read_only_ok)
    assert message.startswith(f"no Coffer data directory at {missing.resolve()} (")
    assert not missing.exists() and not missing.parent.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _refusal(tmp_path, Settings(data_dir=empty), read_only_ok).startswith(f"no Coffer data in {empty} (")
    assert list(empty.iterdir()) == []
    boot = open_data(Settings(data_dir=empty, account_id="111122223333"), create=True)  # serve may use it
    boot.store.close()
    boot = open_data(Settings(data_dir=empty), read_only_ok=read_only_ok)  # and from then on, every command
    try:
        assert boot.account_id == "111122223333"
    finally:
        boot.store.close()
    (empty / "coffer.db").unlink()  # keys without their SQLite database: not a new instance either
    message = _refusal(tmp_path, Settings(data_dir=empty), read_only_ok)
    assert message.startswith(f"no Coffer database at {(empty / 'coffer.db').resolve()} (")


def test_removing_profiles_keeps_every_other_line(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    assert remove_credentials_profiles(path, {"AKIAGONE"}) == []
    assert not path.exists()
    text = (
        "[default]\naws_access_key_id = AKIAKEEP\naws_secret_access_key = k\n\n"
        "# the ci user\n[ci]\naws_access_key_id=AKIAGONE\naws_secret_access_key = g\nregion = eu-west-1\n\n"
        "; other\n[other]\naws_access_key_id = AKIAOTHER  \n\n[ci-2]\n  aws_access_key_id : AKIAGONE2\n"
    )
    path.write_text(text)
    path.chmod(0o644)
    assert remove_credentials_profiles(path, {"AKIAOTHERX"}) == []
    assert path.read_text() == text and stat.S_IMODE(path.stat().st_mode) == 0o644  # not rewritten
    assert remove_credentials_profiles(path, {"AKIAGONE", "AKIAGONE2"}) == ["ci", "ci-2"]
    assert path.read_text() == (
        "[default]\naws_access_key_id = AKIAKEEP\naws_secret_access_key = k\n\n"
        "; other\n[other]\naws_access_key_id = AKIAOTHER  \n\n"
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_profiles_are_matched_by_key_id_whatever_the_option_case(tmp_path: Path) -> None:
    from coffer.app.bootstrap import remove_credentials_profiles

    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[ci]\nAWS_ACCESS_KEY_ID = AKIAOLD\naws_secret_access_key = x\n[keep]\naws_access_key_id = AKIAKEEP\n"
    )
    assert remove_credentials_profiles(credentials, ["AKIAOLD"]) == ["ci"]
    assert credentials.read_text() == "[keep]\naws_access_key_id = AKIAKEEP\n"
