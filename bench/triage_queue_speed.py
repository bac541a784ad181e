"""Triage queue speed: the server time of `/triage/` pages over the 32,721 Apache Jira reports.

    python bench/triage_queue_speed.py [--data ../shared/data] [--home DIR] [--runs 20]

Imports the Jira reports into a temporary SQLite store (or reuses the store in ``--home`` when it has
them), gives every one a ``model`` label ``defect`` (as the `classify` job does: a value and a model
version, no probability), files 300 reports through the web path's storage (with stored probabilities,
"not sure" flags and reasons), decides 1,000 reports as a triager would (human label + audit row), then
times each queue page through the Flask test client (in process: server time, rendering included,
no network). Prints the median and the slowest of ``--runs`` requests per page. Target (issue 16):
<= 100 ms per page.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from bugsift.ingest import import_reports
from bugsift.settings import Settings
from bugsift.sources.base import Report
from bugsift.store.db import Database, open_database
from bugsift.store.labels import upsert_labels
from bugsift.store.models import LabelRow, ReportRow
from bugsift.store.reports import upsert_reports
from bugsift.web import accounts
from bugsift.web.app import create_app
from bugsift.web.queue import record_human_label
from bugsift.web.suggest import store_model_labels

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "bench password 1"
VERSION = "defect:bench:filing:v1"
PAGES = [
    ("waiting, newest first (page 1)", "/triage/"),
    ("waiting, page 300 (reports 14,951-15,000)", "/triage/?page=300"),
    ("waiting, oldest first", "/triage/?sort=oldest"),
    ("waiting, tracker jira + product HADOOP", "/triage/?tracker=jira&product=HADOOP"),
    ("waiting, predicted value not_defect", "/triage/?label=defect&value=not_defect"),
    ("waiting, title contains 'NullPointer'", "/triage/?q=NullPointer"),
    ("waiting, title contains 'zzzz' (no match)", "/triage/?q=zzzz"),
    ("waiting, not sure only", "/triage/?unsure=y"),
    ("waiting, least sure first", "/triage/?sort=unsure"),
    ("waiting, least sure first, page 10", "/triage/?sort=unsure&page=10"),
    ("decided, newest decision first", "/triage/?state=decided"),
    ("decided, title contains 'the'", "/triage/?state=decided&q=the"),
    ("one report's page with history", None),
]


def prepare(database: Database, jira: Path) -> None:
    with database.session() as session:
        have = session.scalar(select(func.count()).select_from(ReportRow).where(ReportRow.tracker == "jira"))
    if not have:
        start = time.perf_counter()
        summary = import_reports(database, "jira", [jira])
        print(f"imported {summary.counts.imported} Jira reports in {time.perf_counter() - start:.1f} s")
    with database.session() as session:
        if session.scalar(select(func.count()).select_from(LabelRow).where(LabelRow.source == "model")):
            return
        ids = list(session.scalars(select(ReportRow.id).where(ReportRow.tracker == "jira")))
        values = [(i, "defect", "defect" if i % 3 else "not_defect") for i in ids]
        upsert_labels(session, values, "model", model_version=VERSION)
        now = datetime.now(UTC)
        filed = [
            Report(
                tracker="web",
                external_id=f"bench{n:05d}",
                title=f"Bench report {n}: crash in the settings dialog",
                description="It crashed when I opened the settings.",
                created_at=now - timedelta(minutes=n),
                product="Firefox",
                extra={
                    "version": "120",
                    "suggestions": {
                        "defect": {
                            "prediction": "defect",
                            "probability": (n % 97) / 97,
                            "uncertain": n % 5 == 0,
                            "candidates": [{"label": "defect"}, {"label": "not_defect"}],
                            "explanation": [{"text": "crash", "weight": 0.4, "kind": "word"}],
                            "model_version": VERSION,
                        }
                    },
                },
            )
            for n in range(300)
        ]
        upsert_reports(session, filed)
        for row_id, extra in session.execute(
            select(ReportRow.id, ReportRow.extra).where(ReportRow.tracker == "web")
        ):
            store_model_labels(session, row_id, extra["suggestions"])
        for i in ids[::32][:1000]:
            record_human_label(session, i, "defect", "defect", "bench", "accept")
    with database.engine.connect() as connection:  # what an import ends with
        connection.exec_driver_sql("ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--home", type=Path, help="Keep the store here (reused by the next run).")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        home = args.home or Path(scratch)
        settings = Settings(home=home)
        database = open_database(settings)
        prepare(database, args.data / "apache-jira" / "jira_issues.jsonl.xz")
        with database.session() as session:
            try:
                accounts.get_user(session, "bench")
            except ValueError:
                accounts.create_user(session, "bench", PASSWORD, "triager")
            some_id = session.scalar(
                select(LabelRow.report_id).where(LabelRow.source == "human").order_by(LabelRow.report_id)
            )
            counts = dict(
                session.execute(select(LabelRow.source, func.count()).group_by(LabelRow.source)).all()
            )
            reports = session.scalar(select(func.count()).select_from(ReportRow))
        print(f"{reports} reports; labels by source: {counts}")
        app = create_app(settings, database=database, TESTING=True, WTF_CSRF_ENABLED=False)
        client = app.test_client()
        answer = client.post("/login", data={"username": "bench", "password": PASSWORD})
        assert answer.status_code == 302, answer.status_code
        print(f"{'page':<44}{'median ms':>10}{'max ms':>8}  rows")
        for name, path in PAGES:
            path = path or f"/triage/report/{some_id}"
            times = []
            for _ in range(args.runs + 1):
                start = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            body = response.get_data(as_text=True)
            rows = body.count('<article class="report"') + body.count('<tr id="decided-')
            times = times[1:]  # the first request warms caches (templates, statements)
            print(f"{name:<44}{statistics.median(times):>10.1f}{max(times):>8.1f}  {rows}")
        database.dispose()


if __name__ == "__main__":
    main()
