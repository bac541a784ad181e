"""The trained localizer: predict contract, persistence with skops, and the task through the store."""

from __future__ import annotations

from pathlib import Path

import pytest
import skops.io as sio

from bugsift.learn.files.candidates import load_candidates
from bugsift.learn.files.model import TRUSTED_TYPES, train_localizer
from bugsift.learn.files.task import FilesModel, FilesPredictor, FilesTask
from bugsift.learn.tasks import TaskOptions
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


def test_the_files_training_reads_only_reports_with_fixed_files_and_the_newest_of_them(
    slice_reports: list[Report], sqlite_db: Database
) -> None:
    """A store of a million reports, few with fixed files, must not be read whole into memory: the
    history streams, keeps only reports with fixed files, and at most `train_max_reports` of them."""
    import dataclasses

    from bugsift.learn.files.task import load_history

    fixed = slice_reports[:120]
    unfixed = [dataclasses.replace(r, external_id=f"{r.external_id}-x", fixed_files=[]) for r in fixed[:40]]
    with sqlite_db.session() as session:
        upsert_reports(session, fixed + unfixed)
    options = TaskOptions(project="AspectJ")
    (everything,) = load_history(sqlite_db, options).values()
    assert {r.external_id for r in everything} == {r.external_id for r in fixed}
    (window,) = load_history(sqlite_db, options, max_reports=50).values()
    newest = sorted(fixed, key=lambda r: (r.created_at, r.external_id))[-50:]
    assert {r.external_id for r in window} == {r.external_id for r in newest}
    dates = [r.created_at for r in window]
    assert dates == sorted(dates) and all(r.fixed_files for r in window)  # oldest first, as without one


def test_localize_the_ranking_is_chosen_on_the_replay_with_plain_a_candidate(
    slice_reports: list[Report], shared_data: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The learned ranker ships only where it beats the plain ranking on the replayed reports it scored;
    where it does not, the model ranks plainly, its probabilities mapped from the plain scores."""
    from bugsift.learn.files import model as model_module
    from bugsift.learn.files.replay import ranking_metrics

    candidates = load_candidates(shared_data / "eclipse-localization", "AspectJ")
    model, result = train_localizer(slice_reports[:150], candidates, project="AspectJ")
    ranked = [o for o in result.outcomes if o.scored_by == "ranker"]
    chosen = model.selection
    assert chosen["n"] == len(ranked) > 20 and chosen["metric"] == "MAP"
    assert chosen["candidates"]["ranker"] == ranking_metrics([o.ranks for o in ranked])["map"]
    assert chosen["candidates"]["plain"] == ranking_metrics([o.plain_ranks for o in ranked])["map"]
    assert (
        chosen["chosen"] == "ranker" and model.ranker is not None
    )  # this slice: 0.151 against 0.144
    assert "selection" in model.__getstate__()
    from bugsift.report import write_report

    kept = {"projects": [result.as_dict()], "selection": {"AspectJ": model.selection}}
    write_report(kept, tmp_path / "files.html", "files")
    html = (tmp_path / "files.html").read_text()
    assert "How this model was chosen" in html and "ranker MAP" in html

    monkeypatch.setattr(model_module, "PLAIN_MARGIN", -1.0)  # as if plain led: it must be what ships
    plain, _ = train_localizer(slice_reports[:150], candidates, project="AspectJ")
    assert plain.selection["chosen"] == "plain" and plain.ranker is None
    assert plain.platt != model.platt and 0.0 <= plain.threshold <= 1.0
    [out] = FilesPredictor(
        FilesModel({"AspectJ": plain}), candidates=shared_data / "eclipse-localization"
    ).predict([slice_reports[160]], top_k=5)
    assert len(out["candidates"]) == 5 and out["prediction"] in candidates.paths_for(slice_reports[160])
