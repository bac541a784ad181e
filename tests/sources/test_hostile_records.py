"""Hostile records in real files: nesting that overflows a decoder, lone surrogates, huge fields.

Each is one bad record among real ones (slices of ../shared/data): it is rejected or repaired with its
file:line, and every record before and after it is read.
"""

from __future__ import annotations

import csv
import json
import lzma
import sys
from itertools import islice
from pathlib import Path

import pytest

from bugsift.sources import Rejected, Report, read_reports
from bugsift.sources.detect import detect_format
from bugsift.sources.io import MAX_FIELD_CHARS, MAX_JSON_DEPTH, iter_json_records
from bugsift.sources.label_files import read_label_file

DEEP = "[" * 10_000 + "]" * 10_000
"""Overflows the stdlib JSON decoder (RecursionError) at ~1,000 levels."""
DEEPISH = "[" * 300 + "]" * 300
"""Decodes, but orjson (which stores the records) refuses more than 255 levels."""

# One real sample per format: (format, file under shared data, id of a record)
SAMPLES = {
    "bugzilla": "bugzilla-mozilla/bugs_full_add08f170.jsonl.xz",
    "jira": "apache-jira/jira_issues.jsonl.xz",
    "github": "github-issues/tickettagger_only_english.jsonl",
    "csv": "bugzilla-mozilla/bugs_compact_labeled.jsonl",  # flat id / summary / description records
}


def real_lines(data_dir: Path, sample: str, n: int) -> list[str]:
    path = data_dir / sample
    opener = lzma.open if path.suffix == ".xz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in islice(handle, n)]


def with_field(line: str, key: str, raw_json: str) -> str:
    """A real JSON-object line with one more key whose value is ``raw_json`` (kept as written)."""
    return line.rstrip()[:-1] + f', "{key}": {raw_json}}}'


def ids(items: list[Report | Rejected]) -> list[str]:
    return [item.external_id for item in items if isinstance(item, Report)]


@pytest.mark.parametrize("fmt", list(SAMPLES))
@pytest.mark.parametrize("bad", ["bare", "inside a record", "300 levels"])
def test_a_deeply_nested_line_is_rejected_and_reading_goes_on(
    fmt: str, bad: str, data_dir: Path, tmp_path: Path
) -> None:
    lines = real_lines(data_dir, SAMPLES[fmt], 4)
    hostile = {
        "bare": DEEP,
        "inside a record": with_field(lines[1], "nested", DEEP),
        "300 levels": with_field(lines[1], "nested", DEEPISH),
    }[bad]
    path = tmp_path / "records.jsonl"
    path.write_text("\n".join([lines[0], hostile, lines[2], lines[3]]) + "\n")
    expected = ids(list(read_reports(fmt, _write(tmp_path / "good.jsonl", [lines[0], lines[2], lines[3]]))))

    items = list(read_reports(fmt, path))

    (rejected,) = [item for item in items if isinstance(item, Rejected)]
    assert rejected.location == f"{path}:2"
    assert rejected.reason == f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
    # Same reports as the file without the bad line (the GitHub label/text ids are line numbers).
    assert len(ids(items)) == 3 and (fmt == "github" or ids(items) == expected)


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_deeply_nested_first_line_does_not_hide_the_format(data_dir: Path, tmp_path: Path) -> None:
    lines = real_lines(data_dir, SAMPLES["jira"], 2)
    path = _write(tmp_path / "new.jsonl", [DEEP, *lines])

    assert detect_format(path) == "jira"
    items = list(read_reports("jira", path))
    assert isinstance(items[0], Rejected) and items[0].location == f"{path}:1"
    assert ids(items) == ["HADOOP-2", "HADOOP-3"]


def test_a_label_file_line_nested_too_deep_is_rejected(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "labels.jsonl", ['{"id": 1, "is_bug": "True"}', DEEP, '{"id": 2, "is_bug": "False"}']
    )

    items = list(read_label_file(path, "is_bug"))

    assert items[0] == ("1", "True") and items[2] == ("2", "False")
    assert isinstance(items[1], Rejected) and items[1].location == f"{path}:2"
    assert "nested deeper than" in items[1].reason


