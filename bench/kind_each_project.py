"""A proxy for trackers nobody tuned on: each shared project trained alone, the kind model's settings chosen
on its own training part (`bugsift.learn.kind.selection`), beside plain TF-IDF + LR and beside the
settings the store's size alone would pick, all on the same time split (the project's newest 20% as test).

    .venv/bin/python bench/kind_each_project.py [--data ../shared/data] [--only jira,github,mozilla]

Jira: `defect` from the resolution mapping, per project (HADOOP ... YARN). GitHub: `type` per NLBSE'24
repository (300 issues each). Mozilla: `defect` from `is_bug_derived` (one tracker). Word-only models
(`embeddings` off), as a fresh install without the extra trains them. Prints one table per set: ROC AUC
and macro-F1 on the test part, the chosen settings and the training seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

from bugsift.learn.features import large_store
from bugsift.learn.kind.selection import CANDIDATES, PLAIN
from bugsift.learn.targets import Dataset, defect_from_label, defect_from_report
from bugsift.learn.training import evaluate_dataset
from bugsift.sources import read_reports
from bugsift.sources.base import Report

REPO = Path(__file__).resolve().parents[1]


def _jira(data: Path) -> dict[str, Dataset]:
    by_project: dict[str, Dataset] = defaultdict(lambda: Dataset("defect", "resolution"))
    for r in read_reports("jira", data / "apache-jira" / "jira_issues.jsonl.xz"):
        label = defect_from_report(r) if isinstance(r, Report) else None
        if label:
            by_project[f"jira/{r.project}"].reports.append(r)
            by_project[f"jira/{r.project}"].labels.append(label)
    return dict(sorted(by_project.items()))


def _github(data: Path) -> dict[str, Dataset]:
    by_repo: dict[str, Dataset] = defaultdict(lambda: Dataset("type", "type"))
    for r in read_reports("github", data / "github-issues" / "nlbse24_train.csv"):
        if isinstance(r, Report) and r.type:
            by_repo[r.project].reports.append(r)
            by_repo[r.project].labels.append(r.type)
    return dict(sorted(by_repo.items()))


def _mozilla(data: Path) -> dict[str, Dataset]:
    base = data / "bugzilla-mozilla"
    labels = {}
    for line in (base / "bugs_compact_labeled.jsonl").read_text().splitlines():
        record = json.loads(line)
        labels[str(record["id"])] = defect_from_label(str(record["is_bug_derived"]))
    dataset = Dataset("defect", "is_bug")
    for r in read_reports("bugzilla", base / "bugs_full_add08f170.jsonl.xz"):
        if isinstance(r, Report) and r.external_id in labels:
            dataset.reports.append(r)
            dataset.labels.append(labels[r.external_id])
    return {"mozilla": dataset}


SETS = {"jira": _jira, "github": _github, "mozilla": _mozilla}


def _row(name: str, dataset: Dataset) -> tuple[str, dict[str, float]]:
    start = time.perf_counter()
    chosen = evaluate_dataset(dataset, embeddings="off")
    seconds = time.perf_counter() - start
    plain = evaluate_dataset(dataset, embeddings="off", settings=CANDIDATES[PLAIN])
    size = "large-store settings" if large_store(chosen.data["n_train"]) else "small-store settings"
    by_size = evaluate_dataset(dataset, embeddings="off", settings=CANDIDATES[size])
    cells = [
        name,
        str(len(dataset.labels)),
        *(f"{e.metrics['roc_auc']:.3f} / {e.metrics['macro_f1']:.3f}" for e in (chosen, plain, by_size)),
        chosen.selection["chosen"],
        f"{seconds:.0f}",
    ]
    scores = {"chosen": chosen.metrics["roc_auc"], "plain": plain.metrics["roc_auc"]}
    scores["size"] = by_size.metrics["roc_auc"]
    return "| " + " | ".join(cells) + " |", scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--only", default="jira,github,mozilla")
    args = parser.parse_args()
    for set_name in args.only.split(","):
        print(f"\n{set_name}: ROC AUC / macro-F1 on each project's newest 20%\n")
        head = ["project", "labelled", "chosen", "plain TF-IDF + LR", "the size's pick", "settings", "s"]
        print("| " + " | ".join(head) + " |")
        print("| --- | ---: | --- | --- | --- | --- | ---: |")
        means: dict[str, list[float]] = defaultdict(list)
        for name, dataset in SETS[set_name](args.data).items():
            line, scores = _row(name, dataset)
            print(line, flush=True)
            for key, value in scores.items():
                means[key].append(value)
        summary = ", ".join(f"{k} {sum(v) / len(v):.3f}" for k, v in means.items())
        print(f"\nmean ROC AUC: {summary}", file=sys.stdout)


if __name__ == "__main__":
    main()
