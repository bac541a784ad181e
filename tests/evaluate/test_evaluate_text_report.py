"""The terminal report."""

import numpy as np

from bugsift.evaluate import classification_metrics, coverage_table, format_metrics, majority_baseline


def test_format_metrics_sections_and_alignment():
    classes = ["defect", "enhancement-request", "task"]
    rng = np.random.default_rng(0)
    y = rng.choice(classes, size=50)
    proba = rng.dirichlet([1, 1, 1], size=50)
    metrics = classification_metrics(y, proba, classes)
    baseline = majority_baseline(y[:25], y, classes)
    text = format_metrics(metrics, baseline, coverage_table(y, proba, classes))
    for heading in ("Overall", "Per class", "Confusion matrix", "Coverage"):
        assert heading in text
    assert "enhancement-request" in text
    assert f"{metrics['accuracy']:.3f}" in text and f"{baseline['accuracy']:.3f}" in text
    lines = text.splitlines()
    # Each table's header line is as wide as its rule line beneath it (right-aligned last column).
    rules = [i for i, line in enumerate(lines) if line and set(line) <= {"-", " "}]
    assert len(rules) == 4
    for i in rules:
        assert len(lines[i - 1]) == len(lines[i])
        assert all(len(line) <= len(lines[i]) for line in lines[i + 1 : i + 4])


def test_format_metrics_without_extras():
    metrics = classification_metrics(["a", "b"], np.array([[0.8, 0.2], [0.3, 0.7]]), ["a", "b"])
    text = format_metrics(metrics, None, None)
    assert "baseline" not in text and "Coverage" not in text
    assert "1.000" in text


def test_the_report_names_both_majorities_when_the_test_period_has_another() -> None:
    # the training period is mostly "feature", the test period mostly "bug" (as on the demo's GitHub data)
    classes = ["bug", "feature", "question"]
    y_train = ["feature"] * 6 + ["bug"] * 3 + ["question"]
    y_test = ["bug"] * 7 + ["feature"] * 2 + ["question"]
    baseline = majority_baseline(y_train, y_test, classes)
    assert baseline["majority_class"] == "feature"
    assert baseline["hindsight_majority"]["class"] == "bug"
    assert baseline["hindsight_majority"]["accuracy"] == 0.7
    proba = np.tile([0.2, 0.7, 0.1], (len(y_test), 1))
    text = format_metrics(classification_metrics(y_test, proba, classes), baseline)
    assert "always feature, the training period's most common" in text
    hindsight = "always bug, the test period's most common (known only afterwards), would score accuracy 0.7"
    assert hindsight in text
