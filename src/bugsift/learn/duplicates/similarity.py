"""The text-similarity ranker: duplicate search from the first import, before any model is trained.

Candidates come from the store's full-text search (the first stage of the learned system), re-scored by the
TF-IDF cosines of the titles and of the whole texts, with the word statistics of the stored reports of the
tracker (a random sample, fitted when the predictor is built: no training, no links needed); with
the sentence encoder on, the titles' embedding cosine joins them; a candidate itself resolved as a
duplicate can be marked down. How much of each is the store's own choice on its links (`text_choice`).

A similarity is not a probability. When the store holds recorded duplicate links, the similarity of the
best candidate is calibrated on them (`fit_on_links`: a replay of the newest links, each searched among the
reports filed before it, plus as many reports of that period in no link, weighted to their true share, as
the learned ranker's threshold is); the same replay chooses the mix. Without links nothing can be
calibrated: the answer's probability is 0.0, ``calibrated`` is false and it is always uncertain; ``score``
keeps the similarity.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bugsift.learn import reasons
from bugsift.learn.duplicates import replay
from bugsift.learn.duplicates.features import Doc
from bugsift.learn.duplicates.ranker import DuplicateRanker
from bugsift.learn.duplicates.search import (
    LIVE_CANDIDATES,
    NOTHING_FOUND,
    Candidate,
    Stored,
    _like,
    _ref,
    answer,
    doc_of_report,
    explain,
    load_stored,
    own_row_id,
    rank_doc,
    search_scope,
)
from bugsift.learn.duplicates.text_choice import (
    EMBED_TOKENS,
    EMBED_TOP,
    Replayed,
    TextSettings,
    choose,
    defaults,
)
from bugsift.sources.base import Report
from bugsift.store.models import ReportRow

RANKER = "text-similarity"
TEXT_SAMPLE = 5000
"""Stored reports, drawn at random, whose words give the TF-IDF weights (more changes the idf little)."""
CALIBRATION_QUERIES = 60
"""Newest recorded duplicate links replayed to calibrate (each costs one search, ~30 ms on 32k reports)."""
CHOICE_QUERIES = 60
"""Newest recorded duplicate links the mix is chosen on: the calibration's, so choosing costs no search
(on apache-jira choosing on 200 instead did no better on the later links, docs/duplicates.md)."""
MIN_CALIBRATION_QUERIES = 5
"""Fewer replayable links than this, and the similarity is left uncalibrated and the mix at its defaults."""
NO_STORED_REPORT = reasons.reason("no stored report to compare with", 0.0, "note")


def similarity_scores(_ranker: DuplicateRanker, X: np.ndarray) -> np.ndarray:
    """The default mix's word score (0..1) of each candidate, from its pair-feature row: TF-IDF cosines of
    the title and the whole text, and the full-text score relative to the best candidate's."""
    return TextSettings().word_scores(X)


def fit_text_model(
    session: Session, tracker: str | None = None, before: datetime | None = None, sample: int = TEXT_SAMPLE
) -> DuplicateRanker | None:
    """The word statistics of ``sample`` stored reports drawn at random (of ``tracker``, filed before
    ``before``); None when there is none.

    At random, not the newest: stage one's term budget needs each term's share of the whole index, and
    an import's newest rows are often one project's (docs/performance.md, "Word statistics from the whole
    store").
    """
    query = select(ReportRow.id)
    if tracker:
        query = query.where(ReportRow.tracker == tracker)
    if before is not None:
        query = query.where(ReportRow.created_at < before)
    ids = list(session.scalars(query))
    if len(ids) > sample:
        ids = random.Random(0).sample(ids, sample)  # seeded: the same store gives the same statistics
    docs = [s.doc for s in load_stored(session, ids).values()]
    if not any(d.title.strip() or d.description.strip() for d in docs):
        return None
    return DuplicateRanker().fit_text(docs)


def title_cosines(query_title: str, titles: Sequence[str], words: np.ndarray) -> np.ndarray:
    """Sentence-embedding cosine of ``query_title`` with the titles of the `EMBED_TOP` best candidates by
    ``words`` (0 for the others, and for all when the query has no title)."""
    out = np.zeros(len(titles))
    top = np.argsort(-words, kind="stable")[:EMBED_TOP]
    if not query_title.strip() or not len(top):
        return out
    from bugsift.learn.embeddings import encode_texts

    vectors = encode_texts([query_title] + [titles[j] for j in top], EMBED_TOKENS)
    out[top] = np.clip(vectors[1:] @ vectors[0], 0.0, 1.0)
    return out


def is_duplicate(resolution: str | None) -> bool:
    return (resolution or "").strip().lower() == "duplicate"


