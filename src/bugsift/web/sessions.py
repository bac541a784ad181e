"""Server-side login sessions: the signed cookie names a row; deleting the row logs that browser out.

A signed cookie alone cannot be taken back: a copy captured before logout or before a password change
would keep working until the key changes. Only the SHA-256 of the cookie's secret is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bugsift.store.models import utcnow
from bugsift.store.web_tables import UserRow, WebSessionRow


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def start(session: Session, user_id: int, hours: float) -> str:
    """A new session of ``user_id`` lasting ``hours``; returns the secret the cookie carries."""
    now = utcnow()
    session.execute(delete(WebSessionRow).where(WebSessionRow.expires_at < now))  # keep the table small
    secret = secrets.token_urlsafe(32)
    expires = now + timedelta(hours=hours)
    row = WebSessionRow(token_hash=_digest(secret), user_id=user_id, created_at=now, expires_at=expires)
    session.add(row)
    session.flush()
    return secret


def user_of(session: Session, secret: str) -> UserRow | None:
    """The active user of a live session, or None (unknown, ended, expired, or the user deactivated)."""
    row = session.scalar(select(WebSessionRow).where(WebSessionRow.token_hash == _digest(secret)))
    if row is None or row.expires_at < utcnow():
        return None
    user = session.get(UserRow, row.user_id)
    return user if user is not None and user.active else None


def end(session: Session, secret: str) -> None:
    session.execute(delete(WebSessionRow).where(WebSessionRow.token_hash == _digest(secret)))


def end_all(session: Session, user_id: int) -> int:
    """End every session of a user (a new password, a deactivation); returns how many there were."""
    result = session.execute(delete(WebSessionRow).where(WebSessionRow.user_id == user_id))
    return int(result.rowcount or 0)
