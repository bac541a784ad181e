"""From labelled reports in the store to a registered model file, and back to a loaded model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bugsift.learn.persist import load_model, save_model
from bugsift.learn.targets import load_dataset
from bugsift.learn.tasks import keep_evaluation
from bugsift.learn.training import Evaluation, evaluate_dataset, fit_model, model_params
from bugsift.settings import Settings
from bugsift.store.db import Database
from bugsift.store.models import ModelRow
from bugsift.store.registry import active_model, next_version, register_model


@dataclass
class LoadedModel:
    row: ModelRow
    model: Any

    @property
    def threshold(self) -> float:
        return float(self.row.thresholds.get("uncertain", 0.0))

    @property
    def version_name(self) -> str:
        return self.row.version_name


def train_task(
    database: Database,
    settings: Settings,
    task: str,
    label: str | None = None,
    mode: str = "filing",
    tracker: str | None = None,
    project: str | None = None,
    test_fraction: float | None = None,
) -> tuple[ModelRow, Evaluation]:
    """Evaluate on a time-ordered split, refit on all labelled reports, save the file, register it."""
    with database.session() as session:
        dataset = load_dataset(session, task, label, tracker, project, mode, settings.train_max_reports)
    evaluation = evaluate_dataset(
        dataset,
        mode,
        "time",
        test_fraction or settings.test_fraction,
        precision_target=settings.precision_target,
        seed=settings.random_seed,
        embeddings=settings.embeddings,
        budget_seconds=settings.train_budget_seconds,
    )
    chosen = evaluation.selection["params"]
    model = fit_model(dataset.reports, dataset.labels, task, mode, settings.embeddings, chosen)
    params = {
        **model_params(task, mode, settings.embeddings),
        "settings": chosen,
        "uses_embeddings": getattr(model, "embedding_model_", None) is not None,
        # the projects with a pair of their own (bugsift.learn.kind.model: pool_projects); [] = none
        "pooled_projects": sorted(getattr(model, "project_members_", None) or {}),
        "tracker": tracker,
        "project": project,
    }
    label_name, n_fit = dataset.label_name, len(dataset.labels)
    row = save_and_register(database, settings, task, label_name, mode, model, evaluation, params, n_fit)
    return row, evaluation


def save_and_register(
    database: Database,
    settings: Settings,
    task: str,
    label: str,
    mode: str,
    model: Any,
    evaluation: Evaluation,
    params: dict[str, Any],
    n_fit: int,
) -> ModelRow:
    """Save a model fitted on every labelled report as the next version, keep its evaluation beside it
    (for the dashboard's validation report and the bot's per-label thresholds) and register it with its
    held-out figures, the "uncertain" threshold and how its settings were chosen."""
    settings.ensure_home()
    with database.session() as session:
        version = next_version(session, task, label, mode)
        path = settings.models_dir / f"{task}-{label}-{mode}-v{version}.skops"
        save_model(model, path)
        keep_evaluation(path, evaluation.as_dict())
        return register_model(
            session,
            task=task,
            label=label,
            mode=mode,
            version=version,
            path=path,
            params={
                **params,
                # every candidate's validation score (bugsift.learn.kind.selection): how it was chosen
                "selection": {k: v for k, v in evaluation.selection.items() if k != "params"},
            },
            data={**evaluation.data, "n_fit": n_fit},
            metrics={
                "test": evaluation.metrics,
                "baseline": evaluation.baseline,
                "at_threshold": evaluation.at_threshold,
            },
            thresholds={
                "uncertain": evaluation.threshold["threshold"],
                "precision_target": settings.precision_target,
                "chosen_on": "newest 20% of the training part",
                **{k: v for k, v in evaluation.threshold.items() if k != "threshold"},
            },
        )


def load_active(
    database: Database, task: str, label: str | None = None, mode: str | None = None
) -> LoadedModel:
    """Load the active model file of a task (newest first) safely with skops."""
    with database.session() as session:
        row = active_model(session, task, label, mode)
    return LoadedModel(row=row, model=load_model(row.path))
