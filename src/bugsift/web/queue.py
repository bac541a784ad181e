"""The triage queue: new web reports with their suggestions; accepting or correcting writes a human label
plus an audit entry. Humans win: a model never replaces what a person set."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bugsift.store.labels import PRECEDENCE, upsert_labels
from bugsift.store.models import LabelRow, ReportRow
from bugsift.web.models import AuditRow
from bugsift.web.suggest import LABEL_NAMES, WEB_TRACKER


@dataclass
class Pending:
    report: ReportRow
    suggestions: list[dict[str, Any]] = field(default_factory=list)
    """One per model label without a human one: name, value, model_version, task, candidates."""


def pending(session: Session, limit: int = 50) -> list[Pending]:
    """Web reports, newest first, that still have a model label no human has accepted or corrected."""
    humans = select(LabelRow.report_id, LabelRow.name).where(LabelRow.source == "human")
    decided = {(r, n) for r, n in session.execute(humans)}
    rows = session.execute(
        select(ReportRow, LabelRow)
        .join(LabelRow, LabelRow.report_id == ReportRow.id)
        .where(ReportRow.tracker == WEB_TRACKER, LabelRow.source == "model")
        .order_by(ReportRow.id.desc(), LabelRow.name)
    )
    by_report: dict[int, Pending] = {}
    tasks_by_label = {name: task for task, name in LABEL_NAMES.items()}
    for report, label in rows:
        if (report.id, label.name) in decided:
            continue
        if report.id not in by_report:
            if len(by_report) >= limit:
                break
            by_report[report.id] = Pending(report)
        task = tasks_by_label.get(label.name, label.name)
        stored = (report.extra or {}).get("suggestions", {}).get(task, {})
        by_report[report.id].suggestions.append(
            {
                "name": label.name,
                "value": label.value,
                "model_version": label.model_version,
                "task": task,
                "probability": stored.get("probability"),
                "uncertain": stored.get("uncertain"),
                "candidates": [c.get("label") for c in stored.get("candidates", []) if c.get("label")],
            }
        )
    return list(by_report.values())


def current_label(session: Session, report_id: int, name: str) -> LabelRow | None:
    """The winning label of a report (human over import over model), or None."""
    rows = list(
        session.scalars(select(LabelRow).where(LabelRow.report_id == report_id, LabelRow.name == name))
    )
    rank = {source: i for i, source in enumerate(PRECEDENCE)}
    rows.sort(key=lambda r: rank.get(r.source, len(rank)))
    return rows[0] if rows else None


def record_human_label(
    session: Session, report_id: int, name: str, value: str, actor: str, action: str, note: str | None = None
) -> AuditRow:
    """Set a human label (it wins over every other source) and write who changed what, from what."""
    if session.get(ReportRow, report_id) is None:
        raise LookupError(f"no report with id {report_id}")
    value = value.strip()
    if not value or len(value) > 200 or not name or len(name) > 100:
        raise ValueError("a label needs a name (at most 100 characters) and a value (at most 200)")
    old = current_label(session, report_id, name)
    model = session.scalar(
        select(LabelRow).where(
            LabelRow.report_id == report_id, LabelRow.name == name, LabelRow.source == "model"
        )
    )
    upsert_labels(session, [(report_id, name, value)], source="human", author=actor)
    audit = AuditRow(
        actor=actor,
        action=action,
        report_id=report_id,
        label_name=name,
        old_value=old.value if old else None,
        old_source=old.source if old else None,
        new_value=value,
        model_version=model.model_version if model else None,
        detail={"model_value": model.value} if model else {},
        note=note,
    )
    session.add(audit)
    session.flush()
    return audit


def audit_entries(session: Session, report_id: int | None = None, limit: int = 100) -> list[AuditRow]:
    query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
    if report_id is not None:
        query = query.where(AuditRow.report_id == report_id)
    return list(session.scalars(query))
