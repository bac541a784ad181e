"""The `component` task: train, evaluate and predict product/component, one model per tracker or project.

Protocol (per scope, i.e. per Jira project or per tracker without projects):

* test = the newest ``test_fraction`` (20%) of the scope's reports; the model is fitted on the rest;
* the settings (tuned or plain, and how rare a component may be before it is folded) are chosen on
  the newest 20% of the training part by the answers a person would get (`answer_scoring`);
* the softmax temperature, the confidence model (P(top answer right), see `bugsift.learn.component.model`)
  and the two thresholds on that confidence are chosen on the newest 20% of the *training* part, with a
  model fitted on the older 80% of it, never on the test part (the thresholds on out-of-fold
  confidences, so the confidence model is not judged on the reports it learnt from):
  ``suggest`` (top-1 precision >= ``suggest_precision``, default 0.6: worth showing to a reporter) and
  ``act`` (top-1 precision >= the settings' ``precision_target``, default 0.9: safe to apply);
* the test part is scored on folded labels (rare or new components in their bucket, see
  `bugsift.learn.component.model`), a prediction being right when it names any of a report's components:
  top-1/3/5 accuracy, macro-F1, precision and coverage at ``act`` and ``suggest``, beside the
  "most frequent component" baseline; ``top1_strict`` counts a folded bucket as wrong; the
  precision of the most confident 5% .. 30% (``curve``) ranked by the confidence and by the top
  probability.

Training for use repeats the threshold step on all reports (fit on the older 80%, choose on the newest
20%) and refits on everything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from bugsift.evaluate.splits import calibration_split, time_split
from bugsift.learn import reasons
from bugsift.learn.component.model import (
    OTHER,
    ComponentModel,
    ScopedComponentModel,
    is_catch_all,
    report_labels,
    scope_key,
)
from bugsift.learn.kind.selection import candidate_scores
from bugsift.learn.tasks import EvaluationOutcome, TaskOptions, TrainOutcome
from bugsift.settings import Settings
from bugsift.sources.base import Report
from bugsift.store.bot_actions import written_by_bot
from bugsift.store.db import Database
from bugsift.store.reports import count_reports, iter_reports

TASK = "component"
LABEL = "component"
MODE = "filing"
DEFAULT_SUGGEST_PRECISION = 0.6
TOP_KS = (1, 3, 5)
CURVE_COVERAGES = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3)
# Projects with fewer labelled reports than this share their tracker's model.
MIN_SCOPE_REPORTS = 50


@dataclass
class ComponentData:
    """Labelled reports grouped by scope, with what was skipped and where the labels came from."""

    scopes: dict[str, tuple[list[Report], list[list[str]]]] = field(default_factory=dict)
    n_reports: int = 0
    n_without_component: int = 0
    per_project: bool = True
    n_filed: int = 0
    """How many labels are filing-time values (replayed history); the rest are today's values."""

    def summary(self) -> dict[str, Any]:
        return {
            "n_reports": self.n_reports,
            "n_labelled": sum(len(r) for r, _ in self.scopes.values()),
            "n_without_component": self.n_without_component,
            "n_labels_as_filed": self.n_filed,
            "n_labels_current": sum(len(r) for r, _ in self.scopes.values()) - self.n_filed,
            "scopes": {k: len(r) for k, (r, _) in self.scopes.items()},
        }


def collect(reports: Sequence[Report], per_project: bool = True) -> ComponentData:
    """Group reports with at least one component by scope (`scope_key`)."""
    data = ComponentData(per_project=per_project and _projects_big_enough(reports))
    for report in reports:
        data.n_reports += 1
        labels, filed = report_labels(report)
        if not labels:
            data.n_without_component += 1
            continue
        data.n_filed += filed
        bucket = data.scopes.setdefault(scope_key(report, data.per_project), ([], []))
        bucket[0].append(report)
        bucket[1].append(labels)
    return data


def _projects_big_enough(reports: Sequence[Report]) -> bool:
    """Per-project models only when every project has enough history of its own."""
    counts = Counter(r.project for r in reports if r.component or r.components or r.filed)
    return bool(counts) and "" not in counts and min(counts.values()) >= MIN_SCOPE_REPORTS


# -------------------------------------------------------------------------------------------------
# Scoring


