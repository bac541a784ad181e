"""Users (werkzeug password hashes, roles) and API tokens (only a SHA-256 is stored; scoped, revocable)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from bugsift.store.models import utcnow
from bugsift.web.models import ROLES, SCOPES, ApiTokenRow, UserRow

TOKEN_PREFIX = "bsf_"
_DUMMY_HASH = generate_password_hash("not a password")


def role_allows(role: str, needed: str) -> bool:
    """Whether ``role`` is ``needed`` or above it (viewer < triager < admin)."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def create_user(session: Session, username: str, password: str, role: str = "triager") -> UserRow:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not username or len(password) < 8:
        raise ValueError("a user needs a name and a password of at least 8 characters")
    if session.scalar(select(UserRow).where(UserRow.username == username)) is not None:
        raise ValueError(f"user {username!r} exists already")
    user = UserRow(username=username, password_hash=generate_password_hash(password), role=role, active=True)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> UserRow | None:
    """The active user with this name and password, or None (same work either way)."""
    user = session.scalar(select(UserRow).where(UserRow.username == username))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session, user: UserRow, name: str, scopes: Iterable[str] = ("predict",)
) -> tuple[ApiTokenRow, str]:
    """A new token for ``user``: returns the row and the secret, which is shown once and never stored."""
    scopes = sorted(set(scopes))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise ValueError(f"scopes must be some of {', '.join(SCOPES)}; got {scopes}")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiTokenRow(
        user_id=user.id, name=name, prefix=secret[:10], token_hash=_digest(secret), scopes=list(scopes)
    )
    session.add(row)
    session.flush()
    return row, secret


def find_token(session: Session, secret: str) -> ApiTokenRow | None:
    """The live token with this secret (not revoked, owner active), or None."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    row = session.scalar(select(ApiTokenRow).where(ApiTokenRow.token_hash == _digest(secret)))
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
        row.last_used_at = now
    return row


def revoke_token(session: Session, token_id: int) -> bool:
    row = session.get(ApiTokenRow, token_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True
