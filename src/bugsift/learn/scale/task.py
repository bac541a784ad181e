"""The `severity` and `priority` tasks: the tracker's own field as filed, on an ordered scale.

Targets: `bugsift.learn.scale.targets`; scales: `bugsift.learn.scale.scales`; settings chosen on the newest
part of the training data: `bugsift.learn.scale.selection`. Evaluation, thresholds and reasons are the
kind models' (`bugsift.learn.training.evaluate_dataset`), plus the mean absolute rank error of the
model and of the majority baseline. Every answer names the scale it is on (``"scale"``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np

from bugsift.evaluate.text_report import format_metrics
from bugsift.learn.kind.selection import candidate_scores
from bugsift.learn.kind.task import threshold_line
from bugsift.learn.lifecycle import LoadedModel, load_active, save_and_register
from bugsift.learn.predict import predict_reports
from bugsift.learn.scale.scales import NOT_SET, Scale, mean_absolute_rank_error
from bugsift.learn.scale.selection import RULE, choose_scale_settings
from bugsift.learn.scale.targets import (
    AS_FILED,
    CORRECTED,
    FINAL,
    ScaleDataset,
    load_scale_dataset,
)
from bugsift.learn.tasks import EvaluationOutcome, TaskOptions, TrainOutcome
from bugsift.learn.training import Evaluation, _split, evaluate_dataset, fit_model, model_params
from bugsift.settings import Settings
from bugsift.sources.base import Report
from bugsift.store.db import Database

HELP = {
    "severity": "the tracker's severity as filed, on an ordered scale (blocker..trivial, S1..S4)",
    "priority": "the tracker's priority as filed, on an ordered scale (P1..P5, Blocker..Trivial, ...)",
}


def load(
    database: Database, task: str, options: TaskOptions, max_reports: int | None = None
) -> tuple[ScaleDataset, Scale]:
    if options.label:
        raise ValueError(f"{task} learns the tracker's own {task} field: --label is not used")
    with database.session() as session:
        mode = options.mode or "filing"
        dataset = load_scale_dataset(
            session, task, options.tracker, options.project, mode=mode, max_reports=max_reports
        )
    if dataset.scale is None:
        where = f" of tracker {options.tracker}" if options.tracker else ""
        raise ValueError(
            f"no stored report{where} has a {task} on a known scale "
            f"({sum(dataset.excluded.values())} reports: {dict(dataset.excluded)})"
        )
    return dataset, dataset.scale


def evaluate_scale(
    dataset: ScaleDataset, scale: Scale, settings: Settings, options: TaskOptions
) -> Evaluation:
    """Choose the settings on the training part's newest 20%, then score on the test part."""
    mode = options.mode or "filing"
    split = options.split
    test_fraction = options.test_fraction or settings.test_fraction
    test_idx: np.ndarray | None = None
    if split == "kfold":
        train_idx = np.arange(len(dataset.labels))
    else:
        train_idx, test_idx = _split(dataset, split, test_fraction, settings.random_seed)
    selection = choose_scale_settings(dataset, scale, mode, train_idx, split, settings.random_seed)
    window = at_default_in_window(dataset, test_idx) if split == "time" and test_idx is not None else []
    evaluation = evaluate_dataset(
        dataset,
        mode,
        split,
        test_fraction,
        options.folds,
        settings.precision_target,
        settings.random_seed,
        learning_curve=options.learning_curve,
        settings=selection.params,
        also_predict=[dataset.at_default[i] for i in window],
    )
    if test_idx is not None and split == "time":
        evaluation.predictions["bot"] = bot_population(dataset, test_idx, window, evaluation.predictions)
    evaluation.predictions.pop("also_proba", None)
    evaluation.selection = {**selection.as_dict(), "rule": RULE}
    add_rank_error(evaluation, scale)
    evaluation.data.update(
        scale=scale.name,
        levels=list(scale.levels),
        label_sources=dict(dataset.sources),
        person_set_defaults=dataset.person_set_defaults,
    )
    return evaluation


