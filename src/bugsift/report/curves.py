"""Curves the report draws that no library gives us: cost curves and the coverage/precision curve.

Pure numpy; every function takes plain arrays and returns plain arrays (or dicts of them).

Cost curves (Drummond & Holte, "Cost curves: an improved method for visualizing classifier performance",
Machine Learning 65, 2006). For a two-class problem with a positive class:

* the *probability cost* of the positive class is
  ``PC(+) = p(+) C(-|+) / (p(+) C(-|+) + p(-) C(+|-))`` -- the x axis, from 0 to 1, folding the class
  prior and the two misclassification costs into one number; with equal costs it is just p(+);
* a classifier at the ROC operating point (FPR, TPR) has *normalised expected cost*
  ``NEC(PC) = (1 - TPR) * PC + FPR * (1 - PC)``: a straight line from (0, FPR) to (1, FNR);
* the lower envelope of the lines of every threshold is the cost of the best threshold for each PC
  (it is the dual of the ROC convex hull); the trivial classifiers "always negative" (NEC = PC) and
  "always positive" (NEC = 1 - PC) are among the lines, so the envelope never rises above min(PC, 1 - PC).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "CostCurve",
    "CoverageCurve",
    "cost_curve",
    "coverage_curve",
    "envelope_at",
    "operating_point",
    "roc_points",
    "topk_curve",
]


def _binary_inputs(y_true: Sequence[bool] | np.ndarray, scores: Sequence[float] | np.ndarray):
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or y.shape != s.shape or y.size == 0:
        raise ValueError("y_true and scores must be non-empty 1-D arrays of the same length")
    if y.all() or not y.any():
        raise ValueError("need both positive and negative examples")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite")
    return y, s


def operating_point(
    y_true: Sequence[bool] | np.ndarray, scores: Sequence[float] | np.ndarray, threshold: float
) -> tuple[float, float]:
    """(FPR, TPR) of predicting positive when ``score >= threshold``."""
    y, s = _binary_inputs(y_true, scores)
    predicted = s >= threshold
    return float(predicted[~y].mean()), float(predicted[y].mean())


def roc_points(
    y_true: Sequence[bool] | np.ndarray, scores: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every distinct operating point (FPR, TPR, threshold), from "none positive" to "all positive".

    Threshold i means "positive when score >= thresholds[i]"; the first is +inf (nothing positive).
    """
    y, s = _binary_inputs(y_true, scores)
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    # last index of each run of equal scores: all tied reports switch together
    last = np.r_[np.flatnonzero(np.diff(s_sorted) != 0), s_sorted.size - 1]
    tp = np.cumsum(y_sorted)[last]
    fp = np.cumsum(~y_sorted)[last]
    tpr = np.r_[0.0, tp / y.sum()]
    fpr = np.r_[0.0, fp / (~y).sum()]
    thresholds = np.r_[np.inf, s_sorted[last]]
    return fpr, tpr, thresholds


