"""Scoring fix-time models honestly: one moment splits the past (training) from the future (test).

The newest `test_fraction` of reports by filing time is the test part. Training sees the data *as it
was* at the newest training filing (`Dataset.known_at`): a training report fixed later counts as still
open then, so no fix from the test period leaks in. The test part is scored with everything known
today: MAE and RMSE of log-days and interval coverage on its fixes; its still-open reports are
counted and checked as lower bounds (a predicted median shorter than the time already open is surely
wrong).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from bugsift.learn.fix_time.model import INTERVAL, FixTimeModel
from bugsift.learn.fix_time.target import Dataset


def _day(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).date().isoformat()


def time_parts(data: Dataset, fraction: float) -> tuple[np.ndarray, np.ndarray, float]:
    """(older idx, newest idx, the older part's newest filing time). ``data`` is oldest first."""
    n_new = min(len(data) - 1, max(1, math.floor(fraction * len(data) + 0.5)))
    if len(data) < 2:
        raise ValueError(f"fix-time needs at least 2 dated reports, found {len(data)}")
    cut = len(data) - n_new
    return np.arange(cut), np.arange(cut, len(data)), float(data.created[cut - 1])


def fit_known(params: dict[str, Any], data: Dataset, moment: float) -> FixTimeModel:
    """A model fitted on ``data`` as known at ``moment``."""
    y, fixed = data.known_at(moment)
    if not fixed.any():
        raise ValueError(f"no report was fixed by {_day(moment)}: nothing to learn fix times from")
    resolved = np.where(fixed, data.resolved, np.nan)
    return FixTimeModel(**params).fit(data.reports, y, fixed, resolved)


def score(model: FixTimeModel, data: Dataset, moment: float) -> dict[str, Any]:
    """Metrics of ``model`` on ``data`` with what is known at ``moment`` (see the module docstring)."""
    y, fixed = data.known_at(moment)
    median, low, high = model.predict_all(model.transform(data.reports), len(data))
    out: dict[str, Any] = {"n_fixed": int(fixed.sum()), "n_censored": int((~fixed).sum())}
    if fixed.any():
        error = y[fixed] - median[fixed]
        out["mae"] = round(float(np.mean(np.abs(error))), 4)
        out["rmse"] = round(float(np.sqrt(np.mean(error**2))), 4)
        inside = (y[fixed] >= low[fixed]) & (y[fixed] <= high[fixed])
        out["coverage"] = round(float(np.mean(inside)), 4)
    else:
        out.update(mae=None, rmse=None, coverage=None)
    if (~fixed).any():  # open: the truth is above y; a median below it is already wrong
        out["censored_median_exceeded"] = round(float(np.mean(median[~fixed] < y[~fixed])), 4)
        out["censored_shortfall"] = round(float(np.mean(np.maximum(0.0, y[~fixed] - median[~fixed]))), 4)
    return out


Candidates = dict[str, dict[str, Any]]


def choose(
    candidates: Candidates,
    data: Dataset,
    moment: float,
    fraction: float = 0.2,
    on_fit: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fit every candidate on the older part of ``data`` (known at its own cut), score it on the newest
    ``fraction`` (known at ``moment``); the lowest MAE of log-days wins (ties: the first, the median).
    Returns the selection as the registry keeps it."""
    fit_idx, valid_idx, cut = time_parts(data, fraction)
    fit_part, valid = data.subset(fit_idx), data.subset(valid_idx)
    rows, best = [], None
    for name, params in candidates.items():
        if on_fit:
            on_fit(name)
        began = time.perf_counter()
        try:
            model = fit_known(params, fit_part, cut)
            scores = score(model, valid, moment)
        except ValueError as error:  # e.g. nothing fixed in the fit part yet
            rows.append({"name": name, "params": params, "score": None, "skipped": str(error)})
            continue
        row = {
            "name": name,
            "params": params,
            "score": scores["mae"],
            "coverage": scores["coverage"],
            "seconds": round(time.perf_counter() - began, 2),
        }
        rows.append(row)
        if scores["mae"] is not None and (best is None or scores["mae"] < best["score"]):
            best = row
    if best is None:  # nothing could be scored: the median is the honest answer
        best = next(r for r in rows if r["params"].get("kind") == "median")
    return {
        "metric": "mae_log_days",
        "chosen": best["name"],
        "params": best["params"],
        "candidates": rows,
        "validation": {
            "n_fit": len(fit_part),
            "n_validation": len(valid),
            "validation_dates": [_day(valid.created[0]), _day(valid.created[-1])],
            "n_validation_fixed": int(valid.known_at(moment)[1].sum()),
        },
    }


def evaluate(
    data: Dataset,
    candidates: Candidates,
    baselines: Candidates,
    test_fraction: float = 0.2,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The task's evaluation dict: choose on the training part (unless ``settings``), fit the chosen
    model and the ``baselines`` on it, score all on the test part."""
    train_idx, test_idx, cut = time_parts(data, test_fraction)
    train, test = data.subset(train_idx), data.subset(test_idx)
    selection = choose(candidates, train, cut) if settings is None else {"params": settings}
    model = fit_known(selection["params"], train, cut)
    median, low, high = model.predict_all(model.transform(test.reports), len(test))
    metrics = score(model, test, data.as_of)
    compared = {name: score(fit_known(p, train, cut), test, data.as_of) for name, p in baselines.items()}
    y, fixed = test.known_at(data.as_of)
    median_model = fit_known({"kind": "median"}, train, cut)
    _, fixed_train = train.known_at(cut)
    return {
        "task": "fix-time",
        "split": "time",
        "unit": "days",
        "target": "log-days = ln(1 + days from filing to the fix)",
        "interval": list(INTERVAL),
        "data": {
            "n_reports": len(data),
            **{f"n_{k}": v for k, v in data.counts().items()},
            "excluded": dict(data.excluded),
            "as_of": _day(data.as_of),
            "n_train": len(train),
            "n_train_fixed_then": int(fixed_train.sum()),
            "n_train_censored_then": int((~fixed_train).sum()),
            "train_dates": [_day(train.created[0]), _day(train.created[-1])],
            "n_test": len(test),
            "test_dates": [_day(test.created[0]), _day(test.created[-1])],
            "train_median_days": round(float(np.expm1(median_model.median_)), 2),
            "censoring": "open reports are lower bounds: the censored candidates learn from the "
            "recently opened ones as such (the long-open ones mostly never get a fix); the test part "
            "counts them and checks them (a median below the days already open is wrong)",
        },
        "metrics": metrics,
        "baselines": compared,
        "selection": {k: v for k, v in selection.items()},
        "settings": selection["params"],
        "regression": {
            "name": "log-days to a fix",
            "unit": "ln(1 + days)",
            "y_true": [round(float(v), 4) for v in y[fixed]],
            "y_pred": [round(float(v), 4) for v in median[fixed]],
            "baseline_pred": [round(median_model.median_, 4)] * int(fixed.sum()),
            "baseline_name": "always the training median",
            "lower": [round(float(v), 4) for v in low[fixed]],
            "upper": [round(float(v), 4) for v in high[fixed]],
            "interval": list(INTERVAL),
            "n_censored": int((~fixed).sum()),
            "censored_median_exceeded": metrics.get("censored_median_exceeded"),
            "baseline_censored_median_exceeded": compared.get("training median", {}).get(
                "censored_median_exceeded"
            ),
        },
    }
