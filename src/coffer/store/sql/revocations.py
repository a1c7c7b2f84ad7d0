"""Revoked authorization tokens (until they would have expired anyway)."""

from __future__ import annotations

from sqlalchemy import select

from coffer.store.schema import revoked_tokens
from coffer.store.sql.base import SqlBase


class SqlRevocations(SqlBase):
    def revoke_token(self, token_id: str, expires_at: float, revoked_at: float) -> None:
        """A second revocation of the same token changes nothing."""
        stmt = self._insert(revoked_tokens).values(token_id=token_id, expires_at=expires_at, revoked_at=revoked_at)
        with self._write() as conn:
            conn.execute(stmt.on_conflict_do_nothing(index_elements=[revoked_tokens.c.token_id]))

    def revoked_tokens(self, now: float) -> set[str]:
        """Tokens whose ``expires_at`` is later than ``now``."""
        with self._read() as conn:
            rows = conn.execute(select(revoked_tokens.c.token_id).where(revoked_tokens.c.expires_at > now))
            return set(rows.scalars())
