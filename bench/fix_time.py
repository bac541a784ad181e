"""Fix time (days from filing to a fix) per Jira project and on Mozilla: bugsift's chosen model beside
ridge on TF-IDF and the training median, on the same time split (`bugsift.learn.fix_time.evaluation`).

    .venv/bin/python bench/fix_time.py [--data ../shared/data] [--only HIVE,mozilla] [--lopo | --lopo-only]

Per set: reports fixed and still open (censored), MAE and RMSE of log-days (ln(1 + days)) and the
share of test fixes inside the 10-90% interval, for each model; the ratio of the chosen model's MAE to
the median's (the target is <= 0.95). ``--lopo``: for each Jira project, train on the other four (as
known when the project's newest 20% begins) and score that newest 20%: a proxy for a new project.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from bugsift.learn.fix_time.evaluation import choose, fit_known, score, time_parts
from bugsift.learn.fix_time.evaluation import evaluate as evaluate_fix_time
from bugsift.learn.fix_time.target import Dataset, build_dataset
from bugsift.learn.fix_time.task import BASELINES, CANDIDATES, MEDIAN, RIDGE
from bugsift.sources import read_reports
from bugsift.sources.base import Report

REPO = Path(__file__).resolve().parents[1]
JIRA = ("HIVE", "HADOOP", "HDFS", "MAPREDUCE", "YARN")


def _read(data: Path) -> dict[str, list[Report]]:
    sets: dict[str, list[Report]] = defaultdict(list)
    for r in read_reports("jira", data / "apache-jira" / "jira_issues.jsonl.xz"):
        if isinstance(r, Report):
            sets[r.project].append(r)
    for r in read_reports("bugzilla", data / "bugzilla-mozilla" / "bugs_full_add08f170.jsonl.xz"):
        if isinstance(r, Report):
            sets["mozilla"].append(r)
    return sets


def _cells(scores: dict) -> str:
    return f"{scores['mae']:.3f} / {scores['rmse']:.3f} / {scores['coverage']:.0%}"


def _header() -> None:
    print(
        "| set | fixed | open (censored) | test fixes / open | chosen | chosen MAE / RMSE / cov | "
        "ridge TF-IDF | training median | chosen ÷ median MAE | s |"
    )
    print("| --- | ---: | ---: | ---: | --- | --- | --- | --- | ---: | ---: |")


def _row(name: str, data: Dataset) -> float:
    start = time.perf_counter()
    ev = evaluate_fix_time(data, CANDIDATES, BASELINES)
    m, base = ev["metrics"], ev["baselines"]
    ratio = m["mae"] / base[MEDIAN]["mae"]
    counts = data.counts()
    print(
        f"| {name} | {counts['fixed']:,} | {counts['censored']:,} | {m['n_fixed']} / {m['n_censored']} | "
        f"{ev['selection']['chosen']} | {_cells(m)} | {_cells(base[RIDGE])} | {_cells(base[MEDIAN])} | "
        f"{ratio:.3f} | {time.perf_counter() - start:.0f} |",
        flush=True,
    )
    return ratio


def _lopo(sets: dict[str, list[Report]], held_out: list[str]) -> None:
    print("\nLeave one Jira project out (train on the other four, score the project's newest 20%):\n")
    print("| held-out project | chosen | chosen MAE / RMSE / cov | ridge TF-IDF | training median | ratio |")
    print("| --- | --- | --- | --- | --- | ---: |")
    for held in held_out:
        target = build_dataset(sets[held])
        _, test_idx, _ = time_parts(target, 0.2)
        test = target.subset(test_idx)
        moment = float(test.created[0])
        others = build_dataset(r for p in JIRA if p != held for r in sets[p])
        train = others.subset(np.flatnonzero(others.created < moment))
        selection = choose(CANDIDATES, train, moment)
        chosen = score(fit_known(selection["params"], train, moment), test, target.as_of)
        ridge = score(fit_known(CANDIDATES[RIDGE], train, moment), test, target.as_of)
        median = score(fit_known(CANDIDATES[MEDIAN], train, moment), test, target.as_of)
        print(
            f"| {held} | {selection['chosen']} | {_cells(chosen)} | {_cells(ridge)} | {_cells(median)} | "
            f"{chosen['mae'] / median['mae']:.3f} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--only", help="comma-separated sets (HIVE, ..., mozilla)")
    parser.add_argument("--lopo", action="store_true", help="also leave one Jira project out")
    parser.add_argument("--lopo-only", action="store_true", help="only leave one out (of --only's projects)")
    args = parser.parse_args()
    sets = _read(args.data)
    names = args.only.split(",") if args.only else [*JIRA, "mozilla"]
    if not args.lopo_only:
        _header()
        ratios = [_row(name, build_dataset(sets[name])) for name in names]
        print(f"\nmean chosen ÷ median MAE: {np.mean(ratios):.3f}")
    if args.lopo or args.lopo_only:
        _lopo(sets, [n for n in names if n in JIRA])


if __name__ == "__main__":
    main()
