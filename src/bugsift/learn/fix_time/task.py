"""The `fix-time` task behind the common task interface: days from filing to a fix.

Settings are chosen on the training part's newest 20% (never the test part) among `CANDIDATES`, the
training median and ridge on TF-IDF always among them, so the shipped model is never worse than the
median on the user's own validation. Every candidate's score is kept in the registry row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bugsift.learn.fix_time.evaluation import evaluate, fit_known
from bugsift.learn.fix_time.model import describe_settings
from bugsift.learn.fix_time.predict import predict
from bugsift.learn.fix_time.target import LABEL, TASK, Dataset, load_dataset
from bugsift.learn.lifecycle import LoadedModel, load_active
from bugsift.learn.persist import save_model
from bugsift.learn.tasks import EvaluationOutcome, TaskOptions, TrainOutcome
from bugsift.settings import Settings
from bugsift.sources.base import Report
from bugsift.store.db import Database
from bugsift.store.registry import next_version, register_model

MEDIAN, RIDGE = "training median", "ridge on TF-IDF"
CANDIDATES: dict[str, dict[str, Any]] = {
    MEDIAN: {"kind": "median"},
    RIDGE: {"kind": "ridge"},
    # open reports as lower bounds (the recent ones: see FixTimeModel._kept)
    "censored median regression": {"kind": "quantile", "alpha": 10.0},
    "censored log-normal": {"kind": "censored", "alpha": 10.0, "recenter": True},
    # the same two on the fixes alone: where most open reports will never be fixed, bounds mislead
    "median regression on fixes": {"kind": "quantile", "alpha": 10.0, "censored": "none"},
    "log-normal on fixes": {"kind": "censored", "alpha": 10.0, "censored": "none", "recenter": True},
}
BASELINES = {MEDIAN: CANDIDATES[MEDIAN], RIDGE: CANDIDATES[RIDGE]}
MODE = "filing"
HELP = "days from filing to a fix: median and 10-90% interval (open reports count as lower bounds)"


def _line(name: str, scores: dict[str, Any]) -> str:
    def num(key: str) -> str:
        value = scores.get(key)
        return "n/a" if value is None else f"{value:.3f}"

    return (
        f"  {name}: MAE {num('mae')}, RMSE {num('rmse')} (log-days), "
        f"10-90% coverage {num('coverage')}, "
        f"open reports already past the median {num('censored_median_exceeded')}"
    )


def describe(evaluation: dict[str, Any]) -> str:
    data, selection = evaluation["data"], evaluation["selection"]
    header = (
        f"fix-time (split time, as of {data['as_of']}): {data['n_fixed']} fixed + {data['n_censored']} still "
        f"open (censored) reports, {sum(data['excluded'].values())} left out (closed without a fix ...); "
        f"train {data['n_train']} {data['train_dates']} ({data['n_train_censored_then']} open at the cut), "
        f"test {data['n_test']} {data['test_dates']}; training median {data['train_median_days']} days"
    )
    lines = [
        header,
        "on the test part's fixes:",
        _line(f"chosen ({selection['chosen']})", evaluation["metrics"]),
    ]
    lines += [_line(name, scores) for name, scores in evaluation["baselines"].items()]
    scored = ", ".join(
        f"{c['name']} {c['score']:.3f}" if c.get("score") is not None else f"{c['name']} not scored"
        for c in selection.get("candidates", [])
    )
    lines.append(f"settings chosen on the newest 20% of the training part (MAE of log-days): {scored}")
    return "\n".join(lines)


@dataclass
class FixTimePredictor:
    loaded: LoadedModel

    @property
    def version_name(self) -> str:
        return self.loaded.version_name

    def predict(self, reports: Sequence[Report], top_k: int) -> list[dict[str, Any]]:
        return predict(self.loaded.model, reports, top_k)


class FixTimeTask:
    def __init__(self, name: str) -> None:
        self.name = name
        self.help = HELP

    def _data(self, database: Database, settings: Settings, options: TaskOptions) -> Dataset:
        with database.session() as session:
            data = load_dataset(session, options.tracker, options.project, settings.train_max_reports)
        if data.counts()["fixed"] < 10:
            raise ValueError(
                f"fix-time needs at least 10 fixed reports with a resolution date, found "
                f"{data.counts()['fixed']} ({data.counts()['censored']} still open)"
            )
        return data

    def evaluate(self, database: Database, settings: Settings, options: TaskOptions) -> EvaluationOutcome:
        data = self._data(database, settings, options)
        evaluation = evaluate(data, CANDIDATES, BASELINES, options.test_fraction or settings.test_fraction)
        return EvaluationOutcome(evaluation=evaluation, text=describe(evaluation))

    def train(self, database: Database, settings: Settings, options: TaskOptions) -> TrainOutcome:
        """Evaluate on the time split, refit the chosen settings on everything known now, register."""
        data = self._data(database, settings, options)
        evaluation = evaluate(data, CANDIDATES, BASELINES, options.test_fraction or settings.test_fraction)
        chosen = evaluation["settings"]
        model = fit_known(chosen, data, data.as_of)
        settings.ensure_home()
        with database.session() as session:
            version = next_version(session, TASK, TASK, MODE)
            path = settings.models_dir / f"{TASK}-{MODE}-v{version}.skops"
            save_model(model, path)
            selection = evaluation["selection"]
            row = register_model(
                session,
                task=TASK,
                label=TASK,
                mode=MODE,
                version=version,
                path=path,
                params={
                    "target": evaluation["target"],
                    "label_field": LABEL,
                    "unit": "days",
                    "interval": evaluation["interval"],
                    "settings": chosen,
                    "settings_text": describe_settings(chosen),
                    # every candidate's validation score: how it was chosen
                    "selection": {k: v for k, v in selection.items() if k != "params"},
                    "censoring": evaluation["data"]["censoring"],
                    "tracker": options.tracker,
                    "project": options.project,
                },
                data={**evaluation["data"], "n_fit": len(data)},
                metrics={"test": evaluation["metrics"], "baseline": evaluation["baselines"]},
                thresholds={"interval": evaluation["interval"]},
            )
        saved = f"saved {TASK} model v{row.version} ({selection['chosen']}) to {row.path}"
        return TrainOutcome(model=row, evaluation=evaluation, text=f"{describe(evaluation)}\n{saved}")

    def predictor(self, database: Database, options: TaskOptions) -> FixTimePredictor:
        return FixTimePredictor(load_active(database, TASK, TASK, MODE))
