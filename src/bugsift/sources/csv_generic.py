"""Generic importer: CSV columns, or the keys of JSON-lines records, id, title, body (aliases summary,
description), optional created_at and project, and any other column as a label (``product`` and
``component`` are also the report's own fields).

Column names are matched without regard to case or surrounding spaces. A ``type`` column (or else a
``label`` column) also fills `Report.type`, as the label columns of the GitHub CSV do.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bugsift.sources.base import RecordError, Rejected, Report
from bugsift.sources.io import (
    column_index,
    csv_header,
    guarded,
    iter_csv_rows,
    iter_json_records,
    parse_datetime,
    sniff_kind,
)

# Report field -> accepted column names, first match wins.
REQUIRED = {"id": ("id",), "title": ("title", "summary"), "body": ("body", "description")}
OPTIONAL = {"created_at": ("created_at", "created", "creation_time"), "project": ("project",)}


def read(path: Path, tracker: str = "csv") -> Iterator[Report | Rejected]:
    """Read reports from a CSV file (plain, .gz or .xz); a missing required column is a ValueError.

    JSON lines (or a JSON list) of flat records with the same names as keys are read too; there a
    record without a required key is rejected with its line, and the others go on.
    """
    path = Path(path)
    if sniff_kind(path) == "json":
        return _read_json(path, tracker)
    header = csv_header(path)
    columns = map_columns(path, header)
    return (
        item
        for location, row in iter_csv_rows(path)
        for item in guarded(location, from_row, header, row, columns, tracker)
    )


def _read_json(path: Path, tracker: str) -> Iterator[Report | Rejected]:
    for item in iter_json_records(path):
        if isinstance(item, Rejected):
            yield item
            continue
        location, record = item
        yield from guarded(location, _from_record, record, tracker)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _from_record(record: Any, tracker: str) -> Report:
    """One JSON record, read as a CSV row whose header is the record's keys."""
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, found {type(record).__name__}")
    header = [str(key) for key in record]
    try:
        columns = map_columns(Path("record"), header)
    except ValueError as exc:
        raise RecordError(str(exc).removeprefix("record: ")) from None
    return from_row(header, [_cell(v) for v in record.values()], columns, tracker)


def map_columns(path: Path, header: list[str]) -> dict[str, int]:
    """Index of each known column; raises ValueError naming the file and the first missing column."""
    columns: dict[str, int] = {}
    for field, names in REQUIRED.items():
        index = column_index(header, *names)
        if index is None:
            aliases = f" (or {' / '.join(repr(n) for n in names[1:])})" if len(names) > 1 else ""
            raise ValueError(
                f"{path}: missing required column {names[0]!r}{aliases}; found columns: {', '.join(header)}"
            )
        columns[field] = index
    for field, names in OPTIONAL.items():
        index = column_index(header, *names)
        if index is not None:
            columns[field] = index
    return columns


def from_row(header: list[str], row: list[str], columns: dict[str, int], tracker: str = "csv") -> Report:
    """One data row; short rows are padded with empty cells, rows wider than the header are rejected."""
    if len(row) > len(header):
        raise RecordError(f"row has {len(row)} fields but the header has {len(header)}")
    row = row + [""] * (len(header) - len(row))
    external_id = row[columns["id"]].strip()
    if not external_id:
        raise RecordError("missing field 'id'")
    known = set(columns.values())
    labels = {
        name: row[i].strip() for i, name in enumerate(header) if i not in known and name and row[i].strip()
    }
    lowered = {name.lower(): value for name, value in labels.items()}
    created = row[columns["created_at"]].strip() if "created_at" in columns else None
    return Report(
        tracker=tracker,
        external_id=external_id,
        title=row[columns["title"]],
        description=row[columns["body"]],
        project=row[columns["project"]].strip() if "project" in columns else "",
        created_at=parse_datetime(created, "created_at"),
        type=lowered.get("type") or lowered.get("label"),
        # a product the reporter named holds component answers to it; both stay labels as well
        product=lowered.get("product") or None,
        component=lowered.get("component") or None,
        components=[lowered["component"]] if lowered.get("component") else [],
        labels=labels,
        raw=dict(zip(header, row, strict=True)),
    )
