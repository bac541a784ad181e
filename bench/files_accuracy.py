"""Files task accuracy: the time-ordered replay of the Eclipse benchmark projects, learned ranker vs plain.

    nice -n 10 .venv/bin/python bench/files_accuracy.py [--projects AspectJ,SWT] [--ranker pairwise]
        [--embeddings /tmp/files-emb] [--seed 0] [--separately]

With ``--embeddings DIR`` the rows also hold the sentence-embedding columns (all-MiniLM-L6-v2, needs the
embeddings extra); the reports' embeddings are cached in DIR by text hash, so only the first run encodes
(~15k reports, 10-20 minutes on 2 shared cores). ``--zero`` blanks columns, to try subsets.

Prints Top-1/5/10, MAP and MRR per project for the model and the plain ranking ("files of the 50 most
similar past reports + class names mentioned"), the averages over projects, the reports left out and why,
and the replay time of each project. Reads ../shared/data where it lies.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import bugsift.learn.files.replay as replay_module
from bugsift.learn.files.candidates import load_candidates
from bugsift.learn.files.features import COLUMN
from bugsift.learn.files.replay import (
    ProjectHistory,
    ReplayConfig,
    ReplayResult,
    ranking_metrics,
    replay,
    replay_projects,
)
from bugsift.learn.files.task import format_results
from bugsift.sources import read_reports
from bugsift.sources.base import Report

DATA = Path(os.environ.get("BUGSIFT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
PROJECTS = ("AspectJ", "SWT", "Birt", "Eclipse_Platform_UI")


def _hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class DiskCache:
    """Vectors on disk by text hash (one .npz), computed by ``encode`` when missing."""

    def __init__(self, path: Path, encode: Callable[[list[Any]], np.ndarray]) -> None:
        self.path = path
        self.encode = encode
        self.vectors: dict[str, np.ndarray] = {}
        if path.exists():
            saved = np.load(path)
            self.vectors = dict(zip(saved["keys"], saved["vectors"], strict=True))

    def __call__(self, texts: Sequence[str], items: Sequence[Any]) -> np.ndarray:
        keys = [_hash(t) for t in texts]
        missing = {k: item for k, item in zip(keys, items, strict=True) if k not in self.vectors}
        if missing:
            print(f"encoding {len(missing)} texts for {self.path.name}", flush=True)
            self.vectors.update(zip(missing, self.encode(list(missing.values())), strict=True))
            self.path.parent.mkdir(parents=True, exist_ok=True)
            names = list(self.vectors)
            np.savez(self.path, keys=np.array(names), vectors=np.stack([self.vectors[k] for k in names]))
        return np.stack([self.vectors[k] for k in keys])


class CachedEncoder:
    """`bugsift.learn.files.embedding.SentenceEncoder` with the vectors kept on disk (``folder``)."""

    def __init__(self, folder: Path) -> None:
        from bugsift.learn.files.embedding import MAX_LENGTH, embed_paths, embed_reports

        self.report_cache = DiskCache(folder / f"reports-{MAX_LENGTH}.npz", embed_reports)
        self.path_cache = DiskCache(folder / "paths.npz", embed_paths)

    def reports(self, reports: Sequence[Report]) -> np.ndarray:
        from bugsift.learn.embeddings import report_text
        from bugsift.learn.files.embedding import MAX_CHARS

        return self.report_cache([report_text(r, MAX_CHARS) for r in reports], reports)

    def paths(self, paths: Sequence[str]) -> np.ndarray:
        from bugsift.learn.files.embedding import path_text

        return self.path_cache([path_text(p) for p in paths], paths)


def zero_columns(names: list[str]) -> None:
    """Blank some feature columns in every row (to try feature subsets without editing the code)."""
    build = replay_module.build_features
    columns = [COLUMN[n] for n in names]

    def blanked(*args, **kwargs):  # type: ignore[no-untyped-def]
        out, sims = build(*args, **kwargs)
        out[:, [c for c in columns if c < out.shape[1]]] = 0.0
        return out, sims

    replay_module.build_features = blanked  # type: ignore[assignment]


def print_halves(results: list[ReplayResult]) -> None:
    """MAP of the older and the newer half of each project's evaluated reports (in filing order): settings
    are chosen on the older half, the newer half is only looked at for the final choice."""
    for name, plain in (("model", False), ("plain", True)):
        halves = []
        for r in results:
            half = len(r.outcomes) // 2
            ranks = [o.plain_ranks if plain else o.ranks for o in r.outcomes]
            halves.append((ranking_metrics(ranks[:half])["map"], ranking_metrics(ranks[half:])["map"]))
        cells = " ".join(
            f"{r.project[:12]:>12s} {old:.3f}/{new:.3f}"
            for r, (old, new) in zip(results, halves, strict=True)
        )
        older = sum(h[0] for h in halves) / len(halves)
        newer = sum(h[1] for h in halves) / len(halves)
        print(f"MAP older/newer half {name:6s} {cells}  average {older:.3f}/{newer:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--projects", default=",".join(PROJECTS))
    parser.add_argument("--ranker", default="pairwise")
    parser.add_argument("--limit", type=int, default=0, help="only the oldest N reports of each project")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--embeddings", type=Path, help="add the embedding columns; cache folder")
    parser.add_argument("--zero", default="", help="comma-separated feature columns to blank")
    parser.add_argument("--seed", type=int, default=0, help="seed of the ranker's random negatives")
    parser.add_argument(
        "--separately",
        action="store_true",
        help="replay each project alone (its ranker learns from its own reports only), as before 0.5",
    )
    args = parser.parse_args()
    if args.zero:
        zero_columns(args.zero.split(","))
    embed = CachedEncoder(args.embeddings) if args.embeddings else None
    folder = DATA / "eclipse-localization"
    every = [r for r in read_reports("bugzilla", folder / "bug_reports.jsonl.xz")]
    histories = []
    for project in args.projects.split(","):
        reports = sorted((r for r in every if r.project == project), key=lambda r: r.created_at)
        if args.limit:
            reports = reports[: args.limit]
        histories.append(ProjectHistory(project, reports, load_candidates(folder, project)))
    config = ReplayConfig(ranker=args.ranker, seed=args.seed)
    started = time.perf_counter()
    if args.separately:
        results = [replay(h.reports, h.candidates, config, project=h.project, embed=embed) for h in histories]
    else:
        results = replay_projects(histories, config, embed)
    for result in results:
        print(f"{result.project}: replayed in {result.seconds:.0f} s ({result.n_retrains} ranker refits)")
    print(
        f"all projects: {time.perf_counter() - started:.0f} s with the text preparation"
        f"{' and any encoding not cached' if embed else ''}",
        flush=True,
    )
    print(format_results(results))
    print_halves(results)
    for name, plain in (("model", False), ("plain", True)):
        ms = [r.metrics(plain=plain) for r in results]
        avg = {k: sum(m[k] for m in ms) / len(ms) for k in ("top1", "top5", "top10", "map", "mrr")}
        print(f"{'average':22s} {'':5s} {'':5s}  {name:6s} " + " ".join(f"{avg[k]:6.3f}" for k in avg))
    if args.json:
        print(json.dumps([r.as_dict() for r in results], indent=1))


if __name__ == "__main__":
    main()
