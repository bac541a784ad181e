"""Component prediction accuracy and speed on the shared data (prints tables; not a timed test).

    nice -n 10 .venv/bin/python bench/component_accuracy.py [--data ../shared/data] [--min-support N]

Apache Jira (one model per project) and the Mozilla Bugzilla sample (Product::Component as filed):
time-ordered, test = newest 20% of each project, thresholds chosen on the newest 20% of each training
part. Then the time to predict components (with explanations) for 1,000 reports.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from bugsift.evaluate.splits import time_split
from bugsift.learn.component.model import is_catch_all
from bugsift.learn.component.task import (
    collect,
    describe,
    evaluate_reports,
    fit_scoped,
    predict_components,
)
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


def plain_answers(reports: list[Report], labels: list[list[str]]) -> tuple[float, float]:
    """Plain TF-IDF + logistic regression on the first label, same split, scored as a person is shown
    answers (buckets never answer, the report's own component is right): answer top-1 and top-3."""
    train, test = time_split([r.created_at for r in reports], 0.2)
    (scores,) = plain_fit_answers(
        [reports[i] for i in train], [labels[i] for i in train], [[reports[i] for i in test]],
        [labels[i] for i in test],
    )  # fmt: skip
    return scores


def plain_fit_answers(
    train: list[Report], train_y: list[list[str]], tests: list[list[Report]], test_y: list[list[str]]
) -> list[tuple[float, float]]:
    """Plain TF-IDF + LR fitted once on ``train``, scored as answered on each list of ``tests`` (the same
    reports in several forms: as filed, title only ...) against ``test_y``."""

    def text(reports: list[Report]) -> list[str]:
        return [f"{r.title}\n{r.description or ''}" for r in reports]

    vectorizer = TfidfVectorizer(sublinear_tf=True, min_df=2)
    X = vectorizer.fit_transform(text(train))
    model = LogisticRegression(max_iter=2000).fit(X, [y[0] for y in train_y])
    classes = [str(c) for c in model.classes_]
    scores = []
    for reports in tests:
        proba = model.predict_proba(vectorizer.transform(text(reports)))
        proba[:, [j for j, c in enumerate(classes) if is_catch_all(c)]] = -1.0
        order = np.argsort(-proba, axis=1, kind="stable")
        hits = [[classes[j] in y for j in row[:3]] for y, row in zip(test_y, order, strict=True)]
        scores.append((float(np.mean([h[0] for h in hits])), float(np.mean([any(h) for h in hits]))))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--min-support", type=int, help="fold labels rarer than this (default: each scope chooses)"
    )
    args = parser.parse_args()
    params = {} if args.min_support is None else {"min_support": args.min_support}
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
        for key, (scope_reports, labels) in sorted(collect(reports).scopes.items()):
            mine = evaluation["scopes"][key]["model"]
            top1, top3 = plain_answers(scope_reports, labels)
            print(
                f"{key}: answer top-1 / top-3 {mine['answer_top1']:.3f} / {mine['answer_top3']:.3f}; "
                f"plain TF-IDF + LR {top1:.3f} / {top3:.3f}"
            )
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
