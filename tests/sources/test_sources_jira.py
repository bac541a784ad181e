"""Jira importer: real flattened Apache lines, REST issue objects with a changelog, and the CSV export."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import pytest

from bugsift.sources import Rejected, Report, read_reports


@pytest.fixture
def apache(data_dir: Path) -> Path:
    return data_dir / "apache-jira" / "jira_issues.jsonl.xz"


def first_reports(path: Path, n: int) -> list[Report]:
    items = list(islice(read_reports("jira", path), n))
    assert not [i for i in items if isinstance(i, Rejected)]
    return items


def test_flat_line_fields(apache: Path):
    (issue,) = first_reports(apache, 1)

    assert (issue.external_id, issue.project, issue.type) == ("HADOOP-2", "HADOOP", "Bug")
    assert issue.title == "Reused Keys and Values fail with a Combiner"
    assert issue.description.startswith("If the map function reuses the key or value")
    assert issue.created_at == datetime(2006, 2, 4, 5, 54, 30, tzinfo=UTC)
    assert issue.resolved_at == datetime(2006, 3, 31, 5, 11, 16, tzinfo=UTC)
    assert (issue.status, issue.resolution, issue.priority) == ("Closed", "Fixed", "Major")
    assert issue.comments[0].startswith("The reason that new objects are allocated during map")
    assert issue.extra["fixVersions"] == ["0.1.0"]
    assert issue.extra["issuelinks"] == [{"type": "dependent", "inward": "HADOOP-110", "outward": None}]
    assert issue.filed is None  # the flattened data has no changelog
    assert issue.duplicate_of is None


def test_duplicates_follow_the_resolution(apache: Path):
    reports = {r.external_id: r for r in first_reports(apache, 160)}

    # Resolved Duplicate with only an inward link: the link was made the wrong way round.
    assert reports["HADOOP-35"].duplicate_of == "HADOOP-83"
    # Outward "duplicates" HADOOP-146 wins over an inward link from HADOOP-1497.
    assert reports["HADOOP-158"].duplicate_of == "HADOOP-146"
    assert all(r.duplicate_of is None for r in reports.values() if r.resolution != "Duplicate")


def test_fixed_files_are_the_sorted_union_over_commits(apache: Path):
    issue = first_reports(apache, 160)[-1]

    assert issue.external_id == "HADOOP-289"
    assert issue.fixed_files[:4] == [
        "ClientProtocol.java",
        "DFSClient.java",
        "DataNode.java",
        "DefaultJobHistoryParser.java",
    ]
    assert len(issue.fixed_files) == len(set(issue.fixed_files)) == 16
    assert len(issue.extra["changed_java_files"]) == 8


def rest_issue(**fields: Any) -> dict[str, Any]:
    """A Jira REST issue as ``GET /rest/api/2/issue/KEY?expand=changelog`` returns it (trimmed)."""
    base = {
        "summary": "NPE in FSNamesystem",
        "description": "Stack trace:\r\njava.lang.NullPointerException",
        "issuetype": {"id": "1", "name": "Bug"},
        "project": {"key": "HDFS", "name": "Hadoop HDFS"},
        "priority": {"name": "Critical"},
        "status": {"name": "Resolved"},
        "resolution": {"name": "Duplicate"},
        "components": [{"name": "namenode"}, {"name": "hdfs-client"}],
        "labels": ["npe"],
        "versions": [{"name": "2.7.0"}],
        "fixVersions": [],
        "created": "2015-03-01T10:00:00.000+0100",
        "resolutiondate": "2015-03-05T10:00:00.000+0000",
        "reporter": {"name": "alice", "displayName": "Alice"},
        "issuelinks": [{"type": {"name": "Duplicate"}, "outwardIssue": {"key": "HDFS-7"}}],
        "comment": {"comments": [{"body": "Same as HDFS-7."}], "total": 1},
    }
    return {"key": "HDFS-42", "fields": {**base, **fields}}


CHANGELOG = {
    "startAt": 0,
    "maxResults": 3,
    "total": 3,
    "histories": [
        {"created": "2015-03-02T09:00:00.000+0000", "items": [
            {"field": "priority", "fromString": "Major", "toString": "Critical"},
            {"field": "Component", "fromString": None, "toString": "namenode"},
        ]},
        {"created": "2015-03-01T12:00:00.000+0000", "items": [
            {"field": "Component", "fromString": "datanode", "toString": None},
            {"field": "issuetype", "fromString": "Improvement", "toString": "Bug"},
        ]},
        {"created": "2015-03-03T09:00:00.000+0000", "items": [{"field": "status", "fromString": "Open"}]},
    ],
}  # fmt: skip


def test_rest_issue_with_changelog_replays_filing_values(tmp_path: Path):
    path = tmp_path / "issues.jsonl"
    path.write_text(json.dumps({**rest_issue(), "changelog": CHANGELOG}) + "\n")

    (issue,) = list(read_reports("jira", path))

    assert (issue.external_id, issue.project, issue.reporter) == ("HDFS-42", "HDFS", "alice")
    assert issue.created_at == datetime(2015, 3, 1, 9, 0, tzinfo=UTC)
    assert issue.description == "Stack trace:\r\njava.lang.NullPointerException"
    assert (issue.component, issue.components) == ("namenode", ["namenode", "hdfs-client"])
    assert issue.duplicate_of == "HDFS-7" and issue.comments == ["Same as HDFS-7."]
    assert issue.extra["versions"] == ["2.7.0"]
    assert issue.filed == {
        "product": None,
        "component": "hdfs-client",
        "type": "Improvement",
        "severity": None,
        "priority": "Major",
    }


def test_rest_search_page_truncated_changelog_and_adf_description(tmp_path: Path):
    truncated = {**CHANGELOG, "total": 250}
    adf = {"type": "doc", "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "First line"}]},
        {"type": "paragraph", "content": [{"type": "text", "text": "Second"}]},
    ]}  # fmt: skip
    path = tmp_path / "search.json"
    path.write_text(
        json.dumps({"issues": [{**rest_issue(description=adf), "changelog": truncated}, rest_issue()]})
    )

    partial, no_changelog = list(read_reports("jira", path))

    assert partial.filed is None  # a partial changelog would give wrong filing values
    assert partial.description == "First line\nSecond"
    assert no_changelog.filed is None


JIRA_CSV = (
    "Summary,Issue key,Issue id,Issue Type,Status,Project key,Priority,Resolution,Reporter,Created,Resolved,"
    "Component/s,Component/s,Labels,Description,Outward issue link (Duplicate),Comment,Comment\n"
    "Reused Keys fail,HADOOP-2,12330000,Bug,Closed,HADOOP,Major,Fixed,owen,"
    "04/Feb/06 5:54 AM,31/Mar/06 5:11 PM,"
    'io,mapred,,"Multi\nline",,"04/Feb/06 6:00 AM;doug;First comment",05/Feb/06 7:00 AM;owen;Second\n'
    ",,12330001,Bug,Open,HADOOP,Minor,,x,04/Feb/06 5:54 AM,,,,,,,,\n"
    "Dup,HADOOP-9,12330009,Bug,Closed,HADOOP,Minor,Duplicate,x,2006-02-04 10:00,,,,,,HADOOP-2,,\n"
)


def test_jira_csv_export(tmp_path: Path):
    path = tmp_path / "export.csv"
    path.write_text(JIRA_CSV)

    first, missing, dup = list(read_reports("jira", path))

    assert (first.external_id, first.title, first.project) == ("HADOOP-2", "Reused Keys fail", "HADOOP")
    assert first.created_at == datetime(2006, 2, 4, 5, 54, tzinfo=UTC)
    assert first.resolved_at == datetime(2006, 3, 31, 17, 11, tzinfo=UTC)
    assert (first.component, first.components) == ("io", ["io", "mapred"])
    assert first.description == "Multi\nline"
    assert first.comments == ["First comment", "Second"]
    assert first.extra["issue_id"] == "12330000" and first.filed is None
    assert missing == Rejected(f"{path}:4", "missing field 'Issue key'")
    assert dup.duplicate_of == "HADOOP-2"


def test_csv_without_issue_key_column_is_not_a_jira_export(tmp_path: Path):
    path = tmp_path / "export.csv"
    path.write_text("Summary,Status\nx,Open\n")

    with pytest.raises(
        ValueError, match=r"export\.csv: not a Jira CSV export \(expected an 'Issue key' column"
    ):
        list(read_reports("jira", path))