@dataclass
class Scoring:
    """`rank_doc`'s scorer and adjustment for one mix; keeps the title cosines it computed, for reasons."""

    settings: TextSettings
    embeddings: bool
    resolved_before: dict[str, datetime | None] | None = None
    """Replays only: when each candidate was resolved, so a later "Duplicate" does not count."""
    when: datetime | None = None
    cosines: dict[int | None, float] = field(default_factory=dict)

    def words(self, _ranker: DuplicateRanker, X: np.ndarray) -> np.ndarray:
        return self.settings.word_scores(X)

    def adjust(self, doc: Doc, rows: Sequence[Stored], X: np.ndarray, words: np.ndarray) -> np.ndarray:
        duplicate = np.array([self.resolved_duplicate(r) for r in rows], dtype=float)
        cos = np.zeros(len(rows))
        if self.embeddings and self.settings.embedding:  # a mix without it encodes nothing
            cos = title_cosines(doc.title, [r.doc.title for r in rows], words)
        self.cosines = {r.doc.row_id: float(c) for r, c in zip(rows, cos, strict=True) if c}
        return self.settings.scores(words, duplicate, cos)

    def resolved_duplicate(self, row: Stored) -> bool:
        if not is_duplicate(row.resolution):
            return False
        if self.resolved_before is None or self.when is None:
            return True
        resolved = self.resolved_before.get(row.external_id)
        return resolved is not None and resolved < self.when


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
class Tuned:
    """What the store's own links gave the text ranker: its mix, the curve, and how the mix was chosen."""

    settings: TextSettings
    calibration: Calibration | None
    choice: dict[str, Any]


@dataclass
class LinkedStore:
    """The few columns of the stored reports that a calibration replay reads."""

    row_id: dict[str, int]
    created: dict[str, datetime]
    tracker: dict[str, str]
    pairs: list[tuple[str, str]]
    linked: set[str]
    resolved: dict[str, datetime | None]
    """Reports resolved as duplicates: when."""


def linked_store(session: Session, tracker: str | None) -> LinkedStore:
    query = select(
        ReportRow.id,
        ReportRow.external_id,
        ReportRow.created_at,
        ReportRow.tracker,
        ReportRow.duplicate_of,
        func.lower(ReportRow.resolution),
        ReportRow.resolved_at,
    )
    if tracker:
        query = query.where(ReportRow.tracker == tracker)
    out = LinkedStore({}, {}, {}, [], set(), {})
    for row_id, key, created, report_tracker, original, resolution, resolved in session.execute(query):
        out.row_id[key], out.tracker[key] = row_id, report_tracker
        if created is not None:
            out.created[key] = created
        if resolution == "duplicate":
            out.resolved[key] = resolved
        if original:
            out.pairs.append((key, original))
            out.linked.update((key, original))
        elif resolution == "duplicate":
            out.linked.add(key)
    return out


def replay_one(
    session: Session,
    model: DuplicateRanker,
    store: LinkedStore,
    key: str,
    when: datetime,
    targets: frozenset[str],
    embeddings: bool,
) -> Replayed:
    """``key`` searched among the reports filed before ``when``, every candidate kept with its signals
    (the title cosines are those of the best `EMBED_TOP` by the default word mix: the mix is not chosen
    yet)."""
    doc = next(iter(load_stored(session, [store.row_id[key]]).values())).doc
    scoring = Scoring(defaults(embeddings), embeddings, store.resolved, when)
    found, _ = rank_doc(
        session,
        model,
        doc,
        store.tracker[key],
        LIVE_CANDIDATES,
        when,
        scorer=scoring.words,
        adjust=scoring.adjust,
        words_only=True,
    )
    if not found:
        return Replayed(np.zeros((0, 0)), [], np.zeros(0), np.zeros(0), targets)
    X = np.array([list(c.features.values()) for c in found])
    duplicate = np.array([scoring.resolved_duplicate(c.row) for c in found], dtype=float)
    cos = np.array([scoring.cosines.get(c.row.doc.row_id, 0.0) for c in found])
    return Replayed(X, [c.row.external_id for c in found], duplicate, cos, targets)


