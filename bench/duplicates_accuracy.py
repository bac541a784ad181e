"""Duplicate search accuracy on apache-jira: time-ordered replay, plain full text vs the two-stage system.

    python bench/duplicates_accuracy.py --database sqlite:///jira.sqlite3 [--pairs .../duplicate_pairs.csv]

The database must hold the apache-jira reports (``bugsift import jira .../jira_issues.jsonl.xz``). Queries
are the later report of each pair in duplicate_pairs.csv, searched among reports filed before it; the
oldest (1 - test share) of the queries train the re-ranker, the newest are the test. Prints a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bugsift.duplicates import evaluation as ev
from bugsift.duplicates import replay
from bugsift.duplicates.ranker import DuplicateRanker
from bugsift.settings import Settings
from bugsift.store.db import Database

DEFAULT_PAIRS = Path(__file__).resolve().parents[1].parent / "shared/data/apache-jira/duplicate_pairs.csv"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="SQLAlchemy URL of a store holding apache-jira")
    parser.add_argument("--pairs", type=Path, default=DEFAULT_PAIRS)
    parser.add_argument("--test-share", type=float, default=0.3)
    parser.add_argument("--strict", action="store_true", help="keep the tracker's direction of each pair")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    database = Database(Settings(database_url=args.database))
    with database.session() as session:
        docs = ev.load_docs(session)
    by_key = {d.external_id: d for d in docs}
    by_row = {d.row_id: d for d in docs if d.row_id is not None}
    queries = replay.replay_queries(
        replay.read_pairs_csv(args.pairs), {d.external_id: d.created_at for d in docs}, strict=args.strict
    )
    cut = int(len(queries) * (1 - args.test_share))
    train_q, test_q = queries[:cut], queries[cut:]
    cutoff = test_q[0].created_at
    started = time.perf_counter()
    ranker = DuplicateRanker().fit_text([d for d in docs if d.created_at and d.created_at < cutoff])
    with database.session() as session:
        base_test = ev.stage_one(session, None, by_key, by_row, test_q, limit=10)
        train_1 = ev.stage_one(session, ranker, by_key, by_row, train_q)
        test_1 = ev.stage_one(session, ranker, by_key, by_row, test_q)
    train_X, train_y = ev.pair_matrix(ranker, by_key, train_1)
    ev.fit_ranker(ranker, train_X, train_y)
    test_X, _ = ev.pair_matrix(ranker, by_key, test_1)
    rows = {
        "full-text baseline": ev.rates(test_q, ev.ranked_ids(None, base_test, None)),
        "stage one (rare terms)": ev.rates(test_q, ev.ranked_ids(None, test_1, None)),
        "two-stage (re-ranked)": ev.rates(test_q, ev.ranked_ids(ranker, test_1, test_X)),
    }
    result = {
        "queries": len(queries),
        "train": [len(train_q), str(train_q[0].created_at.date()), str(train_q[-1].created_at.date())],
        "test": [len(test_q), str(test_q[0].created_at.date()), str(test_q[-1].created_at.date())],
        "strict": args.strict,
        "rows": rows,
        "stage_one_median_ms": ev.median_ms(test_1.seconds),
        "baseline_median_ms": ev.median_ms(base_test.seconds),
        "seconds": time.perf_counter() - started,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"apache-jira duplicates, {result['queries']} replay queries (strict direction: {args.strict})")
    print(f"train {result['train']}, test {result['test']}")
    print(f"{'method':26} {'RR@1':>6} {'RR@5':>6} {'RR@10':>6} {'MRR':>6} {'cand.recall':>11}")
    for name, r in rows.items():
        print(
            f"{name:26} {r['rr@1']:6.3f} {r['rr@5']:6.3f} {r['rr@10']:6.3f} {r['mrr']:6.3f} "
            f"{r['candidate_recall']:11.3f}"
        )
    stage, base = result["stage_one_median_ms"], result["baseline_median_ms"]
    print(f"median stage-one ms: {stage:.1f} (baseline {base:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
