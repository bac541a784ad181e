"""Speed and memory of the kind model on the Apache Jira reports (defect vs not, filing mode).

    python bench/kind_speed.py [--data ../shared/data] [--sizes 1000,4000,16000,all] [--runs 3]
        [--embeddings off|auto|on]

For each training-set size (newest reports left out for prediction), in a fresh child process:
median training seconds over the runs, peak RSS of the process (data included), then batch prediction
rate (wall clock, and per CPU second: on a loaded machine the latter is the fairer figure) and the
median latency of one in-process prediction with the model loaded. ``--embeddings`` is the setting of
that name (default off: the TF-IDF model alone; auto = as `bugsift train` builds the model when the
extra is installed: with embeddings up to 5,000 training reports). Encodings are cached per process,
so the cache is cleared before the batch and before each single prediction: the figures are for texts
never seen before.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, resource, statistics, sys, time
from pathlib import Path
from bugsift.learn.targets import defect_from_resolution
from bugsift.learn.training import fit_model
from bugsift.sources import read_reports
from bugsift.sources.base import Report

path, size, runs, embeddings = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
def clear_cache():
    if embeddings != "off":
        from bugsift.learn.embeddings import clear_cache as clear
        clear()
reports, labels = [], []
for item in read_reports("jira", path):
    if isinstance(item, Report) and (label := defect_from_resolution(item.resolution)):
        reports.append(item)
        labels.append(label)
order = sorted(range(len(reports)), key=lambda i: reports[i].created_at)
reports, labels = [reports[i] for i in order], [labels[i] for i in order]
held_out = reports[-2000:]
train_reports, train_labels = reports[:-2000], labels[:-2000]
n = len(train_reports) if size == "all" else int(size)
train_reports, train_labels = train_reports[-n:], train_labels[-n:]
times = []
for _ in range(runs):
    start = time.perf_counter()
    clear_cache()
    model = fit_model(train_reports, train_labels, "defect", "filing", embeddings)
    times.append(time.perf_counter() - start)
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
clear_cache()
start, cpu = time.perf_counter(), time.process_time()
model.predict_proba(held_out)
batch_rate = len(held_out) / (time.perf_counter() - start)
batch_cpu_rate = len(held_out) / (time.process_time() - cpu)
single = []
for report in held_out[:300]:
    clear_cache()
    start = time.perf_counter()
    model.predict_proba([report])
    single.append(time.perf_counter() - start)
print(json.dumps({"n": n, "train_s": statistics.median(times), "peak_mb": peak_mb,
                  "batch_per_s": batch_rate, "batch_cpu_per_s": batch_cpu_rate,
                  "single_ms": statistics.median(single) * 1000}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--sizes", default="1000,4000,16000,all")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--embeddings", choices=("off", "auto", "on"), default="off")
    args = parser.parse_args()
    path = args.data / "apache-jira" / "jira_issues.jsonl.xz"
    print(
        f"{'train size':>10}{'train s (median)':>18}{'peak MB':>9}{'batch pred/s':>14}{'(CPU time)':>12}"
        f"{'one pred ms':>13}"
    )
    for size in args.sizes.split(","):
        output = subprocess.run(
            [sys.executable, "-c", CHILD, str(path), size, str(args.runs), args.embeddings],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        r = json.loads(output.strip().splitlines()[-1])
        print(
            f"{r['n']:>10}{r['train_s']:>18.1f}{r['peak_mb']:>9.0f}{r['batch_per_s']:>14.0f}"
            f"{r['batch_cpu_per_s']:>12.0f}{r['single_ms']:>13.2f}"
        )


if __name__ == "__main__":
    main()
