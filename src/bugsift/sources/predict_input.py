"""Reading the reports `bugsift predict` and `bugsift duplicates` answer for.

Two differences from an import: a generic record (CSV row or flat JSON line) needs no ``id`` (it gets its
line number, so that a hand-written file of titles and descriptions works), and a report with neither a
title nor a description is rejected, as the web API refuses it: a model would answer from nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bugsift.sources import read_reports
from bugsift.sources.base import RecordError, Rejected, Report
from bugsift.sources.csv_generic import from_row, map_columns
from bugsift.sources.io import (
    Location,
    column_index,
    csv_header,
    guarded,
    iter_csv_rows,
    iter_json_records,
    sniff_kind,
)

NO_TEXT = "no title and no description: give a title or a description"


def read_predict_input(fmt: str, path: Path) -> Iterator[Report | Rejected]:
    """The reports of ``path`` in format ``fmt`` (`Rejected` for bad records), ready to predict for."""
    if fmt == "csv":
        yield from _generic(path)
        return
    for item in read_reports(fmt, path):
        if isinstance(item, Report) and not _has_text(item):
            yield Rejected(f"{path}: report {item.external_id}", NO_TEXT)  # importers keep no line
        else:
            yield item


def _has_text(report: Report) -> bool:
    return bool(report.title.strip() or report.description.strip())


def _generic(path: Path) -> Iterator[Report | Rejected]:
    rows = _json_rows(path) if sniff_kind(path) == "json" else _csv_rows(path)
    for location, header, row in rows:
        if isinstance(row, Rejected):
            yield row
            continue
        for item in guarded(location, _from_numbered_row, location, header, row):
            yield Rejected(location, NO_TEXT) if isinstance(item, Report) and not _has_text(item) else item


def _from_numbered_row(location: Location, header: list[str], row: list[str]) -> Report:
    """A generic row whose missing or empty id becomes its line (record) number."""
    index = column_index(header, "id")
    if index is None:
        header, row, index = [*header, "id"], [*row, ""], len(header)
    row = row + [""] * (len(header) - len(row))
    if not row[index].strip():
        row[index] = str(location.number)
    try:
        columns = map_columns(Path("record"), header)
    except ValueError as exc:  # a JSON record without a title or body key: this record only
        raise RecordError(str(exc).removeprefix("record: ")) from None
    return from_row(header, row, columns, "csv")


def _csv_rows(path: Path) -> Iterator[tuple[Location, list[str], Any]]:
    header = csv_header(path)
    map_columns(path, [*header, "id"])  # a missing title or body column fails the whole file, up front
    for location, row in iter_csv_rows(path):
        yield location, header, row


def _json_rows(path: Path) -> Iterator[tuple[Location, list[str], Any]]:
    for item in iter_json_records(path):
        if isinstance(item, Rejected):
            yield Location(item.location, 0), [], item
            continue
        location, record = item
        if not isinstance(record, dict):
            yield location, [], Rejected(location, f"expected a JSON object, found {type(record).__name__}")
            continue
        header = [str(key) for key in record]
        yield location, header, [_cell(value) for value in record.values()]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
