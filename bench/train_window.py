"""What the training window costs in accuracy: the newest N training reports against all of them.

    nice -n 10 .venv/bin/python bench/train_window.py [--data ../shared/data] [--windows 4000,8000,12000]

`train_max_reports` keeps only the newest labelled reports for training, so memory is bounded by a
setting. Here the test part is fixed (the newest 20% of each Jira project, `defect` from the resolution,
filing mode, word-only) and the model is fitted on all older reports or on only the newest N of them,
with the settings `train` chose on the whole training part. Prints test ROC AUC, fit seconds and the
peak RSS of a child process per fit.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

FIT = """
import json, resource, sys, time
from pathlib import Path
import numpy as np
from bugsift.evaluate.metrics import aligned_proba, classification_metrics
from bugsift.learn.kind.selection import CANDIDATES
from bugsift.learn.targets import Dataset, defect_from_report
from bugsift.learn.training import _split, _take, fit_model
from bugsift.sources import read_reports
from bugsift.sources.base import Report
window = int(sys.argv[2])
dataset = Dataset("defect", "resolution")
for r in read_reports("jira", Path(sys.argv[1])):
    if isinstance(r, Report) and (label := defect_from_report(r)):
        r.comments, r.raw = [], {}
        dataset.reports.append(r)
        dataset.labels.append(label)
train_idx, test_idx = _split(dataset, "time", 0.2, 0)
if window:
    order = sorted(train_idx, key=lambda i: dataset.reports[i].created_at)
    train_idx = np.array(sorted(order[-window:]))
start = time.perf_counter()
params = CANDIDATES["large-store settings"]
model = fit_model(_take(dataset.reports, train_idx), _take(dataset.labels, train_idx), "defect", "filing",
                  "off", params)
seconds = time.perf_counter() - start
classes = sorted(set(dataset.labels))
proba = aligned_proba(model.predict_proba(_take(dataset.reports, test_idx)), list(model.classes_), classes)
auc = classification_metrics(_take(dataset.labels, test_idx), proba, classes)["roc_auc"]
print(json.dumps({"n_train": len(train_idx), "auc": auc, "seconds": seconds,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--windows", default="4000,8000,12000", help="training reports kept; 0 = all")
    args = parser.parse_args()
    path = args.data / "apache-jira" / "jira_issues.jsonl.xz"
    print("| training reports | test ROC AUC | fit s | peak RSS MB |")
    print("| ---: | ---: | ---: | ---: |")
    for window in [0, *(int(w) for w in args.windows.split(","))]:
        done = subprocess.run(
            [sys.executable, "-c", FIT, str(path), str(window)], capture_output=True, text=True
        )
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
        row = json.loads(done.stdout.strip().splitlines()[-1])
        shown = f"{row['n_train']:,}" + (" (all)" if window == 0 else "")
        print(f"| {shown} | {row['auc']:.3f} | {row['seconds']:.0f} | {row['peak_mb']:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