def _upper_hull(fpr: np.ndarray, tpr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ROC convex hull (upper hull of the points with (0,0) and (1,1)), left to right."""
    points = sorted(set(zip(fpr.tolist(), tpr.tolist(), strict=True)) | {(0.0, 0.0), (1.0, 1.0)})
    hull: list[tuple[float, float]] = []
    for p in points:
        # keep only right turns (clockwise) for the upper hull; drop collinear points
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            cross = (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1)
            if cross >= 0:
                hull.pop()
            else:
                break
        hull.append(p)
    xs, ys = zip(*hull, strict=True)
    return np.array(xs), np.array(ys)


@dataclass
class CostCurve:
    fpr: np.ndarray
    """Per operating point (one line each): false positive rate, the line's height at PC = 0."""
    fnr: np.ndarray
    """Per operating point: false negative rate, the line's height at PC = 1."""
    thresholds: np.ndarray
    envelope_x: np.ndarray
    """Vertices of the lower envelope (probability cost), 0 to 1 ascending."""
    envelope_y: np.ndarray
    """Normalised expected cost of the best threshold at each vertex."""
    area: float
    """Area under the lower envelope: expected cost of the best thresholds over all PC, in [0, 0.25]."""


def cost_curve(y_true: Sequence[bool] | np.ndarray, scores: Sequence[float] | np.ndarray) -> CostCurve:
    """Cost lines of every threshold and their exact lower envelope (see the module docstring)."""
    fpr, tpr, thresholds = roc_points(y_true, scores)
    hx, hy = _upper_hull(fpr, tpr)
    # consecutive hull points i, i+1 swap places as best line at PC = dF / (dF + dT)
    d_f, d_t = np.diff(hx), np.diff(hy)
    cross_x = d_f / (d_f + d_t)
    fnr_hull = 1.0 - hy
    cross_y = (1.0 - cross_x) * hx[:-1] + cross_x * fnr_hull[:-1]
    ex = np.r_[0.0, cross_x, 1.0]
    ey = np.r_[0.0, cross_y, 0.0]
    ex, keep = np.unique(ex, return_index=True)  # vertical hull steps give repeated x
    ey = ey[keep]
    area = float(np.sum((ex[1:] - ex[:-1]) * (ey[1:] + ey[:-1]) / 2.0))
    return CostCurve(fpr=fpr, fnr=1.0 - tpr, thresholds=thresholds, envelope_x=ex, envelope_y=ey, area=area)


def envelope_at(curve: CostCurve, x: Sequence[float] | np.ndarray) -> np.ndarray:
    """The lower envelope at probability costs ``x``, by brute force over every line (for checks)."""
    x = np.asarray(x, dtype=np.float64)[:, None]
    lines = (1.0 - x) * curve.fpr[None, :] + x * curve.fnr[None, :]
    trivial = np.minimum(x[:, 0], 1.0 - x[:, 0])
    return np.minimum(lines.min(axis=1), trivial)


@dataclass
class CoverageCurve:
    thresholds: np.ndarray
    """Distinct confidences, descending: threshold i keeps reports with confidence >= thresholds[i]."""
    coverage: np.ndarray
    """Share of reports kept at each threshold (ascending)."""
    precision: np.ndarray
    """Share of the kept reports whose answer is right."""
    n_kept: np.ndarray

    def at(self, threshold: float) -> tuple[float, float | None]:
        """(coverage, precision) of keeping confidence >= ``threshold``; precision None if none kept."""
        kept = self.thresholds >= threshold
        if not kept.any():
            return 0.0, None
        i = int(np.flatnonzero(kept)[-1])
        return float(self.coverage[i]), float(self.precision[i])


def coverage_curve(
    confidence: Sequence[float] | np.ndarray, correct: Sequence[bool] | np.ndarray
) -> CoverageCurve:
    """Coverage and precision of answering only when the confidence is at least each threshold."""
    c = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct).astype(bool)
    if c.ndim != 1 or c.shape != ok.shape or c.size == 0:
        raise ValueError("confidence and correct must be non-empty 1-D arrays of the same length")
    order = np.argsort(-c, kind="stable")
    c_sorted, ok_sorted = c[order], ok[order]
    last = np.r_[np.flatnonzero(np.diff(c_sorted) != 0), c_sorted.size - 1]
    n_kept = last + 1
    return CoverageCurve(
        thresholds=c_sorted[last],
        coverage=n_kept / c.size,
        precision=np.cumsum(ok_sorted)[last] / n_kept,
        n_kept=n_kept,
    )


def topk_curve(ranks: Sequence[float | None] | np.ndarray, max_k: int) -> tuple[np.ndarray, np.ndarray]:
    """(k, share of items whose right answer ranks <= k) for k = 1..max_k; a None rank is a miss."""
    if max_k < 1:
        raise ValueError(f"max_k must be at least 1, got {max_k}")
    r = np.array([np.inf if v is None else float(v) for v in ranks], dtype=np.float64)
    ks = np.arange(1, max_k + 1)
    if r.size == 0:
        return ks, np.zeros(max_k)
    return ks, (r[None, :] <= ks[:, None]).mean(axis=1)
