"""The triage queue: accept or correct each suggestion with one click (a CSRF-protected form POST)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from bugsift.web import queue
from bugsift.web.auth import role_required
from bugsift.web.extensions import database
from bugsift.web.forms import LabelForm

bp = Blueprint("triage", __name__)


@bp.get("/")
@role_required("triager")
def index() -> ResponseReturnValue:
    with database().session() as session:
        items = queue.pending(session)
        recent = queue.audit_entries(session, limit=20)
        return render_template("triage.html", items=items, recent=recent, form=LabelForm())


@bp.post("/<id:report_id>/label")
@role_required("triager")
def label(report_id: int) -> ResponseReturnValue:
    form = LabelForm()
    if not form.validate_on_submit():
        abort(400, "; ".join(f"{k}: {', '.join(v)}" for k, v in form.errors.items()))
    action = "accept" if form.action.data == "accept" else "correct"
    with database().session() as session:
        try:
            queue.record_human_label(
                session, report_id, form.name.data, form.value.data, g.user["username"], action
            )
        except LookupError as error:
            abort(404, str(error))
        except ValueError as error:
            abort(400, str(error))
    flash(f"Report {report_id}: {form.name.data} = {form.value.data.strip()} ({action}ed)")
    return redirect(url_for("triage.index"))
