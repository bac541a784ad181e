"""Stage one: lexical candidate search in the database itself (SQLite FTS5, PostgreSQL full text).

The index is created by migration 0002 (on SQLite with term positions since 0005, so that ``bm25()`` reads
the index alone) and kept current by triggers on ``reports``: every insert, update of
the title or description, and delete inside a transaction updates the index in the same transaction. An
import (``upsert_reports``) or a new report therefore needs no hook and no rebuild; ``rebuild_index`` exists
for repairs only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.orm import Session

from bugsift.learn.duplicates.query import fts5_query, tsquery_text
from bugsift.store.models import ReportRow, UTCDateTime

INDEXED_DESCRIPTION_CHARS = 60_000  # as in migration 0002
SQLITE_TITLE_WEIGHT = 3.0
"""BM25 weight of a title match against a description match (FTS5 ``bm25()`` column weights)."""
SEARCH_TABLES = ("reports_fts", "report_search")
"""Tables owned by migration 0002 that have no SQLAlchemy model (FTS5 virtual table and its shadows)."""


@dataclass(frozen=True)
class Hit:
    row_id: int
    score: float
    """Lexical relevance, higher is better (FTS5: minus BM25; PostgreSQL: ts_rank)."""


def include_in_schema_compare(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic ``include_name`` hook: leave the full-text tables of migration 0002 out of autogenerate."""
    return not (type_ == "table" and name is not None and name.startswith(SEARCH_TABLES))


def dialect_of(session: Session) -> str:
    return session.get_bind().dialect.name


def search(
    session: Session,
    terms: Sequence[str],
    limit: int = 100,
    before: datetime | None = None,
    tracker: str | None = None,
    exclude: Iterable[int] = (),
) -> list[Hit]:
    """The ``limit`` best lexical matches of any of ``terms`` (from `query.query_terms`), best first.

    ``before`` keeps only reports filed strictly before that time (replay); ``tracker`` keeps one tracker;
    ``exclude`` drops row ids (the query report itself).

    The ranking reads the full-text index alone: joining ``reports`` for the filters read one (large) row
    per matching report, tens of milliseconds for the thousands a query matches. The filters are
    therefore checked on the best ``limit`` plus a margin only, and the filtered query runs only when
    too few of those pass (a replay of an old report, or a store holding several trackers).
    """
    if not terms or limit <= 0:
        return []
    excluded = set(exclude)
    dialect = dialect_of(session)
    if dialect not in _RANKED:
        raise ValueError(f"unsupported database {dialect!r}: bugsift runs on SQLite or PostgreSQL")
    q = fts5_query(terms) if dialect == "sqlite" else tsquery_text(terms)
    if not q:
        return []
    if tracker is not None and _only_tracker(session, tracker):
        tracker = None  # the usual store holds one tracker: nothing to filter
    fetch = limit + len(excluded) + FILTER_MARGIN
    hits = _ranked(session, dialect, q, fetch, "")
    if before is not None or tracker is not None:
        allowed = _passing(session, [h.row_id for h in hits], before, tracker)
        complete = len(hits) < fetch  # every match was fetched: filtering them is exact
        kept = [h for h in hits if h.row_id in allowed and h.row_id not in excluded]
        if not complete and len(kept) < limit:
            hits = _ranked(
                session, dialect, q, limit + len(excluded), _filters(before, tracker), before, tracker
            )
        else:
            hits = kept
    return [h for h in hits if h.row_id not in excluded][:limit]


FILTER_MARGIN = 20
"""Extra unfiltered hits fetched so that the tracker / time filters rarely need a second query."""

