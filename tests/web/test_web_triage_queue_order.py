"""The triage queue's "least sure first": walking the answers in probability order gives the order of a
report's least sure undecided answer, page after page, with ties, answers without a probability and
decided labels, on both backends."""

from __future__ import annotations

import lzma
import random
from itertools import islice
from pathlib import Path

from sqlalchemy import select

from bugsift.ingest import import_reports
from bugsift.store.db import Database
from bugsift.store.labels import ModelAnswer, upsert_labels, upsert_model_answers
from bugsift.store.models import ReportRow
from bugsift.web.queue import Filters, pending


def test_least_sure_first_pages_follow_each_reports_least_sure_answer(
    database: Database, shared_data: Path, tmp_path: Path
) -> None:
    path = tmp_path / "mozilla.jsonl"
    with lzma.open(shared_data / "bugzilla-mozilla/bugs_full_add08f170.jsonl.xz", "rt") as handle:
        path.write_text("".join(islice(handle, 60)))
    import_reports(database, "bugzilla", [path])
    chance = random.Random(7)
    with database.session() as session:
        ids = list(session.scalars(select(ReportRow.id)))
        answers, human = [], []
        for report_id in ids:
            for name in ("defect", "component"):
                if chance.random() < 0.2:
                    continue  # not every report has both answers
                probability = chance.choice([None, 0.5, round(chance.random(), 2)])  # nulls and ties
                answers.append(ModelAnswer(report_id, name, "x", probability))
                if chance.random() < 0.15:
                    human.append((report_id, name, "x"))  # decided: this answer leaves the queue
        upsert_model_answers(session, answers, "bench:v1")
        upsert_labels(session, human, source="human")
    decided = set((r, n) for r, n, _ in human)
    least: dict[int, float | None] = {}
    for answer in answers:
        if (answer.report_id, answer.name) in decided:
            continue
        known = [p for p in (least.get(answer.report_id), answer.probability) if p is not None]
        least[answer.report_id] = min(known) if known else None
    expected = sorted(least, key=lambda r: (least[r] is None, least[r] or 0.0, -r))

    shown, page = [], 1
    with database.session() as session:
        while True:
            result = pending(session, Filters(sort="unsure", page=page), limit=7)
            shown += [item.report.id for item in result.items]
            if not result.has_next:
                break
            page += 1
        assert shown == expected and len(expected) > 30
        only_defect = pending(session, Filters(sort="unsure", label="defect"), limit=100)
    defect_least = {
        a.report_id: a.probability
        for a in answers
        if a.name == "defect" and (a.report_id, "defect") not in decided
    }
    assert [item.report.id for item in only_defect.items] == sorted(
        defect_least, key=lambda r: (defect_least[r] is None, defect_least[r] or 0.0, -r)
    )
