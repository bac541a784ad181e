"""Files task speed: ranking one report among 10,000 candidates (median ms), with a model trained on Birt.

    nice -n 10 .venv/bin/python bench/files_speed.py [--reports 50]

The candidates are Birt's files at its newest version plus older Birt paths, padded with SWT paths to
10,000. Training (the
full replay of Birt) is timed too; the replay time of a 6,000-report project is printed by
bench/files_accuracy.py (Eclipse_Platform_UI, 6,495 reports).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from bugsift.localize.candidates import DeltaCandidates, load_candidates
from bugsift.localize.model import train_localizer
from bugsift.sources import read_reports

DATA = Path(os.environ.get("BUGSIFT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=50)
    parser.add_argument("--candidates", type=int, default=10_000)
    args = parser.parse_args()
    folder = DATA / "eclipse-localization"
    reports = sorted(
        (r for r in read_reports("bugzilla", folder / "bug_reports.jsonl.xz") if r.project == "Birt"),
        key=lambda r: r.created_at,
    )
    source = load_candidates(folder, "Birt")
    assert isinstance(source, DeltaCandidates)
    started = time.perf_counter()
    model, _ = train_localizer(reports[: -args.reports], source, project="Birt")
    print(
        f"trained on {len(reports) - args.reports} Birt reports (replay + fit) "
        f"in {time.perf_counter() - started:.0f} s"
    )
    lists = source.lists
    newest = [lists.paths[i] for i in lists.ids_at(len(lists.commits) - 1)]
    extra = [p for p in lists.paths if p not in set(newest)]
    candidates = (newest + extra)[: args.candidates]
    if len(candidates) < args.candidates:  # Birt never had 10,000 files: pad with SWT's paths
        swt = load_candidates(folder, "SWT")
        assert isinstance(swt, DeltaCandidates)
        candidates += swt.lists.paths[: args.candidates - len(candidates)]
    times = []
    with threadpool_limits(1):
        model.rank(reports[-1], candidates, 10)  # warm-up: file table for the unseen paths
        for report in reports[-args.reports :]:
            t = time.perf_counter()
            model.rank(report, candidates, 10)
            times.append((time.perf_counter() - t) * 1000)
    print(
        f"ranked {len(times)} reports among {len(candidates)} candidates: "
        f"median {statistics.median(times):.0f} ms, "
        f"p90 {sorted(times)[int(0.9 * len(times))]:.0f} ms, max {max(times):.0f} ms"
    )


if __name__ == "__main__":
    main()
