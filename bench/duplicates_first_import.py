"""Duplicate search right after an import, with no trained model: text similarity against the baselines.

    python bench/duplicates_first_import.py [--data ../shared/data] [--dataset jira mozilla] [--per-project]

Each dataset is imported into a temporary SQLite store (or read from ``--database URL`` if it holds that
dataset already). Queries are the later report of each duplicate pair (apache-jira: duplicate_pairs.csv;
Mozilla: the stored duplicate-of links), time-ordered; the newest ``--test-share`` are the test, each
searched only among the reports filed before it. Printed per dataset (RR@k: mean reciprocal rank cut at k,
so RR@1 = recall@1):
  (a) plain TF-IDF cosine of the whole text against every earlier report of the tracker;
  (b) the store's full-text search alone (the rare-stem query of the first stage, BM25 order);
  (c) the text-similarity ranker (b's candidates re-scored: `duplicates.similarity`) with its default mix;
  (c*) the same with the mix the store chooses on its own links (`text_choice.choose` on the newest 60
       queries before the test part, as a live store would at the test's start), and per project as if
       each project were a store of its own ("chosen per project");
  (e), (e*) as (c), (c*) with the titles' sentence cosine (``--embeddings``; needs the encoder);
  (d) the learned re-ranker (`evaluation.run_replay`), where 20 queries or more exist.
With ``--test-share 1.0`` (Mozilla's 9 links) no query precedes the test, so "leave one out" ranks each
query with the mix chosen on the others. Word statistics of (a) and (c) come from reports filed before the
test part only. ``--tune`` prints the variants on the validation queries (the newest 30% before the test),
never the test. ``--speed N --database URL`` times the live text-similarity answer instead.
``--as-if-store N`` gives (b) and (c) the stage-one terms a store of N reports would choose (the budget in
rows, `ranker.MAX_POSTING_ROWS`): the term choice depends only on the stems' shares, so this is what the
budget costs at N reports on this data.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from bugsift.ingest import import_reports
from bugsift.learn import encoding_store
from bugsift.learn.duplicates import evaluation as ev
from bugsift.learn.duplicates import index, replay, similarity, text_choice
from bugsift.learn.duplicates.features import Doc, make_vectorizer
from bugsift.learn.duplicates.query import query_terms
from bugsift.settings import Settings
from bugsift.store.db import Database, open_database
from bugsift.store.models import ReportRow

DATA = Path(__file__).resolve().parents[1].parent / "shared/data"
DATASETS = {
    "jira": ("jira", "apache-jira/jira_issues.jsonl.xz", "apache-jira/duplicate_pairs.csv"),
    "mozilla": ("bugzilla", "bugzilla-mozilla/bugs_full_add08f170.jsonl.xz", None),
}
LIVE_CANDIDATES = 60


def rr_rates(queries: Sequence[replay.ReplayQuery], ranked: Sequence[Sequence[str]]) -> dict[str, float]:
    """RR@1, RR@10 (mean reciprocal rank cut at 1 and 10) and recall@10."""
    ranks = [replay.first_hit_rank(list(r)[:10], q.targets) for q, r in zip(queries, ranked, strict=True)]
    n = max(len(ranks), 1)
    return {
        "rr@1": sum(r == 1 for r in ranks) / n,
        "rr@10": sum(1.0 / r for r in ranks if r is not None) / n,
        "recall@10": sum(r is not None for r in ranks) / n,
        "n": len(ranks),
    }


def tfidf_cosine(
    docs: Sequence[Doc], queries: Sequence[replay.ReplayQuery], fit_before: Any
) -> list[list[str]]:
    """(a): cosine of the whole text's TF-IDF against every report filed before the query."""
    vectorizer = make_vectorizer().fit([d.text for d in docs if d.created_at and d.created_at < fit_before])
    dated = [d for d in docs if d.created_at is not None]
    matrix = vectorizer.transform([d.text for d in dated]).tocsr()
    created = np.array([d.created_at.timestamp() for d in dated])  # type: ignore[union-attr]
    row_of = {d.external_id: i for i, d in enumerate(dated)}
    out = []
    for q in queries:
        i = row_of[q.query]
        scores = (matrix @ matrix[i].T).toarray().ravel()
        scores[created >= q.created_at.timestamp()] = -1.0  # only earlier reports (and never itself)
        top = np.argsort(-scores, kind="stable")[:10]
        out.append([dated[j].external_id for j in top if scores[j] >= 0])
    return out