def fit_on_links(
    session: Session,
    model: DuplicateRanker,
    tracker: str | None = None,
    embeddings: bool = False,
    max_queries: int = CALIBRATION_QUERIES,
    choice_queries: int = CHOICE_QUERIES,
) -> Tuned:
    """Choose the mix (`text_choice.choose`) and fit the similarity -> probability curve on the store's own
    newest duplicate links; the defaults and no curve when there are too few (or every best candidate
    is right, or none is: no curve can be drawn)."""
    store = linked_store(session, tracker)
    every = replay.replay_queries(store.pairs, store.created)[-max(choice_queries, max_queries) :]
    if len(every) < MIN_CALIBRATION_QUERIES:
        choice = {"links": len(every), "chosen_on": "defaults: too few links"}
        return Tuned(defaults(embeddings), None, choice)
    all_replayed = [
        replay_one(session, model, store, q.query, q.created_at, frozenset(q.targets), embeddings)
        for q in every
    ]
    settings, choice = choose(all_replayed[-choice_queries:], embeddings)
    choice["chosen_on"] = f"the newest {choice['links']} replayed duplicate links"
    queries, replayed = every[-max_queries:], all_replayed[-max_queries:]
    start, end = queries[0].created_at, queries[-1].created_at
    pool = sorted(k for k, t in store.created.items() if start <= t <= end and k not in store.linked)
    negatives = [
        replay_one(session, model, store, key, store.created[key], frozenset(), embeddings)
        for key in random.Random(0).sample(pool, min(len(pool), len(queries)))
    ]
    scores = [r.top_score(settings) for r in replayed + negatives]
    correct = [r.top_is_right(settings) for r in replayed] + [False] * len(negatives)
    # each negative stands for len(pool) / len(negatives) reports of the period
    weights = [1.0] * len(replayed) + [len(pool) / max(len(negatives), 1)] * len(negatives)
    if all(correct) or not any(correct):
        return Tuned(settings, None, choice)
    return Tuned(settings, _fit_curve(scores, correct, weights, len(replayed), len(negatives)), choice)


def calibrate(
    session: Session,
    model: DuplicateRanker,
    tracker: str | None = None,
    max_queries: int = CALIBRATION_QUERIES,
) -> Calibration | None:
    """The curve of `fit_on_links` alone (word signals only)."""
    return fit_on_links(session, model, tracker, False, max_queries).calibration


def _fit_curve(
    scores: Sequence[float], correct: Sequence[bool], weights: Sequence[float], n_queries: int, n_neg: int
) -> Calibration:
    from sklearn.linear_model import LogisticRegression

    curve = LogisticRegression(C=1.0).fit(
        np.asarray(scores).reshape(-1, 1), np.asarray(correct, dtype=int), sample_weight=np.asarray(weights)
    )
    return Calibration(float(curve.coef_[0, 0]), float(curve.intercept_[0]), n_queries, n_neg)


def explain_similar(
    candidate: Candidate, calibration: Calibration | None, title_cosine: float = 0.0
) -> list[dict[str, Any]]:
    """Reasons in words (`bugsift.learn.reasons` shape): the similarities, shared facts, and what the
    probability rests on."""
    f = candidate.features
    ref = _ref(candidate.row.external_id)
    out = [
        reasons.reason(f"{what} {_like(f[name])} {ref} ({f[name]:.2f})", f[name], "similar")
        for name, what in (("cos_title", "title"), ("cos_all", "text"))
        if f[name] >= 0.1 or name == "cos_all"
    ]
    if title_cosine >= 0.5:
        out.append(reasons.reason(f"title means much the same ({title_cosine:.2f})", title_cosine, "similar"))
    out += [r for r in explain(candidate) if not r["text"].startswith(("title ", "text "))]
    if is_duplicate(candidate.row.resolution):
        out.append(reasons.reason(f"{ref} is itself resolved as a duplicate", 0.05, "field"))
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
    settings: TextSettings | None = None,
    embeddings: bool = False,
) -> dict[str, Any]:
    """One report's answer by text similarity, in the shape of `search.prediction`."""
    extra = {"score": 0.0, "calibrated": calibration is not None}
    if model is None:
        return answer(session, report, [], RANKER, True, [NO_STORED_REPORT], extra)
    doc = doc_of_report(report, own_row_id(session, report))
    scope = search_scope(session, report)
    scoring = Scoring(settings or defaults(embeddings), embeddings)
    found, _ = rank_doc(
        session, model, doc, scope, top_k, scorer=scoring.words, adjust=scoring.adjust, words_only=True
    )
    found = [_with_probability(c, calibration) for c in found]
    if not found:
        return answer(session, report, [], RANKER, True, [NOTHING_FOUND], extra)
    best = found[0]
    uncertain = calibration is None or best.probability < threshold
    extra["score"] = round(best.score or 0.0, 4)
    reasons_ = explain_similar(best, calibration, scoring.cosines.get(best.row.doc.row_id, 0.0))
    return answer(session, report, found, RANKER, uncertain, reasons_, extra)


def _with_probability(candidate: Candidate, calibration: Calibration | None) -> Candidate:
    """The similarity moves to ``score``; the probability is the calibrated one (0.0: none known)."""
    score = candidate.probability
    probability = calibration.probability(score) if calibration is not None else 0.0
    return replace(candidate, score=score, probability=probability)
