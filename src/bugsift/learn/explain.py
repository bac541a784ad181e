"""Why did a kind model say what it said: the features that pushed a report toward the predicted class.

For the linear models of this package a feature's contribution is ``value x coefficient``; with
calibration folds the coefficients are averaged over the folds (the sigmoid/isotonic calibrators are
monotonic, so the direction holds). For a multi-class model the contribution toward class k uses
``coef[k] - mean_j coef[j]``: adding the same vector to every class leaves softmax unchanged, so this
is the part that favours k over the others.

Names: ``word:crash`` (a word or bigram of the title or the description; title and body contributions
of the same word are added), ``chars:cras`` (a character n-gram), ``field:severity=critical``,
``field:log_comments`` (a count).

`explain` does one report; `explain_batch` gives the same answer for a whole feature matrix at once
(one sparse product merges the title and body columns of a word, numpy picks the top n of every row),
which is what made backlog classification ~10x faster than explaining report by report.

These names are model internals. What answers carry is `explain_reasons` / `explain_reasons_batch`:
the same contributions turned into 3-6 reasons a person reads (`bugsift.learn.reasons`).
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
from scipy import sparse

from bugsift.learn import reasons
from bugsift.sources.base import Report

_CACHE: weakref.WeakKeyDictionary[Any, tuple[np.ndarray, np.ndarray, np.ndarray]] = (
    weakref.WeakKeyDictionary()
)
# model -> (feature column -> merged name matrix [n_features, n_names], merged names, name rank)
_MERGE: weakref.WeakKeyDictionary[Any, tuple[sparse.csr_matrix, np.ndarray, np.ndarray]] = (
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
    # a kind model pooled by project explains with the TF-IDF member of the report's project
    member = model.member_for(report) if hasattr(model, "member_for") else model
    names, rel, classes = _prepared(member)
    x = member.features_.transform([report]).tocsr()
    if label is None:  # the predicted class: the kind model's, embedding member included
        proba = model.predict_proba([report])[0] if hasattr(model, "member_for") else None
        k = int(np.argmax(member.model_.predict_proba(x)[0] if proba is None else proba))
    else:
        k = int(np.flatnonzero(classes == label)[0])
    idx = x.indices
    contrib = x.data.astype(np.float64) * rel[k, idx]
    merged: dict[str, float] = {}
    for name, c in zip(names[idx], contrib, strict=True):
        merged[name] = merged.get(name, 0.0) + float(c)
    top = sorted(((c, f) for f, c in merged.items() if c > 0), reverse=True)[:n]
    return [{"feature": f, "weight": round(c, 6)} for c, f in top]


def _merger(model: Any) -> tuple[sparse.csr_matrix, np.ndarray]:
    """A 0/1 matrix [n_features, n_names] summing the columns that share a name, and the names."""
    cached = _MERGE.get(model)
    if cached is not None:
        return cached
    names, _, _ = _prepared(model)
    first: dict[str, int] = {}
    target = np.fromiter(
        (first.setdefault(name, len(first)) for name in names.tolist()), np.int64, len(names)
    )
    merge = sparse.csr_matrix(
        (np.ones(len(names)), (np.arange(len(names)), target)), shape=(len(names), len(first))
    )
    out = (merge, np.asarray(list(first), dtype=object))
    _MERGE[model] = out
    return out


def _nth_largest(row: np.ndarray, value: np.ndarray, n: int, n_rows: int) -> np.ndarray:
    """Per row, the n-th largest distinct value (the smallest one a row has if fewer); ``row`` sorted."""
    threshold = np.full(n_rows, np.inf)
    counts = np.bincount(row, minlength=n_rows)
    present = np.flatnonzero(counts)
    if not len(present):
        return threshold
    starts = np.concatenate([[0], np.cumsum(counts[present])[:-1]])
    work = value.copy()
    for _ in range(n):  # n rounds of "take each row's maximum away"
        top = np.maximum.reduceat(work, starts)
        threshold[present] = np.where(np.isfinite(top), top, threshold[present])
        work[work >= np.repeat(top, counts[present])] = -np.inf
    return threshold


def explain_batch(model: Any, matrix: Any, predicted: np.ndarray, n: int = 8) -> list[list[dict[str, Any]]]:
    """`explain` for every row of ``matrix`` (the model's features of a batch) toward the class index
    ``predicted[i]`` of ``model.classes_``; same names, weights and order as one by one."""
    _, rel, _ = _prepared(model)
    merge, names = _merger(model)
    x = sparse.csr_matrix(matrix)
    n_rows = x.shape[0]
    rows = np.repeat(np.arange(n_rows), np.diff(x.indptr))
    contrib = x.data.astype(np.float64) * rel[np.asarray(predicted)[rows], x.indices]
    merged = (sparse.csr_matrix((contrib, x.indices, x.indptr), shape=x.shape) @ merge).tocsr()
    row = np.repeat(np.arange(n_rows), np.diff(merged.indptr))
    value, column = merged.data, merged.indices
    keep = value > 0
    row, value, column = row[keep], value[keep], column[keep]
    keep = value >= _nth_largest(row, value, n, n_rows)[row]  # each row's top n (and ties) only
    row, value, column = row[keep], value[keep], column[keep]
    bounds = np.searchsorted(row, np.arange(n_rows + 1), side="left")
    values, labels = value.tolist(), names[column].tolist()
    out = []
    for i in range(n_rows):  # a handful per row: sort as `explain` does, ties by decreasing name
        part = slice(bounds[i], bounds[i + 1])
        top = sorted(zip(values[part], labels[part], strict=True), reverse=True)
        out.append([{"feature": f, "weight": round(c, 6)} for c, f in top[:n]])
    return out


# Raw features read per reason: enough for the stop-word filter and the word grouping to leave 3-6.
_RAW_PER_REASON = 3


def explain_reasons(
    model: Any, report: Report, n: int = reasons.MAX_REASONS, label: str | None = None
) -> list[dict[str, Any]]:
    """`explain` in words: ``[{"text": "a long log is pasted (120 lines)", "weight": .., "kind": ..}]``
    (see `bugsift.learn.reasons`), the strongest ``n`` (at most 6)."""
    n = min(max(n, 1), reasons.MAX_REASONS)
    return reasons.from_features(explain(model, report, n=n * _RAW_PER_REASON, label=label), report, n)


def explain_reasons_batch(
    model: Any, matrix: Any, predicted: np.ndarray, reports: Any, n: int = reasons.MAX_REASONS
) -> list[list[dict[str, Any]]]:
    """`explain_reasons` for every row of ``matrix`` (``reports[i]`` is row i), as one by one."""
    n = min(max(n, 1), reasons.MAX_REASONS)
    raw = explain_batch(model, matrix, predicted, n=n * _RAW_PER_REASON)
    return [reasons.from_features(items, report, n) for items, report in zip(raw, reports, strict=True)]
