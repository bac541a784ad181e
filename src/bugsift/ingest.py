"""Import tracker dumps and label files into the store, in batches that commit whole or not at all.

A crash mid-import leaves every committed batch in place and nothing half-written; because the upsert
is idempotent, running the same import again finishes the job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from bugsift.sources import read_reports
from bugsift.sources.base import Rejected, Report
from bugsift.sources.label_files import read_label_file
from bugsift.store.db import Database
from bugsift.store.labels import upsert_labels
from bugsift.store.reports import UpsertCounts, find_report_ids, upsert_reports

Progress = Callable[[int], None]


@dataclass
class ImportSummary:
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def read(self) -> int:
        return self.counts.imported + self.counts.updated + self.counts.unchanged + len(self.rejected)

    def line(self) -> str:
        c = self.counts
        return (
            f"imported {c.imported}, updated {c.updated}, unchanged {c.unchanged}, "
            f"rejected {len(self.rejected)}"
        )


def _batches(items: Iterable[Report | Rejected], size: int) -> Iterator[list[Report | Rejected]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def import_reports(
    database: Database,
    fmt: str,
    paths: Iterable[Path],
    tracker: str | None = None,
    batch_size: int = 500,
    progress: Progress | None = None,
) -> ImportSummary:
    """Read every file and upsert its reports; malformed records are collected, not fatal."""
    summary = ImportSummary()
    for path in paths:
        for batch in _batches(read_reports(fmt, Path(path), tracker=tracker), batch_size):
            reports = [item for item in batch if isinstance(item, Report)]
            summary.rejected.extend(item for item in batch if isinstance(item, Rejected))
            with database.session() as session:
                summary.counts.add(upsert_reports(session, reports))
            if progress:
                progress(len(batch))
    if summary.counts.imported or summary.counts.updated:
        database.refresh_statistics()
    return summary


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
