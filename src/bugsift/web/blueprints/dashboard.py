"""The dashboard: data per tracker, label sources, model versions with metrics and reports, drift."""

from __future__ import annotations

from flask import Blueprint, abort, make_response, render_template
from flask.typing import ResponseReturnValue

from bugsift.store.models import ModelRow
from bugsift.web import stats
from bugsift.web.auth import role_required
from bugsift.web.extensions import database, predictors

bp = Blueprint("dashboard", __name__)

REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"
"""The rendered validation report: inline styles and embedded PNGs, no script at all."""


@bp.get("/")
@role_required("viewer")
def index() -> ResponseReturnValue:
    with database().session() as session:
        return render_template(
            "dashboard.html",
            trackers=stats.tracker_counts(session),
            labels=stats.label_counts(session),
            models=stats.model_versions(session),
            metrics=stats.headline_metrics,
            active={m.id for m in predictors().active().values()},
            drift=stats.drift(session),
        )


@bp.get("/models/<int:model_id>/report")
@role_required("viewer")
def model_report(model_id: int) -> ResponseReturnValue:
    from bugsift.report import find_previous, render_report

    with database().session() as session:
        row = session.get(ModelRow, model_id)
        if row is None:
            abort(404, f"no model with id {model_id}")
        evaluation = (row.data or {}).get("evaluation")
        if not evaluation:
            abort(404, "this model version kept no evaluation to render; see `bugsift evaluate --report`")
        previous = find_previous(session, row.task, row.label, row.mode, before=row.version)
    response = make_response(render_report(evaluation, row.task, previous))
    response.headers["Content-Security-Policy"] = REPORT_CSP
    return response