def _scoring(model: ComponentModel, proba: np.ndarray, labels: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Inputs for the shared metric helpers: per report the label that counts as its truth."""
    classes = list(model.classes_)
    truth = model.truth_mask(labels)
    predicted = proba.argmax(axis=1)
    y_eff = []
    extra: list[str] = []
    for i, raw in enumerate(labels):
        folded = model.fold(raw)
        if truth[i, predicted[i]]:
            y_eff.append(classes[predicted[i]])
        else:
            first = folded[0]
            y_eff.append(first)
            if first not in classes and first not in extra:
                extra.append(first)  # excluded, or a bucket this model never saw: never predicted
    proba_ext = np.hstack([proba, np.zeros((proba.shape[0], len(extra)))]) if extra else proba
    return {"truth": truth, "y": y_eff, "proba": proba_ext, "classes": classes + extra}


def _topk(proba: np.ndarray, truth: np.ndarray, k: int) -> float:
    order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
    return float(np.take_along_axis(truth, order, axis=1).any(axis=1).mean())


def precision_curve(confidence: np.ndarray, correct: np.ndarray) -> dict[str, float | None]:
    """Precision of the most confident share of reports, for each share in `CURVE_COVERAGES`."""
    order = np.argsort(-confidence, kind="stable")
    out: dict[str, float | None] = {}
    for share in CURVE_COVERAGES:
        k = round(share * len(order))
        out[f"{share:.2f}"] = float(correct[order[:k]].mean()) if k else None
    return out


def choose_confidence_threshold(
    confidence: np.ndarray, correct: np.ndarray, precision_target: float
) -> dict[str, Any]:
    """Lowest confidence whose covered reports reach ``precision_target``; a cut must cover at least
    max(10, 5% of reports). Without one that meets the target: the most precise eligible cut, ``met``
    False (the rule of `bugsift.evaluate.thresholds.choose_threshold`, on any confidence)."""
    n = len(confidence)
    min_covered = min(n, max(10, int(np.ceil(0.05 * n))))
    if n == 0:
        return {"threshold": 1.0, "precision": None, "coverage": 0.0, "n_covered": 0, "met": False}
    order = np.argsort(-confidence, kind="stable")
    sorted_conf = confidence[order]
    precision = np.cumsum(correct[order]) / np.arange(1, n + 1)
    # a cut must keep tied confidences together: only the last index of each run of equal values
    last = np.r_[sorted_conf[1:] != sorted_conf[:-1], True]
    eligible = last & (np.arange(1, n + 1) >= min_covered)
    met = np.flatnonzero(eligible & (precision >= precision_target - 1e-12))
    k = met[-1] if len(met) else np.flatnonzero(eligible)[np.argmax(precision[eligible])]
    return {
        "threshold": float(sorted_conf[k]),
        "precision": float(precision[k]),
        "coverage": (k + 1) / n,
        "n_covered": int(k + 1),
        "met": bool(len(met)),
        "precision_target": precision_target,
        "min_covered": min_covered,
    }


def _at(confidence: np.ndarray, correct: np.ndarray, threshold: float) -> dict[str, Any]:
    chosen = confidence >= threshold
    n = int(chosen.sum())
    return {
        "threshold": float(threshold),
        "coverage": n / len(confidence) if len(confidence) else 0.0,
        "precision": float(correct[chosen].mean()) if n else None,
        "n": n,
    }


def score(
    model: ComponentModel,
    proba: np.ndarray,
    labels: Sequence[Sequence[str]],
    thresholds: dict[str, float] | None = None,
    confidence: np.ndarray | None = None,
) -> dict[str, Any]:
    """Top-k (any component counts), macro-F1, strict top-1 and precision/coverage at the thresholds
    (which apply to ``confidence``, by default the top probability)."""
    s = _scoring(model, proba, labels)
    truth = s["truth"]
    classes = list(model.classes_)
    is_bucket = np.array([c == OTHER or c.endswith("::" + OTHER) for c in classes])
    strict = truth & ~is_bucket[None, :]
    predicted = np.asarray(s["classes"], dtype=object)[proba.argmax(axis=1)]
    result: dict[str, Any] = {f"top{k}": _topk(proba, truth, k) for k in TOP_KS}
    result["top1_strict"] = _topk(proba, strict, 1)
    answers, named = answer_scoring(model, proba, labels)
    for k in TOP_KS:
        result[f"answer_top{k}"] = _topk(answers, named, k)
    result["macro_f1"] = float(
        f1_score(
            s["y"], predicted, labels=sorted(set(s["y"]) | set(predicted)), average="macro", zero_division=0
        )
    )
    result["n"] = len(labels)
    result["n_truth_folded"] = int((truth & is_bucket[None, :]).any(axis=1).sum())
    result["n_truth_unpredictable"] = int((~truth.any(axis=1)).sum())
    correct = truth[np.arange(len(labels)), proba.argmax(axis=1)]
    top_probability = proba.max(axis=1)
    confidence = top_probability if confidence is None else confidence
    result["curve"] = precision_curve(confidence, correct)
    result["curve_top_probability"] = precision_curve(top_probability, correct)
    if thresholds:
        acting, acted_right = acting_confidence(model, proba, confidence, correct)
        for name, value in thresholds.items():
            result[f"at_{name}"] = _at(acting, acted_right, value)
    return result


def acting_confidence(
    model: ComponentModel, proba: np.ndarray, confidence: np.ndarray, correct: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The confidence and rightness that ``suggest`` and ``act`` are held to: none where the model's first
    choice is a bucket, as the answer then passes it over and is never acted on (`predict_components`).
    So the precision at a threshold is that of the reports really acted on."""
    bucket = np.array([is_catch_all(str(c)) for c in model.classes_], dtype=bool)
    first_is_bucket = bucket[proba.argmax(axis=1)]
    return np.where(first_is_bucket, 0.0, confidence), correct & ~first_is_bucket


def answer_scoring(
    model: ComponentModel, proba: np.ndarray, labels: Sequence[Sequence[str]]
) -> tuple[np.ndarray, np.ndarray]:
    """What a person is shown, and what would be right: buckets dropped from the ranking (they are never
    the answer, see `predict_components`) and right only when a class is one of the report's own
    components, unfolded. A rare component folded away can never be right here, unlike in ``top1``."""
    classes = [str(c) for c in model.classes_]
    bucket = np.array([is_catch_all(c) for c in classes], dtype=bool)
    index = {c: j for j, c in enumerate(classes)}
    named = np.zeros((len(labels), len(classes)), dtype=bool)
    for i, raw in enumerate(labels):
        for label in raw:
            j = index.get(label)
            if j is not None and not bucket[j]:
                named[i, j] = True
    return np.where(bucket[None, :], -1.0, proba), named


def baseline_proba(model: ComponentModel, reports: Sequence[Report]) -> np.ndarray:
    """The "most frequent component" baseline: training frequencies as probabilities, among the
    components of the product a report names (as the model is held to it)."""
    support = np.array([model.class_support_.get(c, 0) for c in model.classes_], dtype=np.float64)
    proba = np.tile(support + 1e-9, (len(reports), 1)) * model.product_mask(reports)
    return proba / proba.sum(axis=1, keepdims=True)


# -------------------------------------------------------------------------------------------------
# Fitting with thresholds chosen on held-out data


def choose_thresholds(
    model: ComponentModel,
    reports: Sequence[Report],
    labels: Sequence[Sequence[str]],
    suggest_precision: float,
    act_precision: float,
) -> tuple[dict[str, float], dict[str, Any]]:
    """On held-out reports: calibrate the temperature, learn the confidence of the top answer, then
    choose ``suggest`` and ``act`` on the (out-of-fold) confidence."""
    model.calibrate(reports, labels)
    proba = model.predict_proba(reports)
    out_of_fold = model.fit_confidence(proba, reports, labels)
    confidence = proba.max(axis=1) if out_of_fold is None else out_of_fold
    truth = model.truth_mask(labels)
    correct = truth[np.arange(len(reports)), proba.argmax(axis=1)]
    acting, acted_right = acting_confidence(model, proba, confidence, correct)
    chosen = {
        name: choose_confidence_threshold(acting, acted_right, target)
        for name, target in (("suggest", suggest_precision), ("act", act_precision))
    }
    thresholds = {name: c["threshold"] for name, c in chosen.items()}
    info = {
        "temperature": model.temperature_,
        "n_calibration": len(reports),
        "confidence": "second stage" if out_of_fold is not None else "top probability",
        "confidence_gain": model.confidence_gain_,
        **chosen,
    }
    return thresholds, info


# Settings each scope chooses between on its own newest 20% (the calibration part): the ones tuned on the
# shared Jira and Mozilla data, and plain TF-IDF (no field block, no age weights, C 1), so a scope
# where the tuned ones lose to plain on its own reports gets plain. The first keeps its place unless
# plain leads it by `kind.selection.SWITCH_MARGIN` on the mean of answer top-1 and top-3. A third candidate
# (no age weights) switched MAPREDUCE on a +0.007 validation lead and lost 0.018 top-1 on its test part.
CANDIDATES: dict[str, dict[str, Any]] = {
    "tuned settings": {},
    "plain TF-IDF": {"C": 1.0, "half_life_years": None, "field_weight": 0.0},
}


def choose_settings(
    fit_r: list[Report],
    fit_y: list[list[str]],
    cal_r: list[Report],
    cal_y: list[list[str]],
    params: dict[str, Any],
) -> tuple[ComponentModel, dict[str, Any], dict[str, Any]]:
    """Fit each of `CANDIDATES` (over ``params``, the user's options) on the older part and score it
    on the newest; returns the winner fitted on the older part, its params and the table."""
    from bugsift.learn.kind.selection import SWITCH_MARGIN

    table, best = [], None
    for name, change in CANDIDATES.items():
        candidate = {**params, **change}
        model = ComponentModel(**candidate).fit(fit_r, fit_y)
        value = _answer_score(model, cal_r, cal_y)
        table.append({"name": name, "score": round(value, 4)})
        head_start = SWITCH_MARGIN if best is None else 0.0
        if best is None or value > best[0]:
            best = (value + head_start, name, model, candidate)
    assert best is not None
    selection: dict[str, Any] = {
        "metric": "mean of answer top-1 and top-3",
        "chosen": best[1],
        "candidates": table,
    }
    model, chosen = best[2], best[3]
    if "min_support" not in params:  # the user's own --min-support is kept as given
        model, chosen, selection["folding"] = choose_support(model, chosen, fit_r, fit_y, cal_r, cal_y)
    return model, chosen, selection


# How rare a component may be and still be answered (labels with fewer training reports are folded into
# their bucket, which is never an answer). Chosen per scope on what a person is shown (`answer_scoring`):
# folding more flatters top-k, where a bucket counts as right, and answers less.
SUPPORT_CHOICES = (10, 5, 3)


def _answer_score(model: ComponentModel, reports: Sequence[Report], labels: Sequence[Sequence[str]]) -> float:
    answers, named = answer_scoring(model, model.predict_proba(reports), labels)
    return (_topk(answers, named, 1) + _topk(answers, named, 3)) / 2


def choose_support(
    model: ComponentModel,
    params: dict[str, Any],
    fit_r: list[Report],
    fit_y: list[list[str]],
    cal_r: list[Report],
    cal_y: list[list[str]],
) -> tuple[ComponentModel, dict[str, Any], dict[str, Any]]:
    """The `SUPPORT_CHOICES` entry whose model, fitted on the older part, answers the newest part best;
    the first keeps its place unless another leads it by `kind.selection.SWITCH_MARGIN`."""
    from bugsift.learn.kind.selection import SWITCH_MARGIN

    table, best = [], None
    for support in SUPPORT_CHOICES:
        candidate = model if support == model.min_support else ComponentModel(
            **{**params, "min_support": support}
        ).fit(fit_r, fit_y)
        value = _answer_score(candidate, cal_r, cal_y)
        table.append({"name": f"min_support {support}", "score": round(value, 4)})
        head_start = SWITCH_MARGIN if best is None else 0.0
        if best is None or value > best[0]:
            best = (value + head_start, support, candidate)
    assert best is not None
    info = {"metric": "mean of answer top-1 and top-3", "chosen": best[1], "candidates": table}
    return best[2], {**params, "min_support": best[1]}, info


def fit_calibrated(
    reports: Sequence[Report],
    labels: Sequence[Sequence[str]],
    params: dict[str, Any],
    suggest_precision: float = DEFAULT_SUGGEST_PRECISION,
    act_precision: float = 0.9,
    calibration_fraction: float = 0.2,
) -> tuple[ComponentModel, dict[str, float], dict[str, Any]]:
    """Fit on the older part, choose settings, temperature and thresholds on the newest part, refit the
    chosen settings on all."""
    reports, labels = list(reports), [list(x) for x in labels]
    fit_idx, cal_idx = calibration_split(
        [r.created_at for r in reports], np.arange(len(reports)), calibration_fraction
    )
    fit_r, fit_y = [reports[i] for i in fit_idx], [labels[i] for i in fit_idx]
    cal_r, cal_y = [reports[i] for i in cal_idx], [labels[i] for i in cal_idx]
    first, chosen, selection = choose_settings(fit_r, fit_y, cal_r, cal_y, params)
    thresholds, info = choose_thresholds(first, cal_r, cal_y, suggest_precision, act_precision)
    info["selection"] = selection
    model = ComponentModel(**chosen).fit(reports, labels)
    model.temperature_ = first.temperature_
    model.confidence_ = first.confidence_
    return model, thresholds, info


def evaluate_scope(
    reports: Sequence[Report],
    labels: Sequence[Sequence[str]],
    params: dict[str, Any],
    test_fraction: float = 0.2,
    suggest_precision: float = DEFAULT_SUGGEST_PRECISION,
    act_precision: float = 0.9,
) -> dict[str, Any]:
    """Time-ordered evaluation of one scope: the newest ``test_fraction`` is test."""
    train_idx, test_idx = time_split([r.created_at for r in reports], test_fraction)
    train_r, train_y = [reports[i] for i in train_idx], [list(labels[i]) for i in train_idx]
    test_r, test_y = [reports[i] for i in test_idx], [list(labels[i]) for i in test_idx]
    model, thresholds, info = fit_calibrated(train_r, train_y, params, suggest_precision, act_precision)
    proba = model.predict_proba(test_r)
    confidence = model.confidence(proba, test_r)
    return {
        "n_train": len(train_r),
        "n_test": len(test_r),
        "train_dates": _dates(train_r),
        "test_dates": _dates(test_r),
        "n_classes": len(model.classes_),
        "folding": {k: v for k, v in model.folding_.items()},
        "excluded": list(model.excluded_),
        "thresholds": thresholds,
        "calibration": info,
        "model": score(model, proba, test_y, thresholds, confidence),
        "baseline": score(model, baseline_proba(model, test_r), test_y),
        "per_report": per_report(model, proba, test_r, test_y, confidence),
    }


def _first_right_rank(proba: np.ndarray, truth: np.ndarray) -> list[int | None]:
    """1-based rank of the first right label in each row's order (None when no model class is right)."""
    order = np.argsort(-proba, axis=1, kind="stable")
    hits = np.take_along_axis(truth, order, axis=1)
    return [int(row.argmax()) + 1 if row.any() else None for row in hits]


def per_report(
    model: ComponentModel,
    proba: np.ndarray,
    reports: Sequence[Report],
    labels: Sequence[Sequence[str]],
    confidence: np.ndarray | None = None,
) -> dict[str, Any]:
    """Per test report, for the validation report's plots: rank of the first right component (model and
    baseline), confidence of the top answer, and whether it is right."""
    confidence = proba.max(axis=1) if confidence is None else confidence
    truth = model.truth_mask(labels)
    top = proba.argmax(axis=1)
    return {
        "ids": [r.external_id for r in reports],
        "rank": _first_right_rank(proba, truth),
        "baseline_rank": _first_right_rank(baseline_proba(model, reports), truth),
        "confidence": np.round(confidence, 5).tolist(),
        "correct": truth[np.arange(len(reports)), top].tolist(),
        "predicted": [str(model.classes_[j]) for j in top],  # the bot's per-label thresholds
        "created_at": [r.created_at.isoformat() if r.created_at else None for r in reports],
        # per label, the share of these reports it is right for: the bot's "it tells people little"
        "label_share": {
            str(c): round(float(share), 5)
            for c, share in zip(model.classes_, truth.mean(axis=0), strict=True)
            if share
        },
    }


def _dates(reports: Sequence[Report]) -> list[str | None]:
    dates = [r.created_at for r in reports if r.created_at is not None]
    return [min(dates).isoformat(), max(dates).isoformat()] if dates else [None, None]


MEAN_KEYS = ("top1", "top3", "top5", "top1_strict", "answer_top1", "answer_top3", "macro_f1")


def evaluate_reports(
    reports: Sequence[Report],
    params: dict[str, Any] | None = None,
    test_fraction: float = 0.2,
    suggest_precision: float = DEFAULT_SUGGEST_PRECISION,
    act_precision: float = 0.9,
    per_project: bool = True,
) -> dict[str, Any]:
    """Evaluate every scope of ``reports``; adds the mean over scopes."""
    params = dict(params or {})
    data = collect(reports, per_project)
    scopes = {
        key: evaluate_scope(r, y, params, test_fraction, suggest_precision, act_precision)
        for key, (r, y) in sorted(data.scopes.items())
    }
    if not scopes:
        raise ValueError("no report carries a component: nothing to learn")
    mean: dict[str, Any] = {"model": {}, "baseline": {}}
    for side in ("model", "baseline"):
        for key in MEAN_KEYS:
            mean[side][key] = float(np.mean([s[side][key] for s in scopes.values()]))
    for name in ("act", "suggest"):
        for key in ("precision", "coverage"):
            values = [s["model"][f"at_{name}"][key] for s in scopes.values()]
            values = [v for v in values if v is not None]
            mean["model"][f"{name}_{key}"] = float(np.mean(values)) if values else None
    for curve in ("curve", "curve_top_probability"):
        mean["model"][curve] = {}
        for share in next(iter(scopes.values()))["model"][curve]:
            points = [s["model"][curve][share] for s in scopes.values()]
            points = [v for v in points if v is not None]
            mean["model"][curve][share] = float(np.mean(points)) if points else None
    return {
        "task": TASK,
        "params": {**ComponentModel(**params).get_params(), "per_project": data.per_project},
        "precision_targets": {"suggest": suggest_precision, "act": act_precision},
        "data": data.summary(),
        "scopes": scopes,
        "mean": mean,
    }


def fit_scoped(
    reports: Sequence[Report],
    params: dict[str, Any] | None = None,
    suggest_precision: float = DEFAULT_SUGGEST_PRECISION,
    act_precision: float = 0.9,
    per_project: bool = True,
) -> tuple[ScopedComponentModel, dict[str, Any]]:
    """The model for use: every scope fitted on all its reports, thresholds from its newest 20%."""
    params = dict(params or {})
    data = collect(reports, per_project)
    if not data.scopes:
        raise ValueError("no report carries a component: nothing to learn")
    scoped = ScopedComponentModel(per_project=data.per_project)
    scoped.scopes_, scoped.thresholds_ = {}, {}
    info = {}
    for key, (r, y) in sorted(data.scopes.items()):
        model, thresholds, calibration = fit_calibrated(r, y, params, suggest_precision, act_precision)
        scoped.scopes_[key] = model
        scoped.thresholds_[key] = thresholds
        info[key] = {
            "n_fit": len(r),
            "thresholds": thresholds,
            "calibration": calibration,
            "folding": model.folding_,
            "excluded": list(model.excluded_),
        }
    return scoped, {"data": data.summary(), "scopes": info}


# -------------------------------------------------------------------------------------------------
# Prediction


def predict_components(
    scoped: ScopedComponentModel, reports: Sequence[Report], top_k: int = 5, explain_n: int = 6
) -> list[dict[str, Any]]:
    """One result per report in the predict contract's shape (plus ``act`` and ``scope``)."""
    results: list[dict[str, Any] | None] = [None] * len(reports)
    groups: dict[str | None, list[int]] = {}
    for i, report in enumerate(reports):
        groups.setdefault(scoped.scope_of(report), []).append(i)
    for key, members in groups.items():
        if key is None:
            for i in members:
                results[i] = _no_model(reports[i], sorted(scoped.scopes_))
            continue
        model, thresholds = scoped.scopes_[key], scoped.thresholds_[key]
        asked = [reports[i] for i in members]
        matrix = model.transform(asked)
        proba = model.proba_from_features(matrix, asked)
        allowed = model.product_mask(asked)  # a product with fewer than top_k components lists no others
        confidence = model.confidence(proba, asked)
        classes = model.classes_
        for row, i in enumerate(members):
            p = proba[row]
            ranked = [int(j) for j in np.argsort(-p, kind="stable") if allowed[row, j]]
            order = ranked[: max(1, top_k)]
            # A bucket is never the answer: the best real component is; a bucket stays as a marked candidate.
            best = next((j for j in ranked if not is_catch_all(str(classes[j]))), ranked[0])
            if best not in order:
                order = [*order[: max(1, top_k) - 1], best]
            label = str(classes[best])
            bucket_first = is_catch_all(str(classes[ranked[0]]))
            results[i] = {
                "id": reports[i].external_id,
                "prediction": label,
                "probability": round(float(p[best]), 4),
                "candidates": [_candidate(str(classes[j]), float(p[j])) for j in order],
                "confidence": round(float(confidence[row]), 4),
                # the confidence is the first choice's: past a bucket the answer is only a suggestion
                "uncertain": bool(bucket_first or confidence[row] < thresholds["suggest"]),
                "act": bool(not bucket_first and confidence[row] >= thresholds["act"]),
                "explanation": model.explain_reasons(matrix, row, label, reports[i], explain_n),
                "scope": key,
            }
            if bucket_first:  # the model's own first choice, named so a reader knows what was passed over
                results[i]["catch_all"] = str(classes[ranked[0]])
    return [r for r in results if r is not None]


def _candidate(label: str, probability: float) -> dict[str, Any]:
    candidate: dict[str, Any] = {"label": label, "probability": round(probability, 4)}
    if is_catch_all(label):
        candidate["catch_all"] = True
    return candidate


def _no_model(report: Report, scopes: list[str]) -> dict[str, Any]:
    return {
        "id": report.external_id,
        "prediction": None,
        "probability": 0.0,
        "candidates": [],
        "confidence": 0.0,
        "uncertain": True,
        "act": False,
        "explanation": reasons.from_texts(
            [f"no component model for {scope_key(report, True)}; models: {', '.join(scopes)}"]
        ),
        "scope": None,
    }


# -------------------------------------------------------------------------------------------------
# Text


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def describe(evaluation: dict[str, Any]) -> str:
    """The evaluation as a terminal table: one line per scope, then the mean, beside the baseline."""
    data = evaluation["data"]
    lines = [
        f"component (mode filing, split time): {data['n_labelled']} reports with a component "
        f"({data['n_without_component']} without one skipped); labels as filed (from history) for "
        f"{data['n_labels_as_filed']}, current values for {data['n_labels_current']} (no history)",
    ]
    header = (
        f"{'scope':<16}{'train':>6}{'test':>6}{'cls':>5}{'fold':>5}  {'top1':>5} {'top3':>5} {'top5':>5} "
        f"{'strict1':>7} {'ans1':>5} {'ans3':>5} {'mF1':>5}  {'act':>5} {'P@act':>6} {'cov@act':>7}  "
        f"{'P@sug':>6} {'cov@sug':>7}"
        f"  | base top1 top3"
    )
    lines += [header, "-" * len(header)]
    for key, s in evaluation["scopes"].items():
        m, b = s["model"], s["baseline"]
        act, sug = m["at_act"], m["at_suggest"]
        lines.append(
            f"{key[-16:]:<16}{s['n_train']:>6}{s['n_test']:>6}{s['n_classes']:>5}"
            f"{len(s['folding']['folded']):>5}  {m['top1']:.3f} {m['top3']:.3f} {m['top5']:.3f} "
            f"{m['top1_strict']:>7.3f} {m['answer_top1']:.3f} {m['answer_top3']:.3f} {m['macro_f1']:.3f}  "
            f"{act['threshold']:.3f} "
            f"{_pct(act['precision']):>6} "
            f"{act['coverage']:>7.3f}  {_pct(sug['precision']):>6} {sug['coverage']:>7.3f}"
            f"  |      {b['top1']:.3f} {b['top3']:.3f}"
        )
    m, b = evaluation["mean"]["model"], evaluation["mean"]["baseline"]
    lines.append(
        f"{'mean':<16}{'':>6}{'':>6}{'':>5}{'':>5}  {m['top1']:.3f} {m['top3']:.3f} {m['top5']:.3f} "
        f"{m['top1_strict']:>7.3f} {m['answer_top1']:.3f} {m['answer_top3']:.3f} {m['macro_f1']:.3f}  "
        f"{'':>5} {_pct(m['act_precision']):>6} "
        f"{_pct(m['act_coverage']):>7}  {_pct(m['suggest_precision']):>6} {_pct(m['suggest_coverage']):>7}"
        f"  |      {b['top1']:.3f} {b['top3']:.3f}"
    )
    for curve, name in (("curve", "confidence"), ("curve_top_probability", "top probability")):
        points = " ".join(f"{share}:{_pct(value)}" for share, value in m[curve].items())
        lines.append(f"precision of the most confident share, by {name} (mean): {points}")
    targets = evaluation["precision_targets"]
    supports = sorted({s["folding"]["min_support"] for s in evaluation["scopes"].values()})
    min_support = "/".join(map(str, supports))
    each = " (each scope's own choice)" if len(supports) > 1 else ""
    n_folded = sum(len(s["folding"]["folded"]) for s in evaluation["scopes"].values())
    lines += [
        "",
        f"right = names any of the report's components; labels with fewer than {min_support} training "
        f"reports{each} folded into 'Product::{OTHER}' (Bugzilla) or '{OTHER}' ({n_folded} labels folded "
        "over all scopes); strict1 counts a folded bucket as wrong; ans1/ans3 score what a person is shown: "
        "buckets never answer, and only the report's own component (unfolded) is right.",
        f"thresholds chosen on the newest 20% of each training part: suggest = top-1 precision >= "
        f"{targets['suggest']}, act = top-1 precision >= {targets['act']}, on the confidence that the top "
        "answer is right; below suggest = uncertain.",
    ]
    second = [
        k for k, s in evaluation["scopes"].items() if s["calibration"].get("confidence") == "second stage"
    ]
    lines.append(
        "confidence: the second stage where it ranked the held-out reports better than the top probability "
        f"({', '.join(second) or 'none'}), else the top probability."
    )
    chosen = [
        f"{key}: {sel['chosen']} ({candidate_scores(sel['candidates'])})"
        for key, s in evaluation["scopes"].items()
        if (sel := s["calibration"].get("selection"))
    ]
    if chosen:
        lines.append("settings chosen on the same 20% (mean of answer top-1 and top-3): " + "; ".join(chosen))
    supports = [
        f"{key}: {fold['chosen']} ({candidate_scores(fold['candidates'])})"
        for key, s in evaluation["scopes"].items()
        if (fold := s["calibration"].get("selection", {}).get("folding"))
    ]
    if supports:
        lines.append(
            "folding support chosen on the same 20% (mean of answer top-1 and top-3): " + "; ".join(supports)
        )
    excluded = sorted({c for s in evaluation["scopes"].values() for c in s["excluded"]})
    if excluded:
        lines.append(f"never predicted (excluded): {', '.join(excluded)}")
    return "\n".join(lines)


# -------------------------------------------------------------------------------------------------
# The task handler


def _load(database: Database, options: TaskOptions, max_reports: int | None = None) -> list[Report]:
    """The stored reports, less those whose component the bot set and no person corrected since, without
    the later comments and the raw record: the component model never reads them. With ``max_reports``,
    only the newest that many (training memory bounded by a setting, issue 20)."""
    with database.session() as session:
        by_bot = written_by_bot(session, TASK)
        stored = count_reports(session, options.tracker, options.project) if max_reports else 0
        window = bool(max_reports) and stored > (max_reports or 0)
        kept: list[Report] = []
        rows = iter_reports(session, tracker=options.tracker, project=options.project, newest_first=window)
        for row_id, report in rows:
            if window and len(kept) >= (max_reports or 0):
                break
            if row_id not in by_bot:
                report.comments, report.raw = [], {}
                kept.append(report)
        return kept[::-1] if window else kept


def model_params(options: TaskOptions) -> dict[str, Any]:
    """Model parameters from the options (``exclude`` and ``min_support`` where the CLI gives them)."""
    params: dict[str, Any] = {}
    exclude = getattr(options, "exclude", None)
    if exclude:
        params["exclude"] = tuple(exclude)
    min_support = getattr(options, "min_support", None)
    if min_support is not None:
        params["min_support"] = int(min_support)
    return params


def _suggest_precision(options: TaskOptions) -> float:
    value = getattr(options, "suggest_precision", None)
    return DEFAULT_SUGGEST_PRECISION if value is None else float(value)


@dataclass
class ComponentPredictor:
    row: Any
    model: ScopedComponentModel

    @property
    def version_name(self) -> str:
        return str(self.row.version_name)

    def predict(self, reports: Sequence[Report], top_k: int) -> list[dict[str, Any]]:
        return predict_components(self.model, reports, top_k)


class ComponentTask:
    """`bugsift train|evaluate|predict component`: see the module docstring."""

    help = "product/component as filed (top-k with probabilities; one model per tracker or project)"

    def __init__(self, name: str = TASK) -> None:
        self.name = name

    def evaluate(self, database: Database, settings: Settings, options: TaskOptions) -> EvaluationOutcome:
        if options.split != "time":
            raise ValueError("component is evaluated on time-ordered splits only (newest reports as test)")
        evaluation = evaluate_reports(
            _load(database, options, settings.train_max_reports),
            model_params(options),
            options.test_fraction or settings.test_fraction,
            _suggest_precision(options),
            settings.precision_target,
        )
        return EvaluationOutcome(evaluation=evaluation, text=describe(evaluation))

    def train(self, database: Database, settings: Settings, options: TaskOptions) -> TrainOutcome:
        from bugsift.learn.persist import save_model
        from bugsift.store.registry import next_version, register_model

        reports = _load(database, options, settings.train_max_reports)
        params = model_params(options)
        suggest = _suggest_precision(options)
        evaluation = evaluate_reports(
            reports,
            params,
            options.test_fraction or settings.test_fraction,
            suggest,
            settings.precision_target,
        )
        scoped, info = fit_scoped(reports, params, suggest, settings.precision_target)
        settings.ensure_home()
        with database.session() as session:
            version = next_version(session, TASK, LABEL, MODE)
            path = settings.models_dir / f"{TASK}-{LABEL}-{MODE}-v{version}.skops"
            save_model(scoped, path)
            row = register_model(
                session,
                task=TASK,
                label=LABEL,
                mode=MODE,
                version=version,
                path=path,
                params={
                    **evaluation["params"],
                    "exclude": list(params.get("exclude", ())),
                    "tracker": options.tracker,
                    "project": options.project,
                },
                data={**info["data"], "fit": info["scopes"]},
                metrics={"scopes": evaluation["scopes"], "mean": evaluation["mean"]},
                thresholds={
                    "per_scope": scoped.thresholds_,
                    "suggest_precision": suggest,
                    "precision_target": settings.precision_target,
                    "chosen_on": "newest 20% of each scope's reports, model fitted on the older 80%",
                },
            )
        saved = f"saved {TASK} model v{row.version} ({len(scoped.scopes_)} scope(s)) to {row.path}"
        return TrainOutcome(model=row, evaluation=evaluation, text=f"{describe(evaluation)}\n{saved}")

    def predictor(self, database: Database, options: TaskOptions) -> ComponentPredictor:
        from bugsift.learn.persist import load_model
        from bugsift.store.registry import active_model

        with database.session() as session:
            row = active_model(session, TASK, options.label or None, options.mode or None)
        return ComponentPredictor(row=row, model=load_model(row.path))
