"""Labels: separate from reports, one row per (report, name, source). A human label always wins."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from bugsift.store.models import LabelRow, utcnow
from bugsift.store.upsert import insert_for

SOURCES = ("import", "human", "model")
# When several sources label the same report, the first one here wins.
PRECEDENCE = ("human", "import", "model")


class ModelAnswer(NamedTuple):
    """A model's answer for one report, stored as its ``model`` label with what the answer rested on."""

    report_id: int
    name: str
    value: str
    probability: float | None = None
    uncertain: bool | None = None
    explanation: list[dict[str, Any]] | None = None

    @classmethod
    def of_prediction(cls, report_id: int, name: str, result: dict[str, Any]) -> ModelAnswer | None:
        """The label a prediction (the predict contract) becomes, or None when it names no value."""
        if result.get("prediction") in (None, ""):
            return None
        probability, explanation = result.get("probability"), result.get("explanation")
        known = isinstance(probability, int | float) and not isinstance(probability, bool)
        known = known and result.get("calibrated") is not False  # a bare similarity score is no probability
        return cls(
            report_id,
            name,
            str(result["prediction"])[:200],
            float(probability) if known else None,
            bool(result.get("uncertain")),
            explanation if isinstance(explanation, list) else None,
        )


def upsert_labels(
    session: Session,
    items: Iterable[tuple[int, str, str]],
    source: str,
    author: str | None = None,
    model_version: str | None = None,
) -> int:
    """Bulk create-or-replace (report id, name, value) labels of one source; returns how many were given.

    ``model_version`` names the model that made ``model`` labels; a row changes only when the value,
    author or model version does. Probability, "not sure" and explanation are cleared (they belonged to
    the answer replaced): `upsert_model_answers` stores them.
    """
    if source not in SOURCES:
        raise ValueError(f"label source must be one of {', '.join(SOURCES)}, not {source!r}")
    answers = (ModelAnswer(report_id, name, value) for report_id, name, value in items)
    return _upsert(session, answers, source, author, model_version)


def upsert_model_answers(session: Session, answers: Iterable[ModelAnswer], model_version: str | None) -> int:
    """Bulk create-or-replace ``model`` labels with their probability, "not sure" and explanation."""
    return _upsert(session, answers, "model", None, model_version)


def _upsert(
    session: Session,
    answers: Iterable[ModelAnswer],
    source: str,
    author: str | None,
    model_version: str | None,
) -> int:
    now = utcnow()
    rows = [
        {
            "report_id": a.report_id,
            "name": a.name,
            "value": a.value,
            "source": source,
            "author": author,
            "model_version": model_version,
            "probability": a.probability,
            "uncertain": a.uncertain,
            "explanation": a.explanation,
            "created_at": now,
            "updated_at": now,
        }
        for a in answers
    ]
    if rows:
        insert = insert_for(session, LabelRow)
        insert = insert.on_conflict_do_update(
            index_elements=["report_id", "name", "source"],
            set_={
                "value": insert.excluded.value,
                "author": insert.excluded.author,
                "model_version": insert.excluded.model_version,
                "probability": insert.excluded.probability,
                "uncertain": insert.excluded.uncertain,
                "explanation": insert.excluded.explanation,
                "updated_at": now,
            },
            # the same answer again (value, version, probability) leaves the row and its updated_at alone
            where=(LabelRow.value != insert.excluded.value)
            | LabelRow.author.is_distinct_from(insert.excluded.author)
            | LabelRow.model_version.is_distinct_from(insert.excluded.model_version)
            | LabelRow.probability.is_distinct_from(insert.excluded.probability)
            | LabelRow.uncertain.is_distinct_from(insert.excluded.uncertain),
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
