"""Log in and out (session cookie; passwords checked against werkzeug hashes)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from bugsift.web import accounts
from bugsift.web import auth as session_auth
from bugsift.web.extensions import database
from bugsift.web.forms import LoginForm, PlainForm

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("triage.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        with database().session() as session:
            user = accounts.authenticate(session, form.username.data, form.password.data)
            if user is not None:
                session_auth.login(user)
                return redirect(_safe_next(request.args.get("next")))
        error = "Wrong user name or password."
    status = 401 if error else 200
    return render_template("login.html", form=form, error=error), status


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    form = PlainForm()
    if form.validate_on_submit():
        session_auth.logout()
    return redirect(url_for("submit.form"))
