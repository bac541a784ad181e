"""The web app's predictors when a registered model file goes bad: an earlier version that loads is served
(and the log says why), and with none the task is unavailable with a clear reason, never a traceback."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import pytest

from bugsift.store.db import Database
from bugsift.web.predictors import PredictorCache

from .conftest import Web, bearer, register


def broken_copy(model: dict[str, Any], tmp_path: Path, **changes: Any) -> dict[str, Any]:
    """The registry fields of a copy of the real model file, cut in half (a full disk's leftover)."""
    path = tmp_path / "defect-copy.skops"
    shutil.copyfile(model["path"], path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return {**model, "path": path, **changes}


def test_a_truncated_active_file_serves_the_earlier_version(
    web: Web, defect_model: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = broken_copy(defect_model, tmp_path, version=2)
    register(web.database, broken)
    body = {"id": 1, "title": "Crash on startup", "description": "Firefox segfaults when opening a tab."}

    with caplog.at_level(logging.WARNING, logger="bugsift.web.predictors"):
        response = web.client.post("/api/v1/predict/defect", json=body, headers=bearer(web.tokens["predict"]))

    assert response.status_code == 200, response.json
    assert response.json["model_version"] == "defect:is_bug_derived:filing:v1"
    (record,) = [r for r in caplog.records if r.name == "bugsift.web.predictors"]
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert record.getMessage().startswith(
        f"cannot load model defect:is_bug_derived:filing:v2 ({broken['path']}): the file is truncated"
    )
    assert "serving the earlier defect:is_bug_derived:filing:v1" in record.getMessage()


def test_without_a_loadable_version_the_task_is_unavailable_with_its_reason(
    sqlite_db: Database, defect_model: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    register(sqlite_db, defect_model)  # a loadable model, but of another label set
    broken = broken_copy(defect_model, tmp_path, label="is_bug")
    register(sqlite_db, broken)  # the newest active defect model: its only version is broken
    cache = PredictorCache(sqlite_db)

    with caplog.at_level(logging.WARNING, logger="bugsift.web.predictors"):
        warmed = cache.warm(["defect"])
        again = cache.get("defect")  # not retried (nor logged) on every request

    assert again is None
    reason = f"cannot load model defect:is_bug:filing:v1 ({broken['path']}): the file is truncated"
    assert warmed["defect"].startswith(f"error: {reason}")
    (record,) = [r for r in caplog.records if r.name == "bugsift.web.predictors"]
    assert record.levelno == logging.ERROR and record.exc_info is None
    assert (
        record.getMessage().startswith(reason) and "defect predictions are unavailable" in record.getMessage()
    )


def test_a_broken_duplicates_model_falls_back_to_text_similarity(
    sqlite_db: Database, defect_model: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from bugsift.learn.duplicates.similarity import RANKER
    from bugsift.sources.base import Report

    broken = broken_copy(defect_model, tmp_path, task="duplicates", label="all")
    register(sqlite_db, broken)  # the only duplicates model, and its file is cut in half
    cache = PredictorCache(sqlite_db)
    with caplog.at_level(logging.WARNING, logger="bugsift.web.predictors"):
        loaded = cache.get("duplicates")
    assert loaded is not None and loaded.predictor.version_name == "duplicates-text-similarity"
    report = Report(tracker="web", external_id="1", title="Crash on startup", description="Segfault.")
    (answer,) = loaded.predictor.predict([report], 3)
    assert answer["ranker"] == RANKER and answer["candidates"] == []  # an empty store: nothing to offer
    assert any("duplicates predictions are unavailable" in r.getMessage() for r in caplog.records)
