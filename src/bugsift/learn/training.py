"""Train and evaluate kind models honestly: time-ordered splits, thresholds chosen off the test part.

Evaluation fits twice per split: once on the older part of the training data to choose the
"uncertain" threshold on the newest part of the training data, once on the whole training part to
score the test part. Training for use then refits on every labelled report and keeps that threshold.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from bugsift.evaluate.metrics import aligned_proba, classification_metrics, majority_baseline
from bugsift.evaluate.splits import calibration_split, random_split, stratified_kfold, time_split
from bugsift.evaluate.thresholds import choose_threshold, coverage_table
from bugsift.learn.kind.model import build_kind_model
from bugsift.learn.kind.selection import Selection, choose
from bugsift.learn.targets import LABEL_DEFINING_FIELDS, Dataset
from bugsift.report.content import class_timeline
from bugsift.sources.base import Report

SPLITS = ("time", "random", "kfold")
DEFAULT_BUDGET_SECONDS = 300.0  # issue 15's training target on the 32k Jira: 5 minutes, tuning included


@dataclass
class Evaluation:
    task: str
    label: str
    mode: str
    split: str
    metrics: dict[str, Any]
    baseline: dict[str, Any]
    coverage: list[dict[str, Any]]
    threshold: dict[str, Any]
    """The 'uncertain' threshold chosen on the calibration part, for the precision target."""
    at_threshold: dict[str, Any]
    """What that threshold gives on the test part: coverage and precision of the confident predictions."""
    data: dict[str, Any] = field(default_factory=dict)
    predictions: dict[str, Any] = field(default_factory=dict)
    """The test reports with their true class and predicted probabilities (for plots and error analysis)."""
    learning_curve: list[dict[str, Any]] = field(default_factory=list)
    """Test scores of models fitted on growing parts of the (first) training part; empty unless asked."""
    selection: dict[str, Any] = field(default_factory=dict)
    """How the settings were chosen (`kind.selection.Selection.as_dict`); empty when they were given."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# The `embeddings` setting (auto / on / off) as `KindClassifier`'s parameter.
EMBEDDINGS_PARAM: dict[str, bool | str] = {"auto": "auto", "on": True, "off": False}


def model_params(task: str, mode: str, embeddings: str = "off") -> dict[str, Any]:
    """The model's construction parameters for a task and mode (recorded in the registry)."""
    if embeddings not in EMBEDDINGS_PARAM:
        raise ValueError(f"embeddings must be one of {', '.join(EMBEDDINGS_PARAM)}, not {embeddings!r}")
    return {
        "mode": mode,
        "exclude_fields": list(LABEL_DEFINING_FIELDS.get(task) or _defining_fields(task)),
        "embeddings": EMBEDDINGS_PARAM[embeddings],
    }


def _defining_fields(task: str) -> tuple[str, ...]:
    from bugsift.learn.field.targets import defining_fields  # label:NAME / field:NAME tasks

    return defining_fields(task)


def fit_model(
    reports: list[Report],
    labels: list[str],
    task: str,
    mode: str,
    embeddings: str = "off",
    settings: dict[str, Any] | None = None,
) -> Any:
    """Fit a kind model; ``settings`` are the chosen candidate's parameters (`kind_selection`)."""
    params = model_params(task, mode, embeddings)
    params["exclude_fields"] = tuple(params["exclude_fields"])
    if settings:
        if settings.get("embeddings") is False:  # a candidate that never reads embeddings (plain)
            params["embeddings"] = False
        params.update({k: v for k, v in settings.items() if k != "embeddings"})
    if params.get("scale"):  # the ordinal candidate of the severity / priority tasks
        from bugsift.learn.ordinal import build_ordinal_model

        return build_ordinal_model(**params).fit(reports, labels)
    return build_kind_model(**params).fit(reports, labels)


def _take(items: list[Any], idx: np.ndarray) -> list[Any]:
    return [items[i] for i in idx]


def _date_range(reports: list[Report]) -> list[str | None]:
    dates = [r.created_at for r in reports if r.created_at is not None]
    return [min(dates).isoformat(), max(dates).isoformat()] if dates else [None, None]


