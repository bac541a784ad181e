"""Duplicate search speed: import rate with the full-text triggers, and latency of one top-10 query.

    python bench/duplicates_speed.py --database URL [--queries 200]

URL must hold the apache-jira reports. Latency is measured for stage one alone (live: no time filter) (the
re-ranker's TF-IDF is fitted on the store only to choose the rare query terms; fit not timed).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time

from sqlalchemy import select

from bugsift.duplicates import evaluation as ev
from bugsift.duplicates import index
from bugsift.duplicates.query import query_terms
from bugsift.duplicates.ranker import DuplicateRanker
from bugsift.settings import Settings
from bugsift.store.db import Database
from bugsift.store.models import ReportRow
from bugsift.store.reports import row_to_report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    database = Database(Settings(database_url=args.database))
    with database.session() as session:
        docs = ev.load_docs(session)
        rows = list(
            session.scalars(
                select(ReportRow).where(
                    ReportRow.id.in_(random.Random(0).sample([d.row_id for d in docs], args.queries))
                )
            )
        )
    ranker = DuplicateRanker().fit_text(docs)
    stage_one: list[float] = []
    with database.session() as session:
        for row in rows:
            report = row_to_report(row)
            terms = ranker.select_terms(query_terms(report.title, report.description, 64))
            started = time.perf_counter()
            index.search(session, terms, 10, exclude=[row.id])
            stage_one.append(time.perf_counter() - started)
    print(f"{database.engine.dialect.name}: {len(docs)} reports, {len(rows)} queries")
    print(
        f"stage one top-10 median {1000 * statistics.median(stage_one):.1f} ms, "
        f"p90 {1000 * sorted(stage_one)[int(0.9 * len(stage_one))]:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
