"""File opening, JSON / CSV iteration, dates and dispatch, on real slices of the shared data."""

from __future__ import annotations

import gzip
import json
import lzma
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

import pytest

from bugsift.sources import FORMATS, RecordError, Rejected, Report, read_reports
from bugsift.sources.io import iter_csv_rows, iter_json_records, parse_datetime, sniff_kind


def first_lines(path: Path, n: int) -> bytes:
    """The first ``n`` lines of a real file, streamed so a big .xz is never read whole."""
    opener = lzma.open if path.suffix == ".xz" else open
    with opener(path, "rb") as fh:
        return b"".join(islice(fh, n))


@pytest.fixture
def jira_slice(data_dir: Path) -> bytes:
    return first_lines(data_dir / "apache-jira" / "jira_issues.jsonl.xz", 5)


@pytest.mark.parametrize("compress", ["", "gz", "xz"])
def test_compression_is_detected_by_magic_bytes_not_suffix(tmp_path: Path, jira_slice: bytes, compress: str):
    data = {"": jira_slice, "gz": gzip.compress(jira_slice), "xz": lzma.compress(jira_slice)}[compress]
    path = tmp_path / "issues.json"  # same misleading suffix for all three
    path.write_bytes(data)

    items = list(iter_json_records(path))

    assert [obj["key"] for _, obj in items] == ["HADOOP-2", "HADOOP-3", "HADOOP-5", "HADOOP-6", "HADOOP-7"]
    assert [str(location) for location, _ in items][:2] == [f"{path}:1", f"{path}:2"]


def test_malformed_line_is_rejected_with_its_line_and_reading_goes_on(tmp_path: Path, jira_slice: bytes):
    lines = jira_slice.splitlines(keepends=True)
    path = tmp_path / "issues.jsonl"
    path.write_bytes(lines[0] + lines[1] + b'{"key": "HADOOP-X", "summary": \n' + lines[2])

    reports = list(read_reports("jira", path))

    assert [r.external_id for r in reports if isinstance(r, Report)] == ["HADOOP-2", "HADOOP-3", "HADOOP-5"]
    (rejected,) = [r for r in reports if isinstance(r, Rejected)]
    assert rejected.location == f"{path}:3"
    assert "invalid JSON" in rejected.reason


def test_malformed_first_line_is_rejected_too(tmp_path: Path, jira_slice: bytes):
    path = tmp_path / "issues.jsonl"
    path.write_bytes(b"{not json\n" + jira_slice)

    items = list(iter_json_records(path))

    assert isinstance(items[0], Rejected) and items[0].location == f"{path}:1"
    assert [obj["key"] for _, obj in items[1:3]] == ["HADOOP-2", "HADOOP-3"]


def test_one_pretty_printed_document_and_a_list(tmp_path: Path, jira_slice: bytes):
    records = [json.loads(line) for line in jira_slice.splitlines()]
    single = tmp_path / "one.json"
    single.write_text(json.dumps(records[0], indent=2))
    many = tmp_path / "page.json"
    many.write_text(json.dumps(records, indent=2))

    (only,) = list(iter_json_records(single))
    listed = list(iter_json_records(many))

    assert str(only[0]) == f"{single}:record 1" and only[1]["key"] == "HADOOP-2"
    assert [str(loc) for loc, _ in listed] == [f"{many}:record {n}" for n in range(1, 6)]


def test_nul_bytes_and_escaped_nul_are_removed(tmp_path: Path):
    path = tmp_path / "nul.jsonl"
    path.write_bytes(b'{"label": "bug", "text": "a\x00b"}\n{"label": "bug", "text": "c\\u0000d \\ud800e"}\n')

    texts = [obj["text"] for _, obj in iter_json_records(path)]

    assert texts == ["ab", "cd e"]  # a lone surrogate cannot be stored as UTF-8: it is removed


def test_invalid_utf8_is_replaced_not_fatal(tmp_path: Path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"label": "bug", "text": "caf' + b"\xe9\xff" + b' ok"}\n')

    ((_, obj),) = list(iter_json_records(path))

    assert obj["text"] == "caf\ufffd\ufffd ok"


def test_truncated_xz_fails_with_the_file_name_after_the_good_records(tmp_path: Path, jira_slice: bytes):
    path = tmp_path / "cut.jsonl.xz"
    whole = lzma.compress(jira_slice * 40)
    path.write_bytes(whole[: len(whole) // 2])

    records = []
    with pytest.raises(ValueError, match=r"cut\.jsonl\.xz: cannot read \(corrupt or truncated file\?\)"):
        for item in iter_json_records(path):
            records.append(item)
    assert records and all(not isinstance(r, Rejected) for r in records)


def test_not_json_at_all_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "notes.json"
    path.write_text("{ this is\n not json\n at all }\n")

    with pytest.raises(ValueError, match=r"notes\.json: not JSON lines nor a single JSON document"):
        list(iter_json_records(path))


def test_sniff_kind(tmp_path: Path, data_dir: Path):
    assert sniff_kind(data_dir / "apache-jira" / "jira_issues.jsonl.xz") == "json"
    assert sniff_kind(data_dir / "github-issues" / "nlbse24_train.csv") == "csv"
    (tmp_path / "blank").write_text("\n\n")
    assert sniff_kind(tmp_path / "blank") == "empty"


def test_csv_rows_report_the_line_where_a_multiline_row_starts(data_dir: Path):
    rows = list(islice(iter_csv_rows(data_dir / "github-issues" / "nlbse24_train.csv"), 3))

    assert str(rows[0][0]).endswith("nlbse24_train.csv:2")
    assert rows[1][0].number > rows[0][0].number + 1  # the first body spans many lines
    assert rows[0][1][0] == "facebook/react"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2006-02-04T05:54:30.000+0000", datetime(2006, 2, 4, 5, 54, 30, tzinfo=UTC)),
        ("2009-09-23T02:57:43Z", datetime(2009, 9, 23, 2, 57, 43, tzinfo=UTC)),
        ("2023-08-26 06:33:37", datetime(2023, 8, 26, 6, 33, 37, tzinfo=UTC)),
        ("2014-07-30T18:57:46+02:00", datetime(2014, 7, 30, 16, 57, 46, tzinfo=UTC)),
        ("04/Feb/06 5:54 AM", datetime(2006, 2, 4, 5, 54, tzinfo=UTC)),
        ("04/Feb/06 5:54 PM", datetime(2006, 2, 4, 17, 54, tzinfo=UTC)),
        ("04/Feb/2006 17:54", datetime(2006, 2, 4, 17, 54, tzinfo=UTC)),
        (1386200000, datetime(2013, 12, 4, 23, 33, 20, tzinfo=UTC)),
        (1386200000000, datetime(2013, 12, 4, 23, 33, 20, tzinfo=UTC)),
    ],
)
def test_dates_become_aware_utc(text: object, expected: datetime):
    parsed = parse_datetime(text)
    assert parsed == expected
    assert parsed is not None and parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0


