"""Leave one project out: the kind model's settings chosen on the other projects of a group, or on the
project's own validation carve, or not chosen at all (plain TF-IDF + LR), each scored on the project's
newest 20% (issue 15 part 5: a proxy for a tracker nobody tuned on).

    nice -n 15 .venv/bin/python bench/leave_one_out.py [--data ../shared/data] [--only jira,github]

Groups: the five Apache Jira projects (`defect` from the resolution) and the five NLBSE'24 repositories
(`type`), each project trained alone as in `bench/kind_each_project.py` (its `SETS`). For every project P
and every candidate of `bugsift.learn.kind.selection.CANDIDATES`:
- carve A (validation): fitted on the older 80% of P's training part, scored on its newest 20%, exactly
  as `train` does: `bugsift.learn.kind.selection.choose` itself runs these fits (no time budget), so its
  `chosen` is today's rule (the size's pick unless another leads by `SWITCH_MARGIN`);
- test: fitted on P's whole training part, scored on P's newest 20% (no pick sees it).
Then three picks per P, scored on P's test part: (1) the candidate with the best mean carve-A ROC AUC over
the other projects of the group (P's own data never seen); (2) `choose` on P's own carve A; (3) plain
TF-IDF + LR. Filing mode, word-only models (embeddings off). Prints a markdown table per group: test
ROC AUC / macro-F1 of each candidate and of each pick, the group mean; then the carve-A AUCs.
Caches nothing; about 6 fits per project.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from kind_each_project import SETS
from kind_selection_carves import REPO

from bugsift.evaluate.metrics import aligned_proba, classification_metrics
from bugsift.evaluate.splits import calibration_split
from bugsift.learn.kind.selection import CANDIDATES, PLAIN, choose
from bugsift.learn.targets import Dataset
from bugsift.learn.training import _split, _take, fit_model

GROUPS = {"jira": "Apache Jira projects, defect", "github": "NLBSE'24 repositories, type"}
SHORT = {"small-store settings": "small", "large-store settings": "large", PLAIN: "plain"}
PICKS = ("(1) chosen with the other four", "(2) chosen on its own validation", "(3) plain TF-IDF + LR")


@dataclass
class Project:
    name: str
    labelled: int
    validation: dict[str, float]  # candidate -> carve-A ROC AUC (as `choose` records it)
    own_choice: str  # what `choose` picked on carve A
    test: dict[str, dict[str, float]] = field(default_factory=dict)  # candidate -> roc_auc, macro_f1
    seconds: float = 0.0


def _fit(dataset: Dataset, fit_idx: np.ndarray, score_idx: np.ndarray, params: dict[str, Any]):
    model = fit_model(
        _take(dataset.reports, fit_idx), _take(dataset.labels, fit_idx), dataset.task, "filing", "off", params
    )
    return model, model.predict_proba(_take(dataset.reports, score_idx))


def score_project(name: str, dataset: Dataset) -> Project:
    start = time.perf_counter()
    train_idx, test_idx = _split(dataset, "time", 0.2, 0)
    dates = [r.created_at for r in dataset.reports]
    fit_a, carve_a = calibration_split(dates, train_idx, 0.2, [r.project for r in dataset.reports])
    classes = sorted(set(dataset.labels))
    selection, _ = choose(
        lambda params: _fit(dataset, fit_a, carve_a, params),
        _take(dataset.labels, carve_a),
        classes,
        dataset.task,
        len(train_idx),  # as `training.choose_settings` passes it
        math.inf,
    )
    validation = {c.name: -1.0 if c.score is None else float(c.score) for c in selection.candidates}
    project = Project(name, len(dataset.labels), validation, selection.chosen)
    y_test = _take(dataset.labels, test_idx)
    for candidate, params in CANDIDATES.items():
        model, proba = _fit(dataset, train_idx, test_idx, params)
        metrics = classification_metrics(y_test, aligned_proba(proba, list(model.classes_), classes), classes)
        project.test[candidate] = {m: float(metrics[m]) for m in ("roc_auc", "macro_f1")}
    project.seconds = time.perf_counter() - start
    return project


def picks(project: Project, others: list[Project]) -> dict[str, str]:
    by_others = max(CANDIDATES, key=lambda c: float(np.mean([o.validation[c] for o in others])))
    return dict(zip(PICKS, (by_others, project.own_choice, PLAIN), strict=True))


def _cell(values: dict[str, float], name: str | None = None) -> str:
    text = f"{values['roc_auc']:.3f} / {values['macro_f1']:.3f}"
    return f"{text} ({SHORT[name]})" if name else text


def print_group(group: str, projects: list[Project]) -> None:
    print(f"\n{GROUPS[group]}: test ROC AUC / macro-F1 on each project's newest 20% (the pick in brackets)\n")
    head = ["project", "labelled", *(f"{SHORT[c]}" for c in CANDIDATES), *PICKS, "s"]
    print("| " + " | ".join(head) + " |")
    print("| --- | ---: |" + " --- |" * (len(CANDIDATES) + len(PICKS)) + " ---: |")
    sums: dict[str, list[dict[str, float]]] = {key: [] for key in [*CANDIDATES, *PICKS]}
    for project in projects:
        chosen = picks(project, [o for o in projects if o is not project])
        cells = [project.name, f"{project.labelled:,}"]
        for candidate in CANDIDATES:
            cells.append(_cell(project.test[candidate]))
            sums[candidate].append(project.test[candidate])
        for pick, candidate in chosen.items():
            cells.append(_cell(project.test[candidate], candidate))
            sums[pick].append(project.test[candidate])
        print("| " + " | ".join([*cells, f"{project.seconds:.0f}"]) + " |")
    mean = {
        key: {m: float(np.mean([v[m] for v in values])) for m in ("roc_auc", "macro_f1")}
        for key, values in sums.items()
    }
    print("| **mean** | | " + " | ".join(f"**{_cell(mean[key])}**" for key in sums) + " | |")
    print(
        f"\n{GROUPS[group]}: carve-A validation ROC AUC (older 80% of the training part fitted, newest 20%"
        " scored)\n"
    )
    print("| project | " + " | ".join(SHORT[c] for c in CANDIDATES) + " | own choice |")
    print("| --- |" + " --- |" * (len(CANDIDATES) + 1))
    for project in projects:
        values = " | ".join(f"{project.validation[c]:.3f}" for c in CANDIDATES)
        print(f"| {project.name} | {values} | {SHORT[project.own_choice]} |")
    print("", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--only", default="jira,github")
    args = parser.parse_args()
    began = time.perf_counter()
    for group in args.only.split(","):
        if group not in GROUPS:
            parser.error(f"unknown group {group!r}; choose from {', '.join(GROUPS)}")
        projects = []
        for name, dataset in SETS[group](args.data).items():
            projects.append(score_project(name, dataset))
            p = projects[-1]
            detail = "; ".join(
                f"{SHORT[c]}: A {p.validation[c]:.4f} test {p.test[c]['roc_auc']:.4f}" for c in CANDIDATES
            )
            print(
                f"  <!-- {p.name} ({p.seconds:.0f} s): {detail}; own choice {SHORT[p.own_choice]} -->",
                flush=True,
            )
        print_group(group, projects)
    print(f"total {time.perf_counter() - began:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
