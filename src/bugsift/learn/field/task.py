"""`label:NAME` and `field:NAME` tasks behind the common task interface: any label set or tracker field.

Targets: `bugsift.learn.field.targets`. Everything else is the kind models' machinery: settings chosen
on the newest part of the user's own training data (`kind_selection`), the "uncertain" threshold, the
reasons in words, the held-out evaluation kept beside the model file for the HTML report.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from bugsift.evaluate.text_report import format_metrics
from bugsift.learn.field.targets import (
    AS_FILED,
    CORRECTED,
    FINAL,
    LABEL,
    FieldDataset,
    load_field_dataset,
    parse_task,
)
from bugsift.learn.kind.task import KindPredictor, selection_line, threshold_line
from bugsift.learn.lifecycle import load_active, save_and_register
from bugsift.learn.tasks import EvaluationOutcome, TaskOptions, TrainOutcome
from bugsift.learn.training import Evaluation, evaluate_dataset, fit_model, model_params
from bugsift.settings import Settings
from bugsift.store.db import Database


def load(database: Database, task: str, options: TaskOptions, max_reports: int | None = None) -> FieldDataset:
    if options.label:
        raise ValueError(f"{task} names what it learns: --label is not used")
    slim = (options.mode or "filing") == "filing"
    with database.session() as session:
        return load_field_dataset(session, task, options.tracker, options.project, max_reports, slim)


def evaluate_field(dataset: FieldDataset, settings: Settings, options: TaskOptions) -> Evaluation:
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
    evaluation.data.update(kind=dataset.kind, name=dataset.name, label_sources=dict(dataset.sources))
    return evaluation


def sources_line(data: dict[str, Any]) -> str:
    sources = Counter(data.get("label_sources") or {})
    if data.get("kind") == LABEL:
        return f"labels: the label set {data.get('name')} (imported or given by people; never a model's)"
    line = f"labels: {sources[AS_FILED]} values as filed (replayed from the tracker's history)"
    if sources[FINAL]:
        line += f"; {sources[FINAL]} today's values (no history from the tracker: may have changed since)"
    if sources[CORRECTED]:
        line += f"; {sources[CORRECTED]} corrected by a person in bugsift (these win over the tracker's)"
    return line


def describe(evaluation: Evaluation) -> str:
    data = evaluation.data
    excluded = data.get("excluded") or {}
    lines = [
        f"{evaluation.task} (mode {evaluation.mode}, split {evaluation.split}): {data['n_labelled']} "
        f"labelled reports, {len(data['classes'])} values; train {data['n_train']} {data['train_dates']}, "
        f"test {data['n_test']} {data['test_dates']}",
        sources_line(data),
        f"excluded {sum(excluded.values())} reports: "
        + (", ".join(f"{n} {why}" for why, n in sorted(excluded.items(), key=lambda kv: -kv[1])) or "none"),
        format_metrics(evaluation.metrics, evaluation.baseline, evaluation.coverage).rstrip("\n"),
        threshold_line(evaluation.as_dict()),
    ]
    if evaluation.selection.get("candidates"):
        lines.append(selection_line(evaluation.selection))
    return "\n".join(lines)


class FieldTask:
    keeps_evaluation = True  # save_and_register writes it beside the model file

    def __init__(self, name: str) -> None:
        parsed = parse_task(name)
        if parsed is None:
            raise ValueError(f"{name!r} is not label:NAME or field:NAME")
        self.name = name
        kind, field_name = parsed
        self.help = (
            f"the label set {field_name}" if kind == LABEL else f"the tracker field {field_name} as filed"
        )

    def evaluate(self, database: Database, settings: Settings, options: TaskOptions) -> EvaluationOutcome:
        dataset = load(database, self.name, options, settings.train_max_reports)
        evaluation = evaluate_field(dataset, settings, options)
        return EvaluationOutcome(evaluation=evaluation.as_dict(), text=describe(evaluation))

    def train(self, database: Database, settings: Settings, options: TaskOptions) -> TrainOutcome:
        """Evaluate on a time-ordered split, refit on every labelled report, save and register."""
        dataset = load(database, self.name, options, settings.train_max_reports)
        mode = options.mode or "filing"
        evaluation = evaluate_field(dataset, settings, TaskOptions(**{**vars(options), "split": "time"}))
        chosen = evaluation.selection["params"]
        model = fit_model(dataset.reports, dataset.labels, self.name, mode, settings.embeddings, chosen)
        params = {
            **model_params(self.name, mode, settings.embeddings),
            "settings": chosen,
            "uses_embeddings": getattr(model, "embedding_model_", None) is not None,
            "tracker": options.tracker,
            "project": options.project,
        }
        row = save_and_register(
            database, settings, self.name, dataset.name, mode, model, evaluation, params, len(dataset.labels)
        )
        saved = f"saved {self.name} model v{row.version} (mode {mode}) to {row.path}"
        return TrainOutcome(
            model=row, evaluation=evaluation.as_dict(), text=f"{describe(evaluation)}\n{saved}"
        )

    def predictor(self, database: Database, options: TaskOptions) -> KindPredictor:
        loaded = load_active(database, self.name, None, options.mode)
        if getattr(loaded.model, "embedding_model_", None) is not None:
            from bugsift.learn.embeddings import load_encoder

            load_encoder()  # now (the web server warms predictors at start-up), not on a first request
        return KindPredictor(loaded)
