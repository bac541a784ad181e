"""The report form, suggest endpoint, triage queue, dashboard and login, through the Flask test client."""

from __future__ import annotations

import re

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select

import bugsift.store.web_tables as web_models
from bugsift.store.labels import effective_labels
from bugsift.store.migrate import downgrade, upgrade
from bugsift.store.models import Base, LabelRow, ReportRow
from bugsift.web.app import create_app
from bugsift.web.suggest import store_model_labels

from .conftest import Web, csrf_token, login

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_form_page_has_security_headers_and_no_inline_script(web: Web) -> None:
    response = web.client.get("/")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    page = response.get_data(as_text=True)
    assert re.findall(r"<script[^>]*>", page) == ['<script src="/static/app.js" defer>']
    with web.client.get("/static/app.js") as script:
        assert script.status_code == 200


def test_suggest_answers_with_csrf_and_refuses_without(web: Web) -> None:
    token = csrf_token(web.client)
    body = {"title": "Crash when opening preferences", "description": "Firefox crashes every time."}
    answer = web.client.post("/suggest", json=body, headers={"X-CSRFToken": token})
    assert answer.status_code == 200
    assert set(answer.json) == {"defect"}  # the only task with a trained model
    assert answer.json["defect"]["words"]
    refused = web.client.post("/suggest", json=body)
    assert refused.status_code == 400 and refused.json["error"] == "csrf"
    empty = web.client.post("/suggest", json={"title": " "}, headers={"X-CSRFToken": token})
    assert empty.status_code == 400 and "title or a description" in empty.json["message"]


def test_suggest_is_rate_limited(settings, sqlite_db) -> None:
    app = create_app(settings, database=sqlite_db, TESTING=True, SUGGEST_RATE_LIMIT="2 per minute")
    client = app.test_client()
    token = csrf_token(client)
    codes = [
        client.post("/suggest", json={"title": "x"}, headers={"X-CSRFToken": token}).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]
    limited = client.post("/suggest", json={"title": "x"}, headers={"X-CSRFToken": token})
    assert limited.json["error"] == "too_many_requests"


def test_form_without_javascript_previews_then_stores_and_escapes(web: Web) -> None:
    fields = {
        "title": f"Crash {XSS}",
        "description": f"It crashed. {XSS}",
        "product": "Firefox",
        "version": "120",
    }
    preview = web.client.post("/", data={**fields, "csrf_token": csrf_token(web.client), "preview": "1"})
    assert preview.status_code == 200
    page = preview.get_data(as_text=True)
    assert 'data-task="defect"' in page
    with web.database.session() as session:
        assert session.scalar(select(ReportRow.id)) is None  # a preview stores nothing

    stored = web.client.post("/", data={**fields, "csrf_token": csrf_token(web.client), "submit": "1"})
    assert stored.status_code == 302
    page = web.client.get(stored.headers["Location"]).get_data(as_text=True)
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    with web.database.session() as session:
        row = session.scalars(select(ReportRow)).one()
        assert (row.tracker, row.product, row.extra["version"]) == ("web", "Firefox", "120")
        assert row.description == f"It crashed. {XSS}"  # stored exactly as written
        label = session.scalars(select(LabelRow)).one()
        assert (label.name, label.source, label.model_version) == (
            "defect",
            "model",
            "defect:is_bug_derived:filing:v1",
        )
        assert label.value in page


def test_forms_refuse_posts_without_csrf(web: Web) -> None:
    assert web.client.post("/", data={"title": "x", "submit": "1"}).status_code == 400
    assert web.client.post("/login", data={"username": "triager", "password": "x"}).status_code == 400
    login(web.client, "triager")
    assert (
        web.client.post(
            "/triage/1/label", data={"name": "defect", "value": "x", "action": "accept"}
        ).status_code
        == 400
    )


