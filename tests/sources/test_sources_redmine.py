"""The Redmine importer on hand-written records shaped exactly like Redmine 5's answers (recorded from a
real server: /issues/ID.json?include=journals,relations, /issues.json pages, /projects/X/issues.csv)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bugsift.sources import read_reports
from bugsift.sources.base import Rejected, Report
from bugsift.sources.detect import detect_format


def issue(number: int, tracker: tuple[int, str], category: tuple[int, str] | None, **more: Any) -> dict:
    record = {
        "id": number,
        "project": {"id": 1, "name": "Orbit"},
        "tracker": {"id": tracker[0], "name": tracker[1]},
        "status": {"id": 1, "name": "New", "is_closed": False},
        "priority": {"id": 2, "name": "Normal"},
        "author": {"id": 5, "name": "Ada Lovelace"},
        "subject": f"Telescope drifts after restart {number}",
        "description": "Point it at Vega, restart, and it slews away.",
        "created_on": "2025-03-01T10:00:00Z",
        "updated_on": "2025-03-02T10:00:00Z",
        "closed_on": None,
    }
    if category:
        record["category"] = {"id": category[0], "name": category[1]}
    record.update(more)
    return record


def attr(name: str, old: str | None, new: str | None) -> dict:
    return {"property": "attr", "name": name, "old_value": old, "new_value": new}


def journal(number: int, when: str, *details: dict, notes: str = "") -> dict:
    return {
        "id": number,
        "user": {"id": 5, "name": "Ada Lovelace"},
        "notes": notes,
        "created_on": when,
        "private_notes": False,
        "details": list(details),
    }


def read(path: Path) -> tuple[list[Report], list[Rejected]]:
    items = list(read_reports("redmine", path))
    return [i for i in items if isinstance(i, Report)], [i for i in items if isinstance(i, Rejected)]


def test_detail_documents_replay_journals_with_names_from_the_file(tmp_path: Path) -> None:
    moved = issue(
        7,
        (3, "Support"),
        (12, "Mount"),
        journals=[
            journal(2, "2025-03-02T09:00:00Z", attr("category_id", "11", "12"), notes="Not optics."),
            journal(1, "2025-03-01T11:00:00Z", attr("tracker_id", "1", "3"), attr("priority_id", "3", "2")),
        ],
        relations=[{"id": 4, "issue_id": 7, "issue_to_id": 6, "relation_type": "duplicates", "delay": None}],
    )
    other = issue(
        6,
        (1, "Bug"),
        (11, "Optics"),
        priority={"id": 3, "name": "High"},
        journals=[],
        relations=[{"id": 4, "issue_id": 7, "issue_to_id": 6, "relation_type": "duplicates"}],
    )
    path = tmp_path / "details.jsonl"
    path.write_text("".join(json.dumps({"issue": i}) + "\n" for i in (moved, other)))
    assert detect_format(path) == "redmine"
    reports, rejected = read(path)
    assert not rejected
    seven, six = reports
    assert (seven.type, seven.component, seven.product, seven.project) == (
        "Support",
        "Mount",
        "Orbit",
        "Orbit",
    )
    assert seven.filed == {
        "product": "Orbit",
        "component": "Optics",
        "type": "Bug",
        "severity": None,
        "priority": "High",
    }
    assert seven.duplicate_of == "6" and six.duplicate_of is None  # "7 duplicates 6", not the reverse
    assert seven.comments == ["Not optics."] and seven.reporter == "Ada Lovelace"
    assert six.filed is not None and six.filed["component"] == "Optics"


def test_an_old_id_no_issue_names_leaves_the_filing_values_unknown(tmp_path: Path) -> None:
    alone = issue(
        9,
        (2, "Feature"),
        (20, "Dome"),
        journals=[journal(1, "2025-03-01T12:00:00Z", attr("category_id", "19", "20"))],
    )
    path = tmp_path / "one.json"
    path.write_text(json.dumps({"issue": alone}, indent=2))  # a pretty-printed /issues/9.json document
    (report,), _ = read(path)
    assert report.filed is None and report.extra["filed_unresolved"] == ["component"]


def test_a_category_added_later_was_empty_when_filed(tmp_path: Path) -> None:
    later = issue(
        3,
        (1, "Bug"),
        (11, "Optics"),
        journals=[journal(1, "2025-03-01T12:00:00Z", attr("category_id", None, "11"))],
    )
    path = tmp_path / "later.json"
    path.write_text(json.dumps(later))
    (report,), _ = read(path)
    assert report.filed is not None and report.filed["component"] is None and report.component == "Optics"


def test_list_pages_have_no_journals_and_bad_records_are_rejected_by_line(tmp_path: Path) -> None:
    page = {
        "issues": [issue(1, (1, "Bug"), None), issue(2, (2, "Feature"), (11, "Optics"))],
        "total_count": 2,
        "offset": 0,
        "limit": 25,
    }
    path = tmp_path / "pages.jsonl"
    path.write_text(
        json.dumps(page)
        + "\n"
        + "{not json\n"
        + json.dumps({"issues": [{"subject": "no id", "tracker": {"id": 1, "name": "Bug"}}]})
        + "\n"
        + "[" * 5000
        + "]" * 5000
        + "\n"
    )
    reports, rejected = read(path)
    assert [r.external_id for r in reports] == ["1", "2"]
    assert all(r.filed is None for r in reports) and reports[0].component is None
    assert [str(r).split(": ", 1)[0] for r in rejected] == [f"{path}:2", f"{path}:3 record 1", f"{path}:4"]
    assert "missing field 'id'" in str(rejected[1]) and "nested deeper" in str(rejected[2])


def test_csv_export(tmp_path: Path) -> None:
    path = tmp_path / "issues.csv"
    path.write_text(
        "#,Project,Tracker,Parent task,Parent task subject,Status,Priority,Subject,Author,Assignee,Updated,"
        "Category,Target version,Start date,Due date,Estimated time,Total estimated time,% Done,Created,"
        "Closed,Last updated by,Related issues,Files,Private,Description\n"
        '5,Orbit,Bug,"","",Closed,High,Lens fogs up,Ada Lovelace,"",03/02/2025 10:00 AM,Optics,1.2,'
        '03/01/2025,"","","",0,03/01/2025 09:30 AM,03/02/2025 10:00 AM,Ada Lovelace,"Is duplicate of #4",'
        '"",No,"Cold nights.\nFog."\n'
        '4,Orbit,Feature,"","",New,Normal,Heater for the lens,Ada Lovelace,"",03/02/2025 10:00 AM,"","",'
        '03/01/2025,"","","",0,03/01/2025 09:00 AM,"",Ada Lovelace,Has duplicate #5,"",No,""\n'
    )
    assert detect_format(path) == "redmine"
    (five, four), rejected = read(path)
    assert not rejected
    assert (five.title, five.type, five.component, five.project, five.status) == (
        "Lens fogs up",
        "Bug",
        "Optics",
        "Orbit",
        "Closed",
    )
    assert five.duplicate_of == "4" and four.duplicate_of is None
    assert five.created_at is not None and five.created_at.isoformat() == "2025-03-01T09:30:00+00:00"
    assert five.description == "Cold nights.\nFog." and five.filed is None
    assert five.extra["fixed_version"] == "1.2"


def test_reimport_is_idempotent(tmp_path: Path, sqlite_db: Any) -> None:
    from bugsift.ingest import import_reports

    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(issue(1, (1, "Bug"), (11, "Optics"), journals=[])) + "\n")
    first = import_reports(sqlite_db, "redmine", [path])
    again = import_reports(sqlite_db, "redmine", [path])
    assert (first.counts.imported, again.counts.unchanged) == (1, 1)
