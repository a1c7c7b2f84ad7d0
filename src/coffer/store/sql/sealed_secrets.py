"""The sealed secret columns (access-key secrets, session credentials): re-sealed after a key rotation."""

from __future__ import annotations

from sqlalchemy import or_, select, update

from coffer.store.schema import access_keys, sessions
from coffer.store.secrets import key_secret_context, session_secret_context, session_token_context
from coffer.store.sql.base import SqlBase


class SqlSealedSecrets(SqlBase):
    def cipher_refresh(self) -> None:
        """Re-read the key-encryption keys (after a rotation)."""
        if self._cipher is not None:
            self._cipher.refresh()

    def reseal_secrets(self) -> int:
        """Seal every secret column with the cipher's active key: rows written before secrets were sealed, or
        sealed by an older key-encryption key. Returns how many rows changed. Idempotent; the stale rows are
        found by the database (a start with nothing to re-seal reads no secret and takes no write lock)."""
        cipher = self._cipher
        if cipher is None:
            return 0
        prefix = cipher.current_prefix
        stale_keys = select(access_keys.c.access_key_id, access_keys.c.secret_access_key).where(
            ~access_keys.c.secret_access_key.startswith(prefix, autoescape=True)
        )
        stale_sessions = select(sessions.c.access_key_id, sessions.c.secret_access_key, sessions.c.session_token).where(
            or_(
                ~sessions.c.secret_access_key.startswith(prefix, autoescape=True),
                ~sessions.c.session_token.startswith(prefix, autoescape=True),
            )
        )
        with self._read() as conn:
            if (
                conn.execute(stale_keys.limit(1)).first() is None
                and conn.execute(stale_sessions.limit(1)).first() is None
            ):
                return 0

        def reseal(value: str, context: str) -> str:
            return cipher.seal(cipher.open(value, context), context)

        changed = 0
        with self._write() as conn:
            for row in conn.execute(stale_keys).all():
                conn.execute(
                    update(access_keys)
                    .where(access_keys.c.access_key_id == row.access_key_id)
                    .values(secret_access_key=reseal(row.secret_access_key, key_secret_context(row.access_key_id)))
                )
                changed += 1
            for srow in conn.execute(stale_sessions).all():
                conn.execute(
                    update(sessions)
                    .where(sessions.c.access_key_id == srow.access_key_id)
                    .values(
                        secret_access_key=reseal(srow.secret_access_key, session_secret_context(srow.access_key_id)),
                        session_token=reseal(srow.session_token, session_token_context(srow.access_key_id)),
                    )
                )
                changed += 1
        return changed
