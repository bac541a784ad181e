"""POST /webhooks/github with real issues (NLBSE facebook/react) in GitHub `issues` event payloads:
HMAC-SHA256 signature checked, bad JSON refused, no CSRF token needed, the issue stored and its
classification queued (and run here) for the one report."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from jobs_support import job_settings
from sqlalchemy import select
from trackers_replay import REPO, github_issues

from bugsift.jobs.core import database_for, get_job, run_job
from bugsift.store.models import LabelRow, ReportRow
from bugsift.web.app import create_app
from bugsift.web.blueprints.webhooks import signature_ok

SECRET = "webhook-secret"


@pytest.fixture
def setup(tmp_path: Path):
    settings = job_settings(tmp_path / "home", github_webhook_secret=SECRET, webhook_classify_tasks="stub")
    app = create_app(settings, database=database_for(settings), TESTING=True, WTF_CSRF_ENABLED=True)
    return settings, app.test_client()


def event(issue: dict, action: str = "opened") -> bytes:
    return json.dumps({"action": action, "issue": issue, "repository": {"full_name": REPO}}).encode()


def post(client, body: bytes, signature: str | None = "valid", kind: str = "issues"):
    headers = {"X-GitHub-Event": kind, "Content-Type": "application/json"}
    if signature == "valid":
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return client.post("/webhooks/github", data=body, headers=headers)


def test_a_signed_issue_event_stores_the_issue_and_queues_its_classification(setup) -> None:
    settings, client = setup
    issue = github_issues(3)[2]
    response = post(client, event(issue))
    assert response.status_code == 202, response.get_json()
    answer = response.get_json()
    assert answer["stored"] == "imported" and len(answer["jobs"]) == 1
    database = database_for(settings)
    with database.session() as session:
        row = session.get(ReportRow, answer["report_id"])
        assert (row.tracker, row.project, row.external_id, row.title) == ("github", REPO, "3", issue["title"])
    job = get_job(database, answer["jobs"][0])
    assert job.task == "classify" and job.args["report_ids"] == [answer["report_id"]]
    assert run_job(job.id, settings).state == "done"
    assert get_job(database, job.id).result["predicted"] == 1
    # An edit updates the same report and classifies it again; a label event only stores.
    edited = {**issue, "title": "Crash when rendering", "updated_at": "2026-01-01T00:00:00Z"}
    again = post(client, event(edited, "edited")).get_json()
    assert again["report_id"] == answer["report_id"] and again["stored"] == "updated"
    assert run_job(again["jobs"][0], settings).state == "done"
    with database.session() as session:
        labels = session.scalars(
            select(LabelRow.value).where(LabelRow.report_id == answer["report_id"], LabelRow.name == "stub")
        )
        assert list(labels) == ["crash"]
    assert post(client, event(edited, "labeled")).get_json()["jobs"] == []


def test_bad_or_missing_signatures_are_refused_before_parsing(setup) -> None:
    _, client = setup
    body = event(github_issues(1)[0])
    assert post(client, body, signature=None).status_code == 401
    assert post(client, body, signature="sha256=" + "0" * 64).status_code == 401
    assert post(client, body + b" ", signature="sha256=" + "0" * 64).status_code == 401
    assert post(client, b"{not json", signature=None).status_code == 401  # signature first
    assert post(client, b"{not json").status_code == 400
    assert post(client, b'{"zen": "Keep it simple"}', kind="ping").status_code == 200
    assert post(client, b'{"action": "opened"}').status_code == 400  # no issue object
    pull = {**github_issues(1)[0], "pull_request": {"url": "x"}}
    assert post(client, event(pull)).get_json()["ignored"] == "pull request"
    assert post(client, b"{}", kind="push").status_code == 202


def test_no_secret_no_endpoint(tmp_path: Path) -> None:
    settings = job_settings(tmp_path / "home")
    client = create_app(settings, database=database_for(settings), TESTING=True).test_client()
    assert client.post("/webhooks/github", data=b"{}").status_code == 404
    assert signature_ok("s", b"x", "sha256=" + hmac.new(b"s", b"x", hashlib.sha256).hexdigest())
    assert not signature_ok("s", b"x", None)