_RANKED = {
    # FTS5's bm25 with titles weighted (migration 0005 keeps positions, so no content row is re-read);
    # the alias makes SQLite compute bm25 once per row, not once for the sort and again for the output.
    "sqlite": (
        f"SELECT f.rowid AS row_id, -bm25(reports_fts, {SQLITE_TITLE_WEIGHT}, 1.0) AS score "
        "FROM reports_fts f{join} WHERE reports_fts MATCH :q{where} ORDER BY score DESC, f.rowid LIMIT :n"
    ),
    "postgresql": (
        "SELECT s.report_id AS row_id, ts_rank(s.document, q) AS score FROM report_search s{join}, "
        "to_tsquery('english'::regconfig, :q) AS q WHERE s.document @@ q{where} "
        "ORDER BY score DESC, s.report_id LIMIT :n"
    ),
}
_JOIN = {"sqlite": " JOIN reports r ON r.id = f.rowid", "postgresql": " JOIN reports r ON r.id = s.report_id"}


def _filters(before: datetime | None, tracker: str | None) -> str:
    filters = []
    if before is not None:
        filters.append("r.created_at < :before")
    if tracker is not None:
        filters.append("r.tracker = :tracker")
    return "".join(f" AND {f}" for f in filters)


def _ranked(
    session: Session,
    dialect: str,
    q: str,
    n: int,
    where: str,
    before: datetime | None = None,
    tracker: str | None = None,
) -> list[Hit]:
    sql = _RANKED[dialect].format(join=_JOIN[dialect] if where else "", where=where)
    params: dict[str, object] = {"q": q, "n": n}
    statement = text(sql)
    if before is not None:
        params["before"] = before
        statement = statement.bindparams(bindparam("before", type_=UTCDateTime()))
    if tracker is not None:
        params["tracker"] = tracker
    if dialect != "postgresql":
        return [Hit(int(row_id), float(score)) for row_id, score in session.execute(statement, params)]
    # PostgreSQL estimates the matching rows well but not that a sequential scan must decompress every
    # report's tsvector to test it: it picked one for 59 of 60 queries, 99 ms p90 against 26 ms through
    # the GIN index. So sequential scans are off for this one query (and restored, in this transaction).
    previous = session.execute(
        text("SELECT current_setting('enable_seqscan'), set_config('enable_seqscan', 'off', true)")
    ).scalar_one()
    try:
        return [Hit(int(row_id), float(score)) for row_id, score in session.execute(statement, params)]
    finally:
        session.execute(text("SELECT set_config('enable_seqscan', :previous, true)"), {"previous": previous})


def _only_tracker(session: Session, tracker: str) -> bool:
    """True when every stored report is of ``tracker`` (min and max are one index probe each)."""
    low = session.scalar(select(func.min(ReportRow.tracker)))
    return low == tracker and session.scalar(select(func.max(ReportRow.tracker))) == tracker


def _passing(session: Session, row_ids: list[int], before: datetime | None, tracker: str | None) -> set[int]:
    """The row ids among ``row_ids`` that pass the filters (one lookup each)."""
    if not row_ids:
        return set()
    statement = select(ReportRow.id).where(ReportRow.id.in_(row_ids))
    if before is not None:
        statement = statement.where(ReportRow.created_at < before)
    if tracker is not None:
        statement = statement.where(ReportRow.tracker == tracker)
    return set(session.scalars(statement))


def rebuild_index(session: Session) -> None:
    """Rebuild the whole index from ``reports`` (repair only: normal operation never needs this)."""
    if dialect_of(session) == "sqlite":
        session.execute(text("INSERT INTO reports_fts (reports_fts) VALUES ('delete-all')"))
        session.execute(
            text(
                "INSERT INTO reports_fts (rowid, title, description) "
                f"SELECT id, title, substr(description, 1, {INDEXED_DESCRIPTION_CHARS}) FROM reports"
            )
        )
    else:
        session.execute(text("DELETE FROM report_search"))
        session.execute(
            text(
                "INSERT INTO report_search (report_id, document) SELECT r.id, "
                "setweight(to_tsvector('english'::regconfig, coalesce(r.title, '')), 'A') || "
                "setweight(to_tsvector('english'::regconfig, "
                f"left(coalesce(r.description, ''), {INDEXED_DESCRIPTION_CHARS})), 'B') FROM reports r"
            )
        )
