"""Speed and memory of the kind model on the Apache Jira reports (defect vs not, filing mode).

    python bench/kind_speed.py [--data ../shared/data] [--sizes 1000,4000,16000,all] [--runs 3]
        [--embeddings off|auto|on] [--encodings $BUGSIFT_HOME/cache/encodings.sqlite3]

For each training-set size (newest reports left out for prediction), in a fresh child process:
median training seconds over the runs, peak RSS of the process (data included), then batch prediction
rate (wall clock, and per CPU second: on a loaded machine the latter is the fairer figure) and the
median latency of one in-process prediction with the model loaded. ``--embeddings`` is the setting of
that name (default off: the TF-IDF model alone; auto = as `bugsift train` builds the model when the
extra is installed: with embeddings up to 5,000 training reports). Encodings are cached per process,
so the cache is cleared before the batch and before each single prediction: the figures are for texts
never seen before. With ``--encodings FILE`` (an encoding cache that `bugsift encode` filled for a home
holding the Jira reports) the vectors of stored reports are read from it, as `bugsift train` and the
backlog classify job read them after `bugsift encode`; "one new ms" is then the latency for a report
that has to be encoded on the spot (a new report in the web form, `predict --input`).
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
encodings = sys.argv[5] if len(sys.argv) > 5 else ""
if encodings:
    from bugsift.learn.encoding_store import use_disk_cache
    use_disk_cache(encodings)
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
single_new = []
if encodings:  # the stored reports came from the disk cache above; a report never seen is encoded
    use_disk_cache(None)
    for report in held_out[:100]:
        clear_cache()
        start = time.perf_counter()
        model.predict_proba([report])
        single_new.append(time.perf_counter() - start)
print(json.dumps({"n": n, "train_s": statistics.median(times), "peak_mb": peak_mb,
                  "batch_per_s": batch_rate, "batch_cpu_per_s": batch_cpu_rate,
                  "single_ms": statistics.median(single) * 1000,
                  "single_new_ms": statistics.median(single_new) * 1000 if single_new else None}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--sizes", default="1000,4000,16000,all")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--embeddings", choices=("off", "auto", "on"), default="off")
    parser.add_argument(
        "--encodings",
        type=Path,
        help="an encoding cache filled by `bugsift encode` (e.g. $BUGSIFT_HOME/cache/encodings.sqlite3 of a "
        "home holding the Jira reports): training and prediction read the vectors of stored reports "
        "from it; 'one new ms' is then a report encoded on the spot",
    )
    args = parser.parse_args()
    path = args.data / "apache-jira" / "jira_issues.jsonl.xz"
    print(
        f"{'train size':>10}{'train s (median)':>18}{'peak MB':>9}{'batch pred/s':>14}{'(CPU time)':>12}"
        f"{'one pred ms':>13}" + (f"{'one new ms':>12}" if args.encodings else "")
    )
    for size in args.sizes.split(","):
        output = subprocess.run(
            [sys.executable, "-c", CHILD, str(path), size, str(args.runs), args.embeddings]
            + ([str(args.encodings)] if args.encodings else []),
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        r = json.loads(output.strip().splitlines()[-1])
        print(
            f"{r['n']:>10}{r['train_s']:>18.1f}{r['peak_mb']:>9.0f}{r['batch_per_s']:>14.0f}"
            f"{r['batch_cpu_per_s']:>12.0f}{r['single_ms']:>13.2f}"
            + (f"{r['single_new_ms']:>12.2f}" if r["single_new_ms"] is not None else "")
        )


if __name__ == "__main__":
    main()
