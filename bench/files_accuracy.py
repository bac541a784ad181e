"""Files task accuracy: the time-ordered replay of the Eclipse benchmark projects, learned ranker vs plain.

    nice -n 10 .venv/bin/python bench/files_accuracy.py [--projects AspectJ,SWT] [--ranker pairwise]

Prints Top-1/5/10, MAP and MRR per project for the model and the plain ranking ("files of the 50 most
similar past reports + class names mentioned"), the averages over projects, the reports left out and why,
and the replay time of each project. Reads ../shared/data where it lies.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from bugsift.localize.candidates import load_candidates
from bugsift.localize.replay import ReplayConfig, ReplayResult, ranking_metrics, replay
from bugsift.localize.task import format_results
from bugsift.sources import read_reports

DATA = Path(os.environ.get("BUGSIFT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
PROJECTS = ("AspectJ", "SWT", "Birt", "Eclipse_Platform_UI")


def print_halves(results: list[ReplayResult]) -> None:
    """MAP of the older and the newer half of each project's evaluated reports (in filing order): settings
    are chosen on the older half, the newer half is only looked at for the final choice."""
    for name, plain in (("model", False), ("plain", True)):
        halves = []
        for r in results:
            half = len(r.outcomes) // 2
            ranks = [o.plain_ranks if plain else o.ranks for o in r.outcomes]
            halves.append((ranking_metrics(ranks[:half])["map"], ranking_metrics(ranks[half:])["map"]))
        cells = " ".join(
            f"{r.project[:12]:>12s} {old:.3f}/{new:.3f}"
            for r, (old, new) in zip(results, halves, strict=True)
        )
        older = sum(h[0] for h in halves) / len(halves)
        newer = sum(h[1] for h in halves) / len(halves)
        print(f"MAP older/newer half {name:6s} {cells}  average {older:.3f}/{newer:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--projects", default=",".join(PROJECTS))
    parser.add_argument("--ranker", default="pairwise")
    parser.add_argument("--limit", type=int, default=0, help="only the oldest N reports of each project")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folder = DATA / "eclipse-localization"
    every = [r for r in read_reports("bugzilla", folder / "bug_reports.jsonl.xz")]
    results = []
    for project in args.projects.split(","):
        reports = sorted((r for r in every if r.project == project), key=lambda r: r.created_at)
        if args.limit:
            reports = reports[: args.limit]
        result = replay(
            reports, load_candidates(folder, project), ReplayConfig(ranker=args.ranker), project=project
        )
        results.append(result)
        print(
            f"{project}: {len(reports)} reports replayed in {result.seconds:.0f} s "
            f"({result.n_retrains} ranker refits)",
            flush=True,
        )
    print(format_results(results))
    print_halves(results)
    for name, plain in (("model", False), ("plain", True)):
        ms = [r.metrics(plain=plain) for r in results]
        avg = {k: sum(m[k] for m in ms) / len(ms) for k in ("top1", "top5", "top10", "map", "mrr")}
        print(f"{'average':22s} {'':5s} {'':5s}  {name:6s} " + " ".join(f"{avg[k]:6.3f}" for k in avg))
    if args.json:
        print(json.dumps([r.as_dict() for r in results], indent=1))


if __name__ == "__main__":
    main()
