"""A stand-in model task for the job tests: fast, deterministic, registered in the task registry.

Workers started by the tests import this module (see conftest) so that they know the task too.
Prediction: "crash" (p=0.95) when the title mentions a crash, else "other" (p=0.6, uncertain).
Env: STUB_DELAY_S (seconds per predicted batch), STUB_LOG (file receiving each predicted report id).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bugsift.learn import tasks
from bugsift.learn.tasks import EvaluationOutcome, TaskOptions, TrainOutcome
from bugsift.settings import Settings
from bugsift.sources.base import Report
from bugsift.store.db import Database
from bugsift.store.registry import active_model, next_version, register_model

SCORE: dict[str, float | None] = {"next": 0.8}
"""Held-out macro F1 the next trained stub model reports; None: training declines to register a model."""


@dataclass
class StubPredictor:
    version_name: str

    def predict(self, reports: Sequence[Report], top_k: int) -> list[dict[str, Any]]:
        time.sleep(float(os.environ.get("STUB_DELAY_S", "0")))
        out = []
        for report in reports:
            crash = "crash" in report.title.lower()
            label, p = ("crash", 0.95) if crash else ("other", 0.6)
            out.append(
                {
                    "id": report.external_id,
                    "prediction": label,
                    "probability": p,
                    "candidates": [{"label": label, "probability": p}],
                    "uncertain": p < 0.7,
                    "explanation": [],
                }
            )
        if os.environ.get("STUB_LOG"):
            with open(os.environ["STUB_LOG"], "a") as fh:
                fh.write("".join(f"{r.external_id}\n" for r in reports))
        return out


class StubTask:
    help = "test stand-in"

    def __init__(self, name: str) -> None:
        self.name = name

    def train(self, database: Database, settings: Settings, options: TaskOptions) -> TrainOutcome:
        if SCORE["next"] is None:
            text = "stub\nnot registered: the baseline did as well"
            return TrainOutcome(model=None, evaluation={}, text=text)
        with database.session() as session:
            version = next_version(session, "stub", "stub", "filing")
            row = register_model(
                session,
                task="stub",
                label="stub",
                mode="filing",
                version=version,
                path=settings.models_dir / f"stub-v{version}.skops",
                params={},
                data={},
                metrics={"test": {"macro_f1": SCORE["next"]}},
                thresholds={"uncertain": 0.7},
            )
        return TrainOutcome(model=row, evaluation={}, text="stub")

    def evaluate(self, database: Database, settings: Settings, options: TaskOptions) -> EvaluationOutcome:
        return EvaluationOutcome(evaluation={}, text="stub")

    def predictor(self, database: Database, options: TaskOptions) -> StubPredictor:
        with database.session() as session:
            try:
                name = active_model(session, "stub").version_name
            except LookupError:
                name = "stub:stub:filing:v0"
        return StubPredictor(name)


def register() -> None:
    tasks.TASKS["stub"] = (__name__, "StubTask")


def unregister() -> None:
    tasks.TASKS.pop("stub", None)
