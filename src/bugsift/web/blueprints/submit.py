"""The report form: suggestions while the reporter types (POST /suggest), stored reports on submit."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from bugsift.store.models import LabelRow, ReportRow
from bugsift.web import estimates, highlight, names, suggest, visibility
from bugsift.web.extensions import database, limiter, predictors, suggestion_cache
from bugsift.web.forms import ReportForm

bp = Blueprint("submit", __name__)


MY_REPORTS_KEPT = 20
"""References of the reports a browser filed that its (signed) cookie remembers, so it can reread them."""


def _suggest_limit() -> str:
    limit: str = current_app.config["SUGGEST_RATE_LIMIT"]
    return limit


def _form_limit() -> str:
    limit: str = current_app.config["FORM_RATE_LIMIT"]
    return limit


def _submit_limit() -> str:
    limit: str = current_app.config["SUBMIT_RATE_LIMIT"]
    return limit


def _not_an_anonymous_submit() -> bool:
    return g.get("user") is not None or not request.form.get("submit")


def _visible(answer: dict[str, dict]) -> dict[str, dict]:
    return visibility.for_visitor(answer, g.get("user") is not None, current_app.config["PUBLIC_DUPLICATES"])


def _tasks(storing: bool = False) -> list[str]:
    """The tasks to predict: a stored report gets every answer (for the triagers), a visitor's preview
    only those they may see."""
    tasks: list[str] = current_app.config["SUGGEST_TASKS"]
    if storing:
        return tasks
    return visibility.tasks_for_visitor(
        tasks, g.get("user") is not None, current_app.config["PUBLIC_DUPLICATES"]
    )


def _fields(form: ReportForm) -> dict[str, str]:
    return {
        name: getattr(form, name).data or ""
        for name in ("title", "description", "product", "version", "steps")
    }


def _drivers(suggestions: dict[str, dict] | None) -> list[str]:
    """The report's words behind any of the answers: the form lists them under the suggestions (its
    textarea cannot mark them)."""
    return highlight.reason_words(*(r.get("explanation") for r in (suggestions or {}).values()))


@bp.route("/", methods=["GET", "POST"])
@limiter.limit(_form_limit, methods=["POST"])
@limiter.limit(_submit_limit, methods=["POST"], exempt_when=_not_an_anonymous_submit)
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
            _tasks(bool(report_form.submit.data)),
            current_app.config["TOP_K"],
            suggestion_cache(),
        )
        if report_form.submit.data:
            _, external_id = suggest.store_submission(database(), report, suggestions)
            session["submitted"] = [*session.get("submitted", []), external_id][-MY_REPORTS_KEPT:]
            return redirect(url_for("submit.stored", external_id=external_id))
        suggestions = _visible(suggestions)
    status = 400 if request.method == "POST" and report_form.errors else 200
    return render_template(
        "form.html",
        form=report_form,
        suggestions=suggestions,
        words=suggest.feature_words,
        drivers=_drivers(suggestions),
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
    answer = suggest.suggest(predictors(), report, _tasks(), current_app.config["TOP_K"], suggestion_cache())
    shown = {
        task: {
            **names.with_label_text(result),
            "task_text": names.task_words(task),
            # fix-time: days with an interval, no class probability; app.js shows its summary instead
            "estimate": estimates.is_estimate(result),
            "words": suggest.feature_words(result.get("explanation")),
            "report_words": highlight.reason_words(result.get("explanation")),  # app.js marks them
        }
        for task, result in _visible(answer).items()
    }
    return jsonify(shown)


@bp.get("/r/<external_id>")
def stored(external_id: str) -> ResponseReturnValue:
    """What was stored: the report exactly as received (escaped) and the labels the models gave it.

    Only to the browser that filed it and to logged-in users; anyone else gets the same 404 as for a
    reference that does not exist.
    """
    logged_in = g.get("user") is not None
    if not logged_in and external_id not in session.get("submitted", []):
        abort(404, "no such report")
    with database().session() as db:
        row = db.scalar(
            select(ReportRow).where(
                ReportRow.tracker == suggest.WEB_TRACKER, ReportRow.external_id == external_id
            )
        )
        if row is None:
            abort(404, "no such report")
        labels = db.scalars(
            select(LabelRow).where(LabelRow.report_id == row.id).order_by(LabelRow.name)
        ).all()
        if not logged_in:  # a duplicate label names another stored report
            labels = [label for label in labels if label.name != suggest.LABEL_NAMES["duplicates"]]
        words = highlight.reason_words(*(label.explanation for label in labels if label.source == "model"))
        kept = estimates.of_suggestions(row.extra)  # the form's fix-time estimate: no label row holds it
        return render_template("stored.html", report=row, labels=labels, words=words, estimates=kept)
