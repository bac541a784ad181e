"""Bugzilla importer on real Mozilla and Eclipse records."""

from __future__ import annotations

import gzip
import json
import lzma
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import pytest

from bugsift.sources import Rejected, Report, read_reports


def first_records(path: Path, n: int) -> list[dict[str, Any]]:
    """The first ``n`` JSON lines of a real file, streamed."""
    opener = lzma.open if path.suffix == ".xz" else open
    with opener(path, "rb") as fh:
        return [json.loads(line) for line in islice(fh, n)]


def reports_of(path: Path, n: int | None = None) -> list[Report]:
    items = list(islice(read_reports("bugzilla", path), n))
    assert not [i for i in items if isinstance(i, Rejected)]
    return items


@pytest.fixture
def mozilla(data_dir: Path) -> Path:
    return data_dir / "bugzilla-mozilla" / "bugs_full_add08f170.jsonl.xz"


def test_rest_bug_fields(mozilla: Path):
    (bug,) = reports_of(mozilla, 1)

    assert bug.tracker == "bugzilla" and bug.external_id == "518272"
    assert bug.title.startswith("Namoroka - datepicker (type=popup)")
    assert bug.description.startswith("User-Agent:       Mozilla/5.0 (Windows; U; Windows NT 5.1")
    assert bug.comments[0] == "Created attachment 402263\nXUL containing <datepicker> within <grid>"
    assert len(bug.comments) == 7  # comment_count 8 minus the description
    assert bug.created_at == datetime(2009, 9, 23, 2, 57, 43, tzinfo=UTC)
    assert bug.resolved_at == datetime(2009, 10, 22, 4, 16, 23, tzinfo=UTC)
    assert (bug.product, bug.component, bug.components) == ("Core", "XUL", ["XUL"])
    assert (bug.severity, bug.priority, bug.status, bug.resolution) == ("normal", "--", "RESOLVED", "FIXED")
    assert bug.reporter == "grbradt@gmail.com" and bug.duplicate_of is None
    assert bug.extra["op_sys"] == "Windows XP" and bug.extra["platform"] == "x86"
    assert bug.extra["attachments_count"] == 2 and bug.extra["has_patch"] is False
    assert bug.extra["depends_on_count"] == 1
    assert bug.raw["id"] == 518272


def test_filing_time_replay_on_a_bug_moved_from_firefox_untriaged(mozilla: Path):
    # Bug 1106755 (line 99) was filed in Firefox :: Untriaged, moved to Core :: Layout, then renamed.
    bug = reports_of(mozilla, 99)[-1]

    assert bug.external_id == "1106755"
    assert (bug.product, bug.component) == ("Core", "Layout: Block and Inline")
    assert bug.filed == {
        "product": "Firefox",
        "component": "Untriaged",
        "type": None,
        "severity": "normal",
        "priority": "--",
    }


def test_filing_time_replay_of_component_only(mozilla: Path):
    bug = reports_of(mozilla, 2)[1]

    assert bug.external_id == "526299" and bug.component == "JavaScript Engine"
    assert bug.filed is not None and bug.filed["component"] == "Rewriting and Analysis"
    assert bug.filed["product"] == "Core"


def test_newer_bugzilla_type_field_and_its_history(data_dir: Path):
    (bug,) = reports_of(data_dir / "bugzilla-mozilla" / "fixture_bugs_history_union.jsonl.xz", 1)

    assert bug.external_id == "52352" and bug.type == "task"
    # Undone: XPCOM<-String<-General, task<-defect, P5<-"--"<-P3, Core<-...<-Browser (2000-09-12).
    assert bug.filed == {
        "product": "Browser",
        "component": "General",
        "type": "defect",
        "severity": "normal",
        "priority": "P3",
    }
    assert bug.description.startswith("It looks to me like all of these cases")  # comment with count 0
    assert bug.extra["has_patch"] is True


def test_no_history_key_means_filed_unknown_but_empty_history_means_unchanged(mozilla: Path, tmp_path: Path):
    (record,) = first_records(mozilla, 1)
    without = {k: v for k, v in record.items() if k != "history"}
    empty = {**record, "history": []}
    path = tmp_path / "bugs.jsonl"
    path.write_text(json.dumps(without) + "\n" + json.dumps(empty) + "\n")

    first, second = reports_of(path)

    assert first.filed is None
    assert second.filed == {
        "product": "Core",
        "component": "XUL",
        "type": None,
        "severity": "normal",
        "priority": "--",
    }


def test_one_bug_per_file_and_the_rest_envelope_gzipped(mozilla: Path, tmp_path: Path):
    records = first_records(mozilla, 3)
    single = tmp_path / "518272.json"
    single.write_text(json.dumps(records[0], indent=1))
    envelope = tmp_path / "bugs.json.gz"
    envelope.write_bytes(gzip.compress(json.dumps({"bugs": records, "faults": []}).encode()))

    (one,) = reports_of(single)
    many = list(read_reports("bugzilla", envelope))

    assert one.external_id == "518272" and one.filed is not None
    assert [r.external_id for r in many] == [str(r["id"]) for r in records]


def test_missing_id_and_wrong_types_are_rejected_with_their_line(mozilla: Path, tmp_path: Path):
    good, other = first_records(mozilla, 2)
    no_id = {k: v for k, v in good.items() if k != "id"}
    bad_comments = {**other, "comments": "not a list"}
    path = tmp_path / "bugs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (good, no_id, bad_comments, other)) + "\n")

    items = list(read_reports("bugzilla", path))

    assert [type(i).__name__ for i in items] == ["Report", "Rejected", "Rejected", "Report"]
    assert items[1] == Rejected(f"{path}:2", "missing field 'id'")
    assert items[2] == Rejected(f"{path}:3", "field 'comments' should be a list, got str")


def test_eclipse_lines_with_fixed_files(data_dir: Path):
    first, second = reports_of(data_dir / "eclipse-localization" / "bug_reports.jsonl.xz", 2)

    assert first.external_id == "423257" and first.project == "AspectJ"
    assert first.title == "LTW - java.lang.VerifyError: Bad return type with generics and local variables"
    assert first.description == ""
    # report_time "2013-12-04 19:43:22" is US Eastern time (EST in December).
    assert first.created_at == datetime(2013, 12, 5, 0, 43, 22, tzinfo=UTC)
    assert abs(first.created_at.timestamp() - first.raw["report_timestamp"]) < 5_000
    assert (
        first.fixed_files[0]
        == "org.aspectj.ajdt.core/src/org/aspectj/ajdt/internal/core/builder/AjState.java"
    )
    assert len(first.fixed_files) == 8
    assert (first.status, first.resolution) == ("RESOLVED", "FIXED")
    assert first.extra["fix_commit"] == "dd88d21" and first.filed is None
    assert second.title == "Support additional message insert keys in declare error/warning"


def test_compact_labeled_lines_put_label_columns_in_labels(data_dir: Path):
    path = data_dir / "bugzilla-mozilla" / "bugs_compact_labeled.jsonl"
    reports = reports_of(path, 30)

    first, labeled = reports[0], reports[29]
    assert first.external_id == "518272" and first.component == "XUL" and first.filed is None
    assert first.labels == {"is_bug_derived": "True", "regression_category": "regression"}  # is_bug null
    assert first.created_at == datetime(2009, 9, 23, 2, 57, 43, tzinfo=UTC)
    assert labeled.external_id == "1042414" and labeled.labels["is_bug"] == "True"
