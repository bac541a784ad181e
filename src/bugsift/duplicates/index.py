"""Stage one: lexical candidate search in the database itself (SQLite FTS5, PostgreSQL full text).

The index is created by migration 0002 and kept current by triggers on ``reports``: every insert, update of
the title or description, and delete inside a transaction updates the index in the same transaction. An
import (``upsert_reports``) or a new report therefore needs no hook and no rebuild; ``rebuild_index`` exists
for repairs only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from bugsift.duplicates.query import fts5_query, tsquery_text
from bugsift.store.models import UTCDateTime

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
    """
    if not terms or limit <= 0:
        return []
    excluded = set(exclude)
    filters, params = [], {"n": limit + len(excluded)}
    if before is not None:
        filters.append("r.created_at < :before")
        params["before"] = before
    if tracker is not None:
        filters.append("r.tracker = :tracker")
        params["tracker"] = tracker
    where = "".join(f" AND {f}" for f in filters)
    dialect = dialect_of(session)
    if dialect == "sqlite":
        params["q"] = fts5_query(terms)
        weights = f"{SQLITE_TITLE_WEIGHT}, 1.0"
        sql = (
            f"SELECT f.rowid, -bm25(reports_fts, {weights}) AS score FROM reports_fts f "
            f"JOIN reports r ON r.id = f.rowid WHERE reports_fts MATCH :q{where} "
            f"ORDER BY bm25(reports_fts, {weights}) LIMIT :n"
        )
    elif dialect == "postgresql":
        params["q"] = tsquery_text(terms)
        if not params["q"]:
            return []
        sql = (
            "SELECT s.report_id, ts_rank(s.document, q) AS score "
            "FROM report_search s JOIN reports r ON r.id = s.report_id, "
            "to_tsquery('english'::regconfig, :q) AS q "
            f"WHERE s.document @@ q{where} ORDER BY score DESC LIMIT :n"
        )
    else:
        raise ValueError(f"unsupported database {dialect!r}: bugsift runs on SQLite or PostgreSQL")
    statement = text(sql)
    if before is not None:
        statement = statement.bindparams(bindparam("before", type_=UTCDateTime()))
    rows = session.execute(statement, params)
    hits = [Hit(int(row_id), float(score)) for row_id, score in rows if row_id not in excluded]
    return hits[:limit]


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
