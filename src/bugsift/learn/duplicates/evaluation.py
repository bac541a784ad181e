"""Replay evaluation shared by `DuplicatesTask` and bench/duplicates_accuracy.py.

Queries (see `replay`) are split by the query's filing time: the older part trains the re-ranker, the newer
part tests it; nothing is tuned on the test part. Every query is searched only among reports filed before
it, for the lexical baseline and for the re-ranker alike.
"""

from __future__ import annotations

import copy
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from threadpoolctl import threadpool_limits

from bugsift.learn.duplicates import index, replay
from bugsift.learn.duplicates.features import Doc
from bugsift.learn.duplicates.query import query_terms
from bugsift.learn.duplicates.ranker import DuplicateRanker
from bugsift.learn.duplicates.similarity import similarity_scores
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
    tracker: str | None = None,
) -> Replayed:
    """Run the lexical search of every query among the reports filed before it.

    With a ranker, query terms are its rarest ones (the two-stage system); without, the plain baseline.
    ``tracker``: the docs are that tracker's reports only (`load_docs`), so the search is kept to it too.
    """
    out = Replayed(list(queries))
    for q in queries:
        doc = by_key[q.query]
        started = time.perf_counter()
        if ranker is None:
            terms = query_terms(doc.title, doc.description, BASELINE_TERMS)
        else:
            terms = ranker.select_terms(query_terms(doc.title, doc.description, 64))
        hits = index.search(
            session, terms, limit, before=q.created_at, tracker=tracker, exclude=[doc.row_id or -1]
        )
        out.seconds.append(time.perf_counter() - started)
        kept = [h for h in hits if h.row_id in by_row]  # a report stored after the docs were read
        out.candidates.append([by_row[h.row_id] for h in kept])
        out.scores.append([h.score for h in kept])
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


def fit_ranker(
    ranker: DuplicateRanker,
    features: list[np.ndarray],
    labels: list[np.ndarray],
    negatives: Sequence[np.ndarray] = (),
) -> None:
    """Fit on the queries whose candidates hold a target (others teach nothing about ranking), plus the
    candidates of non-duplicate reports (``negatives``: all wrong), which teach the probability to stay
    low for a report that merely resembles older ones."""
    keep = [i for i, y in enumerate(labels) if y.any()]
    X = np.vstack([features[i] for i in keep] + [n for n in negatives if len(n)])
    y = np.concatenate([labels[i] for i in keep] + [np.zeros(len(n), dtype=np.int64) for n in negatives])
    with threadpool_limits(1):  # the machine is shared: one core
        ranker.fit(X, y)


def ranked_ids(
    ranker: DuplicateRanker | None,
    replayed: Replayed,
    features: list[np.ndarray] | None,
    scorer: Callable[[DuplicateRanker, np.ndarray], np.ndarray] | None = None,
) -> list[list[str]]:
    """External ids of the candidates in final order: lexical order, or by ``scorer`` of their features
    (default: the ranker's probability)."""
    result = []
    for i, cands in enumerate(replayed.candidates):
        if ranker is None or features is None or not cands:
            result.append([c.external_id for c in cands])
            continue
        scores = scorer(ranker, features[i]) if scorer else ranker.predict_proba(features[i])[:, 1]
        order = np.argsort(-scores, kind="stable")
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


# --- the "uncertain" threshold ----------------------------------------------------------------------
# Replay queries are all duplicates, but most new reports duplicate nothing: a threshold chosen on
# duplicates alone would look far more precise than it is. Each part of the replay therefore also gets
# reports of the same period that are in no duplicate link (negatives, whose top candidate is always
# wrong), sampled and weighted back to their share of that period.

NEGATIVES_PER_QUERY = 1.0
"""Negatives sampled per duplicate query of a part (each weighted to the period's true share)."""
MIN_CONFIDENT = 10
"""A threshold must leave at least this many (weighted) confident answers on the calibration part."""


@dataclass
class Negatives:
    queries: list[replay.ReplayQuery]
    weight: float
    """How many reports of the period each sampled negative stands for."""


def negative_queries(
    docs: Sequence[Doc],
    linked: set[str],
    queries: Sequence[replay.ReplayQuery],
    per_query: float = NEGATIVES_PER_QUERY,
    seed: int = 0,
) -> Negatives:
    """Reports filed in the period of ``queries`` that are in no duplicate link (``linked``), sampled."""
    if not queries:
        return Negatives([], 0.0)
    start, end = queries[0].created_at, queries[-1].created_at
    pool = sorted(
        (d for d in docs if d.created_at and start <= d.created_at <= end and d.external_id not in linked),
        key=lambda d: (d.created_at, d.external_id),
    )
    n = min(len(pool), max(1, round(per_query * len(queries))))
    chosen = sorted(random.Random(seed).sample(range(len(pool)), n)) if pool else []
    out = [replay.ReplayQuery(pool[i].external_id, pool[i].created_at) for i in chosen]  # type: ignore[arg-type]
    return Negatives(out, len(pool) / n if n else 0.0)


