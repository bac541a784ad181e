"""The two stages together for live use: lexical candidates from the store, re-ranked, explained."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from bugsift.learn import reasons
from bugsift.learn.duplicates import index
from bugsift.learn.duplicates.canonical import canonical_ids, is_open
from bugsift.learn.duplicates.features import FEATURE_NAMES, Doc
from bugsift.learn.duplicates.query import query_terms, tokens
from bugsift.learn.duplicates.ranker import DuplicateRanker
from bugsift.sources.base import Report
from bugsift.store.models import ReportRow

LIVE_CANDIDATES = 60
"""Stage-one candidates re-ranked per query in live use (the replay uses evaluation.CANDIDATES)."""

_EXPLAINED = {  # feature -> the words of its reason ("title very like #1234 (0.82)")
    "cos_title": "title",
    "cos_body": "description",
    "cos_all": "text",
    "shared_frames": "stack frames",
}


def doc_of_report(report: Report, row_id: int | None = None) -> Doc:
    versions = (report.extra or {}).get("versions") or []
    return Doc(
        row_id=row_id,
        external_id=report.external_id,
        title=report.title or "",
        description=report.description or "",
        project=report.project or "",
        components=list(report.components or []),
        versions=[str(v) for v in versions],
        created_at=report.created_at,
    )


@dataclass
class Stored:
    """The columns of a stored candidate that re-ranking and the answer read (never the raw JSON)."""

    doc: Doc
    status: str | None
    resolution: str | None
    tracker: str = ""

    @property
    def external_id(self) -> str:
        return self.doc.external_id


_COLUMNS = (
    ReportRow.id,
    ReportRow.external_id,
    ReportRow.title,
    ReportRow.description,
    ReportRow.project,
    ReportRow.components,
    ReportRow.extra,
    ReportRow.created_at,
    ReportRow.status,
    ReportRow.resolution,
    ReportRow.tracker,
)


def load_stored(session: Session, row_ids: Sequence[int]) -> dict[int, Stored]:
    """Candidates by row id; whole ORM rows would also load raw JSON and comments (10x the text)."""
    out = {}
    for (
        row_id,
        key,
        title,
        description,
        project,
        components,
        extra,
        created,
        status,
        resolution,
        tracker,
    ) in session.execute(select(*_COLUMNS).where(ReportRow.id.in_(list(row_ids)))):
        versions = (extra or {}).get("versions") or []
        doc = Doc(
            row_id=row_id,
            external_id=key,
            title=title or "",
            description=description or "",
            project=project or "",
            components=list(components or []),
            versions=[str(v) for v in versions],
            created_at=created,
        )
        out[row_id] = Stored(doc, status, resolution, tracker)
    return out


SEARCH_EVERY_TRACKER = frozenset({"web"})
"""Reports filed through bugsift's own form may repeat a report of any imported tracker."""


def search_scope(session: Session, report: Report) -> str | None:
    """The tracker whose reports ``report`` is compared with; None: every tracker.

    A report's own tracker, when the store holds reports of it: a report written by hand in a CSV file
    (tracker "csv") asked of a Jira store would otherwise find nothing, and say no report shares a term.
    """
    if report.tracker in SEARCH_EVERY_TRACKER:
        return None
    stored = session.scalar(select(ReportRow.id).where(ReportRow.tracker == report.tracker).limit(1))
    return report.tracker if stored is not None else None


@dataclass
class Candidate:
    row: Stored
    probability: float
    features: dict[str, float]
    matched_terms: list[str]
    score: float | None = None
    """The text similarity (0..1) when the text-similarity ranker answered; None for the learned one."""


Scorer = Callable[[DuplicateRanker, np.ndarray], np.ndarray]
"""Scores of a query's candidates (higher is better) from their pair-feature matrix."""
Adjust = Callable[[Doc, Sequence[Stored], np.ndarray, np.ndarray], np.ndarray]
"""Scores of a query's candidates re-computed from what the matrix lacks (the text-similarity ranker's
resolutions and sentence embeddings): (query, candidates, features, scores) -> new scores."""