def full_text(session: Any, model: Any, by_key: dict[str, Doc], by_row: dict[int, Doc], qs: Sequence) -> list:
    """(b): the rare-stem full-text query of the first stage, in the index's BM25 order."""
    out = []
    for q in qs:
        doc = by_key[q.query]
        terms = model.select_terms(query_terms(doc.title, doc.description, 64))
        hits = index.search(session, terms, 10, before=q.created_at, exclude=[doc.row_id or -1])
        out.append([by_row[h.row_id].external_id for h in hits if h.row_id in by_row])
    return out


def replayed(
    session: Any, model: Any, qs: Sequence[replay.ReplayQuery], embeddings: bool
) -> list[text_choice.Replayed]:
    """(c)'s candidates with every signal: the live path (`rank_doc`), all LIVE_CANDIDATES kept."""
    store = similarity.linked_store(session, None)
    return [
        similarity.replay_one(session, model, store, q.query, q.created_at, frozenset(q.targets), embeddings)
        for q in qs
    ]


def ordered(found: Sequence[text_choice.Replayed], settings: text_choice.TextSettings) -> list[list[str]]:
    """Each query's candidates in the order of ``settings``."""
    out = []
    for r in found:
        if not r.ids:
            out.append([])
            continue
        order = np.argsort(-r.scores(settings), kind="stable")
        out.append([r.ids[j] for j in order])
    return out


def chosen(found: Sequence[text_choice.Replayed], embeddings: bool) -> tuple[text_choice.TextSettings, dict]:
    """The mix a store would choose on these links (at most the newest CHOICE_QUERIES)."""
    newest = list(found[-similarity.CHOICE_QUERIES :])
    if len(newest) < similarity.MIN_CALIBRATION_QUERIES:
        return text_choice.defaults(embeddings), {"links": len(newest)}
    return text_choice.choose(newest, embeddings)


def dataset_queries(session: Any, name: str, data: Path, docs: Sequence[Doc]) -> list[replay.ReplayQuery]:
    created = {d.external_id: d.created_at for d in docs}
    pairs_file = DATASETS[name][2]
    if pairs_file:
        pairs = replay.read_pairs_csv(data / pairs_file)
    else:
        links = dict(
            session.execute(
                select(ReportRow.external_id, ReportRow.duplicate_of).where(
                    ReportRow.duplicate_of.is_not(None)
                )
            ).all()
        )
        pairs = ev.stored_pairs(docs, links)
    return replay.replay_queries(pairs, created)  # type: ignore[arg-type]


