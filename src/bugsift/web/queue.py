"""The triage queue: every report (imported, synced or filed) with a ``model`` label no human has decided,
and the decided ones with their history. Accepting or correcting writes a human label plus an audit
entry. Humans win: a model never replaces what a person set.

A report is *untriaged* for a label name while it has a ``model`` label of that name and no ``human``
one. Each model label keeps its answer's probability, "not sure" flag and explanation (the form and the
``classify`` job both store them); the other candidates are known for form reports only (the form keeps
each whole suggestion in ``extra["suggestions"][task]``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from bugsift.learn.reasons import texts as readable_texts
from bugsift.store.labels import PRECEDENCE, upsert_labels
from bugsift.store.models import LabelRow, ReportRow
from bugsift.store.title_search import title_contains
from bugsift.store.web_tables import AuditRow
from bugsift.web.estimates import ESTIMATE_TASKS
from bugsift.web.highlight import reason_words, unique_words
from bugsift.web.suggest import LABEL_NAMES, WEB_TRACKER

PAGE_SIZE = 50
MAX_PAGE = 10_000
SORTS = ("newest", "oldest", "unsure", "confident")
"""Queue orders: filing date, or the stored probability (least or most sure first, unknown ones last)."""
TASKS_BY_LABEL = {name: task for task, name in LABEL_NAMES.items()}
NOT_TO_DECIDE = ESTIMATE_TASKS
"""Model labels no one decides: a fix-time estimate stored by an older version (now computed live)."""


@dataclass
class Filters:
    tracker: str = ""
    product: str = ""
    label: str = ""
    """A label name (``defect``, ``type``...): only reports undecided for it."""
    value: str = ""
    """A predicted value of an undecided model label."""
    unsure: bool = False
    q: str = ""
    sort: str = "newest"
    page: int = 1


@dataclass
class Pending:
    report: ReportRow
    suggestions: list[dict[str, Any]] = field(default_factory=list)
    """One per model label without a human one: name, value, model_version, task, probability, uncertain,
    candidates, reasons, words (the report's words its reasons name)."""

    @property
    def words(self) -> list[str]:
        """The words behind all its suggestions, to mark in the report's text."""
        return unique_words(w for s in self.suggestions for w in s["words"])


@dataclass
class Decided:
    report: ReportRow
    decided_at: datetime | None
    labels: list[LabelRow] = field(default_factory=list)
    """The report's human labels."""


@dataclass
class Page:
    items: list[Any]
    page: int
    has_next: bool
    total: int | None = None


def display_id(report: ReportRow) -> str:
    """The id people use: the tracker's own (``jira HADOOP-12``); a web report's reference alone."""
    if report.tracker == WEB_TRACKER:
        return report.external_id
    return f"{report.tracker} {report.external_id}"


def facts(report: ReportRow) -> dict[str, str]:
    """What a row shows of a report besides its title: where it belongs, version, reporter, filing date."""
    extra = report.extra or {}
    version = extra.get("version")
    if not version and isinstance(extra.get("versions"), list):
        version = ", ".join(str(v) for v in extra["versions"][:3])
    component = report.component or ", ".join(str(c) for c in (report.components or [])[:3])
    return {
        "product": report.product or report.project or "",
        "component": component or "",
        "version": str(version or ""),
        "reporter": report.reporter or "",
        "filed": report.created_at.strftime("%Y-%m-%d") if report.created_at else "",
    }


def reason_texts(explanation: Any, n: int = 6) -> list[str]:
    """What drove a prediction: each reason's ``text`` (plain strings of older answers too), never a
    feature id or a bare stop word (an answer stored before reasons were words may hold those)."""
    return readable_texts(explanation if isinstance(explanation, list) else [])[:n]


def _stored(report: ReportRow, task: str) -> dict[str, Any]:
    suggestions = (report.extra or {}).get("suggestions")
    found = suggestions.get(task) if isinstance(suggestions, dict) else None
    return found if isinstance(found, dict) else {}


def _suggestion(report: ReportRow, label: LabelRow) -> dict[str, Any]:
    task = TASKS_BY_LABEL.get(label.name, label.name)
    stored = _stored(report, task)
    if str(stored.get("prediction"))[:200] != label.value:
        stored = {}  # predicted again since (e.g. by classify): the form's candidates are another answer's
    # a bucket (a folded '(other)', Untriaged) is no value a triager should file a report under
    candidates = [
        str(c["label"])
        for c in stored.get("candidates") or []
        if isinstance(c, dict) and c.get("label") and not c.get("catch_all")
    ]
    return {
        "name": label.name,
        "value": label.value,
        "model_version": label.model_version,
        "task": task,
        "probability": label.probability,
        "uncertain": bool(label.uncertain),
        "candidates": candidates,
        "reasons": reason_texts(label.explanation),
        "words": reason_words(label.explanation),
    }


def _report_filters(session: Session, query: Any, filters: Filters) -> Any:
    if filters.tracker:
        query = query.where(ReportRow.tracker == filters.tracker)
    if filters.product:  # the product, or the project where the tracker has no product (Jira)
        query = query.where(or_(ReportRow.product == filters.product, ReportRow.project == filters.product))
    if filters.q:
        query = query.where(title_contains(session, filters.q))
    return query


def _undecided(model: Any) -> Any:
    human = aliased(LabelRow)
    return ~exists().where(
        human.report_id == model.report_id, human.name == model.name, human.source == "human"
    )


def _by_probability(session: Session, model: Any, conditions: list[Any], filters: Filters) -> Any:
    """Report ids ordered by the least sure of their matching undecided answers, most sure first
    (``confident``); answers stored without a probability (before 0008) last.

    One pass over the labels grouped by report, not a sub-query per report. "Least sure first" walks the
    answers instead (`_least_sure_first`).
    """
    probability = func.min(model.probability)
    query = _answers(session, model, conditions, filters)
    # ties (answers without a probability) newest stored first: row ids grow with each import
    return query.group_by(model.report_id).order_by(
        probability.is_(None), probability.desc(), model.report_id.desc()
    )


def _answers(session: Session, model: Any, conditions: list[Any], filters: Filters) -> Any:
    query = select(model.report_id).where(*conditions)  # the labels alone, unless reports are filtered
    if filters.tracker or filters.product or filters.q:
        query = _report_filters(session, query.join(ReportRow, ReportRow.id == model.report_id), filters)
    return query


def _least_sure_first(
    session: Session, model: Any, conditions: list[Any], filters: Filters, skip: int, count: int
) -> list[int]:
    """Reports ``skip`` to ``skip + count`` by their least sure matching answer, then those without one.

    A report's first answer in probability order is its least sure one, so walking the answers by
    ``ix_labels_probability`` and keeping each report's first gives the order of a GROUP BY over its
    minimum, but reads about a page of labels instead of all of them (2.7 s at a million reports).
    """
    wanted = skip + count
    seen: dict[int, None] = {}
    for known in (True, False):
        answers = _answers(
            session,
            model,
            [*conditions, model.probability.is_not(None) if known else model.probability.is_(None)],
            filters,
        )
        order = (model.probability.asc(), model.report_id.desc()) if known else (model.report_id.desc(),)
        read, batch = 0, max(2 * wanted, 100)
        while len(seen) < wanted:
            ids = list(session.scalars(answers.order_by(*order).offset(read).limit(batch)))
            seen.update(dict.fromkeys(ids))
            read += len(ids)
            if len(ids) < batch:
                break
            batch *= 2  # many answers per report (several tasks): read further at once
    return list(seen)[skip:wanted]


def pending(session: Session, filters: Filters | None = None, limit: int = PAGE_SIZE) -> Page:
    """One page of reports with an undecided model label matching the filters, in the filters' order."""
    filters = filters or Filters()
    model = aliased(LabelRow)
    undecided = [model.source == "model", model.name.not_in(NOT_TO_DECIDE), _undecided(model)]
    conditions = list(undecided)  # of the label
    if filters.label:
        conditions.append(model.name == filters.label)
    if filters.value:
        conditions.append(model.value == filters.value)
    if filters.unsure:
        conditions.append(model.uncertain == true())  # the model's own "not sure", stored with its label
    if filters.sort == "unsure":
        skip = (filters.page - 1) * limit
        ids = _least_sure_first(session, model, conditions, filters, skip, limit + 1)
        return _page(session, model, undecided, ids, filters.page, limit)
    if filters.sort == "confident":
        query = _by_probability(session, model, conditions, filters)
    else:
        match = exists().where(model.report_id == ReportRow.id, *conditions)
        query = _report_filters(session, select(ReportRow.id).where(match), filters)
        query = query.order_by(
            *(
                (ReportRow.created_at.asc(), ReportRow.id.asc())
                if filters.sort == "oldest"
                else (ReportRow.created_at.desc(), ReportRow.id.desc())
            )
        )
    ids = list(session.scalars(query.offset((filters.page - 1) * limit).limit(limit + 1)))
    return _page(session, model, undecided, ids, filters.page, limit)


def _page(session: Session, model: Any, undecided: list[Any], ids: list[int], page: int, limit: int) -> Page:
    """The page of these report ids (one more than ``limit`` when a next page exists), with their
    undecided suggestions."""
    has_next = len(ids) > limit
    ids = ids[:limit]
    if not ids:
        return Page([], page, False)
    reports = {r.id: r for r in session.scalars(select(ReportRow).where(ReportRow.id.in_(ids)))}
    by_report = {i: Pending(reports[i]) for i in ids}
    labels = session.scalars(select(model).where(model.report_id.in_(ids), *undecided).order_by(model.name))
    for label in labels:
        by_report[label.report_id].suggestions.append(_suggestion(reports[label.report_id], label))
    return Page(list(by_report.values()), page, has_next)


def decided(session: Session, filters: Filters | None = None, limit: int = PAGE_SIZE) -> Page:
    """One page of reports with a human label, the newest decision first."""
    filters = filters or Filters()
    human = aliased(LabelRow)
    latest = func.max(human.updated_at).label("decided_at")
    query = select(human.report_id, latest).where(human.source == "human")
    if filters.label:
        query = query.where(human.name == filters.label)
    if filters.value:
        query = query.where(human.value == filters.value)
    if filters.tracker or filters.product or filters.q:
        query = _report_filters(session, query.join(ReportRow, ReportRow.id == human.report_id), filters)
    query = query.group_by(human.report_id).order_by(latest.desc(), human.report_id.desc())
    rows = list(session.execute(query.offset((filters.page - 1) * limit).limit(limit + 1)))
    has_next = len(rows) > limit
    rows = rows[:limit]
    ids = [r for r, _ in rows]
    if not ids:
        return Page([], filters.page, False)
    reports = {r.id: r for r in session.scalars(select(ReportRow).where(ReportRow.id.in_(ids)))}
    items = {i: Decided(reports[i], at) for i, at in rows}
    for label in session.scalars(
        select(LabelRow)
        .where(LabelRow.report_id.in_(ids), LabelRow.source == "human")
        .order_by(LabelRow.name)
    ):
        items[label.report_id].labels.append(label)
    return Page(list(items.values()), filters.page, has_next)


def report_detail(session: Session, report_id: int) -> dict[str, Any] | None:
    """A report with all its labels, its undecided suggestions and its audit history; None if unknown."""
    report = session.get(ReportRow, report_id)
    if report is None:
        return None
    labels = list(
        session.scalars(
            select(LabelRow).where(LabelRow.report_id == report_id).order_by(LabelRow.name, LabelRow.source)
        )
    )
    human_names = {label.name for label in labels if label.source == "human"}
    suggestions = [
        _suggestion(report, label)
        for label in labels
        if label.source == "model" and label.name not in human_names and label.name not in NOT_TO_DECIDE
    ]
    return {
        "report": report,
        "labels": labels,
        "suggestions": suggestions,
        # a decided report's text too is marked with the words behind the model's answers
        "words": reason_words(*(label.explanation for label in labels if label.source == "model")),
        "history": audit_entries(session, report_id),
    }


def choices(session: Session) -> dict[str, list[str]]:
    """Values for the filter form: trackers and the names of model labels."""
    trackers = list(session.scalars(select(ReportRow.tracker).distinct().order_by(ReportRow.tracker)))
    names = list(
        session.scalars(
            select(LabelRow.name)
            .where(LabelRow.source == "model", LabelRow.name.not_in(NOT_TO_DECIDE))
            .distinct()
            .order_by(LabelRow.name)
        )
    )
    return {"trackers": trackers, "labels": names}


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


def recent_decisions(session: Session, limit: int = 10) -> list[tuple[AuditRow, ReportRow | None]]:
    """The newest audit rows, each with its report (None when the report was deleted since)."""
    entries = audit_entries(session, limit=limit)
    ids = {a.report_id for a in entries if a.report_id is not None}
    reports = (
        {r.id: r for r in session.scalars(select(ReportRow).where(ReportRow.id.in_(ids)))} if ids else {}
    )
    return [(a, reports.get(a.report_id)) for a in entries]  # type: ignore[arg-type]


def audit_entries(session: Session, report_id: int | None = None, limit: int = 100) -> list[AuditRow]:
    query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
    if report_id is not None:
        query = query.where(AuditRow.report_id == report_id)
    return list(session.scalars(query))
