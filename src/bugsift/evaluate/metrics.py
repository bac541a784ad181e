"""Classification metrics over arrays, returned as JSON-ready dicts (plain floats, ints, lists, None).

Conventions shared by every function here:

* ``proba`` has one row per report and one column per class, columns in the order of ``classes``
  (the order of a classifier's ``classes_``). Rows must sum to 1 within 1e-4; rows off by more than
  1e-9 are renormalised.
* The predicted class is ``classes[argmax(row)]``; ties go to the class listed first.
* A metric that is undefined on the data (e.g. ROC AUC of a class absent from ``y_true``) is ``None``.
* Brier score is the standard multiclass one: mean over reports of the sum over classes of the squared
  error, range [0, 2]. For binary tasks this is twice the usual binary Brier score
  (``sklearn.metrics.brier_score_loss`` with its default ``scale_by_half="auto"``).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
    top_k_accuracy_score,
)

__all__ = [
    "classification_metrics",
    "expected_calibration_error",
    "majority_baseline",
    "precision_at_recall",
    "topk_accuracy",
]

_SUM_TOLERANCE = 1e-4
_RENORMALISE_ABOVE = 1e-9  # sklearn's log_loss/brier warn above about 1.5e-8


def _float_or_none(value: float) -> float | None:
    """Plain float, or None for NaN."""
    value = float(value)
    return None if np.isnan(value) else value


def _plain_labels(classes: Sequence[Hashable]) -> list[Any]:
    """Class labels as plain Python values (numpy scalars unwrapped) so outputs serialise to JSON."""
    return [label.item() if isinstance(label, np.generic) else label for label in classes]


def _prepare(
    y_true: Sequence[Hashable] | np.ndarray, proba: np.ndarray, classes: Sequence[Hashable]
) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    """Validate inputs; return (y_true array, float64 proba with rows summing to 1, classes list)."""
    classes = _plain_labels(classes)
    if len(classes) < 2:
        raise ValueError(f"need at least 2 classes, got {classes!r}")
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes must be unique, got {classes!r}")
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise ValueError("y_true must be one-dimensional")
    if y.size == 0:
        raise ValueError("y_true is empty")
    p = np.asarray(proba, dtype=np.float64)
    if p.shape != (y.size, len(classes)):
        raise ValueError(f"proba has shape {p.shape}, expected ({y.size}, {len(classes)}) (reports, classes)")
    if not np.all(np.isfinite(p)) or p.min() < 0.0:
        raise ValueError("proba must be finite and non-negative")
    sums = p.sum(axis=1)
    if not np.allclose(sums, 1.0, rtol=0.0, atol=_SUM_TOLERANCE):
        worst = int(np.argmax(np.abs(sums - 1.0)))
        raise ValueError(f"proba rows must sum to 1; row {worst} sums to {sums[worst]:.6g}")
    drift = np.abs(sums - 1.0) > _RENORMALISE_ABOVE
    if drift.any():  # only rows that need it: dividing by a sum of 1 +- 1 ulp would break exact ties
        p[drift] /= sums[drift, None]
    known = set(classes)
    unknown = sorted({str(label) for label in y.tolist() if label not in known})
    if unknown:
        raise ValueError(f"y_true has labels not in classes: {unknown[:10]}")
    return y, p, classes


def _sorted_view(p: np.ndarray, classes: list[Any]) -> tuple[np.ndarray, list[Any]]:
    """Columns and labels in sorted order, as sklearn's log_loss/brier/top-k expect."""
    order = sorted(range(len(classes)), key=lambda j: classes[j])
    return p[:, order], [classes[j] for j in order]


def _predict(p: np.ndarray, classes: list[Any]) -> np.ndarray:
    return np.asarray(classes)[np.argmax(p, axis=1)]


def _ovr_auc(y: np.ndarray, p: np.ndarray, classes: list[Any]) -> list[float | None]:
    """One-vs-rest ROC AUC per class; None where the class is absent from, or is all of, y_true."""
    aucs: list[float | None] = []
    for j, label in enumerate(classes):
        positive = y == label
        if positive.all() or not positive.any():
            aucs.append(None)
        else:
            aucs.append(float(roc_auc_score(positive, p[:, j])))
    return aucs


def aligned_proba(proba: np.ndarray, model_classes: Sequence[Any], classes: Sequence[Any]) -> np.ndarray:
    """``proba``'s columns (in ``model_classes`` order) re-ordered to ``classes``; a class the model never
    saw (a fold or an older part without it) gets a column of zeros."""
    out = np.zeros((proba.shape[0], len(classes)))
    index = {name: j for j, name in enumerate(classes)}
    for j, name in enumerate(model_classes):
        out[:, index[name]] = proba[:, j]
    return out