def measure(
    database: Database,
    name: str,
    data: Path,
    test_share: float,
    tune: bool,
    embeddings: bool,
    as_if_store: int | None = None,
) -> dict[str, Any]:
    with database.session() as session:
        docs = ev.load_docs(session)
        queries = dataset_queries(session, name, data, docs)
        pairs_file = DATASETS[name][2]
        linked = ev.linked_ids(session, replay.read_pairs_csv(data / pairs_file) if pairs_file else ())
    by_key = {d.external_id: d for d in docs}
    by_row = {d.row_id: d for d in docs if d.row_id is not None}
    cut = max(1, int(len(queries) * (1 - test_share))) if test_share < 1 else 0
    test_q, train_q = queries[cut:], queries[:cut]
    start = test_q[0].created_at
    started = time.perf_counter()
    ranked: dict[str, list[list[str]]] = {"(a) plain TF-IDF cosine": tfidf_cosine(docs, test_q, start)}
    choices: dict[str, Any] = {}
    project_of = [by_key[q.query].project or "-" for q in test_q]
    train_project = [by_key[q.query].project or "-" for q in train_q]
    with database.session() as session:
        model = similarity.fit_text_model(session, before=start)
        if as_if_store:  # stage one's terms as a store of that size would choose them (its rows budget)
            model.indexed_reports_ = as_if_store
        ranked["(b) full-text search alone"] = full_text(session, model, by_key, by_row, test_q)
        variants = [(False, "c")] + ([(True, "e")] if embeddings else [])
        for emb, letter in variants:
            found = replayed(session, model, test_q, emb)
            ranked[f"({letter}) default mix"] = ordered(found, text_choice.defaults(emb))
            train_found = replayed(session, model, train_q[-similarity.CHOICE_QUERIES :], emb)
            settings, choice = chosen(train_found, emb)
            choices[f"({letter}*) all projects"] = {**choice, "settings": settings.as_dict()}
            ranked[f"({letter}*) chosen on links"] = ordered(found, settings)
            per_project = [[] for _ in test_q]
            for project in sorted(set(project_of)):
                own = [q for q, p in zip(train_q, train_project, strict=True) if p == project]
                own_found = replayed(session, model, own[-similarity.CHOICE_QUERIES :], emb)
                p_settings, p_choice = chosen(own_found, emb)
                choices[f"({letter}*) {project}"] = {**p_choice, "settings": p_settings.as_dict()}
                for i, p in enumerate(project_of):
                    if p == project:
                        per_project[i] = ordered([found[i]], p_settings)[0]
            ranked[f"({letter}*) chosen per project"] = per_project
            if not cut:  # every query is tested: each is ranked with the mix chosen on the others
                ranked[f"({letter}*) leave one out"] = [
                    ordered([r], chosen([o for o in found if o is not r], emb)[0])[0] for r in found
                ]
        tuning = _tuning(session, model, train_q, embeddings) if tune and cut else {}
    learned = None
    if len(queries) >= 20 and cut:
        with database.session() as session:
            result = ev.run_replay(session, docs, queries, linked, test_share, Settings().precision_target)
        ranked["(d) learned re-ranker"] = ev.ranked_ids(
            result.ranker, result.test, ev.pair_matrix(result.ranker, by_key, result.test)[0]
        )
        learned = result.rows
    groups = defaultdict(list)
    for i, project in enumerate(project_of):
        groups[project].append(i)
    return {
        "dataset": name,
        "queries": len(queries),
        "test": [len(test_q), str(test_q[0].created_at.date()), str(test_q[-1].created_at.date())],
        "rows": {method: rr_rates(test_q, r) for method, r in ranked.items()},
        "per_project": {
            project: {
                method: rr_rates([test_q[i] for i in idx], [r[i] for i in idx])
                for method, r in ranked.items()
            }
            for project, idx in sorted(groups.items())
        },
        "choices": choices,
        "tuning": tuning,
        "learned_validation": (learned or {}).get("validation_learned"),
        "seconds": time.perf_counter() - started,
    }


def _tuning(session: Any, model: Any, train_q: Sequence, embeddings: bool) -> dict[str, Any]:
    """The variants on the validation queries (newest 30% before the test part), never the test."""
    validation = list(train_q[int(len(train_q) * (1 - ev.CALIBRATION_SHARE)) :])
    out = {}
    for emb in [False] + ([True] if embeddings else []):
        found = replayed(session, model, validation, emb)
        for settings in text_choice.search_space(emb):
            if emb and not settings.embedding:
                continue  # the word-only mixes were measured above
            out[str(settings.as_dict())] = rr_rates(validation, ordered(found, settings))
    return out


