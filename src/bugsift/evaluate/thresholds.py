"""Confidence thresholds on the top class probability, and the coverage they leave.

A prediction is *confident* when its top probability is >= the threshold; below it the prediction is
reported as "uncertain". Coverage is the share of confident predictions; their accuracy is the precision
of the automatic suggestions. Choose thresholds on a calibration part of the training data
(see ``splits.calibration_split``), never on the test part.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from bugsift.evaluate.metrics import _predict, _prepare

__all__ = ["DEFAULT_THRESHOLDS", "choose_threshold", "coverage_table"]

DEFAULT_THRESHOLDS: tuple[float, ...] = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
_MIN_COVERED = 10
_MIN_COVERED_SHARE = 0.05
_EPS = 1e-12


def _confidence_and_correct(
    y_true: Sequence[Hashable] | np.ndarray, proba: np.ndarray, classes: Sequence[Hashable]
) -> tuple[np.ndarray, np.ndarray]:
    y, p, labels = _prepare(y_true, proba, classes)
    return p.max(axis=1), _predict(p, labels) == y


def coverage_table(
    y_true: Sequence[Hashable] | np.ndarray,
    proba: np.ndarray,
    classes: Sequence[Hashable],
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
) -> list[dict[str, Any]]:
    """One row per threshold (in the given order): threshold, n_covered, coverage, accuracy of covered.

    ``accuracy`` (= precision of the confident predictions) is None when nothing is covered.
    """
    confidence, correct = _confidence_and_correct(y_true, proba, classes)
    rows = []
    for t in thresholds:
        covered = confidence >= t
        n_covered = int(covered.sum())
        rows.append(
            {
                "threshold": float(t),
                "n_covered": n_covered,
                "coverage": n_covered / confidence.size,
                "accuracy": float(correct[covered].mean()) if n_covered else None,
            }
        )
    return rows


def choose_threshold(
    y_true: Sequence[Hashable] | np.ndarray,
    proba: np.ndarray,
    classes: Sequence[Hashable],
    precision_target: float,
    min_coverage: float = 0.0,
    min_covered: int | None = None,
) -> dict[str, Any]:
    """Lowest top-probability threshold whose confident predictions reach ``precision_target`` accuracy.

    Candidates are the observed top probabilities; a candidate is eligible only if it covers at least
    ``min_covered`` reports (default max(10, 5% of n), capped at n) and a share >= ``min_coverage``.
    If no eligible candidate meets the target, returns the eligible one with the best precision
    (lowest threshold on ties) and ``met=False``.
    Returns {threshold, precision, coverage, n_covered, met, precision_target, min_covered}.
    """
    if not 0.0 <= precision_target <= 1.0:
        raise ValueError(f"precision_target must be in [0, 1], got {precision_target!r}")
    if not 0.0 <= min_coverage <= 1.0:
        raise ValueError(f"min_coverage must be in [0, 1], got {min_coverage!r}")
    confidence, correct = _confidence_and_correct(y_true, proba, classes)
    n = confidence.size
    if min_covered is None:
        min_covered = max(_MIN_COVERED, math.ceil(_MIN_COVERED_SHARE * n))
    min_covered = max(1, min(int(min_covered), n))

    order = np.argsort(-confidence, kind="stable")
    descending = confidence[order]
    correct_so_far = np.cumsum(correct[order])
    candidates = np.unique(confidence)  # ascending
    # Number of reports with confidence >= each candidate (descending is sorted high to low).
    n_covered = np.searchsorted(-descending, -candidates, side="right")
    precision = correct_so_far[n_covered - 1] / n_covered
    coverage = n_covered / n
    # The lowest candidate covers everything, so at least one candidate is always eligible.
    eligible = (n_covered >= min_covered) & (coverage >= min_coverage - _EPS)

    meets = eligible & (precision >= precision_target - _EPS)
    met = bool(meets.any())
    if met:
        best = int(np.argmax(meets))  # first (lowest) candidate meeting the target
    else:
        best_precision = precision[eligible].max()
        best = int(np.argmax(eligible & (precision >= best_precision - _EPS)))
    return {
        "threshold": float(candidates[best]),
        "precision": float(precision[best]),
        "coverage": float(coverage[best]),
        "n_covered": int(n_covered[best]),
        "met": met,
        "precision_target": float(precision_target),
        "min_covered": min_covered,
    }
