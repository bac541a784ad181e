"""The API and the form answer duplicates by text similarity when no duplicates model is trained."""

from __future__ import annotations

import json
import lzma
from itertools import islice
from pathlib import Path

from bugsift.learn.duplicates.similarity import RANKER
from bugsift.sources import read_reports
from bugsift.sources.base import Report
from bugsift.store.reports import upsert_reports
from bugsift.web.extensions import predictors

from .conftest import Web, bearer, csrf_token, login

QUERY, ORIGINAL = "HADOOP-2477", "HADOOP-2476"  # a real pair of duplicate_pairs.csv


def import_jira_slice(web: Web, shared_data: Path, tmp_path: Path) -> dict:
    """The first 1,500 real Jira issues but QUERY go into the store; QUERY's own record is returned."""
    with lzma.open(shared_data / "apache-jira/jira_issues.jsonl.xz", "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in islice(handle, 1500)]
    path = tmp_path / "old.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records if r["key"] != QUERY))
    with web.database.session() as session:
        upsert_reports(session, [r for r in read_reports("jira", path) if isinstance(r, Report)])
    return next(r for r in records if r["key"] == QUERY)


def test_api_answers_duplicates_without_a_trained_model(web: Web, shared_data: Path, tmp_path: Path) -> None:
    record = import_jira_slice(web, shared_data, tmp_path)
    body = {"id": "new-1", "title": record["summary"], "description": record["description"] or ""}
    response = web.client.post("/api/v1/predict/duplicates", json=body, headers=bearer(web.tokens["predict"]))
    assert response.status_code == 200, response.json
    result = response.json
    assert result["ranker"] == RANKER and result["id"] == "new-1"
    assert ORIGINAL in [c["label"] for c in result["candidates"]][:3]
    assert result["model_version"] == "duplicates-text-similarity"
    with web.app.app_context():
        assert predictors().get("duplicates").predictor.version_name == "duplicates-text-similarity"
        assert predictors().get("files") is None  # tasks that cannot answer without a model still do not


def test_the_form_suggests_duplicates_without_a_trained_model(
    web: Web, shared_data: Path, tmp_path: Path
) -> None:
    record = import_jira_slice(web, shared_data, tmp_path)
    web.app.config["SUGGEST_TASKS"] = ["defect", "duplicates"]
    login(web.client, "triager")
    response = web.client.post(
        "/suggest",
        json={"title": record["summary"], "description": record["description"]},
        headers={"X-CSRFToken": csrf_token(web.client)},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    duplicates = response.json["duplicates"]
    assert duplicates["ranker"] == RANKER and duplicates["candidates"][0]["label"] == ORIGINAL


def test_an_empty_store_answers_cleanly_through_the_api(web: Web) -> None:
    body = {"title": "Crash on startup"}
    response = web.client.post("/api/v1/predict/duplicates", json=body, headers=bearer(web.tokens["predict"]))
    assert response.status_code == 200, response.json
    assert response.json["candidates"] == [] and response.json["uncertain"] is True
