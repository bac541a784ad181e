"""The kind tasks, `type` and `defect`, behind the common task interface."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bugsift.evaluate.text_report import format_metrics
from bugsift.learn.kind.selection import candidate_scores
from bugsift.learn.lifecycle import LoadedModel, load_active, train_task
from bugsift.learn.predict import predict_reports
from bugsift.learn.targets import load_dataset
from bugsift.learn.tasks import EvaluationOutcome, TaskOptions, TrainOutcome
from bugsift.learn.training import Evaluation, evaluate_dataset
from bugsift.settings import Settings
from bugsift.sources.base import Report
from bugsift.store.db import Database

HELP = {
    "type": "the tracker's type field or a label set (defect/enhancement/task, bug/feature/question)",
    "defect": "real product defect or not (from a label set, or else from the resolution)",
}


def threshold_line(evaluation: dict[str, Any]) -> str:
    chosen, on_test = evaluation["threshold"], evaluation["at_threshold"]
    precision = on_test["precision"]
    shown = "n/a" if precision is None else f"{precision:.3f}"
    return (
        f"uncertain below p={chosen['threshold']:.3f} (chosen on the training part; precision target "
        f"{'met' if chosen.get('met') else 'not met'} there): on the test part it keeps "
        f"{on_test['coverage']:.1%} of reports at precision {shown}"
    )


def selection_line(selection: dict[str, Any]) -> str:
    """How the settings were chosen, from a stored selection (`kind.selection.Selection.as_dict`)."""
    return (
        f"settings chosen on the newest part of the training data ({selection['metric']}): "
        f"{candidate_scores(selection['candidates'])} -> {selection['chosen']}"
    )


def describe(evaluation: Evaluation) -> str:
    data = evaluation.data
    header = (
        f"{evaluation.task} (label {evaluation.label}, mode {evaluation.mode}, split {evaluation.split}): "
        f"{data['n_labelled']} labelled reports; train {data['n_train']} {data['train_dates']}, "
        f"test {data['n_test']} {data['test_dates']}"
    )
    body = format_metrics(evaluation.metrics, evaluation.baseline, evaluation.coverage)
    lines = [header]
    lines += [f"labels: {count} {note}" for note, count in data.get("label_notes", {}).items()]
    lines += [body, threshold_line(evaluation.as_dict())]
    if evaluation.selection.get("candidates"):
        lines.append(selection_line(evaluation.selection))
    return "\n".join(lines)


@dataclass
class KindPredictor:
    loaded: LoadedModel

    @property
    def version_name(self) -> str:
        return self.loaded.version_name

    @property
    def row(self) -> Any:
        """The registry row (its file's held-out evaluation gives the bot's per-label thresholds)."""
        return self.loaded.row

    def predict(self, reports: Sequence[Report], top_k: int) -> list[dict[str, Any]]:
        return predict_reports(self.loaded.model, reports, self.loaded.threshold, top_k)


class KindTask:
    keeps_evaluation = True  # lifecycle.train_task keeps it (the demo trains through that directly)

    def __init__(self, name: str) -> None:
        self.name = name
        self.help = HELP[name]

    def train(self, database: Database, settings: Settings, options: TaskOptions) -> TrainOutcome:
        row, evaluation = train_task(
            database,
            settings,
            self.name,
            options.label,
            options.mode or "filing",
            options.tracker,
            options.project,
            options.test_fraction,
        )
        saved = f"saved {row.task} model v{row.version} (label {row.label}, mode {row.mode}) to {row.path}"
        text = f"{describe(evaluation)}\n{saved}"
        return TrainOutcome(model=row, evaluation=evaluation.as_dict(), text=text)

    def evaluate(self, database: Database, settings: Settings, options: TaskOptions) -> EvaluationOutcome:
        with database.session() as session:
            mode = options.mode or "filing"
            dataset = load_dataset(
                session,
                self.name,
                options.label,
                options.tracker,
                options.project,
                mode,
                settings.train_max_reports,
            )
        evaluation = evaluate_dataset(
            dataset,
            options.mode or "filing",
            options.split,
            options.test_fraction or settings.test_fraction,
            options.folds,
            settings.precision_target,
            settings.random_seed,
            learning_curve=options.learning_curve,
            embeddings=settings.embeddings,
            budget_seconds=settings.train_budget_seconds,
        )
        return EvaluationOutcome(evaluation=evaluation.as_dict(), text=describe(evaluation))

    def predictor(self, database: Database, options: TaskOptions) -> KindPredictor:
        loaded = load_active(database, self.name, options.label, options.mode)
        if getattr(loaded.model, "embedding_model_", None) is not None:
            from bugsift.learn.embeddings import load_encoder

            load_encoder()  # now (the web server warms predictors at start-up), not on a first request
        return KindPredictor(loaded)
