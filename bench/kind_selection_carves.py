"""Which rule for choosing the kind model's settings holds up on later reports: one validation carve or two.

    nice -n 10 .venv/bin/python bench/kind_selection_carves.py [--data DIR] [--only jira,github,mozilla]

For each shared project trained alone (the sets of `bench/kind_each_project.py`), every candidate of
`bugsift.learn.kind.selection` is fitted three times on the same time split (test = the newest 20%):
- carve A: fit on the older 80% of the training part, score its newest 20% (what `train` does today);
- carve B: fit on the older 60%, score the next 20% (one step further back);
- test: fit on the whole training part, score the test part (never seen by any rule).
Then each selection rule picks a candidate from the carve scores alone, and the table gives the test ROC
AUC of what it picked, beside plain TF-IDF + LR. Word-only models (embeddings off).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from kind_each_project import SETS

from bugsift.evaluate.metrics import aligned_proba, classification_metrics
from bugsift.evaluate.splits import calibration_split
from bugsift.learn.features import large_store
from bugsift.learn.kind.selection import CANDIDATES, PLAIN, SWITCH_MARGIN
from bugsift.learn.targets import Dataset
from bugsift.learn.training import _split, _take, fit_model

REPO = Path(__file__).resolve().parents[1]
# One more candidate the study asks about: the large-store settings without the reporter-field block.
STUDIED = {**CANDIDATES, "large, no field block": {"size_profile": "large", "field_weight": 0.0}}
Scores = dict[str, dict[str, float]]  # candidate -> {"A", "B", "test"} -> ROC AUC


def _auc(dataset: Dataset, fit_idx: np.ndarray, score_idx: np.ndarray, params: dict[str, Any]) -> float:
    reports, labels = dataset.reports, dataset.labels
    model = fit_model(_take(reports, fit_idx), _take(labels, fit_idx), dataset.task, "filing", "off", params)
    classes = sorted(set(labels))
    proba = aligned_proba(model.predict_proba(_take(reports, score_idx)), list(model.classes_), classes)
    return float(classification_metrics(_take(labels, score_idx), proba, classes)["roc_auc"])


def candidate_scores(dataset: Dataset) -> Scores:
    train_idx, test_idx = _split(dataset, "time", 0.2, 0)
    dates = [r.created_at for r in dataset.reports]
    groups = [r.project for r in dataset.reports]
    fit_a, carve_a = calibration_split(dates, train_idx, 0.2, groups)
    fit_b, carve_b = calibration_split(dates, fit_a, 0.25, groups)  # 25% of the older 80%: the next 20%
    parts = {"A": (fit_a, carve_a), "B": (fit_b, carve_b), "test": (train_idx, test_idx)}
    return {
        name: {part: _auc(dataset, fit, score, params) for part, (fit, score) in parts.items()}
        for name, params in STUDIED.items()
    }


def _first(n_train: int) -> str:
    return "large-store settings" if large_store(n_train) else "small-store settings"


def _with_head_start(values: dict[str, float], first: str) -> str:
    best = max(values, key=lambda name: values[name] + (SWITCH_MARGIN if name == first else 0.0))
    return best


Rule = Callable[[Scores, str], str]
RULES: dict[str, Rule] = {
    # today: carve A only, the three shipped candidates, the size's pick with a head start
    "carve A (today)": lambda s, first: _with_head_start({n: s[n]["A"] for n in CANDIDATES}, first),
    "mean of A and B": lambda s, first: _with_head_start(
        {n: (s[n]["A"] + s[n]["B"]) / 2 for n in CANDIDATES}, first
    ),
    # the richer settings only where they beat plain on both carves: a lead that holds over time
    "plain unless beaten on A and B": lambda s, first: max(
        (n for n in CANDIDATES if n == PLAIN or all(s[n][p] > s[PLAIN][p] + SWITCH_MARGIN for p in "AB")),
        key=lambda n: (s[n]["A"] + s[n]["B"]) / 2,
    ),
    "mean of A and B, four candidates": lambda s, first: _with_head_start(
        {n: (s[n]["A"] + s[n]["B"]) / 2 for n in STUDIED}, first
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--only", default="jira,github,mozilla")
    args = parser.parse_args()
    totals: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for set_name in args.only.split(","):
        print(f"\n{set_name}: test ROC AUC of what each rule picks (the pick in brackets)\n")
        head = ["project", "labelled", "plain TF-IDF + LR", *RULES, "best on test", "s"]
        print("| " + " | ".join(head) + " |")
        print("| --- | ---: |" + " --- |" * (len(head) - 2))
        for name, dataset in SETS[set_name](args.data).items():
            start = time.perf_counter()
            scores = candidate_scores(dataset)
            first = _first(int(len(dataset.labels) * 0.8))
            cells = [name, str(len(dataset.labels)), f"{scores[PLAIN]['test']:.3f}"]
            totals[set_name]["plain"].append(scores[PLAIN]["test"])
            for rule_name, rule in RULES.items():
                picked = rule(scores, first)
                totals[set_name][rule_name].append(scores[picked]["test"])
                cells.append(f"{scores[picked]['test']:.3f} ({picked})")
            best = max(scores, key=lambda n: scores[n]["test"])
            cells += [f"{scores[best]['test']:.3f} ({best})", f"{time.perf_counter() - start:.0f}"]
            print("| " + " | ".join(cells) + " |", flush=True)
            detail = "; ".join(
                f"{n}: A {v['A']:.3f} B {v['B']:.3f} test {v['test']:.3f}" for n, v in scores.items()
            )
            print(f"  <!-- {name}: {detail} -->", flush=True)
        means = ", ".join(f"{k} {np.mean(v):.3f}" for k, v in totals[set_name].items())
        print(f"\nmean test ROC AUC ({set_name}): {means}", file=sys.stdout)


if __name__ == "__main__":
    main()