def at_default_in_window(dataset: ScaleDataset, test_idx: np.ndarray) -> list[int]:
    """The `at_default` reports filed in the test part's period of their project (the time split is per
    project): the untouched reports a bot would have found while the test reports came in."""
    starts: dict[str, datetime] = {}
    for i in test_idx:
        report = dataset.reports[int(i)]
        if report.created_at is not None:
            start = starts.get(report.project)
            starts[report.project] = report.created_at if start is None else min(start, report.created_at)
    return [
        i
        for i, report in enumerate(dataset.at_default)
        if report.created_at is not None
        and report.project in starts
        and report.created_at >= starts[report.project]
    ]


def bot_population(
    dataset: ScaleDataset, test_idx: np.ndarray, window: list[int], predictions: dict[str, Any]
) -> dict[str, Any]:
    """The held-out answers on the reports a bot would act on, against the level people finally gave.

    A bot acts only where the field is untouched. Where the tracker kept history, those are the reports
    filed untouched (`at_default`), and most stay so: an answer there is right only if people later set
    that level. Where it kept none (labels are today's values), every test report was a candidate, so
    the labelled ones count too. The bot's per-label thresholds come from these
    (`bugsift.bot.thresholds`), not from the reporters' own levels the test part scores."""
    proba: list[list[float]] = []
    y_true: list[str] = []
    created: list[str | None] = []
    labelled = 0
    for position, i in enumerate(int(i) for i in test_idx):
        if dataset.label_sources[i] == FINAL:
            proba.append(predictions["proba"][position])
            y_true.append(predictions["y_true"][position])
            created.append(predictions["created_at"][position])
            labelled += 1
    for row, i in zip(predictions.get("also_proba") or [], window, strict=True):
        report = dataset.at_default[i]
        proba.append(row)
        y_true.append(dataset.at_default_final[i] or NOT_SET)
        created.append(report.created_at.isoformat() if report.created_at else None)
    set_later = sum(dataset.at_default_final[i] is not None for i in window)
    return {
        "proba": proba,
        "y_true": y_true,
        "created_at": created,
        "n_labelled": labelled,
        "n_untouched": len(window),
        "n_untouched_set_later": set_later,
    }


def bot_population_line(population: dict[str, Any]) -> str:
    """What the bot's thresholds for this model are measured on (`bot_population`), in words."""
    untouched, later = population["n_untouched"], population["n_untouched_set_later"]
    line = (
        f"for the bot: {len(population['y_true'])} test-period reports it would act on, {untouched} of "
        f"them filed untouched ({later} given a level later; the rest count against any answer)"
    )
    if population["n_labelled"]:
        line += f" and {population['n_labelled']} labelled with today's value (no history to tell)"
    return line


def add_rank_error(evaluation: Evaluation, scale: Scale) -> None:
    """``mean_abs_rank_error`` of the model's and the majority baseline's top answers on the test part."""
    predictions = evaluation.predictions
    classes, y_true = predictions["classes"], predictions["y_true"]
    predicted = [classes[int(np.argmax(row))] for row in predictions["proba"]]
    evaluation.metrics["mean_abs_rank_error"] = mean_absolute_rank_error(y_true, predicted, scale)
    majority = evaluation.baseline.get("majority_class")
    if majority is not None:
        evaluation.baseline["mean_abs_rank_error"] = mean_absolute_rank_error(
            y_true, [majority] * len(y_true), scale
        )


def sources_line(dataset_data: dict[str, Any], task: str) -> str:
    sources = Counter(dataset_data.get("label_sources") or {})
    line = f"labels: {sources[AS_FILED]} {task} values as filed (replayed from the field's history)"
    if sources[FINAL]:
        line += (
            f"; {sources[FINAL]} FINAL values: the tracker gave no history for them, so today's {task} "
            "stands in for the filed one (a triager may have changed it since)"
        )
    if sources[CORRECTED]:
        line += f"; {sources[CORRECTED]} corrected by a person in bugsift (these win over the tracker's)"
    person = dataset_data.get("person_set_defaults") or 0
    if person:
        line += f"; {person} are the tracker's default, counted because a person set it"
    return line


