"""The JSON API: the predict contract, validation errors (never a 500), 413, tokens, labels, OpenAPI."""

from __future__ import annotations

import re

import pytest

from bugsift.store.labels import effective_labels
from bugsift.web.app import create_app
from bugsift.web.extensions import predictors
from bugsift.web.suggest import parse_report, store_model_labels, store_submission

from .conftest import Web, bearer

CONTRACT_KEYS = {"id", "prediction", "probability", "candidates", "uncertain", "explanation"}


def test_predict_one_report_follows_the_contract(web: Web) -> None:
    body = {"id": 42, "title": "Crash on startup", "description": "Firefox segfaults when opening a tab."}
    response = web.client.post("/api/v1/predict/defect", json=body, headers=bearer(web.tokens["predict"]))
    assert response.status_code == 200, response.json
    result = response.json
    assert set(result) >= CONTRACT_KEYS
    assert result["id"] == "42"
    assert result["prediction"] in ("defect", "not_defect")
    assert 0.5 <= result["probability"] <= 1
    assert result["candidates"][0]["label"] == result["prediction"]
    assert isinstance(result["uncertain"], bool)
    assert result["explanation"]
    assert result["model_version"] == "defect:is_bug_derived:filing:v1"


def test_predict_a_batch_keeps_order_and_ids(web: Web) -> None:
    body = [{"id": f"r{i}", "title": title} for i, title in enumerate(["Crash", "Add a dark theme", "Typo"])]
    response = web.client.post("/api/v1/predict/defect", json=body, headers=bearer(web.tokens["all"]))
    assert response.status_code == 200
    assert [r["id"] for r in response.json] == ["r0", "r1", "r2"]
    assert all(set(r) >= CONTRACT_KEYS for r in response.json)


@pytest.mark.parametrize(
    ("data", "content_type", "message"),
    [
        ('{"description": ""}', "application/json", "give a title or a description"),
        ('{"title": 5}', "application/json", "body.title: must be a string"),
        ('[{"title": "ok"}, 3]', "application/json", "body[1]: a report must be a JSON object"),
        ('[{"title": "ok"}, {"title": "x", "id": [1]}]', "application/json", "body[1].id"),
        ("[]", "application/json", "empty"),
        ('"just a string"', "application/json", "send one report"),
        ('{"title": "x", "created_at": "yesterday"}', "application/json", "not an ISO 8601"),
        ('{"title": "broken', "application/json", "not valid JSON"),
        ("title=x", "application/x-www-form-urlencoded", "Content-Type: application/json"),
    ],
)
def test_bad_input_is_a_400_with_a_clear_message(
    web: Web, data: str, content_type: str, message: str
) -> None:
    response = web.client.post(
        "/api/v1/predict/defect", data=data, content_type=content_type, headers=bearer(web.tokens["predict"])
    )
    assert response.status_code == 400
    assert response.json["error"] == "bad_request"
    assert message in response.json["message"]


def test_unknown_task_and_task_without_model_are_404(web: Web) -> None:
    headers = bearer(web.tokens["predict"])
    unknown = web.client.post("/api/v1/predict/colour", json={"title": "x"}, headers=headers)
    assert unknown.status_code == 404 and "tasks: type, defect" in unknown.json["message"]
    no_model = web.client.post("/api/v1/predict/type", json={"title": "x"}, headers=headers)
    assert no_model.status_code == 404 and "bugsift train type" in no_model.json["message"]
    missing = web.client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json["error"] == "not_found"


def test_bodies_over_the_limit_get_413(settings, sqlite_db) -> None:
    app = create_app(settings, database=sqlite_db, TESTING=True, MAX_CONTENT_LENGTH=2_000)
    client = app.test_client()
    response = client.post("/api/v1/predict/defect", json={"title": "x" * 5_000})
    assert response.status_code == 413
    assert response.json["error"] == "too_large"
    form = client.post("/", data={"title": "x" * 5_000})
    assert form.status_code == 413


