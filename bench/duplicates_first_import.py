"""Duplicate search right after an import, with no trained model: text similarity against the baselines.

    python bench/duplicates_first_import.py [--data ../shared/data] [--dataset jira mozilla] [--per-project]

Each dataset is imported into a temporary SQLite store (or read from ``--database URL`` if it holds that
dataset already). Queries are the later report of each duplicate pair (apache-jira: duplicate_pairs.csv;
Mozilla: the stored duplicate-of links), time-ordered; the newest ``--test-share`` are the test, each
searched only among the reports filed before it. Printed per dataset (RR@k: mean reciprocal rank cut at k,
so RR@1 = recall@1):
  (a) plain TF-IDF cosine of the whole text against every earlier report of the tracker;
  (b) the store's full-text search alone (the rare-stem query of the first stage, BM25 order);
  (c) the text-similarity ranker (b's candidates re-scored: `duplicates.similarity`);
  (d) the learned re-ranker (`evaluation.run_replay`), where 20 queries or more exist.
Word statistics of (a) and (c) come from reports filed before the test part only. ``--tune`` prints (c)
with other weights on the validation queries (the newest 30% before the test), never the test.
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

from bugsift.duplicates import evaluation as ev
from bugsift.duplicates import index, replay, similarity
from bugsift.duplicates.features import Doc, make_vectorizer
from bugsift.duplicates.query import query_terms
from bugsift.duplicates.search import Candidate, rank_doc
from bugsift.ingest import import_reports
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


def similar_candidates(
    session: Any, model: Any, by_key: dict[str, Doc], qs: Sequence
) -> list[list[Candidate]]:
    """(c)'s candidates with their features: the live path (`rank_doc`), all LIVE_CANDIDATES kept."""
    out = []
    for q in qs:
        found, _ = rank_doc(
            session,
            model,
            by_key[q.query],
            None,
            LIVE_CANDIDATES,
            q.created_at,
            scorer=similarity.similarity_scores,
        )
        out.append(found)
    return out


def rescored(
    found: Sequence[Sequence[Candidate]], title_weight: float, lexical_weight: float
) -> list[list[str]]:
    """(c)'s order with other weights (`similarity.similarity_scores` with these)."""
    out = []
    for cands in found:
        score = [
            lexical_weight * c.features["lexical_score_ratio"]
            + (1 - lexical_weight)
            * (title_weight * c.features["cos_title"] + (1 - title_weight) * c.features["cos_all"])
            for c in cands
        ]
        order = np.argsort(-np.asarray(score), kind="stable")
        out.append([cands[j].row.external_id for j in order])
    return out


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


def measure(database: Database, name: str, data: Path, test_share: float, tune: bool) -> dict[str, Any]:
    with database.session() as session:
        docs = ev.load_docs(session)
        queries = dataset_queries(session, name, data, docs)
        pairs_file = DATASETS[name][2]
        linked = ev.linked_ids(session, replay.read_pairs_csv(data / pairs_file) if pairs_file else ())
    by_key = {d.external_id: d for d in docs}
    by_row = {d.row_id: d for d in docs if d.row_id is not None}
    cut = max(1, int(len(queries) * (1 - test_share))) if test_share < 1 else 0
    test_q = queries[cut:]
    start = test_q[0].created_at
    started = time.perf_counter()
    ranked: dict[str, list[list[str]]] = {"(a) plain TF-IDF cosine": tfidf_cosine(docs, test_q, start)}
    with database.session() as session:
        model = similarity.fit_text_model(session, before=start)
        ranked["(b) full-text search alone"] = full_text(session, model, by_key, by_row, test_q)
        found = similar_candidates(session, model, by_key, test_q)
        ranked["(c) text similarity (new)"] = rescored(
            found, similarity.TITLE_WEIGHT, similarity.LEXICAL_WEIGHT
        )
        tuning = _tuning(session, model, by_key, queries[:cut]) if tune and cut else {}
    learned = None
    if len(queries) >= 20 and cut:
        with database.session() as session:
            result = ev.run_replay(session, docs, queries, linked, test_share, Settings().precision_target)
        ranked["(d) learned re-ranker"] = ev.ranked_ids(
            result.ranker, result.test, ev.pair_matrix(result.ranker, by_key, result.test)[0]
        )
        learned = result.rows
    groups = defaultdict(list)
    for i, q in enumerate(test_q):
        groups[by_key[q.query].project or "-"].append(i)
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
        "tuning": tuning,
        "learned_validation": (learned or {}).get("validation_learned"),
        "seconds": time.perf_counter() - started,
    }


def _tuning(session: Any, model: Any, by_key: dict[str, Doc], train_q: Sequence) -> dict[str, Any]:
    """(c) with other weights on the validation queries (newest 30% before the test part)."""
    validation = list(train_q[int(len(train_q) * (1 - ev.CALIBRATION_SHARE)) :])
    found = similar_candidates(session, model, by_key, validation)
    return {
        f"title {t}, full text {lex}": rr_rates(validation, rescored(found, t, lex))
        for lex in (0.0, 0.25, 0.5, 0.75, 1.0)
        for t in (0.25, 0.5)
    }


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
    parser.add_argument("--tune", action="store_true", help="weights of (c) on the validation queries")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bugsift-first-import-") as tmp:
        for name in args.dataset:
            database = store_for(name, args.data, args.database, Path(tmp))
            result = measure(database, name, args.data, args.test_share, args.tune)
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
            for weight, r in result["tuning"].items():
                print(
                    f"  validation, {weight}: RR@1 {r['rr@1']:.3f} RR@10 {r['rr@10']:.3f} "
                    f"recall@10 {r['recall@10']:.3f} (n {r['n']})"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