def speed(database: Database, n_queries: int) -> str:
    """Build time of the text-similarity predictor and wall ms (median / p90) of one top-10 answer, for
    a fixed random sample of stored reports (as bench/duplicates_speed.py), the report itself excluded.
    ``BUGSIFT_EMBEDDINGS`` decides whether the titles' sentence cosine is used, as in live use."""
    import random
    import statistics

    from bugsift.learn.duplicates.task import text_similarity_predictor
    from bugsift.store.reports import row_to_report

    with database.session() as session:
        ids = list(session.scalars(select(ReportRow.id).order_by(ReportRow.id)))
        sample = random.Random(0).sample(ids, min(n_queries, len(ids)))
        reports = [
            row_to_report(r) for r in session.scalars(select(ReportRow).where(ReportRow.id.in_(sample)))
        ]
    started = time.perf_counter()
    built = text_similarity_predictor(database)
    build = time.perf_counter() - started
    predictor = built
    predictor.predict(reports[:5], 10)  # warm the code paths (and load the encoder)
    wall = []
    for report in reports:
        t = time.perf_counter()
        predictor.predict([report], 10)
        wall.append(time.perf_counter() - t)
    wall.sort()
    return (
        f"text similarity, embeddings {'on' if predictor.embeddings else 'off'} "
        f"({predictor.settings.as_dict()}, chosen on {predictor.choice.get('links')} links): "
        f"build {build:.1f} s, top 10 median {1000 * statistics.median(wall):.1f} ms, "
        f"p90 {1000 * wall[int(0.9 * len(wall))]:.1f} ms over {len(wall)} reports"
    )


def table(rows: dict[str, dict[str, float]]) -> list[str]:
    lines = [f"  {'method':30} {'RR@1':>6} {'RR@10':>6} {'recall@10':>9} {'n':>5}"]
    for method, r in rows.items():
        lines.append(f"  {method:30} {r['rr@1']:6.3f} {r['rr@10']:6.3f} {r['recall@10']:9.3f} {r['n']:5d}")
    return lines


def store_for(name: str, data: Path, url: str | None, tmp: Path) -> Database:
    if url:
        return Database(Settings(database_url=url))
    database = open_database(Settings(home=tmp / name))
    fmt, path, _ = DATASETS[name]
    summary = import_reports(database, fmt, [data / path])
    print(f"{name}: {summary.line()}", file=sys.stderr)
    return database


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--dataset", nargs="+", choices=sorted(DATASETS), default=["jira", "mozilla"])
    parser.add_argument(
        "--database", help="a store already holding the (single) dataset, instead of importing"
    )
    parser.add_argument("--test-share", type=float, default=0.2, help="newest share of the queries tested")
    parser.add_argument("--per-project", action="store_true")
    parser.add_argument("--tune", action="store_true", help="every mix on the validation queries")
    parser.add_argument("--embeddings", action="store_true", help="also (e): the titles' sentence cosine")
    parser.add_argument("--encoding-cache", type=Path, help="an SQLite file keeping title encodings")
    parser.add_argument("--speed", type=int, help="time this many live answers instead (needs --database)")
    parser.add_argument(
        "--as-if-store",
        type=int,
        help="(b), (c): stage one's terms as a store of this many reports chooses them (its rows budget)",
    )
    args = parser.parse_args()
    if args.encoding_cache:
        encoding_store.use_disk_cache(args.encoding_cache)
    if args.speed:
        database = Database(Settings(database_url=args.database))
        print(speed(database, args.speed), flush=True)
        return 0
    with tempfile.TemporaryDirectory(prefix="bugsift-first-import-") as tmp:
        for name in args.dataset:
            database = store_for(name, args.data, args.database, Path(tmp))
            result = measure(
                database, name, args.data, args.test_share, args.tune, args.embeddings, args.as_if_store
            )
            database.dispose()
            n, first, last = result["test"]
            print(
                f"{name}: {result['queries']} queries, test = newest {n} ({first} .. {last}), "
                f"{result['seconds']:.0f} s"
            )
            print("\n".join(table(result["rows"])))
            if args.per_project:
                for project, rows in result["per_project"].items():
                    print(f" {project}:")
                    print("\n".join(table(rows)))
            for what, choice in result["choices"].items():
                print(f"  chose {what}: {choice}")
            for weight, r in result["tuning"].items():
                print(
                    f"  validation, {weight}: RR@1 {r['rr@1']:.3f} RR@10 {r['rr@10']:.3f} "
                    f"recall@10 {r['recall@10']:.3f} (n {r['n']})"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
