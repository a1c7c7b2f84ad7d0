"""STS sessions: their credentials sealed at rest, found by access key id or by role session."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from coffer.core.identity.iam_models import Session
from coffer.core.shared.errors import ConflictError
from coffer.store.schema import sessions
from coffer.store.secrets import session_secret_context, session_token_context
from coffer.store.sql.base import SqlBase, from_row, row_values


class SqlSessions(SqlBase):
    def create_session(self, session: Session) -> None:
        """ConflictError if a session with that access key id exists."""
        try:
            with self._write() as conn:
                conn.execute(
                    insert(sessions).values(
                        row_values(
                            session,
                            sessions,
                            secret_access_key=self._seal_secret(
                                session.secret_access_key, session_secret_context(session.access_key_id)
                            ),
                            session_token=self._seal_secret(
                                session.session_token, session_token_context(session.access_key_id)
                            ),
                            session_policy_arns=json.dumps(list(session.session_policy_arns)),
                            tags=json.dumps(dict(session.tags), sort_keys=True),
                        )
                    )
                )
        except IntegrityError as exc:
            raise ConflictError(
                f"Session {session.access_key_id} already exists.",
                resource_id=session.access_key_id,
                resource_type="session",
            ) from exc

    def get_session(self, access_key_id: str) -> Session | None:
        """Also an expired one (the caller checks ``expires_at``)."""
        with self._read() as conn:
            row = conn.execute(select(sessions).where(sessions.c.access_key_id == access_key_id)).one_or_none()
        return None if row is None else self._to_session(row)

    def find_role_sessions(
        self, account_id: str, role_name: str, session_name: str, issued_second: int
    ) -> list[Session]:
        """Sessions of that role (name as stored in the session) with that RoleSessionName whose
        ``int(issued_at) == issued_second``, expired ones included; ordered by (issued_at, access key id)."""
        s = sessions
        with self._read() as conn:
            rows = conn.execute(
                select(s)
                .where(
                    s.c.account_id == account_id,
                    s.c.role_name == role_name,
                    s.c.session_name == session_name,
                    s.c.issued_at >= issued_second,
                    s.c.issued_at < issued_second + 1,
                )
                .order_by(s.c.issued_at, s.c.access_key_id)
            ).all()
        return [self._to_session(r) for r in rows]

    def _to_session(self, row: Any) -> Session:
        return from_row(
            Session,
            row,
            secret_access_key=self._open_secret(row.secret_access_key, session_secret_context(row.access_key_id)),
            session_token=self._open_secret(row.session_token, session_token_context(row.access_key_id)),
            session_policy_arns=tuple(json.loads(row.session_policy_arns)),
            tags=dict(json.loads(row.tags)),
            chained=bool(row.chained),
        )

    def delete_expired_sessions(self, now: float) -> int:
        """Deletes sessions with ``expires_at <= now``; returns how many."""
        with self._write() as conn:
            result = conn.execute(delete(sessions).where(sessions.c.expires_at <= now))
        return int(result.rowcount)
