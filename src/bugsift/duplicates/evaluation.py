"""Replay evaluation shared by `DuplicatesTask` and bench/duplicates_accuracy.py.

Queries (see `replay`) are split by the query's filing time: the older part trains the re-ranker, the newer
part tests it; nothing is tuned on the test part. Every query is searched only among reports filed before
it, for the lexical baseline and for the re-ranker alike.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session
from threadpoolctl import threadpool_limits

from bugsift.duplicates import index, replay
from bugsift.duplicates.features import Doc
from bugsift.duplicates.query import query_terms
from bugsift.duplicates.ranker import DuplicateRanker
from bugsift.store.models import ReportRow

CANDIDATES = 100
"""Stage-one candidates re-ranked per query."""
BASELINE_TERMS = 16
"""Query terms of the plain full-text baseline (title first, then the description's most frequent)."""


def doc_of(row: ReportRow) -> Doc:
    versions = (row.extra or {}).get("versions") or []
    return Doc(
        row_id=row.id,
        external_id=row.external_id,
        title=row.title or "",
        description=row.description or "",
        project=row.project or "",
        components=list(row.components or []),
        versions=[str(v) for v in versions],
        created_at=row.created_at,
    )


def load_docs(session: Session, tracker: str | None = None) -> list[Doc]:
    query = select(ReportRow).order_by(ReportRow.id)
    if tracker:
        query = query.where(ReportRow.tracker == tracker)
    return [doc_of(row) for row in session.scalars(query.execution_options(yield_per=2000))]


def stored_pairs(docs: Sequence[Doc], duplicate_of: dict[str, str]) -> list[tuple[str, str]]:
    """(duplicate, original) pairs from the store's duplicate_of links whose both ends are stored."""
    known = {d.external_id for d in docs}
    return [(dup, orig) for dup, orig in duplicate_of.items() if dup in known and orig in known]


@dataclass
class Replayed:
    """Stage-one results of the queries: candidate docs, lexical scores, and the rank of a target."""

    queries: list[replay.ReplayQuery]
    candidates: list[list[Doc]] = field(default_factory=list)
    scores: list[list[float]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def stage_one(
    session: Session,
    ranker: DuplicateRanker | None,
    by_key: dict[str, Doc],
    by_row: dict[int, Doc],
    queries: Sequence[replay.ReplayQuery],
    limit: int = CANDIDATES,
) -> Replayed:
    """Run the lexical search of every query among the reports filed before it.

    With a ranker, query terms are its rarest ones (the two-stage system); without, the plain baseline.
    """
    out = Replayed(list(queries))
    for q in queries:
        doc = by_key[q.query]
        started = time.perf_counter()
        if ranker is None:
            terms = query_terms(doc.title, doc.description, BASELINE_TERMS)
        else:
            terms = ranker.select_terms(query_terms(doc.title, doc.description, 64))
        hits = index.search(session, terms, limit, before=q.created_at, exclude=[doc.row_id or -1])
        out.seconds.append(time.perf_counter() - started)
        out.candidates.append([by_row[h.row_id] for h in hits])
        out.scores.append([h.score for h in hits])
    return out


def pair_matrix(
    ranker: DuplicateRanker, by_key: dict[str, Doc], replayed: Replayed
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per query: the feature matrix of its candidates and 0/1 labels (1 = a target)."""
    features, labels = [], []
    for q, cands, scores in zip(replayed.queries, replayed.candidates, replayed.scores, strict=True):
        doc = by_key[q.query]
        features.append(ranker.features(doc, ranker.vectors([doc]), cands, ranker.vectors(cands), scores))
        labels.append(np.array([c.external_id in q.targets for c in cands], dtype=np.int64))
    return features, labels


def fit_ranker(ranker: DuplicateRanker, features: list[np.ndarray], labels: list[np.ndarray]) -> None:
    """Fit on the queries whose candidates hold a target (others teach nothing about ranking)."""
    keep = [i for i, y in enumerate(labels) if y.any()]
    X = np.vstack([features[i] for i in keep])
    y = np.concatenate([labels[i] for i in keep])
    with threadpool_limits(1):  # the machine is shared: one core
        ranker.fit(X, y)


def ranked_ids(
    ranker: DuplicateRanker | None, replayed: Replayed, features: list[np.ndarray] | None
) -> list[list[str]]:
    """External ids of the candidates in final order: lexical order, or by the ranker's probability."""
    result = []
    for i, cands in enumerate(replayed.candidates):
        if ranker is None or features is None or not cands:
            result.append([c.external_id for c in cands])
            continue
        with threadpool_limits(1):
            proba = ranker.predict_proba(features[i])[:, 1]
        order = np.argsort(-proba, kind="stable")
        result.append([cands[j].external_id for j in order])
    return result


def rates(queries: Sequence[replay.ReplayQuery], ranked: Sequence[Sequence[str]]) -> dict[str, Any]:
    ranks = [replay.first_hit_rank(list(r)[:10], q.targets) for q, r in zip(queries, ranked, strict=True)]
    in_list = [
        replay.first_hit_rank(list(r), q.targets) is not None for q, r in zip(queries, ranked, strict=True)
    ]
    return {**replay.recall_rates(ranks), "candidate_recall": sum(in_list) / max(len(in_list), 1)}


def median_ms(seconds: Sequence[float]) -> float:
    return 1000 * statistics.median(seconds) if seconds else 0.0
