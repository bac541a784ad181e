"""Loaded predictors, one per registry row: a model file is read once per process, never per request.

When the active model's file does not load (missing, truncated, refused), the newest earlier version of it
that loads is served, with a warning in the log; when none does, the task is served as having no model
and the log says which file failed and why (no traceback).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from bugsift.learn.tasks import TASKS, Predictor, TaskOptions, get_task
from bugsift.store.db import Database
from bugsift.store.models import ModelRow
from bugsift.store.registry import ModelFileError, load_with_fallback
from bugsift.web.batcher import MicroBatcher

ACTIVE_TTL_SECONDS = 5.0
"""How long the list of active models is trusted before the registry is asked again (new versions)."""
RETRY_FAILED_SECONDS = 60.0
"""How long a model whose file would not load is left alone before loading it is tried again."""
WITHOUT_MODEL_TTL_SECONDS = 3600.0
"""How long a no-model predictor (word statistics, calibration on the stored links) is kept before it is
built again from the store (a few seconds on 32k reports); its ``keep_seconds`` may say less."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ActiveModel:
    id: int
    task: str
    label: str
    mode: str
    version: int
    version_name: str


def _active_model(row: ModelRow) -> ActiveModel:
    return ActiveModel(row.id, row.task, row.label, row.mode, row.version, row.version_name)


@dataclass
class Loaded:
    model: ActiveModel
    """The registry row whose file serves: the active one, or an earlier version when its file is bad."""
    predictor: Predictor
    batcher: MicroBatcher
    """Single-report predictions of concurrent requests, predicted together (the suggest endpoint)."""


def _options(model: ActiveModel) -> TaskOptions:
    if model.task in ("type", "defect", "component"):
        return TaskOptions(label=model.label, mode=model.mode)
    return TaskOptions()


class PredictorCache:
    """Active models per task, and their loaded predictors keyed by registry row id (thread-safe)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._lock = threading.Lock()
        self._loaded: dict[int, Loaded] = {}
        self._active: dict[str, ActiveModel] = {}
        self._active_at = float("-inf")
        self._failed: dict[int, float] = {}
        self._unmodelled: dict[str, tuple[float, Loaded]] = {}
        self.errors: dict[str, str] = {}
        """Task -> why its active model cannot be served (no version of it loads)."""

    def active(self) -> dict[str, ActiveModel]:
        """Per task, the newest active model trained for new reports (mode filing), else the newest active
        one of any mode; refreshed every few seconds."""
        now = time.monotonic()
        if now - self._active_at < ACTIVE_TTL_SECONDS:
            return self._active
        found: dict[str, ActiveModel] = {}
        with self.database.session() as session:
            rows = session.scalars(
                select(ModelRow)
                .where(ModelRow.active.is_(True))
                .order_by(ModelRow.created_at.desc(), ModelRow.id.desc())
            )
            for row in rows:  # the newest filing-time model: a new report has no comments or later fields
                if row.task not in TASKS:
                    continue
                known = found.get(row.task)
                if known is None or (known.mode != "filing" and row.mode == "filing"):
                    found[row.task] = _active_model(row)
        self._active, self._active_at = found, now
        return found

    def invalidate(self) -> None:
        """Ask the registry again on the next call (after training a model)."""
        self._active_at = float("-inf")

    def get(self, task: str) -> Loaded | None:
        """The loaded predictor of the task's active model (or of the earlier version standing in for it),
        or None when the task has no model or no version of it loads. A task that answers without a
        model (duplicates: text similarity) is served that way while it has no active model, or none
        of its versions loads."""
        model = self.active().get(task)
        if model is None:
            return self._without_model(task)
        loaded = self._loaded.get(model.id)
        if loaded is not None:
            return loaded
        with self._lock:
            loaded = self._loaded.get(model.id)
            if loaded is None:
                loaded = self._load(model)
                if loaded is not None:
                    self._loaded[model.id] = loaded
        # no version of the model loads: a task that answers without one (duplicates) still does
        return loaded if loaded is not None else self._without_model(task)

    def _load(self, model: ActiveModel) -> Loaded | None:
        """Load a predictor for ``model``; None (logged once a minute, not per request) if nothing loads."""
        failed_at = self._failed.get(model.id)
        if failed_at is not None and time.monotonic() - failed_at < RETRY_FAILED_SECONDS:
            return None
        try:
            predictor, served = load_with_fallback(
                self.database.session,
                lambda: get_task(model.task).predictor(self.database, _options(model)),
                warn=log.warning,
            )
        except ModelFileError as error:
            log.error("%s: %s predictions are unavailable", error, model.task)
            self._failed[model.id], self.errors[model.task] = time.monotonic(), str(error)
            return None
        self._failed.pop(model.id, None)
        self.errors.pop(model.task, None)
        serving = _active_model(served) if served is not None else model
        return Loaded(serving, predictor, MicroBatcher(predictor.predict, name=serving.version_name))

    def _without_model(self, task: str) -> Loaded | None:
        """The task's no-model predictor, built on first use and again once it expires."""
        kept = self._unmodelled.get(task)
        if kept is not None and time.monotonic() < kept[0]:
            return kept[1]
        handler = get_task(task)
        if not getattr(handler, "answers_without_model", False):
            return None
        with self._lock:
            kept = self._unmodelled.get(task)
            if kept is None or time.monotonic() >= kept[0]:
                # the task's no-model predictor (`without_model`, else what predictor() builds with no row)
                build = getattr(handler, "without_model", handler.predictor)
                predictor = build(self.database, TaskOptions())
                keep = float(getattr(predictor, "keep_seconds", WITHOUT_MODEL_TTL_SECONDS))
                model = ActiveModel(0, task, "all", "filing", 0, predictor.version_name)
                loaded = Loaded(
                    model, predictor, MicroBatcher(predictor.predict, name=predictor.version_name)
                )
                kept = (time.monotonic() + keep, loaded)
                self._unmodelled[task] = kept
        return kept[1]

    def loaded_ids(self) -> list[int]:
        return sorted(self._loaded)

    def warm(self, tasks: list[str]) -> dict[str, Any]:
        """Load the predictors of ``tasks`` now (at start-up); returns task -> version name or error."""
        out: dict[str, Any] = {}
        for task in tasks:
            try:
                loaded = self.get(task)
            except Exception as error:  # a broken model file must not stop the server
                out[task] = f"error: {error}"
                continue
            if loaded is not None:
                out[task] = loaded.model.version_name
            elif task in self.errors:
                out[task] = f"error: {self.errors[task]}"
        return out
