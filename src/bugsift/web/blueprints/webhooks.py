"""Webhooks: POST /webhooks/github receives GitHub `issues` events, stores the issue and queues its
classification.

The body is authenticated by its HMAC-SHA256 (``X-Hub-Signature-256``, keyed with
``github_webhook_secret``), compared in constant time before anything is parsed; no secret configured
means no endpoint (404). No cookies are involved, so the view is exempt from CSRF. The issue is stored
with the same key as `sync github` (tracker ``github``, owner/repo, number), so both update one report.
Each signed delivery is remembered by its ``X-GitHub-Delivery`` id (`bugsift.web.deliveries`): a
redelivery or replay of a known id gets the answer the first one got and stores, queues and mails
nothing. Bodies a database could not hold (deep nesting, lone surrogates, integers beyond 64 bits,
out-of-range dates, values longer than their column) are a 400 naming the field.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

from flask import Blueprint, abort, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import String, select
from sqlalchemy.exc import IntegrityError

from bugsift.jobs.core import submit
from bugsift.settings import Settings
from bugsift.sources.base import RecordError, Report
from bugsift.sources.github import from_record
from bugsift.store.models import ReportRow
from bugsift.store.reports import upsert_reports
from bugsift.web import deliveries, estimates, jsonbody
from bugsift.web.converters import MAX_ID
from bugsift.web.extensions import csrf, database, settings

bp = Blueprint("webhooks", __name__)
log = logging.getLogger(__name__)

TRACKER = "github"
CLASSIFY_ACTIONS = {"opened", "edited", "reopened", "transferred"}  # the text may be new
Answer = tuple[int, dict[str, Any]]


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is ``sha256=<hex HMAC of body>``; constant time whatever the input."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), (header or "").encode())


def _answer(code: int, **body: Any) -> ResponseReturnValue:
    return jsonify(body), code


@bp.post("/github")
@csrf.exempt
def github() -> ResponseReturnValue:
    config = settings()
    if not config.github_webhook_secret:
        abort(404)
    body = request.get_data(cache=False)
    if not signature_ok(config.github_webhook_secret, body, request.headers.get("X-Hub-Signature-256")):
        return _answer(401, error="bad_signature", message="missing or wrong X-Hub-Signature-256")
    delivery = request.headers.get("X-GitHub-Delivery", "").strip()
    if len(delivery) > deliveries.MAX_ID_CHARS:
        message = f"X-GitHub-Delivery: longer than {deliveries.MAX_ID_CHARS} characters"
        return _answer(400, error="bad_delivery", message=message)
    if not delivery:  # GitHub always sends one; without it the delivery is handled, not remembered
        code, answer = handle(config, body)
        return _answer(code, **answer)
    return _remembered(config, body, delivery)


def _remembered(config: Settings, body: bytes, delivery: str) -> ResponseReturnValue:
    """Handle a delivery once: a known id is answered from the table without touching anything."""
    claim = deliveries.claim(database(), TRACKER, delivery)
    if claim.row_id is None:
        if claim.status == deliveries.PENDING:
            message = f"delivery {delivery} is being handled by another request; try again later"
            return _answer(409, error="in_progress", message=message, replay=True)
        return _answer(claim.status, **{**(claim.answer or {}), "replay": True})
    try:
        code, answer = handle(config, body)
    except BaseException:
        deliveries.release(database(), claim.row_id)  # a redelivery may try again
        raise
    if code >= 500:  # not an answer to keep: a redelivery should be handled again
        deliveries.release(database(), claim.row_id)
    else:
        deliveries.finish(database(), claim.row_id, code, answer)
    return _answer(code, **answer)


def handle(config: Settings, body: bytes) -> Answer:
    """The answer to one signed delivery (status, JSON body); stores the issue and queues its jobs."""
    try:  # the app's JSON rules, and integers a database column can hold (the raw issue is stored)
        payload = jsonbody.loads(body, max_int=MAX_ID)
    except jsonbody.BadJSON as error:
        return 400, {"error": "bad_json", "message": f"the body is refused: {error}"}
    except ValueError as error:
        return 400, {"error": "bad_json", "message": f"the body is not valid JSON: {error}"}
    event = request.headers.get("X-GitHub-Event", "")
    if event == "ping":
        return 200, {"ok": True, "event": "ping"}
    if event != "issues":
        return 202, {"ok": True, "ignored": f"event {event or '(none)'}"}
    issue = payload.get("issue") if isinstance(payload, dict) else None
    if not isinstance(issue, dict):
        return 400, {"error": "bad_payload", "message": "an issues event needs an 'issue' object"}
    action = str(payload.get("action", ""))
    if action == "deleted":
        return 202, {"ok": True, "ignored": "action deleted"}
    report, problem = _report(issue)
    if problem is not None:
        return 400, {"error": "bad_issue", "message": problem}
    if report is None:
        return 202, {"ok": True, "ignored": "pull request"}
    return _store_and_queue(config, report, action)


def _report(issue: dict[str, Any]) -> tuple[Report | None, str | None]:
    """The issue as a Report (None for a pull request), or what is wrong with it (a date out of the
    calendar's range included: `parse_datetime` says so as a RecordError)."""
    try:
        report = from_record(issue, TRACKER)
    except RecordError as error:
        return None, f"issue: {error}"
    return report, None if report is None else _too_long(report)


def _too_long(report: Report) -> str | None:
    """A field longer than its column (PostgreSQL refuses it; SQLite would keep it silently)."""
    for column in ReportRow.__table__.columns:
        value = getattr(report, column.name, None)
        limit = column.type.length if isinstance(column.type, String) else None
        if limit and isinstance(value, str) and len(value) > limit:
            return f"issue: {column.name} is longer than {limit} characters"
    return None


def _store_and_queue(config: Settings, report: Report, action: str) -> Answer:
    report_id, stored = _store(report)
    jobs = []
    if action in CLASSIFY_ACTIONS:
        tasks = [t.strip() for t in config.webhook_classify_tasks.split(",") if t.strip()]
        # classify refuses an estimate (fix-time: no label holds it); the report page computes it live
        tasks = [t for t in tasks if t not in estimates.ESTIMATE_TASKS]
        try:
            jobs = [
                submit("classify", config, task=task, report_ids=[report_id], notify=True) for task in tasks
            ]
        except Exception as error:  # the broker (Redis, RabbitMQ) or the queue file is unreachable
            log.exception("could not queue the classification of report %s", report_id)
            message = f"stored, but the job queue is unavailable ({error.__class__.__name__}); redeliver"
            return 503, {"error": "queue_unavailable", "message": message, "report_id": report_id}
    return 202, {"ok": True, "report_id": report_id, "stored": stored, "jobs": jobs}


def _store(report: Report) -> tuple[int, str]:
    """Upsert the issue: (report id, imported | updated | unchanged)."""
    try:
        return _upsert(report)
    except IntegrityError:  # two events of one new issue at once: the other inserted it first
        return _upsert(report)


def _upsert(report: Report) -> tuple[int, str]:
    with database().session() as session:
        counts = upsert_reports(session, [report])
        report_id = session.scalar(
            select(ReportRow.id).where(
                ReportRow.tracker == report.tracker,
                ReportRow.project == report.project,
                ReportRow.external_id == report.external_id,
            )
        )
    assert report_id is not None
    stored = "imported" if counts.imported else "updated" if counts.updated else "unchanged"
    return report_id, stored
