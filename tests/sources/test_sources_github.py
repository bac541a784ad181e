"""GitHub importer: the real NLBSE CSV and Ticket Tagger lines, and REST issue JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import pytest

from bugsift.sources import Rejected, Report, read_reports
from bugsift.sources.github import type_from_labels


def issue(number: int, title: str, labels: list[str], **more: Any) -> dict[str, Any]:
    """A GitHub REST issue with the fields the API returns (trimmed to what the importer reads)."""
    return {
        "url": f"https://api.github.com/repos/octo/widgets/issues/{number}",
        "repository_url": "https://api.github.com/repos/octo/widgets",
        "html_url": f"https://github.com/octo/widgets/issues/{number}",
        "number": number,
        "title": title,
        "user": {"login": "mona", "id": 1},
        "labels": [{"id": i, "name": name, "color": "fff"} for i, name in enumerate(labels)],
        "state": "closed",
        "state_reason": "completed",
        "comments": 3,
        "created_at": "2023-08-26T06:33:37Z",
        "closed_at": "2023-09-01T10:00:00Z",
        "author_association": "NONE",
        "body": None,
        **more,
    }


def test_nlbse_csv_slice(data_dir: Path):
    reports = list(islice(read_reports("github", data_dir / "github-issues" / "nlbse24_train.csv"), 3))

    first = reports[0]
    assert [r.external_id for r in reports] == ["1", "2", "3"]  # no id column: the data row number
    assert first.project == "facebook/react" and first.type == "bug" and first.labels == {"label": "bug"}
    assert first.title.startswith('[DevTools Bug] Cannot add node "1" because a node with that id')
    assert first.description.startswith("### Website or app\n\nPrivate repo cannot give access")
    assert first.created_at == datetime(2023, 8, 26, 6, 33, 37, tzinfo=UTC)
    assert first.filed is None


def test_nlbse_csv_huge_bodies_are_kept_whole(data_dir: Path):
    reports = list(read_reports("github", data_dir / "github-issues" / "nlbse24_train.csv"))

    assert len(reports) == 1500 and all(isinstance(r, Report) for r in reports)
    assert max(len(r.description) for r in reports) > 200_000
    assert {r.type for r in reports} == {"bug", "feature", "question"}


def test_csv_with_a_number_column_uses_it_as_id(tmp_path: Path):
    path = tmp_path / "issues.csv"
    path.write_text(
        'number,repo,created_at,label,title,body\n17,octo/widgets,2020-01-02 03:04:05,question,"How?",""\n'
    )

    (report,) = list(read_reports("github", path))

    assert (report.external_id, report.project, report.type) == ("17", "octo/widgets", "question")


def test_ticket_tagger_lines_and_the_nul_byte(data_dir: Path):
    reports = list(read_reports("github", data_dir / "github-issues" / "tickettagger_only_english.jsonl"))

    assert len(reports) == 3690 and all(isinstance(r, Report) for r in reports)
    assert all("\x00" not in r.description for r in reports)
    first = reports[0]
    assert first.external_id == "1" and first.title == ""
    assert first.description.startswith("scala presentation compiler Scala presentation compiler")
    assert (first.type, first.labels) == ("bug", {"label": "bug"})
    assert reports[3540].external_id == "3541"  # the line whose text held an escaped NUL
    assert {r.type for r in reports} == {"bug", "enhancement", "question"}


def test_rest_issues_one_per_line(tmp_path: Path):
    path = tmp_path / "issues.jsonl"
    records = [
        issue(1, "Crash on start", ["help wanted", "Type: Bug"], body="Steps:\x00 1. run"),
        issue(2, "Add dark mode", ["enhancement"], pull_request={"url": "x"}),  # a pull request: skipped
        issue(3, "How do I configure it?", ["kind/question"]),
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))

    crash, question = list(read_reports("github", path))

    assert (crash.external_id, crash.project, crash.reporter) == ("1", "octo/widgets", "mona")
    assert crash.type == "bug" and crash.labels == {"label": "bug"}
    assert crash.keywords == ["help wanted", "Type: Bug"]
    assert crash.description == "Steps: 1. run"
    assert crash.created_at == datetime(2023, 8, 26, 6, 33, 37, tzinfo=UTC)
    assert (crash.status, crash.resolution) == ("closed", "completed")
    assert crash.extra["html_url"] == "https://github.com/octo/widgets/issues/1"
    assert crash.filed is None
    assert (question.external_id, question.type, question.description) == ("3", "question", "")


def test_rest_issues_as_api_pages_and_search_results(tmp_path: Path):
    page = tmp_path / "page-1.json"
    page.write_text(json.dumps([issue(5, "A", ["feature request"]), issue(6, "B", [])]))
    search = tmp_path / "search.json"
    search.write_text(json.dumps({"total_count": 1, "items": [issue(7, "C", ["bug"])]}))

    a, b = list(read_reports("github", page))
    (c,) = list(read_reports("github", search))

    assert (a.type, a.labels) == ("feature", {"label": "feature"})
    assert (b.type, b.labels) == (None, {})
    assert c.external_id == "7" and c.type == "bug"


def test_rest_issue_without_number_is_rejected(tmp_path: Path):
    path = tmp_path / "issues.jsonl"
    broken = issue(9, "no number", [])
    del broken["number"]
    path.write_text(json.dumps(issue(8, "fine", [])) + "\n" + json.dumps(broken) + "\n")

    items = list(read_reports("github", path))

    assert items[1] == Rejected(f"{path}:2", "missing field 'number'")


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (["bug"], "bug"),
        (["Type: Bug"], "bug"),
        (["kind/bug"], "bug"),
        (["type:bug"], "bug"),
        (["🐛 Bug"], "bug"),
        (["enhancement"], "feature"),
        (["feature-request"], "feature"),
        (["Type: Feature Request"], "feature"),
        (["type:support"], "question"),
        (["*question"], "question"),
        (["question (invalid tracker)"], "question"),
        (["help wanted", "good first issue"], None),
        (["needs triage", "enhancement", "bug"], "feature"),  # the first label that maps wins
    ],
)
def test_label_to_type_mapping(labels: list[str], expected: str | None):
    assert type_from_labels(labels) == expected
