"""Reasons a person reads reach every page, the JSON API and the CLI: real reports, the real defect model
(trained on real Mozilla bugs in conftest), never a feature name, a char n-gram or a bare stop word."""

from __future__ import annotations

import html
import json
import re
from itertools import islice
from pathlib import Path

import pytest
from click.testing import CliRunner

from bugsift.cli import main
from bugsift.learn.reasons import STOP_WORDS
from bugsift.sources import read_reports
from bugsift.sources.base import Report

from .conftest import Web, bearer, csrf_token

INTERNAL = re.compile(r"^(field|title|text|word|chars|comments|emb)[:_]")
RAW_NAME = re.compile(r"\b(field|word|chars|comments):\S")


def readable(text: str) -> bool:
    t = text.strip().lower()
    return bool(t) and not INTERNAL.match(t) and t not in STOP_WORDS and "=" not in t


def assert_reasons(explanation: list) -> None:
    assert explanation, "an answer without reasons"
    for item in explanation:
        assert set(item) == {"text", "weight", "kind"}, item
        assert isinstance(item["text"], str) and readable(item["text"]), item
        assert isinstance(item["weight"], (int, float)) and isinstance(item["kind"], str), item


@pytest.fixture(scope="module")
def real_reports(shared_data: Path) -> list[Report]:
    """Newer real Mozilla bugs than the model's 300, with long descriptions among them."""
    path = shared_data / "bugzilla-mozilla" / "bugs_compact_labeled.jsonl"
    reports = sorted(
        (r for r in read_reports("bugzilla", path) if isinstance(r, Report)), key=lambda r: r.created_at
    )[300:]
    chosen = [r for r in reports if len(r.description or "") > 1500][:4] + reports[:4]
    return chosen


def _body(report: Report) -> dict[str, str]:
    return {"title": report.title, "description": (report.description or "")[:4000]}


def test_api_answers_carry_readable_reasons(web: Web, real_reports: list[Report]) -> None:
    body = [_body(r) for r in real_reports]
    response = web.client.post("/api/v1/predict/defect", json=body, headers=bearer(web.tokens["predict"]))
    assert response.status_code == 200, response.get_data(as_text=True)
    for result in response.json:
        assert_reasons(result["explanation"])
        assert 1 <= len(result["explanation"]) <= 6


def test_suggest_and_the_form_show_reason_texts(web: Web, real_reports: list[Report]) -> None:
    token = csrf_token(web.client)
    for report in real_reports[:4]:
        answer = web.client.post("/suggest", json=_body(report), headers={"X-CSRFToken": token}).json
        defect = answer["defect"]
        assert_reasons(defect["explanation"])
        assert defect["words"] == [r["text"] for r in defect["explanation"]]
        assert all(readable(w) for w in defect["words"])
    # the server-side preview (no JavaScript) draws the same texts
    report = real_reports[0]
    fields = {**_body(report), "csrf_token": csrf_token(web.client), "preview": "1"}
    page = web.client.post("/", data=fields).get_data(as_text=True)
    shown = [html.unescape(s) for s in re.findall(r'<span class="reason">(.*?)</span>', page)]
    assert shown and all(readable(s) for s in shown)
    why = re.search(r'<p class="words reasons">(.*?)</p>', page, re.S)
    assert why and not RAW_NAME.search(html.unescape(why.group(1)))


def test_cli_predict_prints_readable_reasons(
    web: Web, shared_data: Path, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("BUGSIFT_HOME", str(tmp_path / "home"))  # the web fixture's home: its model
    monkeypatch.delenv("BUGSIFT_DATABASE_URL", raising=False)
    source = shared_data / "bugzilla-mozilla" / "bugs_compact_labeled.jsonl"
    with open(source, encoding="utf-8") as handle:
        lines = list(islice(handle, 600))[-8:]
    new = tmp_path / "new.jsonl"
    new.write_text("".join(lines))
    out = tmp_path / "out.jsonl"
    args = ["predict", "defect", "--label", "is_bug_derived", "--input", str(new), "--output", str(out)]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in out.read_text().splitlines()]
    assert answers
    for answer in answers:
        assert_reasons(answer["explanation"])
