"""The kind model family on small real slices: it learns, its probabilities, modes, explanations, files."""

from __future__ import annotations

import copy
import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio

from bugsift.learn.explain import explain, explain_batch, explain_reasons
from bugsift.learn.features import ReportFeatures, clean_text
from bugsift.learn.kind.model import EMBEDDING_SHARE, KindClassifier, build_kind_model
from bugsift.learn.persist import load_model, save_model, untrusted_types
from bugsift.learn.predict import predict_reports
from bugsift.sources.base import Report

# Small but real: fast settings (no char n-grams) keep the whole module to a few seconds.
FAST = {"char_ngrams": None, "cv": 3}


def labels(reports: list[Report]) -> list[str]:
    return [r.labels["is_bug_derived"] for r in reports]


@pytest.fixture(scope="module")
def split(mozilla: list[Report]) -> tuple[list[Report], list[Report]]:
    """A time split: the 600 oldest bugs to train, the next 200 to test."""
    return mozilla[:600], mozilla[600:800]


@pytest.fixture(scope="module")
def filing_model(split: tuple[list[Report], list[Report]]) -> KindClassifier:
    train, _ = split
    return build_kind_model(**FAST).fit(train, labels(train))


@pytest.fixture(scope="module")
def backlog_model(split: tuple[list[Report], list[Report]]) -> KindClassifier:
    train, _ = split
    return build_kind_model(mode="backlog", **FAST).fit(train, labels(train))


def test_model_beats_majority_on_a_time_split(filing_model, split) -> None:
    _, test = split
    truth = np.array(labels(test))
    majority = max(np.mean(truth == c) for c in set(truth))
    accuracy = np.mean(filing_model.predict(test) == truth)
    assert accuracy >= majority + 0.08, (accuracy, majority)


def test_probabilities_sum_to_one_and_follow_classes(filing_model, split, github) -> None:
    _, test = split
    proba = filing_model.predict_proba(test)
    assert proba.shape == (len(test), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert list(filing_model.predict(test)) == list(filing_model.classes_[proba.argmax(axis=1)])
    # three classes: on its own training issues the true label's column must be the likeliest on average
    model = build_kind_model(**FAST).fit(github, [r.type for r in github])
    assert sorted(model.classes_) == ["bug", "feature", "question"]
    proba = model.predict_proba(github)
    for k, label in enumerate(model.classes_):
        rows = [i for i, r in enumerate(github) if r.type == label]
        assert proba[rows].mean(axis=0).argmax() == k


def test_filing_mode_ignores_comments_backlog_reads_them(filing_model, backlog_model, split) -> None:
    _, test = split
    report = next(r for r in test if r.comments)
    changed = dataclasses.replace(
        report, comments=["This is a duplicate, WONTFIX, works for me, invalid."] * 5
    )
    changed.extra = {**report.extra, "attachments_count": 9, "has_patch": True}
    changed.keywords = ["crash", "perf"]
    assert np.array_equal(filing_model.predict_proba([report]), filing_model.predict_proba([changed]))
    assert not np.array_equal(backlog_model.predict_proba([report]), backlog_model.predict_proba([changed]))


def test_label_defining_and_excluded_fields_are_not_read(split) -> None:
    train, test = split
    model = build_kind_model(mode="backlog", exclude_fields=("priority", "keywords:crash"), **FAST)
    model.fit(train, labels(train))
    names = model.features_.get_feature_names_out()
    assert not [n for n in names if n.startswith("field:priority=")]
    assert "field:keywords=crash" not in names
    # the bugbug label-defining keywords and resolution fields are never features
    assert not [n for n in names if n in ("field:keywords=regression", "field:keywords=feature")]
    assert not [n for n in names if re.match(r"field:(status|resolution|duplicate_of|type)", n)]
    report = test[0]
    changed = copy.deepcopy(report)
    changed.priority = "P1" if report.priority != "P1" else "P5"
    changed.keywords = [*report.keywords, "regression", "feature", "crash"]
    changed.status, changed.resolution, changed.duplicate_of = "RESOLVED", "INVALID", "123"
    changed.extra = {**report.extra, "cf_has_regression_range": "yes"}
    changed.filed = {**(report.filed or {}), "priority": changed.priority}
    assert np.array_equal(model.predict_proba([report]), model.predict_proba([changed]))


def test_filing_mode_uses_filing_time_values(filing_model, split) -> None:
    _, test = split
    report = next(r for r in test if r.filed)
    changed = copy.deepcopy(report)
    changed.severity, changed.component, changed.product = "blocker", "Something else", "Other"
    assert np.array_equal(filing_model.predict_proba([report]), filing_model.predict_proba([changed]))


def test_explanation_words_come_from_the_report(filing_model, split) -> None:
    _, test = split
    for report in test[:20]:
        items = explain(filing_model, report, n=8)
        assert items and len(items) <= 8
        weights = [i["weight"] for i in items]
        assert weights == sorted(weights, reverse=True) and all(w > 0 for w in weights)
        text = (clean_text(report.title) + " " + clean_text(report.description)).lower()
        for item in items:
            kind, _, value = item["feature"].partition(":")
            assert kind in ("word", "field", "chars")
            if kind == "word":
                for token in value.split():
                    assert token in text, (token, report.external_id)


def test_batch_explanations_equal_one_by_one(filing_model, split, github) -> None:
    _, test = split
    matrix = filing_model.features_.transform(test)
    predicted = filing_model.model_.predict_proba(matrix).argmax(axis=1)
    assert explain_batch(filing_model, matrix, predicted) == [explain(filing_model, r) for r in test]
    assert explain_batch(filing_model, matrix, predicted, n=3)[0] == explain(filing_model, test[0], n=3)
    # predict_reports (batch path) gives what the per-report path gave, for three classes too
    model = build_kind_model(**FAST).fit(github, [r.type for r in github])
    for m, reports in ((filing_model, test), (model, github[:60])):
        out = predict_reports(m, reports, threshold=0.6)
        assert [o["explanation"] for o in out] == [explain_reasons(m, r) for r in reports]
        assert [o["probability"] for o in out] == [round(float(p.max()), 4) for p in m.predict_proba(reports)]


def test_persistence_round_trip_and_untrusted_types_refused(filing_model, split, tmp_path: Path) -> None:
    _, test = split
    path = save_model(filing_model, tmp_path / "kind.skops")
    assert untrusted_types(path) == []
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict_proba(test), filing_model.predict_proba(test))
    assert explain(loaded, test[0]) == explain(filing_model, test[0])

    evil = copy.deepcopy(filing_model)
    evil.hook_ = Smuggled()
    bad = save_model(evil, tmp_path / "evil.skops")
    assert any(t.endswith("Smuggled") for t in untrusted_types(bad))
    with pytest.raises(sio.exceptions.UntrustedTypesFoundException):
        load_model(bad)


