"""The backlog's answers carry what they rest on: the `classify` job stores each label's probability,
"not sure" and reasons (as the form does), so the triage queue says "not sure", sorts by confidence and
shows reasons for imported reports too. Real Mozilla bugs, the real defect model of conftest."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from bugsift.jobs.classify import classify
from bugsift.jobs.core import JobContext
from bugsift.settings import Settings
from bugsift.sources import read_reports
from bugsift.sources.base import Report
from bugsift.store.migrate import downgrade, upgrade
from bugsift.store.models import LabelRow, ModelRow
from bugsift.store.reports import upsert_reports

from .conftest import Web, login
from .test_web_reasons import assert_reasons

N = 24


@pytest.fixture(scope="module")
def backlog(shared_data: Path) -> list[Report]:
    """Real Mozilla bugs newer than the 300 the model was trained on."""
    path = shared_data / "bugzilla-mozilla" / "bugs_compact_labeled.jsonl"
    reports = sorted(
        (r for r in read_reports("bugzilla", path) if isinstance(r, Report)), key=lambda r: r.created_at
    )
    return reports[300 : 300 + N]


def _classified(web: Web, settings: Settings, backlog: list[Report]) -> dict[int, LabelRow]:
    with web.database.session() as session:
        upsert_reports(session, backlog)
        # a stricter "not sure" threshold than the one chosen on the 300 training bugs, so that these 24
        # real bugs get both kinds of answer whichever settings the training chose
        model = session.scalars(select(ModelRow).where(ModelRow.task == "defect")).one()
        model.thresholds = {**model.thresholds, "uncertain": 0.9}
    result = classify(JobContext(settings=settings, database=web.database), task="defect")
    assert result["predicted"] == N
    with web.database.session() as session:
        rows = session.scalars(select(LabelRow).where(LabelRow.source == "model")).all()
        session.expunge_all()
    return {row.report_id: row for row in rows}


def _rows(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<article class="report" id="report-(\d+)"', page)]


def test_classify_stores_probability_not_sure_and_reasons(
    web: Web, settings: Settings, backlog: list[Report]
) -> None:
    labels = _classified(web, settings, backlog)
    assert len(labels) == N
    for label in labels.values():
        assert label.value in ("defect", "not_defect") and label.model_version
        assert label.probability is not None and 0.5 <= label.probability <= 1.0  # the answer's class
        assert isinstance(label.uncertain, bool)
        assert_reasons(label.explanation)
        assert 1 <= len(label.explanation) <= 6
    # a second run with the same model finds nothing to do and leaves the stored answers alone
    again = classify(JobContext(settings=settings, database=web.database), task="defect")
    assert again["predicted"] == 0


def test_the_queue_shows_and_filters_by_what_classify_stored(
    web: Web, settings: Settings, backlog: list[Report]
) -> None:
    labels = _classified(web, settings, backlog)
    login(web.client, "triager")
    page = web.client.get("/triage/?tracker=bugzilla").get_data(as_text=True)
    assert len(_rows(page)) == N
    shown = [int(p) for p in re.findall(r'<span class="prob">(\d+)%</span>', page)]
    assert sorted(shown) == sorted(round(label.probability * 100) for label in labels.values())
    shown_reasons = re.findall(r'<span class="reason">(.*?)</span>', page)
    reasons = [html.unescape(re.sub(r"</?em>", "*", r)) for r in shown_reasons]  # words in italics
    stored = {item["text"] for label in labels.values() for item in label.explanation}
    assert reasons and set(reasons) <= stored
    # "not sure" only: exactly the reports the model was not sure of
    unsure = {i for i, label in labels.items() if label.uncertain}
    assert 0 < len(unsure) < N  # real reports: the model is sure of some and not of others
    assert set(_rows(web.client.get("/triage/?unsure=y").get_data(as_text=True))) == unsure
    assert page.count('<span class="unsure">not sure</span>') == len(unsure)
    # least sure first, most sure first
    probabilities = sorted(label.probability for label in labels.values())
    least = _rows(web.client.get("/triage/?sort=unsure").get_data(as_text=True))
    most = _rows(web.client.get("/triage/?sort=confident").get_data(as_text=True))
    assert [labels[i].probability for i in least] == probabilities
    assert [labels[i].probability for i in most] == probabilities[::-1]
    # and the report's own page
    one = next(iter(labels))
    report = web.client.get(f"/triage/report/{one}").get_data(as_text=True)
    assert f"{round(labels[one].probability * 100)}%" in report and 'class="reason"' in report


def test_the_migration_copies_the_forms_answers_onto_their_labels(web: Web) -> None:
    """0008 moves what the form kept in extra["suggestions"] onto the label (while its value is the same)."""
    engine = web.database.engine
    downgrade(engine, "0007")
    suggestion = {
        "prediction": "defect",
        "probability": 0.62,
        "uncertain": True,
        "explanation": [{"text": "a stack trace is pasted", "weight": 0.4, "kind": "field"}],
    }
    with engine.begin() as connection:
        for n, value in ((1, "defect"), (2, "not_defect")):  # the second was predicted again since
            connection.execute(
                sa.text(
                    "insert into reports (id, tracker, project, external_id, title, description, extra, "
                    "raw, components, fixed_files, keywords, comments, filed_from_history, content_hash, "
                    "imported_at, updated_at) values (:id, 'web', '', :ext, 't', '', :extra, '{}', '[]', "
                    "'[]', '[]', '[]', 0, 'h', '2026-12-01', '2026-12-01')"
                ),
                {"id": n, "ext": f"ref{n}", "extra": json.dumps({"suggestions": {"defect": suggestion}})},
            )
            connection.execute(
                sa.text(
                    "insert into labels (report_id, name, value, source, model_version, created_at, "
                    "updated_at) values (:id, 'defect', :value, 'model', 'v1', '2026-12-01', '2026-12-01')"
                ),
                {"id": n, "value": value},
            )
    upgrade(engine)
    with web.database.session() as session:
        got = {
            r.report_id: (r.probability, r.uncertain, r.explanation)
            for r in session.scalars(select(LabelRow).where(LabelRow.source == "model"))
        }
    assert got[1] == (0.62, True, suggestion["explanation"])
    assert got[2][:2] == (None, None)