def describe(evaluation: Evaluation) -> str:
    data = evaluation.data
    scale = data["scale"]
    excluded = data.get("excluded") or {}
    lines = [
        f"{evaluation.task} on the scale {scale} ({' > '.join(data['levels'])}; rank 0 = the first), "
        f"mode {evaluation.mode}, split {evaluation.split}: {data['n_labelled']} labelled reports; "
        f"train {data['n_train']} {data['train_dates']}, test {data['n_test']} {data['test_dates']}",
        sources_line(data, evaluation.task),
        f"excluded {sum(excluded.values())} reports: "
        + (", ".join(f"{n} {why}" for why, n in sorted(excluded.items(), key=lambda kv: -kv[1])) or "none"),
        format_metrics(evaluation.metrics, evaluation.baseline, evaluation.coverage).rstrip("\n"),
        f"mean absolute rank error (levels off, on {scale}): model "
        f"{_num(evaluation.metrics.get('mean_abs_rank_error'))}, baseline "
        f"{_num(evaluation.baseline.get('mean_abs_rank_error'))}",
        threshold_line(evaluation.as_dict()),
    ]
    population = evaluation.predictions.get("bot")
    if population is not None:
        lines.append(bot_population_line(population))
    selection = evaluation.selection
    if selection.get("candidates"):
        lines.append(
            f"settings chosen on the newest part of the training data ({selection['metric']}): macro-F1 "
            f"{candidate_scores(selection['candidates'])} -> {selection['chosen']}"
        )
    return "\n".join(lines)


def _num(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}"


@dataclass
class ScalePredictor:
    loaded: LoadedModel

    @property
    def version_name(self) -> str:
        return self.loaded.version_name

    @property
    def scale(self) -> str:
        return str(self.loaded.row.params.get("scale") or self.loaded.row.label)

    def predict(self, reports: Sequence[Report], top_k: int) -> list[dict[str, Any]]:
        results = predict_reports(self.loaded.model, reports, self.loaded.threshold, top_k)
        return [{**result, "scale": self.scale} for result in results]


class ScaleTask:
    keeps_evaluation = True  # train() writes it beside the model file itself

    def __init__(self, name: str) -> None:
        self.name = name
        self.help = HELP[name]

    def evaluate(self, database: Database, settings: Settings, options: TaskOptions) -> EvaluationOutcome:
        dataset, scale = load(database, self.name, options, settings.train_max_reports)
        evaluation = evaluate_scale(dataset, scale, settings, options)
        return EvaluationOutcome(evaluation=evaluation.as_dict(), text=describe(evaluation))

    def train(self, database: Database, settings: Settings, options: TaskOptions) -> TrainOutcome:
        """Evaluate on a time-ordered split, refit on every labelled report, save and register."""
        dataset, scale = load(database, self.name, options, settings.train_max_reports)
        mode = options.mode or "filing"
        timed = replace(options, split="time")
        evaluation = evaluate_scale(dataset, scale, settings, timed)
        chosen = evaluation.selection["params"]
        model = fit_model(dataset.reports, dataset.labels, self.name, mode, "off", chosen)
        params = {
            **model_params(self.name, mode),
            "scale": scale.name,
            "settings": chosen,
            "tracker": options.tracker,
            "project": options.project,
        }
        row = save_and_register(
            database, settings, self.name, scale.name, mode, model, evaluation, params, len(dataset.labels)
        )
        saved = f"saved {self.name} model v{row.version} (scale {scale.name}, mode {mode}) to {row.path}"
        return TrainOutcome(
            model=row, evaluation=evaluation.as_dict(), text=f"{describe(evaluation)}\n{saved}"
        )

    def predictor(self, database: Database, options: TaskOptions) -> ScalePredictor:
        return ScalePredictor(load_active(database, self.name, options.label, options.mode))
