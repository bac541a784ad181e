"""The component task on small real slices of the shared data (seconds, not minutes)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio

from bugsift.learn.component import task as component_task
from bugsift.learn.component.model import (
    CONFIDENCE_FEATURES,
    OTHER,
    ComponentFeatures,
    ComponentModel,
    fold_map,
    is_catch_all,
    is_excluded,
    report_labels,
    tokens,
)
from bugsift.learn.component.task import (
    SUPPORT_CHOICES,
    ComponentTask,
    answer_scoring,
    choose_confidence_threshold,
    collect,
    describe,
    evaluate_reports,
    fit_scoped,
    predict_components,
    score,
)
from bugsift.learn.persist import load_model, save_model, untrusted_types
from bugsift.learn.tasks import TaskOptions
from bugsift.sources import read_reports
from bugsift.sources.base import Report

TRUSTED = [
    "bugsift.learn.component.model.ComponentFeatures",
    "bugsift.learn.component.model.ComponentModel",
    "bugsift.learn.component.model.ScopedComponentModel",
]


def data_dir() -> Path:
    """The shared data beside the checkout; skip without it, except in CI where it must be there."""
    default = Path(__file__).resolve().parents[3] / "shared" / "data"
    path = Path(os.environ.get("BUGSIFT_SHARED_DATA", default))
    if not (path / "README.md").is_file():
        message = f"shared data not found at {path} (set BUGSIFT_SHARED_DATA)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def jira_slice() -> list[Report]:
    """The oldest 750 YARN and 750 HADOOP issues with a component, and those without one among them."""
    path = data_dir() / "apache-jira" / "jira_issues.jsonl.xz"
    out, n_with = [], {"YARN": 0, "HADOOP": 0}
    for report in read_reports("jira", path):
        if isinstance(report, Report) and n_with.get(report.project, 750) < 750:
            report.comments = []
            out.append(report)
            n_with[report.project] += bool(report.components)
    return out


@pytest.fixture(scope="module")
def mozilla() -> list[Report]:
    path = data_dir() / "bugzilla-mozilla" / "bugs_full_add08f170.jsonl.xz"
    return [r for r in islice(read_reports("bugzilla", path), 600) if isinstance(r, Report)]


@pytest.fixture(scope="module")
def evaluation(jira_slice: list[Report]) -> dict:
    return evaluate_reports(jira_slice)


def _report(i: int, components: list[str], title: str = "", **kwargs) -> Report:
    return Report(
        tracker="jira",
        external_id=f"X-{i}",
        project="X",
        title=title,
        components=components,
        component=components[0] if components else None,
        created_at=datetime(2015, 1, 1, tzinfo=UTC),
        **kwargs,
    )


# -- labels, folding, exclusions (pure functions) ---------------------------------------------------


def test_labels_prefer_filing_time_values_and_join_product() -> None:
    r = _report(1, ["today"], product="Core")
    assert report_labels(r) == (["Core::today"], False)
    r.filed = {"product": "Firefox", "component": "Toolbars"}
    assert report_labels(r) == (["Firefox::Toolbars"], True)
    assert report_labels(_report(2, [])) == ([], False)


def test_a_report_filed_in_a_bucket_takes_the_component_triage_gave_it() -> None:
    placed = _report(1, ["Networking"], product="Core")
    placed.filed = {"product": "Firefox", "component": "Untriaged"}
    assert report_labels(placed) == (["Core::Networking"], False)
    still_there = _report(2, ["General"], product="Firefox")
    still_there.filed = {"product": "Firefox", "component": "General"}
    assert report_labels(still_there) == (["Firefox::General"], True)


def test_fold_map_uses_product_bucket_or_other() -> None:
    labels = [["Core::DOM"]] * 12 + [["Core::Rare"]] * 2 + [["Tiny::Thing"]]
    mapping = fold_map(labels, min_support=10)
    assert mapping == {"Core::DOM": "Core::DOM", "Core::Rare": f"Core::{OTHER}", "Tiny::Thing": OTHER}


def test_exclusion_patterns() -> None:
    assert is_excluded("Core::General", ["General"])
    assert is_excluded("Firefox::Untriaged", ["Firefox::*"])
    assert not is_excluded("Core::DOM", ["General", "Firefox::*"])


def test_tokens_split_identifiers_and_paths() -> None:
    words = tokens("NPE in FairScheduler at org.apache.hadoop.yarn.server.resourcemanager", 1000)
    assert {"fairscheduler", "fair", "scheduler", "resourcemanager", "npe"} <= set(words)


def test_multi_component_report_is_right_when_any_component_is_named(jira_slice: list[Report]) -> None:
    reports = [r for r in jira_slice if r.project == "YARN" and r.components]
    model = ComponentModel(min_support=5).fit(reports, [report_labels(r)[0] for r in reports])
    classes = list(model.classes_)
    a, b = classes[0], classes[1]
    proba = np.full((2, len(classes)), 0.1 / (len(classes) - 1))
    proba[:, classes.index(b)] = 0.9
    result = score(model, proba, [[a, b], [a]], {"act": 0.5})
    assert result["top1"] == 0.5  # the first report names b among its components, the second does not
    assert result["at_act"] == {"threshold": 0.5, "coverage": 1.0, "precision": 0.5, "n": 2}


def test_confidence_threshold_keeps_ties_together_and_needs_enough_reports() -> None:
    confidence = np.array([0.99, 0.95, 0.95, 0.9, 0.8] + [0.5] * 15)
    correct = np.array([True, True, False, True, True] + [False] * 15)
    # 10 reports at least must be covered: the best such cut (0.5 covers all 20) is below the target
    chosen = choose_confidence_threshold(confidence, correct, 0.9)
    assert chosen["min_covered"] == 10 and not chosen["met"]
    assert chosen["threshold"] == 0.5 and chosen["precision"] == 0.2
    many = np.linspace(1.0, 0.0, 40)
    right = np.arange(40) < 20  # the 20 most confident are right
    chosen = choose_confidence_threshold(many, right, 0.9)
    assert chosen["met"] and chosen["n_covered"] == 22 and chosen["precision"] >= 0.9


def test_confidence_features_see_the_component_named_in_the_title(jira_slice: list[Report]) -> None:
    reports = [r for r in jira_slice if r.project == "HADOOP" and r.components]
    model = ComponentModel().fit(reports, [report_labels(r)[0] for r in reports])
    named = next(c for c in model.classes_ if c.isalpha() and c != OTHER)
    other = next(c for c in model.classes_ if c != named)
    proba = np.zeros((2, len(model.classes_)))
    proba[:, list(model.classes_).index(named)] = 0.7
    proba[:, list(model.classes_).index(other)] = 0.3
    probes = [
        Report(tracker="jira", external_id=f"P-{i}", project="HADOOP", title=t)
        for i, t in enumerate([f"crash in {named} when idle", "something else entirely"])
    ]
    rows = model.confidence_features(proba, probes)
    column = {name: j for j, name in enumerate(CONFIDENCE_FEATURES)}
    assert rows[0, column["label_in_title"]] == 1.0 and rows[1, column["label_in_title"]] == 0.0
    assert np.allclose(rows[:, column["margin"]], 0.4)
    assert model.confidence_ is None  # nothing learnt yet: the confidence is the top probability
    assert np.allclose(model.confidence(proba, probes), 0.7)


# -- evaluation on a real slice ---------------------------------------------------------------------


def test_model_beats_most_frequent_baseline_on_time_split(evaluation: dict) -> None:
    assert set(evaluation["scopes"]) == {"jira/YARN", "jira/HADOOP"}
    for scope in evaluation["scopes"].values():
        assert scope["model"]["top1"] > scope["baseline"]["top1"] + 0.1
        assert scope["model"]["top3"] > scope["baseline"]["top3"]
        assert scope["train_dates"][1] <= scope["test_dates"][0]  # the test part is the newest
    assert evaluation["mean"]["model"]["top3"] >= evaluation["mean"]["model"]["top1"]


def test_folding_and_label_origin_are_reported(evaluation: dict) -> None:
    data = evaluation["data"]
    assert data["n_without_component"] > 0
    assert data["n_labels_as_filed"] == 0 and data["n_labels_current"] == data["n_labelled"]
    scope = evaluation["scopes"]["jira/YARN"]
    folding = scope["folding"]
    # the support is chosen on the scope's own validation part, and the chosen one is the one used
    choice = scope["calibration"]["selection"]["folding"]
    assert [c["name"] for c in choice["candidates"]] == [f"min_support {n}" for n in SUPPORT_CHOICES]
    assert folding["min_support"] == choice["chosen"] in SUPPORT_CHOICES and folding["folded"]
    assert all(v == OTHER for v in folding["folded"].values())
    text = describe(evaluation)
    chosen = text.split("labels with fewer than ", 1)[1].split(" training reports", 1)[0]
    assert str(folding["min_support"]) in chosen.split("/")
    assert "folding support chosen on the same 20%" in text
    assert "current values for" in text and "top1" in text and "base" in text
    json.dumps(evaluation)  # JSON-ready for --json and the registry


def test_thresholds_are_chosen_on_the_training_part(
    jira_slice: list[Report], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[set[str]] = []
    real = component_task.choose_thresholds

    def spy(model, reports, labels, *args):
        seen.append({r.external_id for r in reports})
        return real(model, reports, labels, *args)

    monkeypatch.setattr(component_task, "choose_thresholds", spy)
    reports = [r for r in jira_slice if r.project == "HADOOP"]
    result = evaluate_reports(reports)
    scope = result["scopes"]["jira/HADOOP"]
    labelled = sorted((r for r in reports if r.components), key=lambda r: r.created_at)
    test_ids = {r.external_id for r in labelled[-scope["n_test"] :]}
    assert len(seen) == 1 and seen[0] and not seen[0] & test_ids
    assert scope["calibration"]["n_calibration"] == round(0.2 * scope["n_train"])
    thresholds = scope["thresholds"]
    assert 0.0 <= thresholds["suggest"] <= thresholds["act"] <= 1.0
    # the thresholds apply to the second stage's confidence where it ranks the held-out reports better
    calibration = scope["calibration"]
    assert calibration["confidence"] == (
        "second stage" if (calibration["confidence_gain"] or 0) > 0 else "top probability"
    )
    assert set(scope["model"]["curve"]) == {"0.05", "0.10", "0.15", "0.20", "0.25", "0.30"}
    for name in ("act", "suggest"):
        assert {"precision", "coverage", "n"} <= set(scope["model"][f"at_{name}"])


def test_bugzilla_product_component_as_filed(mozilla: list[Report]) -> None:
    data = collect(mozilla)
    placed_later = [r for r in mozilla if not report_labels(r)[1]]
    assert list(data.scopes) == ["bugzilla"] and data.n_filed == len(mozilla) - len(placed_later)
    # the only labels not as filed: reports filed in a bucket that triage has placed since
    assert placed_later and all(is_catch_all(f"x::{r.filed['component']}") for r in placed_later)
    result = evaluate_reports(mozilla)
    scope = result["scopes"]["bugzilla"]
    buckets = set(scope["folding"]["folded"].values())
    assert f"Core::{OTHER}" in buckets and buckets <= {OTHER} | {
        c for c in buckets if c.endswith(f"::{OTHER}")
    }
    assert scope["model"]["top3"] > scope["baseline"]["top1"]


# -- the model for use ------------------------------------------------------------------------------


def test_exclusions_are_never_predicted(jira_slice: list[Report]) -> None:
    reports = [r for r in jira_slice if r.project == "YARN"]
    scoped, info = fit_scoped(reports, {"exclude": ("resourcemanager", "nodemanager")})
    model = scoped.scopes_["jira/YARN"]
    assert {"resourcemanager", "nodemanager"} <= set(info["scopes"]["jira/YARN"]["excluded"])
    assert "resourcemanager" not in model.classes_
    results = predict_components(scoped, reports[:200], top_k=5)
    named = {c["label"] for r in results for c in r["candidates"]}
    assert not named & {"resourcemanager", "nodemanager"}
    assert np.allclose(model.predict_proba(reports[:5]).sum(axis=1), 1.0)


@pytest.fixture(scope="module")
def scoped(jira_slice: list[Report]):
    return fit_scoped(jira_slice)[0]


def test_predict_contract_shape(scoped, jira_slice: list[Report]) -> None:
    stranger = Report(tracker="jira", external_id="ZOO-1", project="ZOO", title="x")
    results = predict_components(scoped, [*jira_slice[:20], stranger], top_k=3)
    assert len(results) == 21
    for report, result in zip(jira_slice[:20], results, strict=False):
        assert set(result) - {"catch_all"} == {
            "id",
            "prediction",
            "probability",
            "candidates",
            "confidence",
            "uncertain",
            "act",
            "explanation",
            "scope",
        }
        assert result["id"] == report.external_id
        assert len(result["candidates"]) == 3
        real = [c["label"] for c in result["candidates"] if not c.get("catch_all")]
        assert real[0] == result["prediction"]
        probabilities = [c["probability"] for c in result["candidates"]]
        assert probabilities == sorted(probabilities, reverse=True)
        assert isinstance(result["uncertain"], bool) and isinstance(result["act"], bool)
        assert not (result["act"] and result["uncertain"])
        assert 0.0 <= result["confidence"] <= 1.0
        assert all(isinstance(e["text"], str) and e["kind"] for e in result["explanation"])
    assert results[-1]["prediction"] is None and results[-1]["uncertain"]
    json.dumps(results)


def test_save_load_round_trip(scoped, jira_slice: list[Report], tmp_path: Path) -> None:
    path = save_model(scoped, tmp_path / "component.skops")
    assert set(TRUSTED) <= set(sio.get_untrusted_types(file=path))  # our own classes need trusting
    assert untrusted_types(path) == []  # ... and persist trusts exactly what a component model holds
    loaded = load_model(path)
    assert predict_components(loaded, jira_slice[:50], 5) == predict_components(scoped, jira_slice[:50], 5)


def test_task_handler_through_the_store(sqlite_db, settings, jira_slice: list[Report]) -> None:
    from bugsift.store.reports import upsert_reports

    reports = [r for r in jira_slice if r.project == "YARN"]
    with sqlite_db.session() as session:
        upsert_reports(session, reports)
    task = ComponentTask("component")
    outcome = task.evaluate(sqlite_db, settings, TaskOptions(project="YARN"))
    assert "jira/YARN" in outcome.evaluation["scopes"] and "top1" in outcome.text
    trained = task.train(sqlite_db, settings, TaskOptions(project="YARN"))
    assert trained.model.thresholds["per_scope"]["jira/YARN"]["act"] > 0
    predictor = task.predictor(sqlite_db, TaskOptions())
    assert predictor.predict(reports[:3], 5)[0]["id"] == reports[0].external_id


def test_each_scope_chooses_between_tuned_and_plain_on_its_training_part(
    jira_slice: list[Report], monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = [r for r in jira_slice if r.project == "HADOOP"]
    selection = evaluate_reports(reports)["scopes"]["jira/HADOOP"]["calibration"]["selection"]
    assert [c["name"] for c in selection["candidates"]] == list(component_task.CANDIDATES)
    assert all(0.0 <= c["score"] <= 1.0 for c in selection["candidates"])
    assert selection["chosen"] in component_task.CANDIDATES

    # the rule, on given validation scores: plain needs a lead beyond the split noise
    for plain_score, chosen in ((0.604, "tuned settings"), (0.61, "plain TF-IDF")):
        scores = iter([0.60, plain_score])
        monkeypatch.setattr(component_task, "_answer_score", lambda *args, s=scores: next(s))
        fit_r, fit_y = reports[:60], [list(r.components) for r in reports[:60]]
        cal_r, cal_y = reports[60:80], [list(r.components) for r in reports[60:80]]
        _, params, picked = component_task.choose_settings(fit_r, fit_y, cal_r, cal_y, {"min_support": 2})
        assert picked["chosen"] == chosen
        assert params == {"min_support": 2, **component_task.CANDIDATES[chosen]}


def test_answers_are_scored_as_a_person_sees_them(jira_slice: list[Report]) -> None:
    reports = [r for r in jira_slice if r.project == "YARN"]
    labels = [list(r.components) for r in reports]
    model = ComponentModel(min_support=10).fit(reports, labels)
    assert OTHER in model.classes_
    proba = model.predict_proba(reports)
    answers, named = answer_scoring(model, proba, labels)
    bucket = list(model.classes_).index(OTHER)
    # the bucket is ranked last and is never right, even for a report whose component was folded into it
    assert (answers.argmax(axis=1) != bucket).all() and not named[:, bucket].any()
    folded = [i for i, y in enumerate(labels) if model.fold(y) == [OTHER]]
    assert folded and not named[folded].any()
    # a user's own --min-support is kept as given: no folding choice is made
    pinned = evaluate_reports(reports, {"min_support": 7})["scopes"]["jira/YARN"]
    assert pinned["folding"]["min_support"] == 7 and "folding" not in pinned["calibration"]["selection"]


def test_a_report_that_names_its_product_gets_components_of_that_product(mozilla: list[Report]) -> None:
    from dataclasses import replace

    scoped, _ = fit_scoped(mozilla)
    text = "Crash in the URL bar when typing a long address with a stack trace in nsDocShell"
    products = {c.split("::")[0] for c in scoped.scopes_["bugzilla"].classes_ if "::" in c}
    assert {"Core", "Firefox"} <= products
    asked = [
        Report(tracker="bugzilla", external_id=p, title=text, description=text, product=p)
        for p in ("Core", "Firefox", "No such product")
    ]
    core, firefox, unknown = predict_components(scoped, asked, top_k=5)
    assert {c["label"].split("::")[0] for c in core["candidates"]} == {"Core"}
    assert {c["label"].split("::")[0] for c in firefox["candidates"]} == {"Firefox"}
    assert abs(sum(c["probability"] for c in core["candidates"]) - 1) < 0.05 or len(core["candidates"]) == 5
    # a product the model never saw restricts nothing
    assert len({c["label"].split("::")[0] for c in unknown["candidates"]}) >= 2
    # the filing-time product wins over today's (the one the reporter chose)
    moved = replace(asked[0], product="Firefox", filed={"product": "Core"})
    assert predict_components(scoped, [moved])[0]["prediction"].startswith("Core::")


def test_a_bucket_is_never_the_answer_only_a_marked_candidate(mozilla: list[Report]) -> None:
    """Untriaged, General and folded '(other)' buckets are where reports wait, not sections of the code:
    the answer is the best real component, the bucket stays marked, and passing one over is 'not sure'."""
    from bugsift.learn.component.model import is_catch_all

    scoped, _ = fit_scoped(mozilla[:450])
    results = predict_components(scoped, mozilla[450:], top_k=3)
    passed_over = [r for r in results if r.get("catch_all")]
    assert passed_over, "Mozilla's filed components are often General or Untriaged: some first choices are"
    for result in results:
        if is_catch_all(result["prediction"]):  # only where the product has no real component to offer
            assert result["catch_all"] and all(c.get("catch_all") for c in result["candidates"])
        for candidate in result["candidates"]:
            assert bool(candidate.get("catch_all")) == is_catch_all(candidate["label"])
    for result in passed_over:
        assert is_catch_all(result["catch_all"]) and result["candidates"][0]["label"] == result["catch_all"]
        assert result["uncertain"] and not result["act"]
        assert result["prediction"] in [c["label"] for c in result["candidates"]]
    assert is_catch_all("Firefox::Untriaged") and is_catch_all("Core::(other)") and is_catch_all("General")
    assert not is_catch_all("Core::Networking") and not is_catch_all("Toolkit::General Preferences")


def test_affected_versions_are_not_read_as_filed(jira_slice: list[Report]) -> None:
    # Jira's affects-versions are today's, filled in by triagers (features.TRIAGED_AFTER_FILING)
    with_versions = [r for r in jira_slice if (r.extra or {}).get("versions")]
    assert len(with_versions) > 50  # the real slice names them
    names = ComponentFeatures().fit(jira_slice).get_feature_names_out()
    assert not any(n.startswith("field:versions=") for n in names)
    assert any(n.startswith("field:priority=") for n in names)  # the other fields are still read