def test_style_fields_are_passed_on_and_saved(split, tmp_path: Path) -> None:
    train, test = split
    model = build_kind_model(style_fields=True, **FAST).fit(train, labels(train))
    assert (
        model.features_.style_fields_
        and not build_kind_model(**FAST).fit(train, labels(train)).features_.style_fields_
    )
    assert "field:log_camel_case" in set(model.features_.get_feature_names_out())
    path = save_model(model, tmp_path / "style.skops")
    assert untrusted_types(path) == []
    np.testing.assert_array_equal(load_model(path).predict_proba(test), model.predict_proba(test))


class Smuggled:
    """A type no model file may contain."""


def test_features_transformer_contract(split) -> None:
    train, _ = split
    features = ReportFeatures()
    assert features.get_params()["mode"] == "filing"
    matrix = features.fit_transform(train[:100])
    assert matrix.shape == (100, len(features.get_feature_names_out()))
    with pytest.raises(ValueError, match="mode"):
        ReportFeatures(mode="later").fit(train[:10])


def test_clean_text_replaces_noise_by_markers() -> None:
    text = (
        "<!-- Please describe the bug -->\n### Steps to reproduce\nSee https://example.org/x?y=1 in 1.2.3\n"
        "```\nconst x = 1;\n```\njava.lang.NullPointerException\n\tat org.foo.Bar.baz(Bar.java:12)\n"
    )
    out = clean_text(text)
    assert "Please describe" not in out and "###" not in out
    for marker in ("xxurl", "xxversion", "xxcode", "xxstack", "NullPointerException", "Steps to reproduce"):
        assert marker in out


def test_backlog_comments_have_their_own_block_and_whiteboard_tags(
    backlog_model, filing_model, split
) -> None:
    names = backlog_model.features_.get_feature_names_out()
    assert any(n.startswith("comments:") for n in names)
    assert any(n.startswith("field:whiteboard=") for n in names)
    assert not any(n.startswith("comments:") for n in filing_model.features_.get_feature_names_out())
    # the old layout (comments appended to the description) is still available
    merged = ReportFeatures(mode="backlog", comments_weight=None).fit(split[0][:200])
    assert not any(n.startswith("comments:") for n in merged.get_feature_names_out())
    assert backlog_model.coef_.shape == (1, backlog_model.n_features_)


