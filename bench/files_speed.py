"""Files task speed: ranking one report among 10,000 candidates (median ms), with a model trained on Birt.

    nice -n 10 .venv/bin/python bench/files_speed.py [--reports 50] [--embeddings [--cache /tmp/files-emb]]

The candidates are Birt's files at its newest version plus older Birt paths, padded with SWT paths to
10,000. Training (the full replay of Birt) is timed too; the replay time of a 6,000-report project is
printed by bench/files_accuracy.py (Eclipse_Platform_UI, 6,495 reports).

``--embeddings`` turns the sentence-embedding columns on (needs the ``embeddings`` extra). Training may then
read the reports' and paths' embeddings from the cache folder of bench/files_accuracy.py (``--cache``;
without it, the training time includes encoding), and each timed prediction encodes its report afresh
(the encoder's in-process cache is cleared before each).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from bugsift.learn.files.candidates import DeltaCandidates, load_candidates
from bugsift.learn.files.model import train_localizer
from bugsift.sources import read_reports

DATA = Path(os.environ.get("BUGSIFT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def _encoder(cache: Path | None):  # type: ignore[no-untyped-def]
    from bugsift.learn.embeddings import load_encoder
    from bugsift.learn.files.embedding import SentenceEncoder

    load_encoder()
    if cache is None:
        return SentenceEncoder()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from files_accuracy import CachedEncoder

    return CachedEncoder(cache)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=50)
    parser.add_argument("--candidates", type=int, default=10_000)
    parser.add_argument("--embeddings", action="store_true", help="add the sentence-embedding columns")
    parser.add_argument("--cache", type=Path, help="embedding cache folder of bench/files_accuracy.py")
    args = parser.parse_args()
    folder = DATA / "eclipse-localization"
    reports = sorted(
        (r for r in read_reports("bugzilla", folder / "bug_reports.jsonl.xz") if r.project == "Birt"),
        key=lambda r: r.created_at,
    )
    source = load_candidates(folder, "Birt")
    assert isinstance(source, DeltaCandidates)
    encoder = _encoder(args.cache) if args.embeddings else None
    started = time.perf_counter()
    model, _ = train_localizer(reports[: -args.reports], source, project="Birt", embed=encoder)
    cached = ", embeddings cached" if args.cache else ", encoding included" if encoder else ""
    print(
        f"trained on {len(reports) - args.reports} Birt reports (replay + fit{cached}) "
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
        started = time.perf_counter()
        model.rank(reports[-1], candidates, 10)  # warm-up: file table (and path embeddings) of unseen paths
        print(f"first prediction (unseen candidate paths): {time.perf_counter() - started:.1f} s")
        for report in reports[-args.reports :]:
            if encoder is not None:
                from bugsift.learn.embeddings import clear_cache

                clear_cache()
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
