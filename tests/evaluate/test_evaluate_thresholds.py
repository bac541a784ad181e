"""Coverage tables and threshold choice for the "uncertain" state."""

import json
from itertools import pairwise

import numpy as np
import pytest

from bugsift.evaluate.thresholds import choose_threshold, coverage_table

CLASSES = ["bug", "other"]


def make_case():
    """10 items at 0.95 all right, 10 at 0.6 of which 5 right, 1 lucky item at 0.99 that is right."""
    top = [0.95] * 10 + [0.6] * 10 + [0.99]
    right = [True] * 10 + [True] * 5 + [False] * 5 + [True]
    proba = np.array([[p, 1 - p] for p in top])
    y = ["bug" if r else "other" for r in right]
    return y, proba


def test_choose_threshold_known_answer():
    y, proba = make_case()
    # At 0.95: 11 covered, all right. At 0.6: 21 covered, 16 right.
    result = choose_threshold(y, proba, CLASSES, precision_target=0.9)
    assert result["threshold"] == 0.95
    assert result["met"] is True
    assert result["precision"] == 1.0
    assert result["n_covered"] == 11
    assert result["coverage"] == pytest.approx(11 / 21)
    json.dumps(result)


def test_choose_threshold_lowest_meeting_target():
    y, proba = make_case()
    result = choose_threshold(y, proba, CLASSES, precision_target=0.75)
    assert result["threshold"] == 0.6
    assert result["precision"] == pytest.approx(16 / 21)
    assert result["met"] is True


def test_one_lucky_item_does_not_decide():
    y, proba = make_case()
    # Only the 0.99 item is 100% right alone, but it covers 1 < 10 items; 0.95 covers 11 and is right too.
    result = choose_threshold(y, proba, CLASSES, precision_target=1.0)
    assert result["threshold"] == 0.95
    strict = choose_threshold(y, proba, CLASSES, precision_target=1.0, min_covered=12)
    assert strict["met"] is False
    assert strict["threshold"] == 0.6  # the only eligible candidate
    assert strict["precision"] == pytest.approx(16 / 21)


def test_unmet_target_returns_best_precision():
    y, proba = make_case()
    y = ["other" if i == 0 else label for i, label in enumerate(y)]  # one wrong at 0.95: 10/11 there
    result = choose_threshold(y, proba, CLASSES, precision_target=0.99)
    assert result["met"] is False
    assert result["threshold"] == 0.95
    assert result["precision"] == pytest.approx(10 / 11)


def test_min_coverage():
    y, proba = make_case()
    result = choose_threshold(y, proba, CLASSES, precision_target=0.9, min_coverage=0.6)
    assert result["threshold"] == 0.6
    assert result["met"] is False


def test_coverage_table_values_and_monotonic():
    y, proba = make_case()
    rows = coverage_table(y, proba, CLASSES, thresholds=(0.0, 0.6, 0.7, 0.99, 1.0))
    assert [r["n_covered"] for r in rows] == [21, 21, 11, 1, 0]
    assert rows[0]["coverage"] == 1.0
    assert rows[1]["accuracy"] == pytest.approx(16 / 21)
    assert rows[2]["accuracy"] == 1.0
    assert rows[4]["accuracy"] is None

    rng = np.random.default_rng(0)
    classes = ["a", "b", "c", "d"]
    proba = rng.dirichlet([0.5] * 4, size=300)
    y = rng.choice(classes, size=300)
    rows = coverage_table(y, proba, classes)
    coverages = [r["coverage"] for r in rows]
    assert coverages[0] == 1.0
    assert all(a >= b for a, b in pairwise(coverages))
    assert all(type(r["coverage"]) is float and type(r["n_covered"]) is int for r in rows)
