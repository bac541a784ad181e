"""The report form: suggestions while the reporter types (POST /suggest), stored reports on submit."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from bugsift.store.models import LabelRow, ReportRow
from bugsift.web import suggest
from bugsift.web.extensions import database, limiter, predictors, suggestion_cache
from bugsift.web.forms import ReportForm

bp = Blueprint("submit", __name__)


def _suggest_limit() -> str:
    limit: str = current_app.config["SUGGEST_RATE_LIMIT"]
    return limit


def _fields(form: ReportForm) -> dict[str, str]:
    return {
        name: getattr(form, name).data or ""
        for name in ("title", "description", "product", "version", "steps")
    }


@bp.route("/", methods=["GET", "POST"])
def form() -> ResponseReturnValue:
    report_form = ReportForm()
    suggestions = None
    if report_form.validate_on_submit():
        report = suggest.parse_report(_fields(report_form), "form")
        if g.get("user"):
            report.reporter = g.user["username"]
        suggestions = suggest.suggest(
            predictors(),
            report,
            current_app.config["SUGGEST_TASKS"],
            current_app.config["TOP_K"],
            suggestion_cache(),
        )
        if report_form.submit.data:
            _, external_id = suggest.store_submission(database(), report, suggestions)
            return redirect(url_for("submit.stored", external_id=external_id))
    status = 400 if request.method == "POST" and report_form.errors else 200
    return render_template(
        "form.html", form=report_form, suggestions=suggestions, words=suggest.feature_words
    ), status


@bp.post("/suggest")
@limiter.limit(_suggest_limit)
def suggest_json() -> ResponseReturnValue:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        abort(400, "send the form fields as a JSON object")
    try:
        report = suggest.parse_report(payload)
    except suggest.InputError as error:
        abort(400, str(error))
    answer = suggest.suggest(
        predictors(),
        report,
        current_app.config["SUGGEST_TASKS"],
        current_app.config["TOP_K"],
        suggestion_cache(),
    )
    for result in answer.values():
        result["words"] = suggest.feature_words(result.get("explanation"))
    return jsonify(answer)


@bp.get("/r/<external_id>")
def stored(external_id: str) -> ResponseReturnValue:
    """What was stored: the report exactly as received (escaped) and the labels the models gave it."""
    with database().session() as session:
        row = session.scalar(
            select(ReportRow).where(
                ReportRow.tracker == suggest.WEB_TRACKER, ReportRow.external_id == external_id
            )
        )
        if row is None:
            abort(404, "no such report")
        labels = session.scalars(
            select(LabelRow).where(LabelRow.report_id == row.id).order_by(LabelRow.name)
        ).all()
        return render_template("stored.html", report=row, labels=labels)