def test_auto_rules_follow_the_training_set_size(split) -> None:
    train, _ = split
    model = build_kind_model(**FAST).fit(train, labels(train))
    assert model.C_ == 10.0 and model.features_.char_body_chars_ == 1500
    assert model._age_weights(train) is None  # small set: no decay
    decayed = build_kind_model(half_life_years=2.0, **FAST)
    w = decayed._age_weights(train)
    assert w is not None and w.max() == 1.0 and 0.0 < w.min() < 1.0
    newest = max(range(len(train)), key=lambda i: train[i].created_at)
    assert w[newest] == 1.0
    assert np.all(np.diff(w[np.argsort([r.created_at for r in train])]) >= 0)  # older weighs less
    decayed.fit(train, labels(train))
    assert decayed.predict_proba(train[:3]).shape == (3, 2)


def test_pooled_pairs_route_reports_by_project(two_projects, tmp_path: Path) -> None:
    from bugsift.learn.kind.model import POOL_WEIGHT

    y = [r.type for r in two_projects]
    model = build_kind_model(pool_projects=True, **FAST).fit(two_projects, y)
    assert sorted(model.project_members_) == ["facebook/react", "microsoft/vscode"]
    react, vscode = (model.project_members_[p] for p in ("facebook/react", "microsoft/vscode"))
    assert react.features_ is model.features_  # the features are fitted once and shared
    assert list(react.classes_) == list(vscode.classes_) == list(model.classes_)

    # each report goes to its project's pair; an unseen or empty project to the all-weights-1 pair
    reports = [two_projects[0], two_projects[-1]]
    unseen = [dataclasses.replace(r, project=p) for r, p in zip(reports, ("other/repo", ""), strict=True)]
    matrix = model.features_.transform(reports)
    proba = model.predict_proba(reports + unseen)
    np.testing.assert_allclose(proba[0], react.model_.predict_proba(matrix[[0]])[0])
    np.testing.assert_allclose(proba[1], vscode.model_.predict_proba(matrix[[1]])[0])
    np.testing.assert_allclose(proba[2:], model.model_.predict_proba(model.features_.transform(unseen)))
    assert model.member_for(unseen[0]) is model and model.member_for(reports[1]) is vscode

    # the weights differ: a pair fits its own project's reports better than the other project's pair
    def log_loss_on(member: KindClassifier, project: str) -> float:
        rows = [i for i, r in enumerate(two_projects) if r.project == project]
        p = member.model_.predict_proba(model.features_.transform([two_projects[i] for i in rows]))
        truth = [list(member.classes_).index(y[i]) for i in rows]
        return float(-np.mean(np.log(p[np.arange(len(rows)), truth])))

    assert log_loss_on(react, "facebook/react") < log_loss_on(vscode, "facebook/react")
    assert log_loss_on(vscode, "microsoft/vscode") < log_loss_on(react, "microsoft/vscode")
    assert 0 < POOL_WEIGHT < 1

    # explanations come from the routed pair, in batch as one by one; files keep the pairs
    out = predict_reports(model, reports + unseen, threshold=0.6)
    assert [o["explanation"] for o in out] == [explain_reasons(model, r) for r in reports + unseen]
    assert out[1]["explanation"] == explain_reasons(vscode, reports[1], label=out[1]["prediction"])
    assert [o["probability"] for o in out] == [round(float(p.max()), 4) for p in proba]
    path = save_model(model, tmp_path / "pooled.skops")
    assert untrusted_types(path) == []
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict_proba(reports + unseen), proba)
    assert loaded.project_members_["facebook/react"].features_ is loaded.features_


def test_pooling_needs_two_projects_with_enough_reports(two_projects) -> None:
    from bugsift.learn.kind.model import POOL_MIN_REPORTS

    y = [r.type for r in two_projects]
    assert build_kind_model(pool_projects=True).pooled_projects(two_projects) == [
        "facebook/react",
        "microsoft/vscode",
    ]
    # "auto" pools only with the embedding member, which is off here
    assert build_kind_model(pool_projects="auto", embeddings=False).pooled_projects(two_projects) == []
    assert build_kind_model(pool_projects=False).pooled_projects(two_projects) == []
    few = two_projects[:40] + two_projects[40 : 40 + POOL_MIN_REPORTS - 1]
    assert build_kind_model(pool_projects=True).pooled_projects(few) == []
    model = build_kind_model(pool_projects=True, **FAST).fit(few, y[: len(few)])
    assert model.project_members_ == {} and model.route(few)[0][0] is model


def test_model_files_from_before_pooling_still_load(filing_model, split, tmp_path: Path) -> None:
    _, test = split
    old = copy.deepcopy(filing_model)
    del old.pool_projects, old.project_members_, old.embedding_share_  # what an older file holds
    loaded = load_model(save_model(old, tmp_path / "old.skops"))
    assert loaded.pool_projects is False and loaded.project_members_ == {}
    assert loaded.embedding_share_ == EMBEDDING_SHARE
    np.testing.assert_array_equal(loaded.predict_proba(test), filing_model.predict_proba(test))
    assert explain(loaded, test[0]) == explain(filing_model, test[0])
