"""Generic CSV importer: columns, aliases, labels, bad rows, huge fields, compression."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

import pytest

from bugsift.sources import Rejected, Report, read_reports


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


@pytest.fixture
def compact_rows(data_dir: Path) -> list[list[str]]:
    """Real Mozilla bugs (compact labeled file) as generic CSV rows."""
    with open(data_dir / "bugzilla-mozilla" / "bugs_compact_labeled.jsonl", encoding="utf-8") as fh:
        bugs = [json.loads(line) for line in islice(fh, 31)]
    header = ["id", "summary", "description", "creation_time", "product", "is_bug", "is_bug_derived"]
    rows = [[str(b[h]) if b[h] is not None else "" for h in header] for b in bugs]
    return [header, *rows]


def test_real_rows_with_aliases_and_label_columns(tmp_path: Path, compact_rows: list[list[str]]):
    path = write_csv(tmp_path / "bugs.csv", compact_rows)

    reports = list(read_reports("csv", path))

    assert len(reports) == 31 and all(isinstance(r, Report) for r in reports)
    first, labeled = reports[0], reports[29]
    assert (first.tracker, first.external_id) == ("csv", "518272")
    assert first.title.startswith("Namoroka - datepicker")
    assert first.description.startswith("User-Agent:")
    assert first.created_at == datetime(2009, 9, 23, 2, 57, 43, tzinfo=UTC)
    assert first.labels == {"product": "Core", "is_bug_derived": "True"}  # empty is_bug is no label
    assert first.product == "Core" and first.component is None  # the field too: components answer to it
    assert labeled.labels["is_bug"] == "True"


def test_missing_required_column_names_file_and_column(tmp_path: Path):
    path = write_csv(tmp_path / "no_body.csv", [["id", "title", "type"], ["1", "Crash", "bug"]])

    with pytest.raises(ValueError) as error:
        read_reports("csv", path)

    message = str(error.value)
    assert str(path) in message and "missing required column 'body' (or 'description')" in message


def test_bad_rows_are_rejected_with_their_line(tmp_path: Path):
    path = write_csv(
        tmp_path / "issues.csv",
        [
            ["id", "title", "body", "created_at", "project", "type"],
            ["1", "Crash", "multi\nline body", "2020-01-02T03:04:05+01:00", "web", "bug"],
            ["", "No id", "x", "", "", ""],
            ["3", "Bad date", "x", "someday", "", ""],
            ["4", "Too wide", "x", "", "", "", "extra"],
            ["5", "Short row", "x"],
        ],
    )

    items = list(read_reports("csv", path))

    assert items[0].created_at == datetime(2020, 1, 2, 2, 4, 5, tzinfo=UTC)
    assert (items[0].project, items[0].type, items[0].labels) == ("web", "bug", {"type": "bug"})
    assert items[0].description == "multi\nline body"
    assert items[1] == Rejected(f"{path}:4", "missing field 'id'")  # row 1 spans lines 2-3
    assert items[2] == Rejected(f"{path}:5", "field 'created_at' is not a date: 'someday'")
    assert items[3] == Rejected(f"{path}:6", "row has 7 fields but the header has 6")
    assert isinstance(items[4], Report) and items[4].external_id == "5" and items[4].labels == {}


def test_huge_field_nul_and_invalid_utf8_in_gzip(tmp_path: Path):
    huge = "x" * 300_000
    text = f"id,title,body\n1,huge,{huge}\n2,nul,a\x00b\n3,latin,caf"
    path = tmp_path / "odd.csv.gz"
    path.write_bytes(gzip.compress(text.encode() + b"\xe9\n"))

    huge_report, nul, latin = list(read_reports("csv", path))

    assert huge_report.description == huge
    assert nul.description == "ab"
    assert latin.description == "caf\ufffd"


def test_semicolon_delimited_with_bom(tmp_path: Path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffID;Summary;Body;is_bug\n7;Broken;It fails;False\n".encode())

    (report,) = list(read_reports("csv", path))

    assert (report.external_id, report.title, report.labels) == ("7", "Broken", {"is_bug": "False"})


def test_flat_json_lines_are_read_with_the_same_names(tmp_path: Path, compact_rows: list[list[str]]):
    from bugsift.sources.detect import detect_format

    rows = compact_rows[1:]
    records = [
        {"id": int(r[0]), "title": r[1], "body": r[2], "created_at": r[3], "is_bug": r[5]} for r in rows
    ]
    records[4] = {"id": 5, "title": "no body key"}
    path = tmp_path / "new_reports.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")

    assert detect_format(path) == "csv"
    items = list(read_reports("csv", path))
    reports = [i for i in items if isinstance(i, Report)]
    [rejected] = [i for i in items if isinstance(i, Rejected)]
    assert len(reports) == len(rows) - 1
    assert (reports[0].external_id, reports[0].title) == (rows[0][0], rows[0][1])
    assert reports[0].description == rows[0][2] and reports[0].created_at is not None
    assert reports[0].labels == ({"is_bug": rows[0][5]} if rows[0][5] else {})
    assert rejected.location.endswith(":5") and "missing required column 'body'" in rejected.reason
