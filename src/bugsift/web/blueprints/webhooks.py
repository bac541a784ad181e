"""Webhooks: POST /webhooks/github receives GitHub `issues` events, stores the issue and queues its
classification.

The body is authenticated by its HMAC-SHA256 (``X-Hub-Signature-256``, keyed with
``github_webhook_secret``), compared in constant time before anything is parsed; no secret configured
means no endpoint (404). No cookies are involved, so the view is exempt from CSRF. The issue is stored
with the same key as `sync github` (tracker ``github``, owner/repo, number), so both update one report.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from flask import Blueprint, abort, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from bugsift.jobs.core import submit
from bugsift.sources.base import RecordError
from bugsift.sources.github import from_record
from bugsift.store.models import ReportRow
from bugsift.store.reports import upsert_reports
from bugsift.web.extensions import csrf, database, settings

bp = Blueprint("webhooks", __name__)

TRACKER = "github"
CLASSIFY_ACTIONS = {"opened", "edited", "reopened", "transferred"}  # the text may be new


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
    try:
        payload = json.loads(body)
    except ValueError:
        return _answer(400, error="bad_json", message="the body is not valid JSON")
    event = request.headers.get("X-GitHub-Event", "")
    if event == "ping":
        return _answer(200, ok=True, event="ping")
    if event != "issues":
        return _answer(202, ok=True, ignored=f"event {event or '(none)'}")
    issue = payload.get("issue") if isinstance(payload, dict) else None
    if not isinstance(issue, dict):
        return _answer(400, error="bad_payload", message="an issues event needs an 'issue' object")
    action = str(payload.get("action", ""))
    if action == "deleted":
        return _answer(202, ok=True, ignored="action deleted")
    try:
        report = from_record(issue, TRACKER)
    except RecordError as error:
        return _answer(400, error="bad_issue", message=str(error))
    if report is None:
        return _answer(202, ok=True, ignored="pull request")
    with database().session() as session:
        counts = upsert_reports(session, [report])
        report_id = session.scalar(
            select(ReportRow.id).where(
                ReportRow.tracker == report.tracker,
                ReportRow.project == report.project,
                ReportRow.external_id == report.external_id,
            )
        )
    jobs = []
    if action in CLASSIFY_ACTIONS:
        tasks = [t.strip() for t in config.webhook_classify_tasks.split(",") if t.strip()]
        jobs = [submit("classify", config, task=task, report_ids=[report_id], notify=True) for task in tasks]
    stored = "imported" if counts.imported else "updated" if counts.updated else "unchanged"
    return _answer(202, ok=True, report_id=report_id, stored=stored, jobs=jobs)