def test_tokens_are_required_scoped_and_revocable(web: Web) -> None:
    body = {"title": "Crash"}
    assert web.client.post("/api/v1/predict/defect", json=body).status_code == 401
    bad = web.client.post("/api/v1/predict/defect", json=body, headers=bearer("bsf_not-a-token"))
    assert bad.status_code == 401 and bad.json["message"] == "unknown or revoked API token"
    revoked = web.client.post("/api/v1/predict/defect", json=body, headers=bearer(web.tokens["revoked"]))
    assert revoked.status_code == 401
    wrong_scope = web.client.post("/api/v1/predict/defect", json=body, headers=bearer(web.tokens["read"]))
    assert wrong_scope.status_code == 403 and "'predict' scope" in wrong_scope.json["message"]
    assert web.client.get("/api/v1/models", headers=bearer(web.tokens["predict"])).status_code == 403


def test_health_and_models(web: Web) -> None:
    health = web.client.get("/api/v1/health")
    assert health.status_code == 200
    assert health.json["database"] is True
    assert health.json["models"] == {"defect": "defect:is_bug_derived:filing:v1"}
    models = web.client.get("/api/v1/models", headers=bearer(web.tokens["read"])).json
    assert [m["version_name"] for m in models] == ["defect:is_bug_derived:filing:v1"]
    assert models[0]["metrics"]["test"]["accuracy"] > 0.6
    assert "uncertain" in models[0]["thresholds"]


def test_predictors_are_loaded_once_per_model(web: Web) -> None:
    headers = bearer(web.tokens["predict"])
    for _ in range(3):
        web.client.post("/api/v1/predict/defect", json={"title": "Crash"}, headers=headers)
    with web.app.app_context():
        cache = predictors()
        first = cache.get("defect")
        assert cache.get("defect") is first
        assert cache.loaded_ids() == [first.model.id]


def test_reports_and_human_labels_win(web: Web) -> None:
    with web.app.app_context():
        report = parse_report({"title": "Crash when printing", "description": "<b>boom</b>"})
        suggestions = {"defect": {"prediction": "defect", "model_version": "defect:x:filing:v1"}}
        row_id, _ = store_submission(web.database, report, suggestions)
    assert web.client.get("/api/v1/reports/999999", headers=bearer(web.tokens["read"])).status_code == 404
    got = web.client.get(f"/api/v1/reports/{row_id}", headers=bearer(web.tokens["read"])).json
    assert got["tracker"] == "web" and got["description"] == "<b>boom</b>"
    assert got["effective_labels"] == {"defect": "defect"}

    url = f"/api/v1/reports/{row_id}/labels"
    assert (
        web.client.post(
            url, json={"name": "defect", "value": "no"}, headers=bearer(web.tokens["read"])
        ).status_code
        == 403
    )
    assert (
        web.client.post(url, json={"name": "defect"}, headers=bearer(web.tokens["label"])).status_code == 400
    )
    created = web.client.post(
        url, json={"name": "defect", "value": "not_defect"}, headers=bearer(web.tokens["label"])
    )
    assert created.status_code == 201
    assert created.json == {
        "report_id": row_id,
        "name": "defect",
        "value": "not_defect",
        "source": "human",
        "author": "bot",
        "previous": "defect",
        "model_version": "defect:x:filing:v1",
    }
    # A model predicting again never replaces what a person set.
    with web.database.session() as session:
        store_model_labels(session, row_id, {"defect": {"prediction": "defect", "model_version": "v2"}})
    with web.database.session() as session:
        assert effective_labels(session, "defect")[row_id] == "not_defect"
    got = web.client.get(f"/api/v1/reports/{row_id}", headers=bearer(web.tokens["all"])).json
    assert got["effective_labels"] == {"defect": "not_defect"}
    assert {(label["source"], label["value"]) for label in got["labels"]} == {
        ("model", "defect"),
        ("human", "not_defect"),
    }


def _flask_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.removeprefix("/api/v1"))


def test_openapi_lists_exactly_the_api_routes(web: Web) -> None:
    document = web.client.get("/api/v1/openapi.json").json
    assert document["openapi"].startswith("3.")
    documented = {
        (path, method.upper())
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    served = {
        (_flask_path(rule.rule), method)
        for rule in web.app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert documented == served