def test_nesting_up_to_the_limit_is_kept(tmp_path: Path) -> None:
    inner = "[" * (MAX_JSON_DEPTH - 1) + '"deep"' + "]" * (MAX_JSON_DEPTH - 1)
    path = _write(tmp_path / "ok.jsonl", ['{"id": 1, "title": "t", "body": "b", "tree": ' + inner + "}"])

    ((_, record),) = list(iter_json_records(path))

    assert record["id"] == 1  # 1 object + 99 arrays = 100 levels: allowed


# --- lone surrogates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "key"),
    [("bugzilla", "summary"), ("jira", "summary"), ("github", "text"), ("csv", "summary")],
)
def test_lone_surrogates_are_removed_and_the_rest_kept(
    fmt: str, key: str, data_dir: Path, tmp_path: Path
) -> None:
    line = real_lines(data_dir, SAMPLES[fmt], 1)[0]
    record = json.loads(line)
    record[key] = "before \\ud800middle\\udfff after \\ud83d\\ude00 pair"  # escapes, as a tracker writes them
    text = json.dumps(record).replace("\\\\u", "\\u")  # un-double the backslashes: real JSON escapes
    path = _write(tmp_path / "surrogates.jsonl", [text])

    (report,) = list(read_reports(fmt, path))

    field = report.description if key == "text" else report.title
    assert field == "before middle after \U0001f600 pair"  # a valid pair is one character, kept
    assert report.raw[key] == field


def test_lone_surrogates_in_a_label_file_are_removed(tmp_path: Path) -> None:
    path = _write(tmp_path / "labels.jsonl", ['{"id": 7, "kind": "bug\\ud800 report"}'])

    assert list(read_label_file(path, "kind")) == [("7", "bug report")]


# --- huge fields -------------------------------------------------------------------------------------


def test_a_huge_json_field_is_cut_with_a_warning_naming_the_line(data_dir: Path, tmp_path: Path) -> None:
    lines = real_lines(data_dir, SAMPLES["bugzilla"], 3)
    bug = json.loads(lines[1])
    bug["comments"][0]["text"] = "frame at 0x1234 in libxul.so\n" * (MAX_FIELD_CHARS // 28 + 1000)
    huge = len(bug["comments"][0]["text"])
    path = _write(tmp_path / "huge.jsonl", [lines[0], json.dumps(bug), lines[2]])

    reports = list(read_reports("bugzilla", path))

    assert [len(r.warnings) for r in reports] == [0, 1, 0]
    assert reports[1].warnings == [
        f"{path}:2: field 'comments[0].text' cut from {huge:,} to {MAX_FIELD_CHARS:,} characters"
    ]
    assert len(reports[1].description) == MAX_FIELD_CHARS  # the first comment is the description
    assert reports[1].description == bug["comments"][0]["text"][:MAX_FIELD_CHARS]
    assert len(reports[1].raw["comments"][0]["text"]) == MAX_FIELD_CHARS  # what is stored is cut too
    assert reports[1].title == bug["summary"]


def test_a_huge_csv_cell_is_cut_with_a_warning_naming_the_line(data_dir: Path, tmp_path: Path) -> None:
    csv.field_size_limit(sys.maxsize)
    with open(data_dir / "github-issues/nlbse24_train.csv", encoding="utf-8", newline="") as handle:
        rows = list(islice(csv.reader(handle), 4))
    rows[2][4] = "TypeError: undefined is not a function\n    at render (app.js:1:1)\n" * 16_000
    path = tmp_path / "issues.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)

    reports = list(read_reports("github", path))

    assert [len(r.description) for r in reports] == [len(rows[1][4]), MAX_FIELD_CHARS, len(rows[3][4])]
    (warning,) = reports[1].warnings
    start = warning.split(":")[1]
    cut = f"cut from {len(rows[2][4]):,} to {MAX_FIELD_CHARS:,} characters"
    assert warning == f"{path}:{start}: field 'body' {cut}"
    assert int(start) == 2 + rows[1][4].count("\n") + rows[1][3].count("\n") + 1  # where the row starts
