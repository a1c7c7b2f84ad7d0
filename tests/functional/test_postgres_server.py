"""The whole server on PostgreSQL (``--db-url``): the same flows as on SQLite, and a restart keeps the data."""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from coffer.store.engine import normalize_url
from tests.functional.conftest import make_client
from tests.functional.server import coffer_command, running_server
from tests.postgres import postgres_base_url

pytestmark = pytest.mark.postgres


@pytest.fixture()
def pg_url() -> Iterator[str]:
    base = postgres_base_url()
    admin = create_engine(normalize_url(base), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    schema = f"coffer_srv_{secrets.token_hex(6)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield admin.url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def test_server_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    data = tmp_path / "data"
    with running_server(data, "--db-url", pg_url, "--account-id", "222233334444") as srv:
        assert not (data / "coffer.db").exists()
        ca = make_client(srv)
        ca.create_domain(domain="pgdom")
        ca.create_repository(domain="pgdom", repository="up")
        ca.create_repository(domain="pgdom", repository="down", upstreams=[{"repositoryName": "up"}])
        token = ca.get_authorization_token(domain="pgdom", durationSeconds=900)
        assert token["authorizationToken"].startswith("cf1.")
        with pytest.raises(ca.exceptions.ConflictException):
            ca.delete_repository(domain="pgdom", repository="up")
    # a second data directory on the same database needs the key-encryption keys that seal its secrets
    other = tmp_path / "other"
    refused = subprocess.run(
        [*coffer_command(), "serve", "--port", "0", "--data-dir", str(other), "--db-url", pg_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "key-encryption key" in refused.stderr and "keys/kek" in refused.stderr
    shutil.rmtree(other / "keys" / "kek")
    shutil.copytree(data / "keys" / "kek", other / "keys" / "kek")
    # with them, the admin key is written again from the database
    with running_server(other, "--db-url", pg_url) as srv:
        assert "account 222233334444" in "".join(srv.output)
        ca = make_client(srv)
        repos = ca.list_repositories_in_domain(domain="pgdom")["repositories"]
        assert [r["name"] for r in repos] == ["down", "up"]


def test_admin_commands_refuse_an_empty_database_and_create_nothing_in_it(tmp_path: Path, pg_url: str) -> None:
    data = tmp_path / "data"
    (data / "keys").mkdir(parents=True, mode=0o700)  # a data directory, but its database holds nothing
    refused = subprocess.run(
        [*coffer_command(), "admin", "list-users", "--data-dir", str(data), "--db-url", pg_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr.startswith("coffer: no Coffer data in postgresql"), refused.stderr
    assert "only `coffer serve` creates one" in refused.stderr
    engine = create_engine(normalize_url(pg_url), poolclass=NullPool)
    with engine.connect() as conn:
        tables = conn.execute(
            text("SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()")
        )
        assert tables.scalar_one() == 0  # no migration ran
    engine.dispose()
    assert not list((data / "keys").iterdir())  # no key was made
