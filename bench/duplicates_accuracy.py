"""Duplicate search accuracy on apache-jira: time-ordered replay, plain full text vs the two-stage system.

    python bench/duplicates_accuracy.py --database sqlite:///jira.sqlite3 [--pairs .../duplicate_pairs.csv]

The database must hold the apache-jira reports (``bugsift import jira .../jira_issues.jsonl.xz``). Queries
are the later report of each pair in duplicate_pairs.csv, searched among reports filed before it; the
oldest (1 - test share) of the queries train the re-ranker, the newest are the test. Prints a table, and
the "uncertain" threshold chosen on the newest training queries (calibration, with non-duplicate reports of
that period weighted to their true share) with its precision and coverage on the test part.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bugsift.learn.duplicates import evaluation as ev
from bugsift.learn.duplicates import replay
from bugsift.learn.duplicates.task import threshold_line
from bugsift.settings import Settings
from bugsift.store.db import Database

DEFAULT_PAIRS = Path(__file__).resolve().parents[1].parent / "shared/data/apache-jira/duplicate_pairs.csv"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="SQLAlchemy URL of a store holding apache-jira")
    parser.add_argument("--pairs", type=Path, default=DEFAULT_PAIRS)
    parser.add_argument("--test-share", type=float, default=0.3)
    parser.add_argument("--strict", action="store_true", help="keep the tracker's direction of each pair")
    parser.add_argument("--precision-target", type=float, default=Settings().precision_target)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    database = Database(Settings(database_url=args.database))
    pairs = replay.read_pairs_csv(args.pairs)
    with database.session() as session:
        docs = ev.load_docs(session)
        linked = ev.linked_ids(session, pairs)
    queries = replay.replay_queries(pairs, {d.external_id: d.created_at for d in docs}, strict=args.strict)
    started = time.perf_counter()
    with database.session() as session:
        replayed = ev.run_replay(session, docs, queries, linked, args.test_share, args.precision_target)
    train_q, test_q = replayed.train.queries, replayed.test.queries
    rows = {
        "full-text baseline": replayed.rows["full_text_baseline"],
        "stage one (rare terms)": replayed.rows["stage_one"],
        "two-stage (re-ranked)": replayed.rows["two_stage"],
    }
    result = {
        "queries": len(queries),
        "train": [len(train_q), str(train_q[0].created_at.date()), str(train_q[-1].created_at.date())],
        "test": [len(test_q), str(test_q[0].created_at.date()), str(test_q[-1].created_at.date())],
        "strict": args.strict,
        "rows": rows,
        "uncertain_calibration": replayed.uncertain,
        "uncertain_test": replayed.uncertain_test,
        "stage_one_median_ms": ev.median_ms(replayed.test.seconds),
        "baseline_median_ms": ev.median_ms(replayed.baseline.seconds),
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
    print(f"median stage-one ms (replay, time-filtered): {stage:.1f} (baseline {base:.1f})")
    print(threshold_line(replayed.uncertain, replayed.uncertain_test))
    cal = replayed.uncertain
    shown = cal if cal["met"] else (cal.get("best") or cal)
    precision = "n/a" if shown["precision"] is None else f"{shown['precision']:.3f}"
    print(
        f"calibration at {'that' if cal['met'] else 'its most precise'} threshold {shown['threshold']:.3f}: "
        f"precision {precision}, confident for {shown['coverage']:.1%} of reports "
        f"({cal['n_duplicates']} duplicates + {cal['n_negatives']} weighted non-duplicates)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
