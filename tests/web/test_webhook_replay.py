"""Webhook replay (issue 19, item 6): a known X-GitHub-Delivery gets the stored answer and stores, queues
and mails nothing; concurrent deliveries of one id are handled once; old deliveries are pruned."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bugsift.store.job_tables import JobRow
from bugsift.store.models import ReportRow, utcnow
from bugsift.store.web_tables import WebhookDeliveryRow
from bugsift.web import deliveries
from bugsift.web.app import create_app
from bugsift.web.blueprints import webhooks

from .conftest import Web

SECRET = "replay-secret"


pytestmark = pytest.mark.usefixtures("dispose_job_databases")


def hooked_app(web: Web, **settings: Any) -> Flask:
    base = web.app.extensions["bugsift"].settings
    update = {"github_webhook_secret": SECRET, "webhook_classify_tasks": "defect", **settings}
    return create_app(base.model_copy(update=update), database=web.database, TESTING=True)


@pytest.fixture
def hook(web: Web) -> FlaskClient:
    return hooked_app(web).test_client()


def event(title: str = "Crash when opening a tab", action: str = "opened") -> bytes:
    issue = {
        "number": 7,
        "title": title,
        "body": "Firefox segfaults.",
        "state": "open",
        "created_at": "2024-05-01T10:00:00Z",
        "updated_at": "2024-05-01T10:00:00Z",
        "html_url": "https://github.com/octo/app/issues/7",
    }
    return json.dumps({"action": action, "issue": issue}).encode()


def deliver(client: FlaskClient, body: bytes, delivery: str | None, signature: str | None = None) -> Any:
    signature = signature or "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "X-Hub-Signature-256": signature,
        "X-GitHub-Event": "issues",
        "Content-Type": "application/json",
    }
    if delivery is not None:
        headers["X-GitHub-Delivery"] = delivery
    return client.post("/webhooks/github", data=body, headers=headers)


def count(web: Web, row: Any) -> int:
    with web.database.session() as session:
        return session.scalar(select(func.count()).select_from(row)) or 0


def title_of(web: Web, report_id: int) -> str:
    with web.database.session() as session:
        row = session.get(ReportRow, report_id)
        assert row is not None
        return row.title


def test_a_replayed_delivery_gets_the_stored_answer_and_changes_nothing(web: Web, hook: FlaskClient) -> None:
    first = deliver(hook, event(), "72d3162e-cc78-11e3-81ab-4c9367dc0958")
    assert first.status_code == 202, first.json
    assert first.json["stored"] == "imported" and len(first.json["jobs"]) == 1 and "replay" not in first.json
    assert count(web, JobRow) == 1
    again = deliver(hook, event(), "72d3162e-cc78-11e3-81ab-4c9367dc0958")
    assert again.status_code == 202
    assert again.json == {**first.json, "replay": True}
    # Even with another (signed) body: the id is known, so nothing is stored or queued.
    edited = deliver(hook, event("Edited title", "edited"), "72d3162e-cc78-11e3-81ab-4c9367dc0958")
    assert edited.json == {**first.json, "replay": True}
    assert count(web, JobRow) == 1 and count(web, ReportRow) == 1
    assert title_of(web, first.json["report_id"]) == "Crash when opening a tab"
    with web.database.session() as session:
        row = session.scalar(select(WebhookDeliveryRow))
        assert (row.source, row.status, row.answer) == ("github", 202, first.json)
    # A new delivery id is a new event: handled.
    new = deliver(hook, event("Edited title", "edited"), "another-delivery")
    assert new.json["stored"] == "updated" and count(web, JobRow) == 2


def test_other_answers_are_replayed_too_but_unsigned_ones_are_not_remembered(
    web: Web, hook: FlaskClient
) -> None:
    bad = deliver(hook, b'{"action": "opened"}', "d-bad")
    assert bad.status_code == 400
    assert deliver(hook, b'{"action": "opened"}', "d-bad").json == {**bad.json, "replay": True}
    forged = deliver(hook, event(), "d-forged", signature="sha256=" + "0" * 64)
    assert forged.status_code == 401
    assert count(web, WebhookDeliveryRow) == 1  # only the signed delivery: nobody can poison an id
    real = deliver(hook, event(), "d-forged")
    assert real.status_code == 202 and "replay" not in real.json


def test_a_delivery_without_the_header_is_handled_each_time(web: Web, hook: FlaskClient) -> None:
    assert deliver(hook, event(), None).status_code == 202
    assert deliver(hook, event(), None).status_code == 202
    assert count(web, JobRow) == 2 and count(web, WebhookDeliveryRow) == 0
    long = deliver(hook, event(), "x" * 101)
    assert long.status_code == 400 and "X-GitHub-Delivery" in long.json["message"]


def test_concurrent_deliveries_of_one_id_are_handled_once(web: Web) -> None:
    app = hooked_app(web)
    start = threading.Barrier(6)
    answers: list[Any] = []

    def post() -> None:
        client = app.test_client()
        start.wait()
        response = deliver(client, event(), "same-id")
        answers.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(answers) == 6
    handled = [body for code, body in answers if code == 202 and "replay" not in body]
    assert len(handled) == 1, answers
    assert all(body.get("replay") for code, body in answers if body is not handled[0])
    assert count(web, JobRow) == 1 and count(web, WebhookDeliveryRow) == 1


def test_the_second_of_two_racing_deliveries_learns_from_the_unique_constraint(web: Web) -> None:
    """The insert that loses the race raises IntegrityError: answered as a replay (or in progress)."""
    claim = deliveries.claim(web.database, "github", "raced")
    assert claim.row_id is not None
    pending = deliveries.claim(web.database, "github", "raced")
    assert (pending.row_id, pending.status) == (None, deliveries.PENDING)
    deliveries.finish(web.database, claim.row_id, 202, {"ok": True})
    known = deliveries.claim(web.database, "github", "raced")
    assert (known.row_id, known.status, known.answer) == (None, 202, {"ok": True})


def test_a_delivery_being_handled_is_a_409_and_a_stale_claim_is_taken_over(
    web: Web, hook: FlaskClient
) -> None:
    with web.database.session() as session:
        session.add(WebhookDeliveryRow(source="github", delivery_id="busy", status=0, answer={}))
        old = utcnow() - deliveries.STALE_AFTER - timedelta(seconds=5)
        session.add(
            WebhookDeliveryRow(source="github", delivery_id="dead", status=0, answer={}, received_at=old)
        )
    busy = deliver(hook, event(), "busy")
    assert busy.status_code == 409 and busy.json["error"] == "in_progress" and count(web, JobRow) == 0
    dead = deliver(hook, event(), "dead")  # its handler died: this delivery handles it
    assert dead.status_code == 202 and len(dead.json["jobs"]) == 1
    assert deliver(hook, event(), "dead").json["replay"] is True


def test_a_failed_handling_is_forgotten_so_a_redelivery_is_handled(web: Web) -> None:
    broken = hooked_app(web, jobs_backend="celery", broker_url="redis://127.0.0.1:1/0").test_client()
    failed = deliver(broken, event(), "retry-me")
    assert failed.status_code == 503 and failed.json["error"] == "queue_unavailable"
    assert count(web, WebhookDeliveryRow) == 0
    redelivered = deliver(hooked_app(web).test_client(), event(), "retry-me")
    assert redelivered.status_code == 202 and "replay" not in redelivered.json


def test_deliveries_older_than_the_retention_are_pruned(web: Web, hook: FlaskClient) -> None:
    old = utcnow() - timedelta(days=deliveries.KEEP_DAYS, hours=1)
    recent = utcnow() - timedelta(days=deliveries.KEEP_DAYS - 1)
    with web.database.session() as session:
        session.add(
            WebhookDeliveryRow(source="github", delivery_id="old", status=202, answer={}, received_at=old)
        )
        session.add(
            WebhookDeliveryRow(
                source="github", delivery_id="recent", status=202, answer={}, received_at=recent
            )
        )
    assert deliver(hook, event(), "new").status_code == 202
    with web.database.session() as session:
        kept = set(session.scalars(select(WebhookDeliveryRow.delivery_id)))
    assert kept == {"recent", "new"}


def test_two_events_of_one_new_issue_at_once_do_not_collide(
    web: Web, hook: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other event inserted the issue between our look-up and our insert: we update it instead."""
    real = webhooks.upsert_reports
    calls = []

    def racing(session: Any, reports: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            with web.database.session() as other:
                real(other, reports)
            raise IntegrityError("INSERT INTO reports", {}, Exception("UNIQUE constraint failed"))
        return real(session, reports)

    monkeypatch.setattr(webhooks, "upsert_reports", racing)
    answer = deliver(hook, event(), "second-event")
    assert answer.status_code == 202 and answer.json["stored"] == "unchanged", answer.json
    assert len(calls) == 2 and count(web, ReportRow) == 1