def test_empty_dates_are_none_and_garbage_is_a_record_error():
    assert parse_datetime(None) is None and parse_datetime("") is None
    with pytest.raises(RecordError, match="field 'created' is not a date"):
        parse_datetime("next tuesday", "created")
    with pytest.raises(RecordError, match="field 'created' should be a date"):
        parse_datetime(["2020"], "created")


def test_read_reports_errors_name_the_file_or_the_format(tmp_path: Path):
    assert FORMATS == ("bugzilla", "github", "jira", "redmine", "csv")
    with pytest.raises(ValueError, match="unknown format 'trac'"):
        read_reports("trac", tmp_path / "x")
    with pytest.raises(ValueError, match=r"missing\.jsonl: no such file"):
        read_reports("jira", tmp_path / "missing.jsonl")


@pytest.mark.parametrize("fmt", ["bugzilla", "jira", "github"])
def test_csv_given_as_json_format_or_json_of_another_tracker_is_rejected_whole(
    fmt: str, tmp_path: Path, data_dir: Path
):
    csv_path = tmp_path / "generic.csv"
    csv_path.write_text("foo,bar\n1,2\n")
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"unrelated": 1, "shape": "x"}) + "\n")

    if fmt != "github":  # GitHub also reads CSV, which must then have its columns
        with pytest.raises(ValueError, match=r"generic\.csv: not"):
            list(read_reports(fmt, csv_path))
    else:
        with pytest.raises(ValueError, match=r"generic\.csv: not a GitHub issues CSV"):
            list(read_reports(fmt, csv_path))
    with pytest.raises(ValueError, match=r"other\.jsonl: not .*keys: shape, unrelated"):
        list(read_reports(fmt, other))


def test_default_tracker_is_the_format_name(data_dir: Path):
    path = data_dir / "github-issues" / "nlbse24_train.csv"
    (first,) = islice(read_reports("github", path), 1)
    (named,) = islice(read_reports("github", path, tracker="gh-public"), 1)
    assert (first.tracker, named.tracker) == ("github", "gh-public")


@pytest.mark.parametrize(
    ("sample", "fmt"),
    [
        ("apache-jira/jira_issues.jsonl.xz", "bugzilla"),
        ("apache-jira/jira_issues.jsonl.xz", "github"),
        ("bugzilla-mozilla/bugs_full_add08f170.jsonl.xz", "jira"),
        ("bugzilla-mozilla/bugs_full_add08f170.jsonl.xz", "github"),
        ("github-issues/tickettagger_only_english.jsonl", "bugzilla"),
        ("github-issues/tickettagger_only_english.jsonl", "jira"),
    ],
)
def test_another_trackers_file_fails_whole_not_record_by_record(
    sample: str, fmt: str, data_dir: Path, tmp_path: Path
):
    path = tmp_path / "sample.jsonl"
    path.write_bytes(first_lines(data_dir / sample, 2))

    name = {"bugzilla": "Bugzilla", "jira": "Jira", "github": "GitHub"}[fmt]
    with pytest.raises(ValueError, match=rf"sample\.jsonl: not {name} .*\(first record at .*sample\.jsonl:1"):
        list(read_reports(fmt, path))


@pytest.mark.parametrize("value", [1e300, float("nan"), "0001-01-01T00:00:00+05:00", -1e20])
def test_dates_out_of_the_calendars_range_are_a_clear_record_error(value: object) -> None:
    with pytest.raises(RecordError, match=r"field 'creation_time' is not a date: .* out of range"):
        parse_datetime(value, "creation_time")


def test_an_import_with_out_of_range_dates_rejects_those_records_only(tmp_path: Path) -> None:
    path = tmp_path / "bugs.jsonl"
    path.write_text(
        '{"id": 1, "summary": "far future", "creation_time": 1e300}\n'
        '{"id": 2, "summary": "fine", "creation_time": "2020-01-01T00:00:00Z"}\n'
    )
    items = list(read_reports("bugzilla", path))
    assert [type(i).__name__ for i in items] == ["Rejected", "Report"]
    assert items[0].reason.startswith("field 'creation_time' is not a date") and ":1" in items[0].location
