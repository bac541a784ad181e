"""The trained localizer: predict contract, persistence with skops, and the task through the store."""

from __future__ import annotations

from pathlib import Path

import pytest
import skops.io as sio

from bugsift.learn.tasks import TaskOptions
from bugsift.localize.candidates import load_candidates
from bugsift.localize.model import TRUSTED_TYPES, train_localizer
from bugsift.localize.task import FilesModel, FilesPredictor, FilesTask
from bugsift.settings import Settings
from bugsift.sources import read_reports
from bugsift.sources.base import Report
from bugsift.store.db import Database
from bugsift.store.reports import upsert_reports


@pytest.fixture(scope="module")
def slice_reports(shared_data: Path) -> list[Report]:
    folder = shared_data / "eclipse-localization"
    reports = [r for r in read_reports("bugzilla", folder / "bug_reports.jsonl.xz") if r.project == "AspectJ"]
    reports.sort(key=lambda r: r.created_at)
    return reports[:200]


def test_localize_predict_contract_and_saved_model(
    slice_reports: list[Report], shared_data: Path, tmp_path: Path
) -> None:
    candidates = load_candidates(shared_data / "eclipse-localization", "AspectJ")
    model, result = train_localizer(slice_reports[:150], candidates, project="AspectJ")
    assert result.outcomes and 0.0 <= model.threshold <= 1.0
    path = tmp_path / "files.skops"
    sio.dump(FilesModel({"AspectJ": model}), path)
    untrusted = sio.get_untrusted_types(file=path)
    assert set(untrusted) <= set(TRUSTED_TYPES) | {"builtins.dict", "builtins.list", "builtins.str"}
    loaded = sio.load(path, trusted=untrusted)
    predictor = FilesPredictor(loaded, candidates=shared_data / "eclipse-localization")
    new = slice_reports[160]
    [out] = predictor.predict([new], top_k=10)
    assert set(out) == {"id", "prediction", "probability", "candidates", "uncertain", "explanation"}
    assert out["id"] == new.external_id
    assert len(out["candidates"]) == 10
    assert out["prediction"] == out["candidates"][0]["label"]
    assert out["prediction"] in candidates.paths_for(new)  # type: ignore[operator]
    probs = [c["probability"] for c in out["candidates"]]
    assert probs == sorted(probs, reverse=True) and all(0.0 <= p <= 1.0 for p in probs)
    assert isinstance(out["uncertain"], bool) and out["explanation"]
    # without a candidate list: the files the model saw fixed
    [out] = FilesPredictor(loaded).predict([Report(tracker="x", external_id="A-1", title="ajc crash")], 3)
    assert out["id"] == "A-1" and len(out["candidates"]) == 3
    # a model whose ranker learnt other feature columns is refused when it loads, with what to do
    state = model.__getstate__()
    state["feature_names"] = state["feature_names"][:-1]
    with pytest.raises(ValueError, match="train it again: bugsift train files"):
        type(model).__new__(type(model)).__setstate__(state)


def test_localize_files_task_through_the_store(
    slice_reports: list[Report], shared_data: Path, settings: Settings, sqlite_db: Database
) -> None:
    with sqlite_db.session() as session:
        upsert_reports(session, slice_reports[:120])
    options = TaskOptions(project="AspectJ")
    options.candidates = str(shared_data / "eclipse-localization")  # type: ignore[attr-defined]
    outcome = FilesTask().evaluate(sqlite_db, settings, options)
    [project] = outcome.evaluation["projects"]
    assert project["project"] == "AspectJ" and project["n_evaluated"] > 90
    assert "plain" in outcome.text and "model" in outcome.text
