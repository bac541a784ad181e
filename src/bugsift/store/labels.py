"""Labels: separate from reports, one row per (report, name, source). A human label always wins."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from bugsift.store.models import LabelRow, utcnow
from bugsift.store.upsert import insert_for

SOURCES = ("import", "human", "model")
# When several sources label the same report, the first one here wins.
PRECEDENCE = ("human", "import", "model")


def upsert_labels(
    session: Session,
    items: Iterable[tuple[int, str, str]],
    source: str,
    author: str | None = None,
    model_version: str | None = None,
) -> int:
    """Bulk create-or-replace (report id, name, value) labels of one source; returns how many were given.

    ``model_version`` names the model that made ``model`` labels; a row changes only when the value,
    author or model version does.
    """
    if source not in SOURCES:
        raise ValueError(f"label source must be one of {', '.join(SOURCES)}, not {source!r}")
    now = utcnow()
    rows = [
        {
            "report_id": report_id,
            "name": name,
            "value": value,
            "source": source,
            "author": author,
            "model_version": model_version,
            "created_at": now,
            "updated_at": now,
        }
        for report_id, name, value in items
    ]
    if rows:
        insert = insert_for(session, LabelRow)
        insert = insert.on_conflict_do_update(
            index_elements=["report_id", "name", "source"],
            set_={
                "value": insert.excluded.value,
                "author": insert.excluded.author,
                "model_version": insert.excluded.model_version,
                "updated_at": now,
            },
            where=(LabelRow.value != insert.excluded.value)
            | LabelRow.author.is_distinct_from(insert.excluded.author)
            | LabelRow.model_version.is_distinct_from(insert.excluded.model_version),
        )
        session.connection().execute(insert, rows)
    return len(rows)


def effective_labels(session: Session, name: str) -> dict[int, str]:
    """The winning value of a label name per report id: human over import over model."""
    rank = {source: i for i, source in enumerate(PRECEDENCE)}
    best: dict[int, tuple[int, str]] = {}
    for report_id, value, source in session.execute(
        select(LabelRow.report_id, LabelRow.value, LabelRow.source).where(LabelRow.name == name)
    ):
        candidate = (rank.get(source, len(rank)), value)
        if report_id not in best or candidate[0] < best[report_id][0]:
            best[report_id] = candidate
    return {report_id: value for report_id, (_, value) in best.items()}


def label_names(session: Session) -> dict[str, int]:
    """Label names in the store with how many reports carry each."""
    from sqlalchemy import func

    rows = session.execute(
        select(LabelRow.name, func.count(func.distinct(LabelRow.report_id))).group_by(LabelRow.name)
    )
    return {name: count for name, count in rows}
