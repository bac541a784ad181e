"""Component answers for terse reports: the test part as filed, and the same reports with their
description removed (a title-only report, common in real Bugzillas: issue 15 part 2), for the component
model `train component` ships and for plain TF-IDF + LR, each scope scored on its newest 20%.

    nice -n 15 .venv/bin/python bench/component_terse.py [--only jira,mozilla] [--data DIR]

Per scope (each Apache Jira project, the Mozilla sample), split as `bench/component_leave_one_out.py`
splits it: the settings and folding support are chosen on the training part's own validation carve
(`choose_settings`), the model is fitted on the whole training part and scored as answered (buckets
never answer; a report's own component is right). "augmented" is the same model fitted on the training
part plus a title-only copy of each training report, so the title's words must carry an answer alone.
Prints one markdown table: answer top-1 / top-3 per scope, as filed and title only.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
from component_accuracy import DEFAULT_DATA, load, plain_fit_answers

from bugsift.evaluate.splits import calibration_split, time_split
from bugsift.learn.component.model import ComponentModel
from bugsift.learn.component.task import CANDIDATES, choose_settings, collect, score
from bugsift.sources.base import Report

SETS = {
    "jira": ("jira", "apache-jira/jira_issues.jsonl.xz"),
    "mozilla": ("bugzilla", "bugzilla-mozilla/bugs_full_add08f170.jsonl.xz"),
}
Pair = tuple[float, float]


def title_only(report: Report) -> Report:
    return dataclasses.replace(report, description="")


def answered(model: ComponentModel, reports: list[Report], labels: list[list[str]]) -> Pair:
    metrics = score(model, model.predict_proba(reports), labels)
    return float(metrics["answer_top1"]), float(metrics["answer_top3"])


def score_scope(name: str, reports: list[Report], labels: list[list[str]]) -> list[str]:
    start = time.perf_counter()
    train_idx, test_idx = time_split([r.created_at for r in reports], 0.2)
    train_r, train_y = [reports[i] for i in train_idx], [list(labels[i]) for i in train_idx]
    test_r, test_y = [reports[i] for i in test_idx], [list(labels[i]) for i in test_idx]
    fit_idx, cal_idx = calibration_split([r.created_at for r in train_r], np.arange(len(train_r)), 0.2)
    _, chosen, selection = choose_settings(
        [train_r[i] for i in fit_idx],
        [train_y[i] for i in fit_idx],
        [train_r[i] for i in cal_idx],
        [train_y[i] for i in cal_idx],
        {},
    )
    params = {**CANDIDATES[selection["chosen"]], "min_support": int(chosen["min_support"])}
    terse = [title_only(r) for r in test_r]
    model = ComponentModel(**params).fit(train_r, train_y)
    shipped = answered(model, test_r, test_y), answered(model, terse, test_y)
    augmented_model = ComponentModel(**params).fit(
        train_r + [title_only(r) for r in train_r], train_y + [list(y) for y in train_y]
    )
    augmented = answered(augmented_model, test_r, test_y), answered(augmented_model, terse, test_y)
    baseline = plain_fit_answers(train_r, train_y, [test_r, terse], test_y)
    empty = np.mean([not (r.description or "").strip() for r in test_r])
    seconds = time.perf_counter() - start
    print(f"  {name}: {seconds:.0f} s", file=sys.stderr, flush=True)
    cells = [
        name,
        f"{len(train_r):,} / {len(test_r):,} ({empty:.0%})",
        f"{selection['chosen']}, {params['min_support']}",
        *(f"{a:.3f} / {b:.3f}" for a, b in (shipped[0], baseline[0], augmented[0])),
        *(f"{a:.3f} / {b:.3f}" for a, b in (shipped[1], baseline[1], augmented[1])),
    ]
    return ["| " + " | ".join(cells) + " |"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--only", default="jira,mozilla")
    args = parser.parse_args()
    print(
        "| scope | train / test (test with no description) | chosen | as filed: bugsift | plain | augmented "
        "| title only: bugsift | plain | augmented |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for group in args.only.split(","):
        fmt, path = SETS[group]
        for key, (reports, labels) in sorted(collect(load(fmt, args.data / path)).scopes.items()):
            name = key.split("/", 1)[1] if "/" in key else "Mozilla sample"
            for row in score_scope(name, reports, labels):
                print(row, flush=True)


if __name__ == "__main__":
    main()
