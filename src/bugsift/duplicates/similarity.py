"""The text-similarity ranker: duplicate search from the first import, before any model is trained.

Candidates come from the store's full-text search (the first stage of the learned system), re-scored by the
TF-IDF cosine of the titles and of the whole texts, with the word statistics of the stored reports of the
tracker (a sample of the newest, fitted when the predictor is built: no training, no links needed).

A similarity is not a probability. When the store holds recorded duplicate links, the similarity of the
best candidate is calibrated on them (`calibrate`: a replay of the newest links, each searched among the
reports filed before it, plus as many reports of that period in no link, weighted to their true share, as
the learned ranker's threshold is). Without links nothing can be calibrated: the answer's probability is
0.0, ``calibrated`` is false and it is always uncertain; ``score`` keeps the similarity.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bugsift.duplicates import replay
from bugsift.duplicates.features import FEATURE_NAMES
from bugsift.duplicates.ranker import DuplicateRanker
from bugsift.duplicates.search import (
    NOTHING_FOUND,
    SEARCH_EVERY_TRACKER,
    Candidate,
    _like,
    _ref,
    answer,
    doc_of_report,
    explain,
    load_stored,
    own_row_id,
    rank_doc,
)
from bugsift.learn import reasons
from bugsift.sources.base import Report
from bugsift.store.models import ReportRow

RANKER = "text-similarity"
TEXT_SAMPLE = 5000
"""Newest stored reports whose words give the TF-IDF weights (more changes the idf little, costs seconds)."""
TITLE_WEIGHT = 0.5
"""Share of the title cosine in the text part of the score (the rest: title and description together)."""
LEXICAL_WEIGHT = 0.5
"""Share of the full-text score (BM25 over the best candidate's) in the score; chosen on the validation
queries of apache-jira (docs/duplicates.md): the cosines alone rank worse than the full-text search."""
CALIBRATION_QUERIES = 60
"""Newest recorded duplicate links replayed to calibrate (each costs one search, ~30 ms on 32k reports)."""
MIN_CALIBRATION_QUERIES = 5
"""Fewer replayable links than this, and the similarity is left uncalibrated."""
NO_STORED_REPORT = reasons.reason("no stored report to compare with", 0.0, "note")
_COS_TITLE, _COS_ALL = FEATURE_NAMES.index("cos_title"), FEATURE_NAMES.index("cos_all")
_LEXICAL = FEATURE_NAMES.index("lexical_score_ratio")


def similarity_scores(_ranker: DuplicateRanker, X: np.ndarray) -> np.ndarray:
    """The similarity score (0..1) of each candidate, from its pair-feature row: TF-IDF cosines of the
    title and the whole text, and the full-text score relative to the best candidate's."""
    text = TITLE_WEIGHT * X[:, _COS_TITLE] + (1 - TITLE_WEIGHT) * X[:, _COS_ALL]
    return LEXICAL_WEIGHT * np.clip(X[:, _LEXICAL], 0.0, 1.0) + (1 - LEXICAL_WEIGHT) * text


def fit_text_model(
    session: Session, tracker: str | None = None, before: datetime | None = None, sample: int = TEXT_SAMPLE
) -> DuplicateRanker | None:
    """The word statistics of the newest ``sample`` stored reports (of ``tracker``, filed before ``before``);
    None when there is none."""
    query = select(ReportRow.id).order_by(ReportRow.id.desc()).limit(sample)
    if tracker:
        query = query.where(ReportRow.tracker == tracker)
    if before is not None:
        query = query.where(ReportRow.created_at < before)
    docs = [s.doc for s in load_stored(session, list(session.scalars(query))).values()]
    if not any(d.title.strip() or d.description.strip() for d in docs):
        return None
    return DuplicateRanker().fit_text(docs)


@dataclass
class Calibration:
    """P(the best candidate is the report duplicated | its similarity), a logistic curve."""

    coef: float
    intercept: float
    n_queries: int
    n_negatives: int

    def probability(self, score: float) -> float:
        return float(1.0 / (1.0 + np.exp(-(self.coef * score + self.intercept))))


@dataclass
class _Linked:
    """The few columns of the stored reports that a calibration replay reads."""

    row_id: dict[str, int]
    created: dict[str, datetime]
    tracker: dict[str, str]
    pairs: list[tuple[str, str]]
    linked: set[str]


def _linked(session: Session, tracker: str | None) -> _Linked:
    query = select(
        ReportRow.id,
        ReportRow.external_id,
        ReportRow.created_at,
        ReportRow.tracker,
        ReportRow.duplicate_of,
        func.lower(ReportRow.resolution),
    )
    if tracker:
        query = query.where(ReportRow.tracker == tracker)
    out = _Linked({}, {}, {}, [], set())
    for row_id, key, created, report_tracker, original, resolution in session.execute(query):
        out.row_id[key], out.tracker[key] = row_id, report_tracker
        if created is not None:
            out.created[key] = created
        if original:
            out.pairs.append((key, original))
            out.linked.update((key, original))
        elif resolution == "duplicate":
            out.linked.add(key)
    return out


def _top(
    session: Session, model: DuplicateRanker, store: _Linked, key: str, when: datetime
) -> Candidate | None:
    doc = next(iter(load_stored(session, [store.row_id[key]]).values())).doc
    found, _ = rank_doc(session, model, doc, store.tracker[key], 1, when, scorer=similarity_scores)
    return found[0] if found else None


def calibrate(
    session: Session,
    model: DuplicateRanker,
    tracker: str | None = None,
    max_queries: int = CALIBRATION_QUERIES,
) -> Calibration | None:
    """Fit the similarity -> probability curve on the store's own newest duplicate links, or None when
    there are too few (or every best candidate is right, or none is: no curve can be drawn)."""
    store = _linked(session, tracker)
    queries = replay.replay_queries(store.pairs, store.created)[-max_queries:]
    if len(queries) < MIN_CALIBRATION_QUERIES:
        return None
    start, end = queries[0].created_at, queries[-1].created_at
    pool = sorted(k for k, t in store.created.items() if start <= t <= end and k not in store.linked)
    negatives = random.Random(0).sample(pool, min(len(pool), len(queries)))
    scores, correct, weights = [], [], []
    for q in queries:
        top = _top(session, model, store, q.query, q.created_at)
        scores.append(top.probability if top else 0.0)
        correct.append(bool(top and top.row.external_id in q.targets))
        weights.append(1.0)
    for key in negatives:  # each stands for len(pool) / len(negatives) reports of the period
        top = _top(session, model, store, key, store.created[key])
        scores.append(top.probability if top else 0.0)
        correct.append(False)
        weights.append(len(pool) / len(negatives))
    if all(correct) or not any(correct):
        return None
    return _fit_curve(scores, correct, weights, len(queries), len(negatives))


def _fit_curve(
    scores: Sequence[float], correct: Sequence[bool], weights: Sequence[float], n_queries: int, n_neg: int
) -> Calibration:
    from sklearn.linear_model import LogisticRegression

    curve = LogisticRegression(C=1.0).fit(
        np.asarray(scores).reshape(-1, 1), np.asarray(correct, dtype=int), sample_weight=np.asarray(weights)
    )
    return Calibration(float(curve.coef_[0, 0]), float(curve.intercept_[0]), n_queries, n_neg)


def explain_similar(candidate: Candidate, calibration: Calibration | None) -> list[dict[str, Any]]:
    """Reasons in words (`bugsift.learn.reasons` shape): the similarities, shared facts, and what the
    probability rests on."""
    f = candidate.features
    ref = _ref(candidate.row.external_id)
    out = [
        reasons.reason(f"{what} {_like(f[name])} {ref} ({f[name]:.2f})", f[name], "similar")
        for name, what in (("cos_title", "title"), ("cos_all", "text"))
        if f[name] >= 0.1 or name == "cos_all"
    ]
    out += [r for r in explain(candidate) if not r["text"].startswith(("title ", "text "))]
    out.sort(key=lambda r: -r["weight"])
    if calibration is None:
        note = "text similarity alone: no recorded duplicate links to turn it into a probability"
    else:
        note = f"probability calibrated on {calibration.n_queries} recorded duplicate links"
    return [*out[: reasons.MAX_REASONS - 1], reasons.reason(note, 0.0, "note")]


def similar_prediction(
    session: Session,
    model: DuplicateRanker | None,
    calibration: Calibration | None,
    report: Report,
    top_k: int,
    threshold: float,
) -> dict[str, Any]:
    """One report's answer by text similarity, in the shape of `search.prediction`."""
    extra = {"score": 0.0, "calibrated": calibration is not None}
    if model is None:
        return answer(session, report, [], RANKER, True, [NO_STORED_REPORT], extra)
    doc = doc_of_report(report, own_row_id(session, report))
    scope = None if report.tracker in SEARCH_EVERY_TRACKER else report.tracker
    found, _ = rank_doc(session, model, doc, scope, top_k, scorer=similarity_scores)
    found = [_with_probability(c, calibration) for c in found]
    if not found:
        return answer(session, report, [], RANKER, True, [NOTHING_FOUND], extra)
    best = found[0]
    uncertain = calibration is None or best.probability < threshold
    extra["score"] = round(best.score or 0.0, 4)
    return answer(session, report, found, RANKER, uncertain, explain_similar(best, calibration), extra)


def _with_probability(candidate: Candidate, calibration: Calibration | None) -> Candidate:
    """The similarity moves to ``score``; the probability is the calibrated one (0.0: none known)."""
    score = candidate.probability
    probability = calibration.probability(score) if calibration is not None else 0.0
    return replace(candidate, score=score, probability=probability)
