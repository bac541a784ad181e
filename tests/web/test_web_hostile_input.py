"""Hostile input from the security probe (issue 19, items 3 and 4): every one a clear 400 (or 403) in JSON
naming what is wrong, never a 500, through the real app (Flask test client, SQLite, the trained model)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.routing import IntegerConverter

from bugsift.store.reports import upsert_reports
from bugsift.web import accounts, openapi
from bugsift.web.app import create_app
from bugsift.web.converters import MAX_ID, IdConverter
from bugsift.web.suggest import parse_report

from .conftest import Web, bearer, csrf_token, login

DEEP = "[" * 100_000 + "]" * 100_000
DEEP_IN_OBJECT = '{"title": "x", "description": ' + DEEP + "}"
TOO_BIG = str(2**63)  # one more than the largest id SQLite and PostgreSQL hold
SECRET = "probe-secret"


@pytest.fixture
def admin_token(web: Web) -> str:
    with web.database.session() as session:
        admin = accounts.get_user(session, "admin")
        return accounts.create_token(session, admin, "probe", ("predict", "read", "label", "jobs"))[1]


@pytest.fixture
def report_id(web: Web) -> int:
    with web.database.session() as session:
        upsert_reports(session, [parse_report({"id": "p1", "title": "Crash when printing"})])
    return 1


@pytest.fixture
def hook(web: Web) -> FlaskClient:
    """The same app and database with the GitHub webhook turned on."""
    settings = web.app.extensions["bugsift"].settings
    hooked = settings.model_copy(update={"github_webhook_secret": SECRET, "webhook_classify_tasks": "defect"})
    return create_app(hooked, database=web.database, TESTING=True).test_client()


def signed(client: FlaskClient, body: bytes, event: str = "issues") -> Any:
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-Hub-Signature-256": signature, "X-GitHub-Event": event, "Content-Type": "application/json"}
    return client.post("/webhooks/github", data=body, headers=headers)


def issue(**fields: Any) -> dict[str, Any]:
    base = {
        "number": 12,
        "title": "Crash when opening a tab",
        "body": "It segfaults.",
        "state": "open",
        "created_at": "2024-05-01T10:00:00Z",
        "updated_at": "2024-05-01T10:00:00Z",
        "html_url": "https://github.com/octo/app/issues/12",
    }
    return {**base, **fields}


def event(**fields: Any) -> bytes:
    return json.dumps({"action": "opened", "issue": issue(**fields)}).encode()


def assert_400(response: Any, *words: str) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert set(body) >= {"error", "message"}, body
    for word in words:
        assert word in body["message"], body


# --- item 3: a viewer's label token ------------------------------------------------------------------


def test_a_viewer_cannot_write_labels_whatever_scope_the_token_holds(web: Web, report_id: int) -> None:
    with web.database.session() as session:  # made while a triager, then demoted: the token keeps its scope
        ana = accounts.create_user(session, "ana", "correct horse battery", "triager")
        token = accounts.create_token(session, ana, "labels", ("label", "read"))[1]
        accounts.set_role(session, "ana", "viewer")
    url = f"/api/v1/reports/{report_id}/labels"
    refused = web.client.post(url, json={"name": "defect", "value": "no"}, headers=bearer(token))
    assert refused.status_code == 403
    assert refused.json["message"] == "writing labels needs a token of a triager or an admin; ana is a viewer"
    got = web.client.get(f"/api/v1/reports/{report_id}", headers=bearer(token)).json
    assert got["labels"] == []  # nothing was written
    with web.database.session() as session:
        accounts.set_role(session, "ana", "triager")
    allowed = web.client.post(url, json={"name": "defect", "value": "no"}, headers=bearer(token))
    assert allowed.status_code == 201 and allowed.json["author"] == "ana"


# --- item 4: deeply nested JSON -----------------------------------------------------------------------


@pytest.mark.parametrize("body", [DEEP, DEEP_IN_OBJECT], ids=["array", "in-object"])
def test_deeply_nested_json_is_a_400_everywhere(
    web: Web, admin_token: str, report_id: int, hook: FlaskClient, body: str
) -> None:
    for path in ("/api/v1/predict/defect", f"/api/v1/reports/{report_id}/labels", "/api/v1/jobs"):
        response = web.client.post(
            path, data=body, content_type="application/json", headers=bearer(admin_token)
        )
        assert_400(response, "the request body is refused", "nested")
    token = csrf_token(web.client)
    suggest = web.client.post(
        "/suggest", data=body, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert_400(suggest)
    assert_400(signed(hook, body.encode()), "nested")


def test_nesting_deeper_than_the_limit_names_the_field(web: Web) -> None:
    body = {"title": "x", "description": json.loads("[" * 70 + "]" * 70)}
    response = web.client.post("/api/v1/predict/defect", json=body, headers=bearer(web.tokens["predict"]))
    assert_400(response, "body.description" + "[0]" * 63, "nested deeper than 64 levels")


def test_a_lone_surrogate_is_refused_in_api_bodies(web: Web, report_id: int) -> None:
    data = '{"name": "defect", "value": "\\ud800"}'
    url = f"/api/v1/reports/{report_id}/labels"
    response = web.client.post(
        url, data=data, content_type="application/json", headers=bearer(web.tokens["label"])
    )
    assert_400(response, "body.value", "lone surrogate")
    pair = '{"title": "\\ud83d\\ude00 crash"}'  # an escaped pair is one character, and fine
    fine = web.client.post(
        "/api/v1/predict/defect",
        data=pair,
        content_type="application/json",
        headers=bearer(web.tokens["predict"]),
    )
    assert fine.status_code == 200


# --- item 4: created_at out of range ------------------------------------------------------------------


def test_a_created_at_before_year_one_in_utc_is_a_400(web: Web) -> None:
    body = {"title": "Crash", "created_at": "0001-01-01T00:00:00+14:00"}
    response = web.client.post("/api/v1/predict/defect", json=body, headers=bearer(web.tokens["predict"]))
    assert_400(response, "body.created_at", "out of range")
    late = {"title": "Crash", "created_at": "9999-12-31T23:59:59-14:00"}
    assert_400(web.client.post("/api/v1/predict/defect", json=late, headers=bearer(web.tokens["predict"])))
    suggest = web.client.post("/suggest", json=body, headers={"X-CSRFToken": csrf_token(web.client)})
    assert_400(suggest, "created_at")


# --- item 4: path ids beyond 64 bits ------------------------------------------------------------------


def test_every_id_route_takes_only_ids_that_fit_64_bits(web: Web) -> None:
    rules = [rule for rule in web.app.url_map.iter_rules() if rule._converters]
    assert not [r.rule for r in rules if any(isinstance(c, IntegerConverter) for c in r._converters.values())]
    id_rules = {r.rule for r in rules if any(isinstance(c, IdConverter) for c in r._converters.values())}
    assert id_rules == {
        "/api/v1/reports/<id:report_id>",
        "/api/v1/reports/<id:report_id>/labels",
        "/api/v1/jobs/<id:job_id>",
        "/triage/<id:report_id>/label",
        "/triage/report/<id:report_id>",
        "/dashboard/models/<id:model_id>/report",
    }


@pytest.mark.parametrize("number", [TOO_BIG, "9" * 30, "9" * 5000])
def test_api_ids_beyond_64_bits_are_a_400(web: Web, admin_token: str, number: str) -> None:
    headers = bearer(admin_token)
    assert_400(web.client.get(f"/api/v1/reports/{number}", headers=headers), "out of range", str(MAX_ID))
    labels = web.client.post(
        f"/api/v1/reports/{number}/labels", json={"name": "a", "value": "b"}, headers=headers
    )
    assert_400(labels, "out of range")
    assert_400(web.client.get(f"/api/v1/jobs/{number}", headers=headers), "out of range")


def test_the_largest_id_is_just_not_found(web: Web) -> None:
    headers = bearer(web.tokens["read"])
    assert web.client.get(f"/api/v1/reports/{MAX_ID}", headers=headers).status_code == 404
    assert web.client.get(f"/api/v1/jobs/{MAX_ID}", headers=headers).status_code == 404
    assert web.client.get("/api/v1/jobs/٣", headers=headers).status_code == 404  # an Arabic-Indic 3: no route


def test_page_ids_beyond_64_bits_are_a_400(web: Web) -> None:
    login(web.client, "triager")
    token = csrf_token(web.client, "/triage/")
    form = {"name": "defect", "value": "defect", "action": "correct", "csrf_token": token}
    triage = web.client.post(f"/triage/{TOO_BIG}/label", data=form)
    assert triage.status_code == 400 and "out of range" in triage.get_data(as_text=True)
    report = web.client.get(f"/dashboard/models/{TOO_BIG}/report")
    assert report.status_code == 400 and "out of range" in report.get_data(as_text=True)
    assert web.client.get(f"/dashboard/models/{MAX_ID}/report").status_code == 404


# --- item 4: the jobs list's limit --------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["%C2%B2", "9" * 5000, "0", "201", "-1", "1.5", ""])
def test_a_limit_outside_the_documents_bounds_is_a_400(web: Web, limit: str) -> None:
    response = web.client.get(f"/api/v1/jobs?limit={limit}", headers=bearer(web.tokens["read"]))
    assert_400(response, "limit must be an integer from 1 to 200")


def test_the_limit_bounds_are_the_documents(web: Web) -> None:
    document = web.client.get("/api/v1/openapi.json").json
    (limit,) = [p for p in document["paths"]["/jobs"]["get"]["parameters"] if p["name"] == "limit"]
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 200)
    for good in ("1", "200"):
        assert (
            web.client.get(f"/api/v1/jobs?limit={good}", headers=bearer(web.tokens["read"])).status_code
            == 200
        )


# --- item 4: the signed webhook -----------------------------------------------------------------------


def test_a_webhook_issue_number_beyond_64_bits_is_a_400(web: Web, hook: FlaskClient) -> None:
    assert_400(signed(hook, event(number=10**29)), "body.issue.number", "out of range")
    assert_400(signed(hook, event(comments=-(10**29))), "body.issue.comments")


def test_a_webhook_title_with_a_lone_surrogate_is_a_400(web: Web, hook: FlaskClient) -> None:
    body = event(title="\ud800")  # json.dumps escapes it: "\ud800"
    assert b"\\ud800" in body
    assert_400(signed(hook, body), "body.issue.title", "lone surrogate")


def test_a_webhook_date_out_of_range_is_a_400(web: Web, hook: FlaskClient) -> None:
    assert_400(
        signed(hook, event(created_at="0001-01-01T00:00:00+14:00")), "field 'created_at'", "out of range"
    )
    assert_400(signed(hook, event(closed_at=10**17)), "field 'closed_at'", "out of range")


def test_a_webhook_field_longer_than_its_column_is_a_400(web: Web, hook: FlaskClient) -> None:
    assert_400(signed(hook, event(state="x" * 101)), "issue: status is longer than 100 characters")
    assert signed(hook, event()).status_code == 202  # the same issue, sane, is stored


# --- item 4: the document says what the server accepts -------------------------------------------------


def test_the_not_blank_pattern_is_the_servers_idea_of_empty() -> None:
    pattern = re.compile(openapi._NOT_BLANK)
    assert all((pattern.search(chr(c)) is None) == chr(c).isspace() for c in range(0x110000))


def test_blank_titles_are_invalid_in_the_document_and_refused_by_the_server(web: Web) -> None:
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    schema = openapi._REPORT_IN
    validator = jsonschema_rs.validator_for(schema)
    for body, accepted in (
        ({"title": ""}, False),
        ({"title": " \t\u3000"}, False),
        ({"description": "\n"}, False),
        ({}, False),
        ({"title": "", "description": " x "}, True),
        ({"title": "Crash"}, True),
    ):
        assert validator.is_valid(body) is accepted, body
        response = web.client.post("/api/v1/predict/defect", json=body, headers=bearer(web.tokens["predict"]))
        assert response.status_code == (200 if accepted else 400), (body, response.json)