def _split(dataset: Dataset, split: str, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if split == "time":
        dates: list[datetime | None] = [r.created_at for r in dataset.reports]
        return time_split(dates, test_fraction, groups=[r.project for r in dataset.reports])
    return random_split(dataset.labels, test_fraction, seed)


def _calibration_part(
    dataset: Dataset, train_idx: np.ndarray, split: str, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    if split == "time":
        dates = [r.created_at for r in dataset.reports]
        return calibration_split(dates, train_idx, 0.2, groups=[r.project for r in dataset.reports])
    fit_local, calib_local = random_split(_take(dataset.labels, train_idx), 0.2, seed)
    return train_idx[fit_local], train_idx[calib_local]


def _score_split(
    dataset: Dataset,
    mode: str,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    split: str,
    precision_target: float,
    seed: int,
    embeddings: str = "off",
    settings: dict[str, Any] | None = None,
    calibrated: tuple[np.ndarray, Any, np.ndarray] | None = None,
) -> tuple[np.ndarray, list[Any], dict[str, Any], Any]:
    """Fit on train, predict test; choose the threshold on a calibration part carved from train. Also
    returns the model fitted on train.

    ``calibrated`` = (calibration rows, model, its probabilities there) when the settings' choice
    already fitted that model on the same carve."""
    reports, labels = dataset.reports, dataset.labels
    if calibrated is None:
        fit_idx, calib_idx = _calibration_part(dataset, train_idx, split, seed)
        calib_model = fit_model(
            _take(reports, fit_idx), _take(labels, fit_idx), dataset.task, mode, embeddings, settings
        )
        calib_proba = calib_model.predict_proba(_take(reports, calib_idx))
    else:
        calib_idx, calib_model, calib_proba = calibrated
    # a class the older part never saw (a small tracker's young label) gets probability 0, not an error
    classes = sorted(set(labels))
    calib_proba = aligned_proba(calib_proba, list(calib_model.classes_), classes)
    threshold = choose_threshold(_take(labels, calib_idx), calib_proba, classes, precision_target)
    model = fit_model(
        _take(reports, train_idx), _take(labels, train_idx), dataset.task, mode, embeddings, settings
    )
    proba = model.predict_proba(_take(reports, test_idx))
    return proba, list(model.classes_), threshold, model


def choose_settings(
    dataset: Dataset,
    mode: str,
    train_idx: np.ndarray,
    split: str,
    seed: int,
    embeddings: str,
    budget_seconds: float,
) -> tuple[Selection, tuple[np.ndarray, Any, np.ndarray]]:
    """`kind.selection.choose` on the calibration carve of ``train_idx``; also returns the winner's
    (calibration rows, model, probabilities) for the threshold."""
    reports, labels = dataset.reports, dataset.labels
    fit_idx, calib_idx = _calibration_part(dataset, train_idx, split, seed)
    fit_reports, fit_labels = _take(reports, fit_idx), _take(labels, fit_idx)
    calib_reports = _take(reports, calib_idx)

    def fit(settings: dict[str, Any]) -> tuple[Any, np.ndarray]:
        model = fit_model(fit_reports, fit_labels, dataset.task, mode, embeddings, settings)
        return model, model.predict_proba(calib_reports)

    selection, (model, proba) = choose(
        fit, _take(labels, calib_idx), sorted(set(labels)), dataset.task, len(train_idx), budget_seconds
    )
    selection.validation = {
        "n_fit": len(fit_idx),
        "n_validation": len(calib_idx),
        "validation_dates": _date_range(calib_reports),
    }
    return selection, (calib_idx, model, proba)


def _at_threshold(
    y_true: list[str], proba: np.ndarray, classes: list[Any], threshold: float
) -> dict[str, Any]:
    top = proba.max(axis=1)
    confident = top >= threshold
    predicted = np.asarray(classes)[proba.argmax(axis=1)]
    n = int(confident.sum())
    correct = int((predicted[confident] == np.asarray(y_true)[confident]).sum()) if n else 0
    return {
        "threshold": float(threshold),
        "coverage": n / len(y_true) if y_true else 0.0,
        "precision": correct / n if n else None,
        "n_confident": n,
    }


def evaluate_dataset(
    dataset: Dataset,
    mode: str = "filing",
    split: str = "time",
    test_fraction: float = 0.2,
    folds: int = 5,
    precision_target: float = 0.9,
    seed: int = 0,
    learning_curve: bool = False,
    embeddings: str = "off",
    settings: dict[str, Any] | None = None,
    budget_seconds: float = DEFAULT_BUDGET_SECONDS,
    also_predict: Sequence[Report] = (),
) -> Evaluation:
    """Score a task on held-out data with the chosen protocol, beside the majority-class baseline.

    The model's settings are chosen on the first training part's calibration carve (`choose_settings`)
    unless ``settings`` gives them; every part then uses the same ones.
    ``learning_curve`` also fits models on growing parts of the training data (five more fits).
    ``embeddings`` is the setting of that name (auto / on / off).
    ``also_predict``: unlabelled reports the first part's model also answers, in
    ``predictions["also_proba"]`` (the scale tasks score a bot's population with them).
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if len(set(dataset.labels)) < 2:
        raise ValueError(
            f"{dataset.task}: need at least two classes to learn, found {dataset.class_counts()}"
        )
    all_classes = sorted(set(dataset.labels))
    if split == "kfold":
        parts = list(stratified_kfold(dataset.labels, folds, seed))
    else:
        parts = [_split(dataset, split, test_fraction, seed)]
    selection, calibrated = None, None
    if settings is None:
        selection, calibrated = choose_settings(
            dataset, mode, parts[0][0], split, seed, embeddings, budget_seconds
        )
        settings = selection.params
    y_test: list[str] = []
    y_train_all: list[str] = []
    test_order: list[int] = []
    probas, thresholds = [], []
    also_proba: np.ndarray | None = None
    for i, (train_idx, test_idx) in enumerate(parts):
        proba, classes, threshold, model = _score_split(
            dataset,
            mode,
            train_idx,
            test_idx,
            split,
            precision_target,
            seed,
            embeddings,
            settings,
            calibrated if i == 0 else None,
        )
        probas.append(aligned_proba(proba, classes, all_classes))
        if i == 0 and len(also_predict):
            also_proba = aligned_proba(model.predict_proba(list(also_predict)), classes, all_classes)
        y_test.extend(_take(dataset.labels, test_idx))
        y_train_all.extend(_take(dataset.labels, train_idx))
        test_order.extend(int(i) for i in test_idx)
        thresholds.append(threshold)
    proba = np.vstack(probas)
    threshold = thresholds[0] if len(thresholds) == 1 else _mean_threshold(thresholds)
    train_idx, test_idx = parts[0]
    data = {
        "n_labelled": len(dataset.labels),
        "classes": dataset.class_counts(),
        "excluded": dict(dataset.excluded),
        "label_notes": dict(dataset.notes),
        "n_train": len(train_idx),
        "n_test": len(test_idx) if split != "kfold" else len(dataset.labels),
        "folds": len(parts),
        "train_dates": _date_range(_take(dataset.reports, train_idx)),
        "test_dates": _date_range(_take(dataset.reports, test_idx)),
        "test_classes": dict(sorted(Counter(y_test).items())),
        "projects": dict(sorted(Counter(r.project for r in dataset.reports).items())),
        "timeline": class_timeline([r.created_at for r in dataset.reports], dataset.labels),
    }
    return Evaluation(
        task=dataset.task,
        label=dataset.label_name,
        mode=mode,
        split=split,
        metrics=classification_metrics(y_test, proba, all_classes),
        baseline=majority_baseline(y_train_all, y_test, all_classes),
        coverage=coverage_table(y_test, proba, all_classes),
        threshold=threshold,
        at_threshold=_at_threshold(y_test, proba, all_classes, threshold["threshold"]),
        data=data,
        predictions=_predictions(dataset, test_order, y_test, proba, all_classes, also_proba),
        learning_curve=(
            _learning_curve(dataset, mode, *parts[0], all_classes, embeddings, settings)
            if learning_curve
            else []
        ),
        selection=selection.as_dict() if selection else {"chosen": "given", "params": settings},
    )


def _predictions(
    dataset: Dataset,
    order: list[int],
    y_true: list[str],
    proba: np.ndarray,
    classes: list[str],
    also_proba: np.ndarray | None = None,
) -> dict[str, Any]:
    reports = _take(dataset.reports, np.asarray(order, dtype=np.intp))
    predictions = {
        "classes": classes,
        "ids": [r.external_id for r in reports],
        "titles": [r.title[:200] for r in reports],
        "created_at": [r.created_at.isoformat() if r.created_at else None for r in reports],
        "y_true": y_true,
        "proba": np.round(proba, 5).tolist(),
    }
    if also_proba is not None:
        predictions["also_proba"] = np.round(also_proba, 5).tolist()
    return predictions


LEARNING_CURVE_FRACTIONS = (0.1, 0.25, 0.5, 0.75, 1.0)


def _learning_curve(
    dataset: Dataset,
    mode: str,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    classes: list[str],
    embeddings: str = "off",
    settings: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Fit on the newest 10%, 25% ... of the training part and score each on the same test part."""
    by_age = sorted(
        train_idx, key=lambda i: (dataset.reports[i].created_at is None, dataset.reports[i].created_at)
    )
    y_test = _take(dataset.labels, test_idx)
    test_reports = _take(dataset.reports, test_idx)
    points = []
    for fraction in LEARNING_CURVE_FRACTIONS:
        part = np.asarray(by_age[len(by_age) - max(2, int(len(by_age) * fraction)) :], dtype=np.intp)
        labels = _take(dataset.labels, part)
        if len(set(labels)) < 2:
            continue
        model = fit_model(_take(dataset.reports, part), labels, dataset.task, mode, embeddings, settings)
        proba = aligned_proba(model.predict_proba(test_reports), list(model.classes_), classes)
        scores = classification_metrics(y_test, proba, classes)
        points.append({"n_train": len(part), "accuracy": scores["accuracy"], "macro_f1": scores["macro_f1"]})
    return points


def _mean_threshold(thresholds: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "threshold": float(np.mean([t["threshold"] for t in thresholds])),
        "precision": float(np.mean([t["precision"] for t in thresholds if t.get("precision") is not None])),
        "coverage": float(np.mean([t["coverage"] for t in thresholds])),
        "met": all(t.get("met") for t in thresholds),
    }
