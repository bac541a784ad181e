"""The triage queue: every undecided report with its suggestion, filters, a Decided tab and a page per
report with its history; accept or correct each suggestion with one click (a CSRF-protected form POST)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from bugsift.store.models import ReportRow
from bugsift.store.reports import row_to_report
from bugsift.web import estimates, highlight, names, queue, suggest
from bugsift.web.auth import role_required
from bugsift.web.extensions import database, predictors
from bugsift.web.forms import LabelForm, TriageFilterForm

bp = Blueprint("triage", __name__)
log = logging.getLogger(__name__)
SORT_NAMES = {
    "newest": "newest filed",
    "oldest": "oldest filed",
    "unsure": "least sure first",
    "confident": "most sure first",
}


def _filters(form: TriageFilterForm) -> queue.Filters:
    return queue.Filters(
        tracker=(form.tracker.data or "").strip(),
        product=(form.product.data or "").strip(),
        label=(form.label.data or "").strip(),
        value=(form.value.data or "").strip(),
        unsure=bool(form.unsure.data),
        q=(form.q.data or "").strip(),
        sort=form.sort.data if form.sort.data in queue.SORTS else "newest",
        page=form.page.data or 1,
    )


@bp.get("/")
@role_required("triager")
def index() -> ResponseReturnValue:
    form = TriageFilterForm(request.args)
    state = "decided" if request.args.get("state") == "decided" else "pending"
    with database().session() as session:
        known = queue.choices(session)
        form.tracker.choices = ["", *known["trackers"]]
        form.label.choices = ["", *known["labels"]]
        if not form.validate():
            abort(400, "; ".join(f"{k}: {', '.join(v)}" for k, v in form.errors.items()))
        filters = _filters(form)
        page = queue.pending(session, filters) if state == "pending" else queue.decided(session, filters)
        args = {k: v for k, v in request.args.items() if k != "page" and v}
        recent = queue.recent_decisions(session) if state == "pending" else []
        return render_template(
            "triage.html",
            page=page,
            state=state,
            filters=filters,
            filter_form=form,
            known=known,
            recent=recent,
            sorts=SORT_NAMES,
            form=LabelForm(),
            args=args,
            display_id=queue.display_id,
            facts=queue.facts,
            here=request.full_path.rstrip("?"),
        )


@bp.get("/report/<id:report_id>")
@role_required("triager")
def report(report_id: int) -> ResponseReturnValue:
    with database().session() as session:
        detail = queue.report_detail(session, report_id)
        if detail is None:
            abort(404, f"no report with id {report_id}")
        live = _live_estimates(detail["report"])
        # the report's words behind the estimate are marked too, beside those of the stored answers
        explanations = (e.get("explanation") for e in live.values())
        detail["words"] = highlight.unique_words([*detail["words"], *highlight.reason_words(*explanations)])
        return render_template(
            "triage_report.html",
            **detail,
            estimates=live,
            display_id=queue.display_id,
            facts=queue.facts,
            here=request.path,
            reason_texts=queue.reason_texts,
        )


def _live_estimates(row: ReportRow) -> dict[str, dict[str, Any]]:
    """The fix-time estimate of the report by the active model, computed now: a label row cannot hold
    its interval, so `classify` stores none. A model that fails is logged; the page still shows."""
    try:
        answers = suggest.suggest(
            predictors(), row_to_report(row), estimates.ESTIMATE_TASKS, current_app.config["TOP_K"]
        )
    except Exception:  # a broken model file or a stuck predictor must not take the report page down
        log.exception("live estimate of report %s failed", row.id)
        return {}
    return {task: result for task, result in answers.items() if estimates.is_estimate(result)}


def _back() -> str:
    """Where the decision came from (a triage page, with its filters), else the queue."""
    target = request.form.get("next", "")
    if target.startswith("/triage/") and "\\" not in target and len(target) <= 2000:
        return target
    return url_for("triage.index")


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
        shown = queue.display_id(session.get(ReportRow, report_id))  # type: ignore[arg-type]
    said = f"{names.heading(names.label_words(form.name.data))} {names.value_words(form.value.data.strip())}"
    flash(f"Report {shown}: {said} ({action}ed)")
    return redirect(_back())