def expected_calibration_error(
    y_true: Sequence[Hashable] | np.ndarray, proba: np.ndarray, classes: Sequence[Hashable], n_bins: int = 10
) -> float:
    """Top-label ECE: sum over equal-width confidence bins of share * |accuracy - mean confidence|.

    Bins are (0, 1/n], (1/n, 2/n], ... with a confidence of exactly 0 put in the first bin.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    y, p, classes = _prepare(y_true, proba, classes)
    confidence = p.max(axis=1)
    correct = (_predict(p, classes) == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], confidence, side="left")
    ece = 0.0
    for b in range(n_bins):
        members = bins == b
        if members.any():
            ece += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(ece)


def classification_metrics(
    y_true: Sequence[Hashable] | np.ndarray, proba: np.ndarray, classes: Sequence[Hashable]
) -> dict[str, Any]:
    """Accuracy, per-class P/R/F1/support/AUC, macro/weighted F1, ROC AUC, log loss, Brier, ECE, confusion.

    ``roc_auc``: binary = AUC of ``classes[1]``; multiclass = mean of the defined per-class one-vs-rest AUCs.
    Per-class precision (recall) is None when the class is never predicted (absent from y_true); macro and
    weighted F1 skip classes absent from both y_true and the predictions. Confusion rows = true, cols = pred.
    """
    y, p, classes = _prepare(y_true, proba, classes)
    y_pred = _predict(p, classes)
    precision, recall, f1, support = precision_recall_fscore_support(
        y, y_pred, labels=classes, zero_division=np.nan
    )
    aucs = _ovr_auc(y, p, classes)
    if len(classes) == 2:
        roc_auc = aucs[1]
    else:
        defined = [a for a in aucs if a is not None]
        roc_auc = float(np.mean(defined)) if defined else None
    p_sorted, classes_sorted = _sorted_view(p, classes)
    per_class = {
        label: {
            "precision": _float_or_none(precision[j]),
            "recall": _float_or_none(recall[j]),
            "f1": _float_or_none(f1[j]),
            "support": int(support[j]),
            "auc": aucs[j],
        }
        for j, label in enumerate(classes)
    }
    return {
        "n": int(y.size),
        "classes": list(classes),
        "accuracy": float(accuracy_score(y, y_pred)),
        "macro_f1": _float_or_none(
            f1_score(y, y_pred, labels=classes, average="macro", zero_division=np.nan)
        ),
        "weighted_f1": _float_or_none(
            f1_score(y, y_pred, labels=classes, average="weighted", zero_division=np.nan)
        ),
        "roc_auc": roc_auc,
        "log_loss": float(log_loss(y, p_sorted, labels=classes_sorted)),
        "brier": float(brier_score_loss(y, p_sorted, labels=classes_sorted, scale_by_half=False)),
        "ece": expected_calibration_error(y, p, classes),
        "per_class": per_class,
        "confusion_matrix": confusion_matrix(y, y_pred, labels=classes).tolist(),
    }


def majority_baseline(
    y_train: Sequence[Hashable] | np.ndarray,
    y_test: Sequence[Hashable] | np.ndarray,
    classes: Sequence[Hashable],
) -> dict[str, Any]:
    """Metrics of always predicting the most frequent training class, with training frequencies as proba.

    Ties between equally frequent classes go to the class listed first; adds ``majority_class``.
    """
    classes = _plain_labels(classes)
    y_train = np.asarray(y_train)
    if y_train.size == 0:
        raise ValueError("y_train is empty")
    counts = np.array([np.count_nonzero(y_train == label) for label in classes], dtype=np.float64)
    if counts.sum() != y_train.size:
        raise ValueError("y_train has labels not in classes")
    frequencies = counts / counts.sum()
    proba = np.tile(frequencies, (len(y_test), 1))
    result = classification_metrics(y_test, proba, classes)
    result["majority_class"] = classes[int(np.argmax(frequencies))]
    result["hindsight_majority"] = hindsight_majority(y_test, classes)
    return result


def hindsight_majority(
    y_test: Sequence[Hashable] | np.ndarray, classes: Sequence[Hashable]
) -> dict[str, Any]:
    """Always answering the test period's most common class: known only in hindsight, so no model could
    have chosen it, but a model that does not beat it has learned less than the label mix tells."""
    y_test = np.asarray(y_test)
    counts = [int(np.count_nonzero(y_test == label)) for label in classes]
    best = int(np.argmax(counts))
    n = max(1, int(y_test.size))
    share = counts[best] / n
    # F1 of that one class (precision = its share, recall = 1); every other class scores 0
    macro_f1 = (2 * share / (share + 1)) / len(classes) if classes else 0.0
    return {"class": classes[best], "accuracy": share, "macro_f1": macro_f1, "n": int(y_test.size)}


def topk_accuracy(
    y_true: Sequence[Hashable] | np.ndarray, proba: np.ndarray, classes: Sequence[Hashable], k: int
) -> float:
    """Share of reports whose true class is among the k most probable classes."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    y, p, classes = _prepare(y_true, proba, classes)
    if k >= len(classes):
        return 1.0
    if k == 1 or len(classes) == 2:
        return float(accuracy_score(y, _predict(p, classes)))
    p_sorted, classes_sorted = _sorted_view(p, classes)
    return float(top_k_accuracy_score(y, p_sorted, k=k, labels=classes_sorted))


def precision_at_recall(
    y_true_binary: Sequence[bool | int] | np.ndarray, scores: Sequence[float] | np.ndarray, recall: float
) -> float | None:
    """Best precision over the PR curve's operating points with recall >= ``recall``; None if no positives.

    ``y_true_binary`` is 1/True for the positive class; higher ``scores`` mean more likely positive.
    """
    if not 0.0 <= recall <= 1.0:
        raise ValueError(f"recall must be in [0, 1], got {recall!r}")
    y = np.asarray(y_true_binary).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1 or y.size == 0:
        raise ValueError("y_true_binary and scores must be non-empty 1-D arrays of the same length")
    if not y.any():
        return None
    precisions, recalls, _ = precision_recall_curve(y, s)
    return float(precisions[recalls >= recall].max())
