"""The plain hedge: the kind model's richer settings averaged with plain TF-IDF + LR, per shared project.

    nice -n 5 .venv/bin/python bench/kind_plain_hedge.py [--data ../shared/data] [--only jira,github,mozilla]

For each project of `bench/kind_each_project.py` (trained alone, newest 20% as test), the small-store,
large-store and plain candidates of `bugsift.learn.kind.selection` are fitted on carve A (the older 80% of
the training part, scored on its newest 20%, as `train` chooses) and on the whole training part (scored
on the test part); then the average of each richer candidate's probabilities with plain's, and of all
three. Prints ROC AUC on carve A and on the test part, and the means. Word-only models.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from kind_each_project import SETS

from bugsift.evaluate.metrics import aligned_proba, classification_metrics
from bugsift.evaluate.splits import calibration_split
from bugsift.learn.kind.selection import CANDIDATES, PLAIN
from bugsift.learn.targets import Dataset
from bugsift.learn.training import _split, _take, fit_model

REPO = Path(__file__).resolve().parents[1]
RICH = ("small-store settings", "large-store settings")


def _proba(dataset: Dataset, fit: np.ndarray, score: np.ndarray, name: str, classes: list[str]) -> np.ndarray:
    reports, labels = dataset.reports, dataset.labels
    model = fit_model(
        _take(reports, fit), _take(labels, fit), dataset.task, "filing", "off", CANDIDATES[name]
    )
    return aligned_proba(model.predict_proba(_take(reports, score)), list(model.classes_), classes)


def scores(dataset: Dataset) -> dict[str, dict[str, float]]:
    """part ("A", "test") -> model or average -> ROC AUC."""
    classes = sorted(set(dataset.labels))
    train_idx, test_idx = _split(dataset, "time", 0.2, 0)
    dates = [r.created_at for r in dataset.reports]
    fit_a, carve_a = calibration_split(dates, train_idx, 0.2, [r.project for r in dataset.reports])
    out: dict[str, dict[str, float]] = {}
    for part, (fit, score) in {"A": (fit_a, carve_a), "test": (train_idx, test_idx)}.items():
        y = _take(dataset.labels, score)
        proba = {name: _proba(dataset, fit, score, name, classes) for name in (*RICH, PLAIN)}
        blends = {f"{name.split('-')[0]} + plain": (proba[name] + proba[PLAIN]) / 2 for name in RICH}
        blends["all three"] = sum(proba.values()) / 3
        out[part] = {
            name: float(classification_metrics(y, p, classes)["roc_auc"])
            for name, p in {**proba, **blends}.items()
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--only", default="jira,github,mozilla")
    args = parser.parse_args()
    for set_name in args.only.split(","):
        rows = []
        for name, dataset in SETS[set_name](args.data).items():
            started = time.perf_counter()
            rows.append(scores(dataset))
            cells = " | ".join(
                f"{k} A {rows[-1]['A'][k]:.3f} test {rows[-1]['test'][k]:.3f}" for k in rows[-1]["A"]
            )
            print(f"{name} ({time.perf_counter() - started:.0f} s): {cells}", flush=True)
        for part in ("A", "test"):
            means = ", ".join(f"{k} {np.mean([r[part][k] for r in rows]):.3f}" for k in rows[0][part])
            print(f"{set_name} mean ROC AUC, {part}: {means}", flush=True)


if __name__ == "__main__":
    main()
