"""Several projects replayed together: each keeps its own history, the rankers learn from all of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bugsift.learn.files.candidates import load_candidates
from bugsift.learn.files.model import train_localizers
from bugsift.learn.files.replay import ProjectHistory, ReplayConfig, replay, replay_projects
from bugsift.learn.files.task import FilesTask
from bugsift.learn.persist import load_model
from bugsift.learn.tasks import TaskOptions
from bugsift.settings import Settings
from bugsift.sources import read_reports
from bugsift.sources.base import Report
from bugsift.store.db import Database
from bugsift.store.reports import upsert_reports


@pytest.fixture(scope="module")
def histories(shared_data: Path) -> list[ProjectHistory]:
    """The 120 oldest SWT reports (2002) and the 20 oldest AspectJ reports (2002-2003): too few alone
    for AspectJ to get a ranker of its own (30 fixed reports)."""
    folder = shared_data / "eclipse-localization"
    every = list(read_reports("bugzilla", folder / "bug_reports.jsonl.xz"))
    out = []
    for project, n in (("SWT", 120), ("AspectJ", 20)):
        reports = sorted((r for r in every if r.project == project), key=lambda r: r.created_at)[:n]
        out.append(ProjectHistory(project, reports, load_candidates(folder, project)))
    return out


def _scored_by(outcomes: list) -> set[str]:
    return {o.scored_by for o in outcomes}


def test_a_small_project_ranks_with_rows_learnt_from_the_others(histories: list[ProjectHistory]) -> None:
    swt, aspectj = histories
    alone = replay(aspectj.reports, aspectj.candidates, ReplayConfig(), project="AspectJ")
    assert alone.outcomes and _scored_by(alone.outcomes) == {"plain (too little history)"}

    together = replay_projects(histories)
    assert [r.project for r in together] == ["SWT", "AspectJ"]
    swt_result, aspectj_result = together
    assert "ranker" in _scored_by(aspectj_result.outcomes)
    # each project is still evaluated on its own reports, against its own candidates
    assert len(aspectj_result.outcomes) == len(alone.outcomes)
    assert [o.report_id for o in aspectj_result.outcomes] == [o.report_id for o in alone.outcomes]
    assert all(o.report_id in {r.external_id for r in swt.reports} for o in swt_result.outcomes)
    # a ranker is only ever trained on reports fixed before: the first AspectJ report (March 2002) came
    # when fewer than 30 SWT reports had been fixed
    first_fixed = sorted(t for r in swt.reports if (t := swt.candidates.fix_time(r)) is not None)
    first = aspectj_result.outcomes[0]
    filed = min(r.created_at.timestamp() for r in aspectj.reports)  # type: ignore[union-attr]
    assert sum(t < filed for t in first_fixed) < 30 and first.scored_by.startswith("plain")


def test_training_together_gives_every_project_the_shared_ranker(histories: list[ProjectHistory]) -> None:
    trained = train_localizers(histories)
    (swt, _), (aspectj, _) = trained
    assert (swt.project, aspectj.project) == ("SWT", "AspectJ")
    assert aspectj.ranker is not None and aspectj.ranker is swt.ranker
    assert len(aspectj.report_ids) <= 20 < len(swt.report_ids)  # each keeps its own history
    new: Report = histories[1].reports[-1]
    out = aspectj.rank(new, histories[1].candidates.paths_for(new), top_k=5)
    assert len(out["candidates"]) == 5 and out["explanation"]


def test_train_files_through_the_store_replays_the_projects_together(
    histories: list[ProjectHistory], shared_data: Path, settings: Settings, sqlite_db: Database
) -> None:
    with sqlite_db.session() as session:
        for history in histories:
            upsert_reports(session, list(history.reports))
    options = TaskOptions()
    options.candidates = str(shared_data / "eclipse-localization")  # type: ignore[attr-defined]
    outcome = FilesTask().train(sqlite_db, settings, options)
    assert outcome.model.params["ranker_projects"] == ["AspectJ", "SWT"]
    by_project = {p["project"]: p for p in outcome.evaluation["projects"]}
    assert set(by_project) == {"AspectJ", "SWT"} and by_project["AspectJ"]["n_evaluated"] > 10
    model = load_model(outcome.model.path)
    aspectj, swt = model.localizers["AspectJ"], model.localizers["SWT"]
    assert aspectj.ranker is not None and swt.ranker is not None
    np.testing.assert_array_equal(aspectj.ranker.model_.coef_, swt.ranker.model_.coef_)