@dataclass
class Answers:
    """The top answer of each replayed query: duplicates first, then negatives (see `answers`)."""

    top: np.ndarray
    """The re-ranker's top probability (0 when stage one found nothing)."""
    correct: np.ndarray
    weight: np.ndarray
    duplicate: np.ndarray


def top_answers(
    ranker: DuplicateRanker, replayed: Replayed, features: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Per query: the re-ranker's top probability (0 without candidates) and whether that top is right."""
    top = np.zeros(len(replayed.queries))
    correct = np.zeros(len(replayed.queries), dtype=bool)
    for i, (q, cands) in enumerate(zip(replayed.queries, replayed.candidates, strict=True)):
        if not cands:
            continue
        proba = ranker.predict_proba(features[i])[:, 1]
        best = int(np.argmax(proba))
        top[i], correct[i] = proba[best], cands[best].external_id in q.targets
    return top, correct


def answers(
    ranker: DuplicateRanker,
    duplicates: tuple[Replayed, list[np.ndarray]],
    negatives: tuple[Replayed, list[np.ndarray]],
    negative_weight: float,
) -> Answers:
    dup_top, dup_correct = top_answers(ranker, *duplicates)
    neg_top, _ = top_answers(ranker, *negatives)
    n_dup, n_neg = len(dup_top), len(neg_top)
    return Answers(
        top=np.concatenate([dup_top, neg_top]),
        correct=np.concatenate([dup_correct, np.zeros(n_neg, dtype=bool)]),
        weight=np.concatenate([np.ones(n_dup), np.full(n_neg, negative_weight)]),
        duplicate=np.concatenate([np.ones(n_dup, dtype=bool), np.zeros(n_neg, dtype=bool)]),
    )


def confident_at(a: Answers, threshold: float) -> dict[str, Any]:
    """Precision of the confident answers (weighted to the period's mix of duplicates and other reports),
    their share of all reports, and the share of duplicates confidently found."""
    chosen = a.top >= threshold
    covered = float(a.weight[chosen].sum())
    n_dup = max(int(a.duplicate.sum()), 1)
    return {
        "threshold": float(threshold),
        "precision": float(a.weight[chosen & a.correct].sum() / covered) if covered else None,
        "coverage": covered / float(a.weight.sum()) if a.weight.size else 0.0,
        "duplicates_confident": float((chosen & a.duplicate).sum() / n_dup),
        # as if every report had a duplicate (the replay's queries alone): far kinder, for comparison
        "precision_duplicates_only": (
            float((chosen & a.correct).sum() / (chosen & a.duplicate).sum())
            if (chosen & a.duplicate).any()
            else None
        ),
        "duplicates_found": float((chosen & a.correct).sum() / n_dup),
        "n_duplicates": int(a.duplicate.sum()),
        "n_negatives": int((~a.duplicate).sum()),
    }


def choose_uncertain(a: Answers, precision_target: float) -> dict[str, Any]:
    """Lowest top probability whose confident answers reach ``precision_target`` (weighted), among those
    leaving at least MIN_CONFIDENT answers. For calibration data only.

    When none does, the threshold is 1.0: nothing is confident, since a confident answer would promise a
    precision the calibration part did not show ("best" keeps the most precise threshold, for reading).
    """
    best: dict[str, Any] | None = None
    for threshold in sorted(set(a.top[a.top > 0].tolist())):
        if (a.top >= threshold).sum() < MIN_CONFIDENT:
            break
        row = confident_at(a, threshold)
        if row["precision"] is not None and row["precision"] >= precision_target:
            return {**row, "met": True, "precision_target": precision_target}
        if best is None or (row["precision"] or 0.0) > (best["precision"] or 0.0):
            best = row
    return {**confident_at(a, 1.0), "met": False, "precision_target": precision_target, "best": best}


TRAIN_WITH_NEGATIVES = True
"""Train the re-ranker on non-duplicate reports' candidates too (all labelled wrong)."""
CALIBRATION_SHARE = 0.3
"""Newest share of the training queries on which the "uncertain" threshold is chosen."""


@dataclass
class ReplayResult:
    ranker: DuplicateRanker
    """Text model fitted on reports filed before the test part, re-ranker on the training queries."""
    train: Replayed
    test: Replayed
    baseline: Replayed
    rows: dict[str, dict[str, Any]]
    uncertain: dict[str, Any]
    """The threshold chosen on the calibration part, and what it gives there."""
    uncertain_test: dict[str, Any]
    """What that threshold gives on the test part (weighted precision, coverage, duplicates found)."""
    negatives: Replayed
    """Stage one of the sampled non-duplicate reports of the training and test periods."""


def run_replay(
    session: Session,
    docs: Sequence[Doc],
    queries: Sequence[replay.ReplayQuery],
    linked: set[str],
    test_share: float,
    precision_target: float,
    tracker: str | None = None,
) -> ReplayResult:
    """The honest replay: oldest queries train, newest test; the threshold comes from the newest training
    queries (calibration), with a re-ranker fitted on the older ones only. Nothing is tuned on the test.

    ``tracker``: the tracker ``docs`` were loaded for (None: all); candidates come from it alone.
    """
    by_key = {d.external_id: d for d in docs}
    by_row = {d.row_id: d for d in docs if d.row_id is not None}
    cut = max(1, int(len(queries) * (1 - test_share)))
    train_q, test_q = list(queries[:cut]), list(queries[cut:])
    ranker = DuplicateRanker().fit_text(
        [d for d in docs if d.created_at and d.created_at < test_q[0].created_at]
    )

    def stage_one_of(
        ranker: DuplicateRanker | None, qs: Sequence[replay.ReplayQuery], limit: int = CANDIDATES
    ) -> Replayed:
        return stage_one(session, ranker, by_key, by_row, qs, limit, tracker)

    baseline = stage_one_of(None, test_q, limit=10)
    train_1 = stage_one_of(ranker, train_q)
    test_1 = stage_one_of(ranker, test_q)
    X, y = pair_matrix(ranker, by_key, train_1)
    train_neg_1 = stage_one_of(ranker, negative_queries(docs, linked, train_q).queries)
    neg_X = pair_matrix(ranker, by_key, train_neg_1)[0] if TRAIN_WITH_NEGATIVES else []

    # Calibration: a re-ranker of the older training queries answers the newer ones and their negatives.
    fit_n = max(1, int(len(train_q) * (1 - CALIBRATION_SHARE)))
    calibrating = copy.copy(ranker)
    cal_start = train_q[fit_n].created_at if fit_n < len(train_q) else test_q[0].created_at
    older_neg = [x for q, x in zip(train_neg_1.queries, neg_X, strict=False) if q.created_at < cal_start]
    fit_ranker(calibrating, X[:fit_n], y[:fit_n], older_neg)
    cal_1 = Replayed(train_1.queries[fit_n:], train_1.candidates[fit_n:], train_1.scores[fit_n:])
    cal_neg = negative_queries(docs, linked, cal_1.queries)
    cal_neg_1 = stage_one_of(ranker, cal_neg.queries)
    cal = answers(
        calibrating,
        (cal_1, X[fit_n:]),
        (cal_neg_1, pair_matrix(calibrating, by_key, cal_neg_1)[0]),
        cal_neg.weight,
    )
    uncertain = choose_uncertain(cal, precision_target)

    fit_ranker(ranker, X, y, neg_X)
    test_X, _ = pair_matrix(ranker, by_key, test_1)
    test_neg = negative_queries(docs, linked, test_q)
    test_neg_1 = stage_one_of(ranker, test_neg.queries)
    test = answers(
        ranker, (test_1, test_X), (test_neg_1, pair_matrix(ranker, by_key, test_neg_1)[0]), test_neg.weight
    )
    # Validation (the calibration queries): the learned re-ranker must beat text similarity here, never on
    # the test part, to be registered (`DuplicatesTask.train`).
    rows = {
        "full_text_baseline": rates(test_q, ranked_ids(None, baseline, None)),
        "stage_one": rates(test_q, ranked_ids(None, test_1, None)),
        "two_stage": rates(test_q, ranked_ids(ranker, test_1, test_X)),
        "text_similarity": rates(test_q, ranked_ids(ranker, test_1, test_X, similarity_scores)),
        "validation_learned": rates(cal_1.queries, ranked_ids(calibrating, cal_1, X[fit_n:])),
        "validation_text_similarity": rates(
            cal_1.queries, ranked_ids(calibrating, cal_1, X[fit_n:], similarity_scores)
        ),
    }
    return ReplayResult(
        ranker,
        train_1,
        test_1,
        baseline,
        rows,
        uncertain,
        confident_at(test, uncertain["threshold"]),
        Replayed(
            train_neg_1.queries + test_neg_1.queries,
            train_neg_1.candidates + test_neg_1.candidates,
            train_neg_1.scores + test_neg_1.scores,
        ),
    )


def linked_ids(session: Session, pairs: Sequence[tuple[str, str]] = ()) -> set[str]:
    """External ids in any duplicate relation (pairs, stored duplicate-of links, a "Duplicate"
    resolution): never used as negatives, whether or not their partner is stored."""
    linked = {key for pair in pairs for key in pair}
    rows = session.execute(
        select(ReportRow.external_id, ReportRow.duplicate_of, ReportRow.resolution).where(
            (ReportRow.duplicate_of.is_not(None)) | (func.lower(ReportRow.resolution) == "duplicate")
        )
    )
    for key, original, _ in rows:
        linked.add(key)
        if original:
            linked.add(original)
    return linked
