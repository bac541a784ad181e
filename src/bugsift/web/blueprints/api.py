"""JSON API under /api/v1: predict (one report or a list), reports, labels, models, health, OpenAPI."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select, text

from bugsift.learn.tasks import TASKS
from bugsift.store.models import LabelRow, ReportRow
from bugsift.web import accounts, joblist, jsonbody, names, openapi, queue, stats, suggest
from bugsift.web.auth import token_required
from bugsift.web.extensions import database, predictors, settings

bp = Blueprint("api", __name__)
log = logging.getLogger(__name__)


def json_body() -> Any:
    """The request's JSON (the app's provider: too deep or unstorable is bad JSON); 400 saying why not."""
    if not request.is_json:
        abort(400, "send a JSON body with Content-Type: application/json")
    try:
        return current_app.json.loads(request.get_data(cache=True))
    except jsonbody.BadJSON as error:
        abort(400, f"the request body is refused: {error}")
    except ValueError as error:  # includes UnicodeDecodeError
        abort(400, f"the request body is not valid JSON: {error}")


@bp.get("/health")
def health() -> ResponseReturnValue:
    try:
        with database().session() as session:
            session.execute(text("select 1"))
        active = predictors().active()
    except Exception as error:
        return jsonify(status="error", database=False, message=error.__class__.__name__), 503
    return jsonify(
        status="ok",
        database=True,
        models={task: model.version_name for task, model in active.items()},
        loaded=predictors().loaded_ids(),
    )


@bp.get("/openapi.json")
def openapi_json() -> ResponseReturnValue:
    return jsonify(openapi.document())


@bp.get("/models")
@token_required("read")
def models() -> ResponseReturnValue:
    with database().session() as session:
        rows = stats.model_versions(session)
        return jsonify(
            [
                {
                    "id": r.id,
                    "task": r.task,
                    "label": r.label,
                    "mode": r.mode,
                    "version": r.version,
                    "version_name": r.version_name,
                    "active": r.active,
                    "created_at": r.created_at.isoformat(),
                    "metrics": r.metrics,
                    "thresholds": r.thresholds,
                    "data": r.data,
                }
                for r in rows
            ]
        )


@bp.post("/predict/<task>")
@token_required("predict")
def predict(task: str) -> ResponseReturnValue:
    if task not in TASKS:
        abort(404, f"unknown task {task!r}; tasks: {TASKS.listing()}")
    try:
        reports, single = suggest.parse_payload(json_body())
    except suggest.InputError as error:
        abort(400, str(error))
    if predictors().get(task) is None:
        abort(404, f"no trained model for {task}: run `bugsift train {task}` first")
    results = suggest.predict(predictors(), task, reports, current_app.config["TOP_K"])
    results = [names.with_label_text(r) for r in results]  # the words beside each raw value
    return jsonify(results[0] if single else results)


@bp.get("/reports/<id:report_id>")
@token_required("read")
def report(report_id: int) -> ResponseReturnValue:
    with database().session() as session:
        row = session.get(ReportRow, report_id)
        if row is None:
            abort(404, f"no report with id {report_id}")
        labels = session.scalars(select(LabelRow).where(LabelRow.report_id == report_id)).all()
        effective = {}
        for name in {label.name for label in labels}:
            winner = queue.current_label(session, report_id, name)
            if winner is not None:
                effective[name] = winner.value
        return jsonify(
            id=row.id,
            tracker=row.tracker,
            project=row.project,
            external_id=row.external_id,
            title=row.title,
            description=row.description,
            created_at=row.created_at.isoformat() if row.created_at else None,
            product=row.product,
            component=row.component,
            type=row.type,
            status=row.status,
            resolution=row.resolution,
            labels=[_label(label) for label in labels],
            effective_labels=effective,
        )


@bp.post("/reports/<id:report_id>/labels")
@token_required("label")
def add_label(report_id: int) -> ResponseReturnValue:
    # The token's scope is not enough: its owner may have been demoted since it was made.
    if not accounts.role_allows(g.api_role, "triager"):
        abort(403, f"writing labels needs a token of a triager or an admin; {g.api_user} is a {g.api_role}")
    payload = json_body()
    if not isinstance(payload, dict):
        abort(400, 'send a JSON object: {"name": ..., "value": ...}')
    name, value, note = payload.get("name"), payload.get("value"), payload.get("note")
    if not isinstance(name, str) or not isinstance(value, str) or not name.strip() or not value.strip():
        abort(400, "name and value are required strings")
    if note is not None and not isinstance(note, str):
        abort(400, "note must be a string")
    for field, text_value in (("name", name), ("value", value), ("note", note or "")):
        if "\x00" in text_value:  # PostgreSQL text cannot hold NUL
            abort(400, f"{field}: must not contain NUL characters")
    with database().session() as session:
        if session.get(ReportRow, report_id) is None:
            abort(404, f"no report with id {report_id}")
        try:
            audit = queue.record_human_label(
                session, report_id, name.strip(), value, g.api_user, "label", note
            )
        except ValueError as error:
            abort(400, str(error))
        body = {
            "report_id": report_id,
            "name": audit.label_name,
            "value": audit.new_value,
            "source": "human",
            "author": audit.actor,
            "previous": audit.old_value,
            "model_version": audit.model_version,
        }
    return jsonify(body), 201


@bp.get("/jobs")
@token_required("read")
def jobs() -> ResponseReturnValue:
    try:
        limit = joblist.parse_limit(request.args.get("limit"))
        return jsonify(joblist.recent(database(), request.args.get("state") or None, limit))
    except ValueError as error:
        abort(400, str(error))


@bp.get("/jobs/<id:job_id>")
@token_required("read")
def job(job_id: int) -> ResponseReturnValue:
    found = joblist.one(database(), job_id)
    if found is None:
        abort(404, f"no job with id {job_id}")
    return jsonify(found)


@bp.post("/jobs")
@token_required("jobs")
def queue_job() -> ResponseReturnValue:
    if not accounts.role_allows(g.api_role, "admin"):
        abort(403, "queueing jobs needs a token of an admin")
    payload = json_body()
    if not isinstance(payload, dict) or not isinstance(payload.get("task"), str):
        abort(400, 'send a JSON object: {"task": "train", "args": {"task": "defect"}}')
    try:
        job_id = joblist.queue(settings(), payload["task"], payload.get("args") or {})
    except ValueError as error:
        abort(400, str(error))
    except Exception as error:  # the broker (Redis, RabbitMQ) or the queue file is unreachable
        log.exception("could not queue a %s job", payload["task"])
        abort(503, f"the job queue is unavailable ({error.__class__.__name__}); try again later")
    found = joblist.one(database(), job_id)
    return jsonify(found), 202, {"Location": f"/api/v1/jobs/{job_id}"}


def _label(label: LabelRow) -> dict[str, Any]:
    return {
        "name": label.name,
        "value": label.value,
        "source": label.source,
        "author": label.author,
        "model_version": label.model_version,
        "updated_at": label.updated_at.isoformat(),
    }
