"""Loaded predictors, one per registry row: a model file is read once per process, never per request."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from bugsift.learn.tasks import TASKS, Predictor, TaskOptions, get_task
from bugsift.store.db import Database
from bugsift.store.models import ModelRow
from bugsift.web.batcher import MicroBatcher

ACTIVE_TTL_SECONDS = 5.0
"""How long the list of active models is trusted before the registry is asked again (new versions)."""


@dataclass(frozen=True)
class ActiveModel:
    id: int
    task: str
    label: str
    mode: str
    version: int
    version_name: str


@dataclass
class Loaded:
    model: ActiveModel
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

    def active(self) -> dict[str, ActiveModel]:
        """The newest active model of each task, refreshed every few seconds."""
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
            for row in rows:
                if row.task in TASKS and row.task not in found:
                    found[row.task] = ActiveModel(
                        row.id, row.task, row.label, row.mode, row.version, row.version_name
                    )
        self._active, self._active_at = found, now
        return found

    def invalidate(self) -> None:
        """Ask the registry again on the next call (after training a model)."""
        self._active_at = float("-inf")

    def get(self, task: str) -> Loaded | None:
        """The loaded predictor of the task's active model, or None when the task has no model."""
        model = self.active().get(task)
        if model is None:
            return None
        loaded = self._loaded.get(model.id)
        if loaded is not None:
            return loaded
        with self._lock:
            loaded = self._loaded.get(model.id)
            if loaded is None:
                predictor = get_task(task).predictor(self.database, _options(model))
                loaded = Loaded(model, predictor, MicroBatcher(predictor.predict, name=model.version_name))
                self._loaded[model.id] = loaded
        return loaded

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
        return out
