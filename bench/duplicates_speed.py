"""Duplicate search speed: latency of one top-10 query over a store holding the apache-jira reports.

    python bench/duplicates_speed.py --database URL [--postgres URL] [--model FILE.skops] [--queries 200]

Each URL must hold the apache-jira reports (``bugsift import jira``); ``--postgres`` measures a second store
in the same run. Queries are stored reports (a fixed random sample), searched live: no time filter, the
report itself excluded. Timings per backend, median and p90 over the queries, wall clock and CPU of
this process (the CPU figure is steadier on a shared machine; on SQLite it includes the database work,
on PostgreSQL the server's work is outside it):

- stage one: the lexical top 10 (`index.search`) with the re-ranker's rare query terms, within the
  budget in rows the live answer keeps (`ranker.MAX_POSTING_ROWS`);
- top 10 (text similarity): the whole answer with no trained model (`bugsift duplicates` right after an
  import: `task.text_similarity_predictor`, its mix chosen and its probability calibrated on the store's
  links when it is built, which is timed once and printed below the table): stage one (60 candidates),
  loading them, TF-IDF cosines, the mix, the canonical reports of the answer;
- top 10 (re-ranked): the whole answer (`search.find_duplicates`) with the learned re-ranker: stage one,
  loading the candidates, pair features and the re-ranker. It needs a trained ranker: ``--model`` or the
  store's active ``duplicates`` model (``bugsift train duplicates``); without one that row is left out,
  and stage one's terms are chosen by a TF-IDF fitted on the store.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy import select

from bugsift.learn.duplicates import evaluation as ev
from bugsift.learn.duplicates import index
from bugsift.learn.duplicates.query import query_terms
from bugsift.learn.duplicates.ranker import DuplicateRanker, load_ranker
from bugsift.learn.duplicates.search import find_duplicates
from bugsift.learn.duplicates.task import text_similarity_predictor
from bugsift.settings import Settings
from bugsift.sources.base import Report
from bugsift.store.db import Database
from bugsift.store.models import ReportRow
from bugsift.store.registry import active_model
from bugsift.store.reports import row_to_report


def timed(items: Sequence[Report], run: Callable[[Report], object]) -> tuple[list[float], list[float]]:
    wall, cpu = [], []
    for item in items:
        started, started_cpu = time.perf_counter(), time.process_time()
        run(item)
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return wall, cpu


def summary(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    return f"{1000 * statistics.median(ordered):7.1f} {1000 * ordered[int(0.9 * len(ordered))]:7.1f}"


def ranker_for(database: Database, model: Path | None) -> DuplicateRanker | None:
    if model is not None:
        return load_ranker(model)
    with database.session() as session:
        try:
            path = active_model(session, "duplicates", None).path
        except LookupError:
            return None
    return load_ranker(path)


def measure(url: str, model: Path | None, n_queries: int, notes: list[str]) -> list[str]:
    database = Database(Settings(database_url=url))
    with database.session() as session:
        ids = list(session.scalars(select(ReportRow.id).order_by(ReportRow.id)))
        sample = random.Random(0).sample(ids, min(n_queries, len(ids)))
        reports = [
            row_to_report(r) for r in session.scalars(select(ReportRow).where(ReportRow.id.in_(sample)))
        ]
        row_ids = {
            (tracker, project, key): row_id
            for row_id, tracker, project, key in session.execute(
                select(ReportRow.id, ReportRow.tracker, ReportRow.project, ReportRow.external_id)
            )
        }
    trained = ranker_for(database, model)
    ranker = trained
    if ranker is None:
        with database.session() as session:
            ranker = DuplicateRanker().fit_text(ev.load_docs(session))
    ranker.indexed_reports_ = len(ids)  # stage one's budget in rows, as the live predictors set it
    terms = {r.external_id: ranker.select_terms(query_terms(r.title, r.description, 64)) for r in reports}
    name = database.engine.dialect.name
    lines = []
    with database.session() as session:
        for r in reports[:5]:  # warm the caches of the database and of the code paths
            index.search(session, terms[r.external_id], 10)

        def stage_one(r: Report) -> object:
            own = row_ids[(r.tracker, r.project or "", r.external_id)]
            return index.search(session, terms[r.external_id], 10, tracker=r.tracker, exclude=[own])

        wall, cpu = timed(reports, stage_one)
        lines.append(f"{name:10} {len(ids):>7} {'stage one top 10':18} {summary(wall)} {summary(cpu)}")
    started = time.perf_counter()
    similar = text_similarity_predictor(database)
    built = time.perf_counter() - started
    notes.append(f"{name}: text-similarity predictor built in {built:.1f} s ({similar.choice or 'no links'})")
    similar.predict(reports[:5], 10)  # warm, as above
    wall, cpu = timed(reports, lambda r: similar.predict([r], 10))
    lines.append(f"{name:10} {len(ids):>7} {'top 10 (text sim.)':18} {summary(wall)} {summary(cpu)}")
    with database.session() as session:
        if trained is not None:
            wall, cpu = timed(reports, lambda r: find_duplicates(session, trained, r, 10))
            lines.append(f"{name:10} {len(ids):>7} {'top 10 (re-ranked)':18} {summary(wall)} {summary(cpu)}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="SQLAlchemy URL of a store holding apache-jira")
    parser.add_argument("--postgres", help="a second store to measure, e.g. postgresql+psycopg://...")
    parser.add_argument("--model", type=Path, help="a saved duplicates ranker (default: the active model)")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    print(f"{'backend':10} {'reports':>7} {'what':18} {'wall ms':>15} {'cpu ms':>15}")
    print(f"{'':10} {'':>7} {'':18} {'median':>7} {'p90':>7} {'median':>7} {'p90':>7}")
    notes: list[str] = []
    for url in [args.database, *([args.postgres] if args.postgres else [])]:
        for line in measure(url, args.model, args.queries, notes):
            print(line, flush=True)
    print("\n".join(notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
