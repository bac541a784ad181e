"""The HTML report of each kind, on real evaluations: every figure there, nothing loaded, titles inert."""

from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from bugsift.learn.duplicates.replay import recall_rates
from bugsift.report import expected_figures, render_report, report_data, write_report
from bugsift.report.content import class_timeline, detect_kind

EVIL = '<script>alert("x")</script><img src="https://evil.example/p.png" onerror="alert(1)"> & "quotes"'

EXPECTED = {
    "classification": {
        "data",
        "per-class",
        "confusion",
        "roc",
        "pr",
        "cost",
        "reliability",
        "coverage",
        "learning",
    },
    "component": {"topk", "coverage"},
    "files": {"topk", "map-mrr"},
    "duplicates": {"recall-rate"},
}


class Resources(HTMLParser):
    """Every URL-bearing attribute, every figure id and every <img> of a document."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.figures: list[str] = []
        self.images = 0
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.urls += [v or "" for k, v in attrs if k in {"src", "href", "srcset", "action", "poster", "data"}]
        self.images += tag == "img"
        self.scripts += tag in {"script", "iframe", "object", "embed", "link"}
        assert not any(k.startswith("on") for k in values), f"event handler attribute on <{tag}>"
        if "data-figure" in values:
            self.figures.append(values["data-figure"] or "")


def parse(html: str) -> Resources:
    parser = Resources()
    parser.feed(html)
    return parser


def assert_offline_and_inert(html: str) -> Resources:
    found = parse(html)
    assert found.scripts == 0
    assert all(u.startswith(("data:image/png;base64,", "#")) for u in found.urls), found.urls
    assert "url(" not in html and "@import" not in html
    assert re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", html) is None
    assert "default-src 'none'" in html  # the CSP forbids scripts and requests should anything slip through
    return found


def poisoned(evaluation: dict[str, Any]) -> dict[str, Any]:
    evaluation = copy.deepcopy(evaluation)
    predictions = evaluation["predictions"]
    predictions["titles"] = [EVIL] * len(predictions["titles"])
    predictions["ids"] = ["<b>1</b>"] * len(predictions["ids"])
    return evaluation


def test_classification_report_has_every_figure_and_escapes_titles(defect_eval: dict, tmp_path: Path) -> None:
    evaluation = poisoned(defect_eval)
    path = write_report(evaluation, tmp_path / "deep" / "defect.html", "defect")
    html = path.read_text(encoding="utf-8")
    found = assert_offline_and_inert(html)
    assert set(found.figures) == EXPECTED["classification"] == set(expected_figures(evaluation, "defect"))
    assert found.images == len(found.figures)
    assert "<script" not in html and "&lt;script&gt;alert(" in html and "&lt;b&gt;1&lt;/b&gt;" in html
    assert "Examples of the most frequent mistakes" in html
    assert "accuracy floor" in html and "Cost curves" in html
    # how the settings were chosen: every candidate's validation score, the chosen one marked
    chosen = html[html.index('id="chosen"') :]
    assert "How this model was chosen" in chosen and "plain TF-IDF + LR" in chosen and "(chosen)" in chosen


def test_multiclass_report_draws_one_vs_rest_curves(type_eval: dict) -> None:
    html = render_report(type_eval, "type")
    found = assert_offline_and_inert(html)
    assert set(found.figures) == EXPECTED["classification"] - {"learning"}
    data = report_data(type_eval, "type")
    assert data["kind"] == "classification"
    assert len(type_eval["metrics"]["classes"]) == 3
    assert data["summary"]["confused"] and all(p["examples"] for p in data["summary"]["confused"])


def test_previous_version_and_floor_in_summary(defect_eval: dict) -> None:
    previous = {"version": 3, "metrics": {"test": {**defect_eval["metrics"], "accuracy": 0.5}}}
    data = report_data(defect_eval, "defect", previous)
    metrics = next(s for s in data["sections"] if s["id"] == "metrics")
    assert metrics["tables"][0]["header"][-1] == "previous model (v3)"
    assert "v3" in data["summary"]["previous"]
    floor = data["summary"]["floor"]
    assert floor["floor"] == 0.75 and floor["met"] == (defect_eval["metrics"]["accuracy"] >= 0.75)
    strict = report_data(defect_eval, "defect", floor=0.999)["summary"]["floor"]
    assert strict["met"] is False and "Below" in strict["text"]
    json.dumps(data)  # the same numbers for machines


def _read_text(html: str) -> str:
    """What a person reads: the document without its tags (attributes hold values for machines), style
    and figures."""
    html = re.sub(r"<style.*?</style>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_classes_read_as_words_and_stay_raw_for_machines(defect_eval: dict) -> None:
    html = render_report(defect_eval, "defect")
    text = _read_text(html)
    assert "not_defect" not in text, text[max(0, text.find("not_defect") - 80) :][:200]
    assert "Not a defect" in text and "'A defect'" in text.replace("&#39;", "'")
    assert 'data-true="not_defect"' in html or 'data-predicted="not_defect"' in html  # raw, for machines
    data = report_data(defect_eval, "defect")
    assert {p["true"] for p in data["summary"]["confused"]} <= {"defect", "not_defect"}  # the JSON keeps them
    per_class = next(s for s in data["sections"] if s["id"] == "per-class")["tables"][0]
    assert [row[0] for row in per_class["rows"]] == ["A defect", "Not a defect"]


def test_component_report(component_eval: dict) -> None:
    html = render_report(component_eval, "component")
    found = assert_offline_and_inert(html)
    assert set(found.figures) == EXPECTED["component"]
    for scope in component_eval["scopes"].values():
        per = scope["per_report"]
        assert len(per["rank"]) == len(per["confidence"]) == scope["n_test"]
        top1 = sum(r == 1 for r in per["rank"]) / scope["n_test"]
        assert top1 == pytest.approx(scope["model"]["top1"])  # the per-report ranks agree with the metrics
    previous = {"version": 1, "metrics": {"mean": component_eval["mean"]}}
    assert "previous model (v1)" in render_report(component_eval, "component", previous)


def test_files_report(files_eval: dict) -> None:
    html = render_report(files_eval, "files")
    found = assert_offline_and_inert(html)
    assert set(found.figures) == EXPECTED["files"]
    [project] = files_eval["projects"]
    ranks = project["first_ranks"]
    assert sum(r <= 10 for r in ranks) / len(ranks) == pytest.approx(project["model"]["top10"])
    assert "MAP" in html and "MRR" in html and project["project"] in html


def test_duplicates_report_from_recall_rates() -> None:
    # the shape of `bugsift.learn.duplicates.evaluation.rates` per method
    model = {**recall_rates([1, 1, 2, None, 7, 1, 3]), "candidate_recall": 0.9}
    plain = {**recall_rates([1, None, 4, None, None, 2, 9]), "candidate_recall": 0.7}
    evaluation = {"task": "duplicates", "queries": 7, "rows": {"two-stage": model, "full-text": plain}}
    assert detect_kind(evaluation, "duplicates") == "duplicates"
    html = render_report(evaluation, "duplicates")
    assert set(assert_offline_and_inert(html).figures) == EXPECTED["duplicates"]
    assert "RR@10" in html


def test_numeric_target_gets_rmse_mae_and_residuals(defect_eval: dict) -> None:
    evaluation = {
        **defect_eval,
        "regression": {"name": "days to fix", "y_true": [1, 2, 3, 10], "y_pred": [2, 2, 4, 6]},
    }
    data = report_data(evaluation, "defect")
    section = next(s for s in data["sections"] if s["id"] == "regression")
    rows = {r[0]: r[1] for r in section["tables"][0]["rows"]}
    assert float(rows["MAE"]) == pytest.approx((1 + 0 + 1 + 4) / 4, abs=1e-3)
    assert float(rows["RMSE"]) == pytest.approx(((1 + 0 + 1 + 16) / 4) ** 0.5, abs=1e-3)
    assert "residuals" in parse(render_report(evaluation, "defect")).figures


def test_class_timeline_periods() -> None:
    timeline = class_timeline(["2015-01-05T00:00:00+00:00", "2015-03-01T00:00:00", None], ["a", "b", "a"])
    assert timeline["unit"] == "month"
    assert timeline["periods"] == ["2015-01", "2015-02", "2015-03"]
    assert timeline["counts"] == {"a": [1, 0, 0], "b": [0, 0, 1]}


def test_unknown_evaluation_shape_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="cannot tell"):
        render_report({"task": "x"}, "x")
