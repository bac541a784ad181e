"""The task registry: what `bugsift train|evaluate|predict TASK` can do, one handler per task family.

A handler turns the common options into training, evaluation and prediction for its task. New task
families (component, files, duplicates) add a handler class in their own module and one line to
`TASKS`; the CLI, the web API and the jobs all go through this registry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any, Protocol

from bugsift.settings import Settings
from bugsift.sources.base import Report
from bugsift.store.db import Database


@dataclass
class TaskOptions:
    """Options shared by every task; a task ignores the ones that mean nothing to it."""

    label: str | None = None
    mode: str | None = None
    tracker: str | None = None
    project: str | None = None
    split: str = "time"
    folds: int = 5
    top_k: int = 3
    test_fraction: float | None = None
    exclude: tuple[str, ...] = ()
    """Labels never to predict (component)."""
    min_support: int | None = None
    """Fewer training reports than this fold a component into its product (component)."""
    suggest_precision: float | None = None
    """Precision the 'suggest' threshold aims for (component)."""
    repo: str | None = None
    """A local git repository: fixes named in commit messages, files at the buggy version (files)."""
    candidates: str | None = None
    """Candidate file lists: Eclipse delta files (a folder or one file) or a text file of paths (files)."""
    learning_curve: bool = False
    """Also score models fitted on growing parts of the training data (for the HTML report)."""


@dataclass
class TrainOutcome:
    model: Any  # ModelRow of the registered model; None when the task declined to register one
    evaluation: dict[str, Any]
    text: str


@dataclass
class EvaluationOutcome:
    evaluation: dict[str, Any]
    text: str


class TaskHandler(Protocol):
    name: str
    help: str

    def train(self, database: Database, settings: Settings, options: TaskOptions) -> TrainOutcome: ...

    def evaluate(self, database: Database, settings: Settings, options: TaskOptions) -> EvaluationOutcome: ...

    def predictor(self, database: Database, options: TaskOptions) -> Predictor: ...


class Predictor(Protocol):
    """A loaded model ready to answer: one result dict per report, in the predict contract's shape."""

    version_name: str

    def predict(self, reports: Sequence[Report], top_k: int) -> list[dict[str, Any]]: ...


PATTERN_TASK_NAME = r"(label|field):([A-Za-z0-9_.\-]{1,80})"
"""`label:NAME` / `field:NAME` (Python and JSON Schema alike); the name goes into model file names and URL
paths: no "/" or ":"."""


class TaskNames(dict[str, tuple[str, str]]):
    """The fixed tasks, plus `label:NAME` and `field:NAME` for any label set or tracker field: ``in``
    accepts both (the CLI, the jobs and the API check names with it); iterating lists the fixed ones."""

    pattern = PATTERN_TASK_NAME

    def __contains__(self, name: object) -> bool:
        fixed = dict.__contains__(self, name)
        return fixed or (isinstance(name, str) and re.fullmatch(self.pattern, name) is not None)

    def listing(self) -> str:
        """The names for an error message or a help text: the fixed ones, then the two patterns."""
        return ", ".join([*self, "label:NAME", "field:NAME"])


# Task name -> (module, handler class). Imported on use, so `bugsift --help` stays fast.
TASKS = TaskNames(
    {
        "type": ("bugsift.learn.kind.task", "KindTask"),
        "defect": ("bugsift.learn.kind.task", "KindTask"),
        "component": ("bugsift.learn.component.task", "ComponentTask"),
        "files": ("bugsift.learn.files.task", "FilesTask"),
        "duplicates": ("bugsift.learn.duplicates.task", "DuplicatesTask"),
        "fix-time": ("bugsift.learn.fix_time.task", "FixTimeTask"),
        "severity": ("bugsift.learn.scale.task", "ScaleTask"),
        "priority": ("bugsift.learn.scale.task", "ScaleTask"),
    }
)
PATTERN_TASK = ("bugsift.learn.field.task", "FieldTask")


def get_task(name: str) -> TaskHandler:
    """The handler of a task, or a clear error listing the tasks there are."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; tasks: {TASKS.listing()}")
    module, class_name = dict.get(TASKS, name) or PATTERN_TASK
    handler: TaskHandler = getattr(import_module(module), class_name)(name)
    return _KeepsEvaluation(handler)


def evaluation_path(model_path: str | Path) -> Path:
    """Where a model's held-out evaluation is kept: beside its file (``<model>.evaluation.json``)."""
    return Path(model_path).with_suffix(".evaluation.json")


def report_path(model_path: str | Path) -> Path:
    """Where the HTML validation report drawn from that evaluation is kept (``<model>.report.html``)."""
    return Path(model_path).with_suffix(".report.html")


def keep_evaluation(model_path: str | Path, evaluation: dict[str, Any]) -> Path:
    """Write the evaluation a model was trained with beside its file.

    The registry row keeps the headline metrics only; this file keeps the held-out predictions the HTML
    validation report is drawn from, so the dashboard can show each version's own report. A report
    drawn for an earlier file of the same name (a database started afresh) is removed.
    """
    path = evaluation_path(model_path)
    path.write_text(json.dumps(evaluation, default=str), encoding="utf-8")
    report_path(model_path).unlink(missing_ok=True)
    return path


class _KeepsEvaluation:
    """A task handler whose ``train`` also keeps the evaluation beside the new model file (unless the
    handler says ``keeps_evaluation = True``: it writes the file itself)."""

    def __init__(self, handler: TaskHandler) -> None:
        self.handler = handler
        self.name = handler.name
        self.help = handler.help

    def train(self, database: Database, settings: Settings, options: TaskOptions) -> TrainOutcome:
        outcome = self.handler.train(database, settings, options)
        path = getattr(outcome.model, "path", None)
        if path and not getattr(self.handler, "keeps_evaluation", False):
            keep_evaluation(path, outcome.evaluation)
        return outcome

    def evaluate(self, database: Database, settings: Settings, options: TaskOptions) -> EvaluationOutcome:
        return self.handler.evaluate(database, settings, options)

    def predictor(self, database: Database, options: TaskOptions) -> Predictor:
        return self.handler.predictor(database, options)

    def __getattr__(self, name: str) -> Any:  # anything else a handler offers
        return getattr(self.handler, name)
