"""Who is asking: a logged-in user (a server-side session named by the cookie) or an API token
(``Authorization: Bearer``)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, abort, g, redirect, request, session, url_for

from bugsift.store.web_tables import UserRow
from bugsift.web import accounts, sessions
from bugsift.web.extensions import database, settings

F = TypeVar("F", bound=Callable[..., Any])


def init_app(app: Flask) -> None:
    app.before_request(_load_user)
    app.context_processor(lambda: {"current_user": g.get("user")})


def _load_user() -> None:
    """The user of the session cookie, if its server-side session still exists and has not expired."""
    g.user = None
    if "user_id" in session:  # a cookie of bugsift 0.6 and older: a session the server cannot end
        session.pop("user_id")
    secret = session.get("sid")
    if secret is None:
        return
    with database().session() as s:
        user = sessions.user_of(s, secret) if isinstance(secret, str) else None
        if user is not None:
            g.user = {"id": user.id, "username": user.username, "role": user.role}
            return
    session.pop("sid", None)  # ended, expired or tampered with: log in again


def login(user: UserRow) -> None:
    """Start a new server-side session (a new id: a session fixed before login is worthless)."""
    submitted = session.get("submitted", [])
    session.clear()
    with database().session() as s:
        session["sid"] = sessions.start(s, user.id, settings().web_session_hours)
    if submitted:
        session["submitted"] = submitted  # the reporter may still read what they filed


def logout() -> None:
    secret = session.get("sid")
    if isinstance(secret, str):
        with database().session() as s:
            sessions.end(s, secret)
    session.clear()


def role_required(role: str) -> Callable[[F], F]:
    """A page for logged-in users of ``role`` or above: others go to the login page or get 403."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = g.get("user")
            if user is None:
                return redirect(url_for("auth.login", next=request.path))
            if not accounts.role_allows(user["role"], role):
                abort(403, f"this page needs the {role} role")
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def token_required(scope: str) -> Callable[[F], F]:
    """An API endpoint for bearer tokens carrying ``scope``: 401 without a valid token, 403 without scope."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            header = request.headers.get("Authorization", "")
            kind, _, secret = header.partition(" ")
            if kind.lower() != "bearer" or not secret.strip():
                abort(401, "send an API token: Authorization: Bearer <token>")
            with database().session() as s:
                token = accounts.find_token(s, secret.strip())
                if token is None:
                    abort(401, "unknown or revoked API token")
                if scope not in token.scopes:
                    abort(403, f"this token lacks the {scope!r} scope")
                g.api_user = token.user.username
                g.api_role = token.user.role
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator
