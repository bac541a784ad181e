"""Component prediction accuracy and speed on the shared data (prints tables; not a timed test).

    nice -n 10 .venv/bin/python bench/component_accuracy.py [--data ../shared/data] [--min-support 10]

Apache Jira (one model per project) and the Mozilla Bugzilla sample (Product::Component as filed):
time-ordered, test = newest 20% of each project, thresholds chosen on the newest 20% of each training
part. Then the time to predict components (with explanations) for 1,000 reports.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from bugsift.learn.component_task import describe, evaluate_reports, fit_scoped, predict_components
from bugsift.sources import read_reports
from bugsift.sources.base import Report

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("BUGSIFT_SHARED_DATA", REPO.parent / "shared" / "data"))
TARGETS = {"top1": 0.45, "top3": 0.70, "act_precision": 0.85, "act_coverage": 0.25}


def load(fmt: str, path: Path) -> list[Report]:
    reports = [r for r in read_reports(fmt, path) if isinstance(r, Report)]
    for r in reports:
        r.comments, r.raw = [], {}  # never read in filing mode; saves memory
    return reports


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--min-support", type=int, default=10)
    args = parser.parse_args()
    params = {"min_support": args.min_support}
    sets = [
        ("apache-jira", "jira", args.data / "apache-jira" / "jira_issues.jsonl.xz"),
        ("bugzilla-mozilla", "bugzilla", args.data / "bugzilla-mozilla" / "bugs_full_add08f170.jsonl.xz"),
    ]
    jira: list[Report] = []
    for name, fmt, path in sets:
        reports = load(fmt, path)
        jira = jira or reports
        started = time.perf_counter()
        evaluation = evaluate_reports(reports, params)
        print(f"== {name} ({time.perf_counter() - started:.0f} s)")
        print(describe(evaluation))
        if name == "apache-jira":
            mean = evaluation["mean"]["model"]
            checks = [
                f"{k} {mean[k]:.3f} (target {'>='} {v}: {'met' if mean[k] >= v else 'NOT met'})"
                for k, v in TARGETS.items()
            ]
            print("targets (mean over projects): " + "; ".join(checks))
        print()
    project = [r for r in jira if r.project == "HIVE"]
    scoped, _ = fit_scoped(project, params)
    batch = (project * (1000 // len(project) + 1))[:1000]
    predict_components(scoped, batch[:10], 5)  # warm up
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        predict_components(scoped, batch, 5)
        timings.append(time.perf_counter() - started)
    print(
        f"speed: 1,000 HIVE reports, top-5 with explanations: best {min(timings):.2f} s "
        f"(of 3 runs; target <= 1 s)"
    )


if __name__ == "__main__":
    main()
