"""Users (werkzeug password hashes, roles) and API tokens (only a SHA-256 is stored; scoped, revocable)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from bugsift.store.models import utcnow
from bugsift.store.web_tables import ApiTokenRow, UserRow
from bugsift.web import sessions
from bugsift.web.roles import ROLES, SCOPES

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
    if "jobs" in scopes and user.role != "admin":  # checked again on each call: roles change
        raise ValueError(f"the jobs scope is for admins; {user.username} is a {user.role}")
    if "label" in scopes and not role_allows(user.role, "triager"):  # also checked on each call
        raise ValueError(f"the label scope is for triagers and admins; {user.username} is a {user.role}")
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


def get_user(session: Session, username: str) -> UserRow:
    """The user with this name, or a ValueError naming it (for the CLI's messages)."""
    user = session.scalar(select(UserRow).where(UserRow.username == username))
    if user is None:
        raise ValueError(f"no user {username!r}")
    return user


def list_users(session: Session) -> list[UserRow]:
    return list(session.scalars(select(UserRow).order_by(UserRow.username)))


def set_role(session: Session, username: str, role: str) -> UserRow:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    user = get_user(session, username)
    if role != "admin":
        _keep_an_admin(session, user)
    user.role = role
    return user


def _keep_an_admin(session: Session, user: UserRow) -> None:
    """Refuse to demote or remove the last active admin (nobody could queue jobs or fix roles on the web)."""
    if user.role != "admin" or not user.active:
        return
    others = session.scalar(
        select(func.count(UserRow.id)).where(
            UserRow.role == "admin", UserRow.active.is_(True), UserRow.id != user.id
        )
    )
    if not others:
        raise ValueError(f"{user.username} is the last admin: make another admin first")


def set_password(session: Session, username: str, password: str) -> UserRow:
    if len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    user = get_user(session, username)
    user.password_hash = generate_password_hash(password)
    sessions.end_all(session, user.id)  # whoever had the old password may hold a session cookie
    return user


def remove_user(session: Session, username: str) -> int:
    """Delete a user and their tokens; returns how many tokens went with them. Audit rows keep the name."""
    user = get_user(session, username)
    _keep_an_admin(session, user)
    tokens = len(user.tokens)
    session.delete(user)
    session.flush()
    return tokens


def list_tokens(session: Session, username: str | None = None, revoked: bool = False) -> list[ApiTokenRow]:
    """Tokens, newest first; revoked ones only when asked for."""
    query = select(ApiTokenRow).join(UserRow).order_by(ApiTokenRow.id.desc())
    if username is not None:
        query = query.where(UserRow.username == username)
    if not revoked:
        query = query.where(ApiTokenRow.revoked_at.is_(None))
    return list(session.scalars(query))
