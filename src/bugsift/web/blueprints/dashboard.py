"""The dashboard: data per tracker, label sources, model versions with thresholds and reports, drift, jobs."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, flash, make_response, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from bugsift.learn.tasks import TASKS
from bugsift.store.models import ModelRow
from bugsift.web import joblist, model_reports, stats
from bugsift.web.auth import role_required
from bugsift.web.extensions import database, predictors, settings
from bugsift.web.forms import JobForm

bp = Blueprint("dashboard", __name__)
log = logging.getLogger(__name__)

REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"
"""The rendered validation report: inline styles and embedded PNGs, no script at all."""
JOBS_SHOWN = 20


@bp.get("/")
@role_required("viewer")
def index() -> ResponseReturnValue:
    with database().session() as session:
        return render_template(
            "dashboard.html",
            trackers=stats.tracker_counts(session),
            labels=stats.label_counts(session),
            models=stats.model_versions(session),
            metrics=stats.metric_lines,
            idle_queue=stats.idle_queue(session),
            thresholds=stats.thresholds,
            coverage=stats.coverage,
            has_report=model_reports.has_report,
            active={m.id for m in predictors().active().values()},
            drift=stats.drift(session),
            jobs=joblist.recent(database(), limit=JOBS_SHOWN),
            bot=_bot_figures(),
            job_form=_job_form(),
        )


def _bot_figures() -> dict[str, Any]:
    """Each bot rule with its volume and live precision, or why there are none (no rules file, a bad one)."""
    from bugsift.bot.log import live_precision
    from bugsift.bot.rules import RulesError, load_rules

    path = settings().bot_rules_path
    if not path.is_file():
        return {"rules": [], "problem": None, "path": str(path)}
    try:
        rules = load_rules(path)
    except RulesError as error:
        return {"rules": [], "problem": str(error), "path": str(path)}
    figures = live_precision(database(), rules)
    return {"rules": list(zip(rules, figures, strict=True)), "problem": None, "path": str(path)}


def _job_form() -> JobForm:
    form = JobForm()
    form.task.choices = job_tasks()
    return form


def job_tasks() -> list[str]:
    """The fixed tasks, then `label:NAME` for each label set in the store and every `label:` / `field:`
    task a model was trained for (a field's name is known only once someone trained it)."""
    from bugsift.store.labels import label_names
    from bugsift.store.registry import list_models

    with database().session() as session:
        names = [f"label:{name}" for name in sorted(label_names(session)) if name not in TASKS]
        trained = sorted({row.task for row in list_models(session)})
    extra = [n for n in dict.fromkeys([*names, *trained]) if n not in dict(TASKS) and n in TASKS]
    return [*TASKS, *extra]


@bp.post("/jobs")
@role_required("admin")
def queue_job() -> ResponseReturnValue:
    form = _job_form()
    if not form.validate_on_submit():
        abort(400, "; ".join(f"{k}: {', '.join(v)}" for k, v in form.errors.items()))
    args = {"task": form.task.data}
    if (form.label.data or "").strip():
        args["label"] = form.label.data.strip()
    try:
        job_id = joblist.queue(settings(), form.job.data, args)
    except ValueError as error:
        abort(400, str(error))
    except Exception as error:  # the broker (Redis, RabbitMQ) or the queue file is unreachable
        log.exception("could not queue a %s job", form.job.data)
        abort(503, f"the job queue is unavailable ({error.__class__.__name__}); try again later")
    flash(f"Queued job {job_id}: {form.job.data} {form.task.data} (a worker runs it: `bugsift worker`)")
    return redirect(url_for("dashboard.index") + "#jobs")


@bp.get("/models/<id:model_id>/report")
@role_required("triager")
def model_report(model_id: int) -> ResponseReturnValue:
    """The version's own validation report (rendered once from the evaluation kept beside the model)."""
    with database().session() as session:
        row = session.get(ModelRow, model_id)
        if row is None:
            abort(404, f"no model with id {model_id}")
        html = model_reports.report_html(session, row)
    if html is None:
        abort(404, "this model version kept no evaluation to render; see `bugsift evaluate --report`")
    response = make_response(model_reports.fit_phones(html))
    response.headers["Content-Security-Policy"] = REPORT_CSP
    return response
