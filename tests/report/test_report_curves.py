"""Cost, coverage and top-k curves against cases worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from bugsift.report.curves import (
    cost_curve,
    coverage_curve,
    envelope_at,
    operating_point,
    roc_points,
    topk_curve,
)


def test_roc_points_group_ties_and_run_from_none_to_all() -> None:
    fpr, tpr, thresholds = roc_points([1, 0, 1, 0], [0.9, 0.6, 0.6, 0.1])
    # 0.9: one positive; 0.6 (tied positive and negative switch together); 0.1: everything
    assert fpr.tolist() == [0.0, 0.0, 0.5, 1.0]
    assert tpr.tolist() == [0.0, 0.5, 1.0, 1.0]
    assert thresholds[0] == np.inf and thresholds[1:].tolist() == [0.9, 0.6, 0.1]


def test_cost_curve_by_hand() -> None:
    # positives score 0.9 and 0.4, negatives 0.6 and 0.1. ROC hull: (0,0) (0,.5) (.5,1) (1,1); lines (FPR at
    # PC=0, FNR at PC=1): (0,.5) gives NEC = .5 PC, (.5,0) gives NEC = .5 (1 - PC); they cross at PC = .5,
    # NEC = .25, so the envelope is (0,0) (.5,.25) (1,0) and its area .125.
    curve = cost_curve([1, 1, 0, 0], [0.9, 0.4, 0.6, 0.1])
    assert curve.envelope_x.tolist() == [0.0, 0.5, 1.0]
    assert curve.envelope_y.tolist() == pytest.approx([0.0, 0.25, 0.0])
    assert curve.area == pytest.approx(0.125)
    assert curve.fpr.tolist() == [0.0, 0.0, 0.5, 0.5, 1.0]
    assert curve.fnr.tolist() == [1.0, 0.5, 0.5, 0.0, 0.0]


def test_cost_curve_perfect_and_useless_classifiers() -> None:
    perfect = cost_curve([0, 1, 0, 1], [0.1, 0.8, 0.2, 0.9])
    assert perfect.area == 0.0 and set(perfect.envelope_y.tolist()) == {0.0}
    useless = cost_curve([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5])
    # only the trivial classifiers: the envelope is min(PC, 1 - PC), area 1/4
    assert useless.envelope_x.tolist() == [0.0, 0.5, 1.0]
    assert useless.envelope_y.tolist() == [0.0, 0.5, 0.0]
    assert useless.area == pytest.approx(0.25)


def test_cost_envelope_equals_brute_force_minimum_of_all_lines() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    scores = np.round(y * 0.3 + rng.random(200), 2)  # some ties
    curve = cost_curve(y, scores)
    grid = np.linspace(0, 1, 1001)
    assert np.interp(grid, curve.envelope_x, curve.envelope_y) == pytest.approx(envelope_at(curve, grid))
    assert np.all(np.diff(curve.envelope_x) > 0)
    assert 0.0 < curve.area < 0.25


def test_operating_point_and_bad_inputs() -> None:
    assert operating_point([1, 1, 0, 0], [0.9, 0.4, 0.6, 0.1], 0.5) == (0.5, 0.5)
    with pytest.raises(ValueError, match="both positive and negative"):
        cost_curve([1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="same length"):
        cost_curve([1, 0], [0.2])


def test_coverage_curve_by_hand() -> None:
    curve = coverage_curve([0.9, 0.8, 0.8, 0.5], [True, False, True, False])
    assert curve.thresholds.tolist() == [0.9, 0.8, 0.5]
    assert curve.coverage.tolist() == [0.25, 0.75, 1.0]
    assert curve.precision.tolist() == pytest.approx([1.0, 2 / 3, 0.5])
    assert curve.n_kept.tolist() == [1, 3, 4]
    assert curve.at(0.85) == (0.25, 1.0)
    assert curve.at(0.8) == (0.75, pytest.approx(2 / 3))
    assert curve.at(0.0) == (1.0, 0.5)
    assert curve.at(0.95) == (0.0, None)


def test_topk_curve_counts_misses_and_fractional_ranks() -> None:
    ks, shares = topk_curve([1, 2.5, None, 4], 4)
    assert ks.tolist() == [1, 2, 3, 4]
    assert shares.tolist() == [0.25, 0.25, 0.5, 0.75]
    assert topk_curve([], 2)[1].tolist() == [0.0, 0.0]