def learned_scores(ranker: DuplicateRanker, X: np.ndarray) -> np.ndarray:
    """The learned re-ranker's probability that each candidate is the report duplicated."""
    return ranker.predict_proba(X)[:, 1]


def own_row_id(session: Session, report: Report) -> int | None:
    """The stored row of ``report`` itself (same tracker, project and id), never its own candidate."""
    return session.scalar(
        select(ReportRow.id).where(
            ReportRow.tracker == report.tracker,
            ReportRow.project == (report.project or ""),
            ReportRow.external_id == report.external_id,
        )
    )


def find_duplicates(
    session: Session,
    ranker: DuplicateRanker,
    report: Report,
    top_k: int = 10,
    before: datetime | None = None,
    limit: int = LIVE_CANDIDATES,
    scorer: Scorer = learned_scores,
) -> tuple[list[Candidate], list[str]]:
    """The top_k stored reports most likely duplicated by ``report``, and the query terms used.

    The report itself (same tracker and id) is never its own candidate; ``before`` restricts the search to
    reports filed earlier (replays). ``scorer`` orders the candidates: the learned re-ranker by default.
    """
    doc = doc_of_report(report, own_row_id(session, report))
    scope = search_scope(session, report)
    return rank_doc(session, ranker, doc, scope, top_k, before, limit, scorer)


def rank_doc(
    session: Session,
    ranker: DuplicateRanker,
    doc: Doc,
    scope: str | None,
    top_k: int = 10,
    before: datetime | None = None,
    limit: int = LIVE_CANDIDATES,
    scorer: Scorer = learned_scores,
    adjust: Adjust | None = None,
    words_only: bool = False,
) -> tuple[list[Candidate], list[str]]:
    """Stage one for ``doc`` among the reports of tracker ``scope`` (None: all), ordered by ``scorer``
    (then ``adjust``, when given).

    ``words_only``: the scorer and ``adjust`` read only the stage-one score and the TF-IDF cosines (the
    text-similarity ranker, `text_choice.TextSettings.word_scores`), so the other pair features are
    computed for the ``top_k`` returned only; the answer is the same, several milliseconds sooner.
    """
    terms = ranker.select_terms(query_terms(doc.title, doc.description, 64))
    hits = index.search(session, terms, limit, before=before, tracker=scope, exclude=[doc.row_id or -1])
    if not hits:
        return [], terms
    rows = load_stored(session, [h.row_id for h in hits])
    hits = [h for h in hits if h.row_id in rows]
    cands = [rows[h.row_id].doc for h in hits]
    # one vectorizer call for the query and its candidates: the rows are the same as two calls give
    both = ranker.vectors([doc, *cands])
    query_vectors, cand_vectors = both.between(0, 1), both.between(1)
    lexical = [h.score for h in hits]
    X = ranker.features(doc, query_vectors, cands, cand_vectors, lexical, rows=[] if words_only else None)
    scores = scorer(ranker, X)
    if adjust is not None:
        scores = adjust(doc, [rows[h.row_id] for h in hits], X, scores)
    order = np.argsort(-scores, kind="stable")[:top_k]
    if words_only:
        ranker.fill_features(X, doc, query_vectors, cands, cand_vectors, order.tolist())
    term_set = set(terms)
    out = []
    for j in order:
        cand_tokens = set(tokens(cands[j].text))
        out.append(
            Candidate(
                row=rows[hits[j].row_id],
                probability=float(scores[j]),
                features=dict(zip(FEATURE_NAMES, (float(v) for v in X[j]), strict=True)),
                matched_terms=[t for t in terms if t in cand_tokens and t in term_set],
            )
        )
    return out, terms


def _ref(external_id: str) -> str:
    return f"#{external_id}" if str(external_id).isdigit() else str(external_id)


