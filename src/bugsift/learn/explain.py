"""Why did a kind model say what it said: the features that pushed a report toward the predicted class.

For the linear models of this package a feature's contribution is ``value x coefficient``; with
calibration folds the coefficients are averaged over the folds (the sigmoid/isotonic calibrators are
monotonic, so the direction holds). For a multi-class model the contribution toward class k uses
``coef[k] - mean_j coef[j]``: adding the same vector to every class leaves softmax unchanged, so this
is the part that favours k over the others.

Names: ``word:crash`` (a word or bigram of the title or the description; title and body contributions
of the same word are added), ``chars:cras`` (a character n-gram), ``field:severity=critical``,
``field:log_comments`` (a count).
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from bugsift.sources.base import Report

_CACHE: weakref.WeakKeyDictionary[Any, tuple[np.ndarray, np.ndarray, np.ndarray]] = (
    weakref.WeakKeyDictionary()
)


def _prepared(model: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(feature names, class-relative coefficient matrix [n_classes, n_features], classes)."""
    cached = _CACHE.get(model)
    if cached is not None:
        return cached
    names = model.features_.get_feature_names_out()
    names = np.asarray([("word:" + n[6:]) if n.startswith("title:") else n for n in names], dtype=object)
    coefs = getattr(model, "coef_", None)  # averaged at fit time by KindClassifier
    if coefs is None:
        coefs = np.mean([np.asarray(m.coef_, dtype=np.float64) for m in model.linear_models()], axis=0)
    coefs = np.asarray(coefs, dtype=np.float64)
    classes = np.asarray(model.classes_, dtype=object)
    if coefs.shape[0] == 1 and len(classes) == 2:  # binary: one row, positive = classes_[1]
        rel = np.vstack([-coefs[0], coefs[0]])
    else:
        rel = coefs - coefs.mean(axis=0, keepdims=True)
    out = (names, rel, classes)
    _CACHE[model] = out
    return out


def explain(model: Any, report: Report, n: int = 8, label: str | None = None) -> list[dict[str, Any]]:
    """The ``n`` features that pushed ``report`` most toward ``label`` (default: the predicted class).

    Returns ``[{"feature": "word:crash", "weight": 0.41}, ...]`` sorted by decreasing contribution;
    only features with a positive contribution are listed.
    """
    names, rel, classes = _prepared(model)
    x = model.features_.transform([report]).tocsr()
    if label is None:
        proba = model.model_.predict_proba(x)[0]
        k = int(np.argmax(proba))
    else:
        k = int(np.flatnonzero(classes == label)[0])
    idx = x.indices
    contrib = x.data.astype(np.float64) * rel[k, idx]
    merged: dict[str, float] = {}
    for name, c in zip(names[idx], contrib, strict=True):
        merged[name] = merged.get(name, 0.0) + float(c)
    top = sorted(((c, f) for f, c in merged.items() if c > 0), reverse=True)[:n]
    return [{"feature": f, "weight": round(c, 6)} for c, f in top]
