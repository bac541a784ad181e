"""Import tracker dumps and label files into the store, in batches that commit whole or not at all.

A crash mid-import leaves every committed batch in place and nothing half-written; because the upsert
is idempotent, running the same import again finishes the job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

from bugsift import ingest_reader
from bugsift.sources import read_reports
from bugsift.sources.base import Rejected, Report
from bugsift.sources.label_files import read_label_file
from bugsift.store.db import Database
from bugsift.store.labels import upsert_labels
from bugsift.store.reports import (
    PreparedReport,
    UpsertCounts,
    find_report_ids,
    prepare_report,
    upsert_reports,
)

Progress = Callable[[int], None]
_T = TypeVar("_T")


class ImportStopped(RuntimeError):
    """The database refused a batch (full disk, lost connection ...): the message says which file, how far
    the import got and why, without the SQL and report contents a database error carries."""


@dataclass
class ImportSummary:
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    rejected: list[Rejected] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """``file:line: what`` for records kept with a change (a field cut to its size limit)."""
    per_file: dict[Path, tuple[int, int]] = field(default_factory=dict)
    """(stored, rejected) records of each file read."""

    @property
    def stored(self) -> int:
        return self.counts.imported + self.counts.updated + self.counts.unchanged

    @property
    def read(self) -> int:
        return self.stored + len(self.rejected)

    def line(self) -> str:
        c = self.counts
        return (
            f"imported {c.imported}, updated {c.updated}, unchanged {c.unchanged}, "
            f"rejected {len(self.rejected)}"
        )

    def files_without_reports(self) -> list[str]:
        """One ``file: why`` line for each file of which no record was stored."""
        return [
            f"{path}: nothing imported: "
            + (f"all {rejected} records were rejected" if rejected else "the file holds no records")
            for path, (stored, rejected) in self.per_file.items()
            if not stored
        ]


def _batches(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _read(
    fmt: str, path: Path, tracker: str | None, batch_size: int, keep: Callable[[Report], bool] | None
) -> Iterator[list[PreparedReport | Rejected]]:
    """The file's batches, prepared for the upsert: in a reader process for a big file (`ingest_reader`),
    here for a small one or when ``keep`` filters (a filter may not survive the trip to a process)."""
    if keep is None and ingest_reader.wants_child(path):
        yield from ingest_reader.prepared_batches(fmt, path, tracker, batch_size)
        return
    for batch in _batches(read_reports(fmt, path, tracker=tracker), batch_size):
        yield [
            item if isinstance(item, Rejected) else prepare_report(item)
            for item in batch
            if isinstance(item, Rejected) or keep is None or keep(item)
        ]


def import_reports(
    database: Database,
    fmt: str,
    paths: Iterable[Path],
    tracker: str | None = None,
    batch_size: int = 500,
    progress: Progress | None = None,
    keep: Callable[[Report], bool] | None = None,
) -> ImportSummary:
    """Read every file and upsert its reports; malformed records are collected, not fatal.

    ``keep`` (when given) says which of the reports read are stored; the others are skipped, not counted.

    A database error stops the import with `ImportStopped`: the failing batch is rolled back, the batches
    committed before it stay.
    """
    summary = ImportSummary()
    for path in paths:
        stored_before, rejected_before = summary.stored, len(summary.rejected)
        summary.per_file[Path(path)] = (0, 0)
        for batch in _read(fmt, Path(path), tracker, batch_size, keep):
            reports = [item for item in batch if isinstance(item, PreparedReport)]
            summary.rejected.extend(item for item in batch if isinstance(item, Rejected))
            summary.warnings.extend(warning for report in reports for warning in report.warnings)
            try:
                with database.session() as session:
                    summary.counts.add(upsert_reports(session, reports))
            except DBAPIError as error:
                raise ImportStopped(
                    _stopped(Path(path), summary.stored - stored_before, summary, error)
                ) from error
            summary.per_file[Path(path)] = (
                summary.stored - stored_before,
                len(summary.rejected) - rejected_before,
            )
            if progress:
                progress(len(batch))
    if summary.counts.imported or summary.counts.updated:
        try:
            database.refresh_statistics()
        except DBAPIError as error:  # everything is stored; only the planner's statistics are stale
            summary.warnings.append(f"could not refresh the planner statistics: {database_problem(error)}")
    return summary


def database_problem(error: DBAPIError) -> str:
    """What went wrong, in words, from the driver's own first line (never the SQL or its parameters)."""
    original = error.orig
    message = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    full = getattr(original, "sqlite_errorname", None) == "SQLITE_FULL" or "disk is full" in message
    if full or getattr(original, "sqlstate", None) == "53100":  # PostgreSQL's disk_full
        return f"the disk or database is full ({message})"
    return f"database error: {type(original).__name__}: {message}"


def _stopped(path: Path, stored_of_file: int, summary: ImportSummary, error: DBAPIError) -> str:
    return (
        f"{path}: {database_problem(error)}; the import stopped here.\n"
        f"{stored_of_file:,} records of this file ({summary.stored:,} in all) were stored before it; the "
        "failed batch was rolled back. Run the same import again once the problem is fixed."
    )


@dataclass
class LabelImportSummary:
    stored: int = 0
    unknown_ids: list[str] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"stored {self.stored} labels, {len(self.unknown_ids)} ids not in the database, "
            f"rejected {len(self.rejected)}"
        )


def import_labels(
    database: Database,
    path: Path,
    name: str,
    column: str | None = None,
    id_column: str | None = None,
    tracker: str | None = None,
    source: str = "import",
    author: str | None = None,
) -> LabelImportSummary:
    """Store one named label set from a CSV or JSON-lines file of (id, value) rows."""
    summary = LabelImportSummary()
    values: dict[str, str] = {}
    for item in read_label_file(path, name=name, column=column, id_column=id_column):
        if isinstance(item, Rejected):
            summary.rejected.append(item)
        else:
            values[item[0]] = item[1]  # the last row for an id wins, as in a spreadsheet
    with database.session() as session:
        ids = find_report_ids(session, tracker, values)
        summary.unknown_ids = [external_id for external_id in values if external_id not in ids]
        items = [(row_id, name, values[ext]) for ext, row_ids in ids.items() for row_id in row_ids]
        summary.stored = upsert_labels(session, items, source=source, author=author or str(path))
    return summary
