""" "Title contains": a case-insensitive substring match, seeking the trigram index where there is one.

Migration 0012 gives SQLite an FTS5 trigram table over the titles, and PostgreSQL a `pg_trgm` GIN
index, which its planner uses for ILIKE by itself. On SQLite the trigram table is asked first for at
most `PROBE` titles: a rare needle then matches those rows alone, and a common one is left to the
plain ILIKE, which finds a page of matches after a short walk (asking the index for every "the" read
half a million rows: 519 ms a page at a million reports, docs/performance.md). The ILIKE stays either
way, so the answer is the same with or without the index.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, inspect, literal_column, select, table, text
from sqlalchemy.orm import Session

from bugsift.store.models import ReportRow

TRIGRAMS = "reports_title_trigrams"
_MIN_CHARS = 3  # a trigram index finds nothing shorter: those read every title
PROBE = 2_000
"""Titles asked of the index: fewer matches than this seek them; more, and the plain walk stops sooner."""
_has_trigrams: dict[str, bool] = {}


def title_contains(session: Session, needle: str) -> ColumnElement[bool]:
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    match = ReportRow.title.ilike(f"%{escaped}%", escape="\\")
    # FTS5 seeks LIKE without ESCAPE only: a needle with a wildcard character reads every title
    if len(needle) < _MIN_CHARS or escaped != needle or not _sqlite_trigrams(session):
        return match
    trigrams = table(TRIGRAMS, literal_column("title"))
    probe = (
        select(literal_column("rowid"))
        .select_from(trigrams)
        .where(text("title LIKE :needle").bindparams(needle=f"%{needle}%"))
        .limit(PROBE)
    )
    found = list(session.scalars(probe))
    return match if len(found) >= PROBE else and_(ReportRow.id.in_(found), match)


def _sqlite_trigrams(session: Session) -> bool:
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return False
    key = str(bind.engine.url)
    if key not in _has_trigrams:
        _has_trigrams[key] = inspect(session.connection()).has_table(TRIGRAMS)
    return _has_trigrams[key]