def _like(score: float) -> str:
    return "very like" if score >= 0.7 else "like" if score >= 0.45 else "somewhat like"


def explain(candidate: Candidate) -> list[dict[str, Any]]:
    """Short reasons a person can check (`bugsift.learn.reasons` shape): which similarities and shared
    facts drove the score, strongest first."""
    f = candidate.features
    ref = _ref(candidate.row.external_id)
    out = []
    if f["id_mentioned"]:
        out.append(reasons.reason(f"the report mentions {ref}", 1.0, "similar"))
    for name, what in _EXPLAINED.items():
        if f[name] >= 0.3:
            out.append(reasons.reason(f"{what} {_like(f[name])} {ref} ({f[name]:.2f})", f[name], "similar"))
    if f["shared_exceptions"]:
        n = int(f["shared_exceptions"])
        out.append(reasons.reason(f"{n} shared exception name{'s' if n > 1 else ''}", 0.5, "field"))
    shown = [t for t in candidate.matched_terms if reasons.is_readable(t) and len(t) >= 3][:5]
    if shown:
        words = "words: " + ", ".join(f"*{t}*" for t in shown)
        out.append(reasons.reason(words, 0.05 * len(shown), "words"))
    project = candidate.row.doc.project
    if f["same_project"] and project:  # two reports of no project share nothing a person can check
        out.append(reasons.reason(f"same project ({project})", 0.05, "product"))
    if f["components_jaccard"] > 0:
        out.append(reasons.reason("shared component", 0.1 * f["components_jaccard"], "product"))
    out.sort(key=lambda r: -r["weight"])
    return out


LEARNED = "learned"
"""The ``ranker`` of an answer by the trained re-ranker (see `similarity.RANKER` for the other)."""


def prediction(
    session: Session, ranker: DuplicateRanker, report: Report, top_k: int, threshold: float
) -> dict[str, Any]:
    """One report's answer in the predict contract's shape (candidates carry status and canonical)."""
    found, _terms = find_duplicates(session, ranker, report, top_k)
    best = found[0] if found else None
    return answer(
        session,
        report,
        found,
        ranker=LEARNED,
        uncertain=best is None or best.probability < threshold,
        explanation=explain(best) if best else [NOTHING_FOUND],
    )


NOTHING_FOUND = reasons.reason("no stored report shares a rare term with this one", 0.0, "note")


def answer(
    session: Session,
    report: Report,
    found: Sequence[Candidate],
    ranker: str,
    uncertain: bool,
    explanation: list[Any],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The contract's dict for ``found`` (best first), saying which ranker answered."""
    canonical = canonical_ids(session, report.tracker, [c.row.external_id for c in found])
    candidates = [
        {
            "label": c.row.external_id,
            "probability": round(c.probability, 4),
            "tracker": c.row.tracker,
            "title": c.row.doc.title,
            "status": c.row.status,
            "resolution": c.row.resolution,
            "open": is_open(c.row.status, c.row.resolution),
            "matched_terms": c.matched_terms,
            "canonical": canonical.get(c.row.external_id, c.row.external_id),
            **({} if c.score is None else {"score": round(c.score, 4)}),
        }
        for c in found
    ]
    best = found[0] if found else None
    return {
        "id": report.external_id,
        "prediction": best.row.external_id if best else None,
        "probability": round(best.probability, 4) if best else 0.0,
        "candidates": candidates,
        "uncertain": uncertain,
        "explanation": [
            reasons.reason(r, 0.0, "note") if isinstance(r, str) else dict(r) for r in explanation
        ],
        "ranker": ranker,
        **(extra or {}),
    }


def predictions(
    session: Session, ranker: DuplicateRanker, reports: Sequence[Report], top_k: int, threshold: float
) -> list[dict[str, Any]]:
    return [prediction(session, ranker, report, top_k, threshold) for report in reports]