def test_login_roles_and_logout(web: Web) -> None:
    assert web.client.get("/triage/").status_code == 302
    wrong = web.client.post(
        "/login",
        data={"username": "triager", "password": "nope", "csrf_token": csrf_token(web.client, "/login")},
    )
    assert wrong.status_code == 401
    login(web.client, "viewer")
    assert web.client.get("/triage/").status_code == 403
    assert web.client.get("/dashboard/").status_code == 200
    web.client.post("/logout", data={"csrf_token": csrf_token(web.client)})
    assert web.client.get("/dashboard/").status_code == 302
    login(web.client, "admin")
    assert web.client.get("/triage/").status_code == 200


def test_triage_accept_and_correct_write_human_labels_and_audit(web: Web) -> None:
    for title in ("Crash on print", "Please add a dark theme"):
        web.client.post("/", data={"title": title, "csrf_token": csrf_token(web.client), "submit": "1"})
    login(web.client, "triager")
    queue = web.client.get("/triage/").get_data(as_text=True)
    ids = [int(i) for i in re.findall(r'id="report-(\d+)"', queue)]
    assert len(ids) == 2
    token = csrf_token(web.client, "/triage/")
    with web.database.session() as session:
        model_values = {r: v for r, v in session.execute(select(LabelRow.report_id, LabelRow.value))}
    accepted = web.client.post(
        f"/triage/{ids[0]}/label",
        data={"name": "defect", "value": model_values[ids[0]], "action": "accept", "csrf_token": token},
    )
    assert accepted.status_code == 302
    corrected = web.client.post(
        f"/triage/{ids[1]}/label",
        data={"name": "defect", "value": "not_defect", "action": "correct", "csrf_token": token},
    )
    assert corrected.status_code == 302
    assert (
        web.client.post(
            "/triage/99999/label",
            data={"name": "defect", "value": "x", "action": "accept", "csrf_token": token},
        ).status_code
        == 404
    )
    page = web.client.get("/triage/").get_data(as_text=True)
    assert 'id="queue-empty"' in page
    with web.database.session() as session:
        audit = session.scalars(select(web_models.AuditRow).order_by(web_models.AuditRow.id)).all()
        assert [(a.actor, a.action, a.report_id, a.new_value) for a in audit] == [
            ("triager", "accept", ids[0], model_values[ids[0]]),
            ("triager", "correct", ids[1], "not_defect"),
        ]
        assert audit[1].old_value == model_values[ids[1]] and audit[1].old_source == "model"
        assert audit[1].model_version == "defect:is_bug_derived:filing:v1"
        human = session.scalars(select(LabelRow).where(LabelRow.source == "human")).all()
        assert {(h.report_id, h.value, h.author) for h in human} == {
            (ids[0], model_values[ids[0]], "triager"),
            (ids[1], "not_defect", "triager"),
        }
        store_model_labels(session, ids[1], {"defect": {"prediction": "defect", "model_version": "v9"}})
    with web.database.session() as session:
        assert effective_labels(session, "defect")[ids[1]] == "not_defect"


def test_dashboard_shows_trackers_models_and_drift(web: Web) -> None:
    web.client.post(
        "/", data={"title": "Crash on print", "csrf_token": csrf_token(web.client), "submit": "1"}
    )
    login(web.client, "viewer")
    page = web.client.get("/dashboard/").get_data(as_text=True)
    assert "defect:is_bug_derived:filing:v1" in page
    assert re.search(r"<td>web</td><td>1</td>", page)
    assert re.search(r"<td>\d{4}-W\d\d</td><td>1</td>", page)
    assert "accuracy 0." in page


def test_migration_matches_the_web_models(sqlite_db) -> None:
    assert {"users", "api_tokens", "audit"} <= set(Base.metadata.tables)
    with sqlite_db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "include_object": lambda _o, name, type_, *_: type_ != "table" or name in Base.metadata.tables
            },
        )
        assert compare_metadata(context, Base.metadata) == []
    downgrade(sqlite_db.engine, "0002")
    upgrade(sqlite_db.engine)
