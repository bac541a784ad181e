"""Log in and out (server-side sessions; passwords checked against werkzeug hashes; failures throttled)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError

from bugsift.web import accounts
from bugsift.web import auth as session_auth
from bugsift.web.extensions import csrf, database, limiter
from bugsift.web.forms import LoginForm, PlainForm

bp = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str:
    """``target`` when it is a path on this site, else the triage queue.

    Browsers drop tabs and newlines inside URLs and read a backslash as a slash, so ``/\\t/evil.example``
    would leave the site as ``//evil.example``: any control character, space or backslash is refused.
    """
    fallback = url_for("triage.index")
    if not target or any(ch <= " " or ch in "\\\x7f" for ch in target):
        return fallback
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or parts.scheme or parts.netloc:
        return fallback
    return target


def _login_limit() -> str:
    limit: str = current_app.config["LOGIN_RATE_LIMIT"]
    return limit


def _login_name() -> str:
    return "login-user:" + (request.form.get("username") or "").strip().lower()[:320]


def _failed(response: object) -> bool:
    return getattr(response, "status_code", 0) == 401


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], deduct_when=_failed)
@limiter.limit(_login_limit, key_func=_login_name, methods=["POST"], deduct_when=_failed)
def login() -> ResponseReturnValue:
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        with database().session() as session:
            user = accounts.authenticate(session, form.username.data, form.password.data)
        if user is not None:
            session_auth.login(user)
            return redirect(safe_next(request.args.get("next")))
        error = "Wrong user name or password."
    status = 401 if error else 200
    return render_template("login.html", form=form, error=error), status


@bp.route("/logout", methods=["GET", "POST"])
@csrf.exempt  # checked below, so that a stale form gets a way out instead of a bare error page
def logout() -> ResponseReturnValue:
    form = PlainForm()
    if request.method == "POST":
        try:
            csrf.protect()
        except CSRFError:
            flash("You are still logged in: the log-out form had expired. Press the button again.")
        else:
            session_auth.logout()
            flash("You are logged out.")
            return redirect(url_for("submit.form"))
    return render_template("logout.html", form=form), 400 if request.method == "POST" else 200
