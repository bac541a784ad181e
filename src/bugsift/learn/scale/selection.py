"""Settings of the severity / priority model, chosen on the newest part of the user's own training data.

As for the kind models (`bugsift.learn.kind.selection`), every candidate is fitted on the older 80% of
the training part and scored on its newest 20%, never on the test part. The candidates: plain TF-IDF +
logistic regression (always: the baseline users compare with), the same with balanced class weights,
and the ordinal model (`bugsift.learn.ordinal`: the kind model's features, cumulative cuts of the
scale) plain and balanced. Balanced weights trade the majority level's recall for the rare levels' (a
triager looks for the rare blockers), which macro-F1 counts; their probabilities are left uncalibrated,
since calibrating them back to the levels' frequencies would undo the balance.

The score is macro-F1 on the validation part; candidates within `SWITCH_MARGIN` of the best are told
apart by the smaller mean absolute rank error, so the order of the scale decides close calls.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from bugsift.evaluate.metrics import aligned_proba, classification_metrics
from bugsift.learn.features import large_store
from bugsift.learn.kind.selection import CANDIDATES as KIND_CANDIDATES
from bugsift.learn.kind.selection import PLAIN, Candidate, Selection
from bugsift.learn.scale.scales import Scale, mean_absolute_rank_error
from bugsift.learn.targets import Dataset
from bugsift.learn.training import _calibration_part, _date_range, _take, fit_model

METRIC = "macro_f1, then mean absolute rank error"
SWITCH_MARGIN = 0.005
"""Macro-F1 differences below this are noise (as in `kind_selection`): rank error decides."""
BALANCED = {"class_weight": "balanced", "calibration": "none"}
RULE = (
    "The highest macro-F1 wins; candidates within 0.005 of it are told apart by the smaller mean absolute "
    "rank error."
)


def candidates(scale: Scale, n_reports: int) -> dict[str, dict[str, Any]]:
    """The candidates' parameters for `bugsift.learn.training.fit_model`, plain first."""
    plain = dict(KIND_CANDIDATES[PLAIN])
    profile = "large" if large_store(n_reports) else "small"  # the kind models' size pick
    ordinal = {"size_profile": profile, "scale": scale.name, "embeddings": False, "pool_projects": False}
    return {
        PLAIN: plain,
        f"{PLAIN}, balanced": {**plain, **BALANCED},
        f"ordinal, {profile}-store settings": ordinal,
        f"ordinal, {profile}-store settings, balanced": {**ordinal, **BALANCED},
    }


def score(y_true: list[str], proba: np.ndarray, classes: list[str], scale: Scale) -> tuple[float, float]:
    """(macro-F1, mean absolute rank error) of the top answers."""
    metrics = classification_metrics(y_true, proba, classes)
    predicted = [classes[i] for i in proba.argmax(axis=1)]
    return float(metrics["macro_f1"]), float(mean_absolute_rank_error(y_true, predicted, scale) or 0.0)


def choose_scale_settings(
    dataset: Dataset, scale: Scale, mode: str, train_idx: np.ndarray, split: str, seed: int
) -> Selection:
    """Fit every candidate on the calibration carve of ``train_idx`` and keep the best (see above)."""
    fit_idx, valid_idx = _calibration_part(dataset, train_idx, split, seed)
    fit_reports, fit_labels = _take(dataset.reports, fit_idx), _take(dataset.labels, fit_idx)
    valid_reports, valid_labels = _take(dataset.reports, valid_idx), _take(dataset.labels, valid_idx)
    classes = sorted(set(dataset.labels))
    tried: list[Candidate] = []
    scores: dict[str, tuple[float, float]] = {}
    for name, params in candidates(scale, len(train_idx)).items():
        candidate = Candidate(name, params)
        tried.append(candidate)
        if len(set(fit_labels)) < 2:
            candidate.skipped = "the older part of the training data has one level only"
            continue
        began = time.perf_counter()
        model = fit_model(fit_reports, fit_labels, dataset.task, mode, "off", params)
        proba = aligned_proba(model.predict_proba(valid_reports), list(model.classes_), classes)
        candidate.seconds = round(time.perf_counter() - began, 2)
        scores[name] = score(valid_labels, proba, classes, scale)
        candidate.score = round(scores[name][0], 4)
    chosen = PLAIN
    if scores:
        best = max(f1 for f1, _ in scores.values())
        close = [name for name, (f1, _) in scores.items() if f1 >= best - SWITCH_MARGIN]
        chosen = min(close, key=lambda name: scores[name][1])
    selection = Selection(METRIC, chosen, tried, budget_seconds=0.0)
    selection.validation = {
        "n_fit": len(fit_idx),
        "n_validation": len(valid_idx),
        "validation_dates": _date_range(valid_reports),
        "rank_error": {name: round(mae, 4) for name, (_, mae) in scores.items()},
    }
    return selection
