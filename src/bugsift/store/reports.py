"""Reports in the database: idempotent batch upsert from importers, and reading them back as `Report`."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from bugsift.sources.base import FILED_FIELDS, Report
from bugsift.store.compressed import pack
from bugsift.store.jsoncodec import json_bytes
from bugsift.store.labels import upsert_labels
from bugsift.store.models import ReportRow, utcnow
from bugsift.store.upsert import insert_new_rows

ReportKey = tuple[str, str, str]  # (tracker, project, external_id)
_KEY = ("tracker", "project", "external_id")  # the unique constraint uq_reports_tracker_project_id
_IN_CHUNK = 500  # external ids per lookup query: well under every backend's bound-parameter limit

# Columns copied one-to-one between Report and ReportRow.
_PLAIN_FIELDS = (
    "tracker",
    "project",
    "external_id",
    "title",
    "description",
    "reporter",
    "created_at",
    "type",
    "product",
    "component",
    "components",
    "severity",
    "priority",
    "status",
    "resolution",
    "resolved_at",
    "duplicate_of",
    "fixed_files",
    "keywords",
    "comments",
    "extra",
    "raw",
)
_PACKED_FIELDS = ("raw", "comments")  # the CompressedJSON columns


@dataclass
class UpsertCounts:
    imported: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: UpsertCounts) -> None:
        self.imported += other.imported
        self.updated += other.updated
        self.unchanged += other.unchanged


@dataclass
class PreparedReport:
    """A report as its row's values, content hash computed and big columns compressed: all an upsert
    needs but the database, so an import can prepare its reports in another process (`ingest_reader`)."""

    key: ReportKey
    values: dict[str, Any]
    labels: dict[str, str]
    warnings: list[str]


def prepare_report(report: Report) -> PreparedReport:
    values = _row_values(report)
    for name in _PACKED_FIELDS:  # after the hash, which is of the values themselves
        values[name] = pack(values[name])
    return PreparedReport(report_key(report), values, report.labels, report.warnings)


def report_key(report: Report) -> ReportKey:
    return (report.tracker, report.project or "", report.external_id)


def _row_values(report: Report) -> dict[str, Any]:
    values = {name: getattr(report, name) for name in _PLAIN_FIELDS}
    values["project"] = report.project or ""
    filed = report.filed
    values["filed_from_history"] = filed is not None
    for name in FILED_FIELDS:
        values[f"filed_{name}"] = None if filed is None else filed.get(name)
    values["content_hash"] = _content_hash(values)
    return values


def _content_hash(values: dict[str, Any]) -> str:
    return hashlib.sha256(json_bytes(values, sort_keys=True)).hexdigest()


def upsert_reports(session: Session, reports: Sequence[Report | PreparedReport]) -> UpsertCounts:
    """Insert new reports, update changed ones, leave identical ones alone; import labels alongside.

    Runs inside the caller's transaction, so a batch is written whole or not at all.
    """
    prepared = (r if isinstance(r, PreparedReport) else prepare_report(r) for r in reports)
    latest = {p.key: p for p in prepared}  # the last one in a batch wins
    values = {key: p.values for key, p in latest.items()}
    existing = _existing(session, list(values))
    counts = UpsertCounts()
    new_rows, changed_rows = [], []
    for key, row_values in values.items():
        if key not in existing:
            new_rows.append(row_values)
        elif existing[key][1] != row_values["content_hash"]:
            changed_rows.append({"id": existing[key][0], **row_values, "updated_at": utcnow()})
        else:
            counts.unchanged += 1
    if new_rows:
        now = utcnow()
        for row_values in new_rows:  # in place: copying every row cost a twentieth of the writer's time
            row_values["imported_at"] = row_values["updated_at"] = now
        # A concurrent importer may have inserted the same key meanwhile: then this is an update.
        insert_new_rows(session, ReportRow, new_rows, _KEY, keep=("imported_at", "updated_at"))
        counts.imported += len(new_rows)
    if changed_rows:
        session.execute(update(ReportRow), changed_rows)
        counts.updated += len(changed_rows)
    _upsert_import_labels(session, latest, existing)
    return counts


def _existing(session: Session, keys: list[ReportKey]) -> dict[ReportKey, tuple[int, str]]:
    """(row id, content hash) of the keys already stored, by the unique key's index.

    One ``tracker = ? AND project = ? AND external_id IN (...)`` per (tracker, project) of the batch: a
    row-value ``IN`` over all three columns made PostgreSQL scan, about 120 ms per batch of 500.
    """
    by_project: dict[tuple[str, str], list[str]] = {}
    for tracker, project, external_id in keys:
        by_project.setdefault((tracker, project), []).append(external_id)
    found: dict[ReportKey, tuple[int, str]] = {}
    for (tracker, project), external_ids in by_project.items():
        for start in range(0, len(external_ids), _IN_CHUNK):
            rows = session.execute(
                select(ReportRow.external_id, ReportRow.id, ReportRow.content_hash).where(
                    ReportRow.tracker == tracker,
                    ReportRow.project == project,
                    ReportRow.external_id.in_(external_ids[start : start + _IN_CHUNK]),
                )
            )
            found.update(((tracker, project, e), (i, h)) for e, i, h in rows)
    return found


def _upsert_import_labels(
    session: Session, reports: dict[ReportKey, PreparedReport], known: dict[ReportKey, tuple[int, str]]
) -> None:
    with_labels = {key: r for key, r in reports.items() if r.labels}
    if not with_labels:
        return
    ids = {key: known[key][0] for key in with_labels if key in known}
    missing = [key for key in with_labels if key not in ids]  # inserted just now: their ids are new
    ids.update((key, report_id) for key, (report_id, _) in _existing(session, missing).items())
    items = [
        (ids[key], name, str(value))
        for key, report in with_labels.items()
        for name, value in report.labels.items()
    ]
    upsert_labels(session, items, source="import")


def row_to_report(row: ReportRow) -> Report:
    """Turn a stored row back into the tracker-neutral record the models read."""
    report = Report(**{name: getattr(row, name) for name in _PLAIN_FIELDS})
    if row.filed_from_history:
        report.filed = {name: getattr(row, f"filed_{name}") for name in FILED_FIELDS}
    return report


def select_reports(
    tracker: str | None = None, project: str | None = None, newest_first: bool = False
) -> Select[tuple[ReportRow]]:
    query = select(ReportRow)
    if newest_first:  # the training window reads back from the newest (ix_reports_created)
        query = query.order_by(ReportRow.created_at.desc().nulls_last(), ReportRow.id.desc())
    else:
        query = query.order_by(ReportRow.id)
    if tracker:
        query = query.where(ReportRow.tracker == tracker)
    if project:
        query = query.where(ReportRow.project == project)
    return query


def iter_reports(
    session: Session,
    tracker: str | None = None,
    project: str | None = None,
    batch_size: int = 1000,
    newest_first: bool = False,
) -> Iterator[tuple[int, Report]]:
    """Yield (row id, Report) for the stored reports, streaming in batches (by id, or newest first)."""
    query = select_reports(tracker, project, newest_first)
    result = session.execute(query.execution_options(yield_per=batch_size))
    for row in result.scalars():
        yield row.id, row_to_report(row)


def iter_newest_reports(
    session: Session, tracker: str | None, project: str | None, max_reports: int | None
) -> tuple[Iterator[tuple[int, Report]], int]:
    """The newest ``max_reports`` stored reports, newest first, and how many older ones stay unread (a
    training window: memory bounded by a setting, not by the store); every report by id without one."""
    stored = count_reports(session, tracker, project) if max_reports else 0
    if not max_reports or stored <= max_reports:
        return iter_reports(session, tracker=tracker, project=project), 0
    newest = iter_reports(session, tracker=tracker, project=project, newest_first=True)
    return itertools.islice(newest, max_reports), stored - max_reports


def stored_external_ids(session: Session, tracker: str | None = None, project: str | None = None) -> set[str]:
    """The external ids of the stored reports (only the ids: a commit log is matched against them)."""
    query = select(ReportRow.external_id)
    if tracker:
        query = query.where(ReportRow.tracker == tracker)
    if project:
        query = query.where(ReportRow.project == project)
    return set(session.scalars(query))


def count_reports(session: Session, tracker: str | None = None, project: str | None = None) -> int:
    query = select(func.count()).select_from(ReportRow)
    if tracker:
        query = query.where(ReportRow.tracker == tracker)
    if project:
        query = query.where(ReportRow.project == project)
    return int(session.scalar(query) or 0)


def find_report_ids(
    session: Session, tracker: str | None, external_ids: Iterable[str]
) -> dict[str, list[int]]:
    """Map external ids to row ids (several rows when projects of one tracker share an id)."""
    wanted = list(dict.fromkeys(external_ids))
    found: dict[str, list[int]] = {}
    for start in range(0, len(wanted), 500):
        query = select(ReportRow.external_id, ReportRow.id).where(
            ReportRow.external_id.in_(wanted[start : start + 500])
        )
        if tracker:
            query = query.where(ReportRow.tracker == tracker)
        for external_id, row_id in session.execute(query):
            found.setdefault(external_id, []).append(row_id)
    return found
