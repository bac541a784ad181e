"""The defect label from resolutions means what it says: a tracker's recorded type of other work
(enhancement, task) is never a defect, whatever the resolution (issue 15, part 3). Real Mozilla records."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bugsift.ingest import import_reports
from bugsift.learn.kind.task import describe
from bugsift.learn.targets import (
    BACKFILLED_NOTE,
    DEFECT,
    NOT_DEFECT,
    defect_from_report,
    load_dataset,
    recorded_type,
    type_backfilled,
)
from bugsift.learn.training import evaluate_dataset
from bugsift.sources import read_reports
from bugsift.sources.base import Report
from bugsift.store.db import Database
from bugsift.store.reports import iter_reports


@pytest.fixture(scope="module")
def typed_bugs(data_dir: Path) -> list[Report]:
    """The 65 newer Mozilla bugs whose Bugzilla has a type field (defect / enhancement / task)."""
    path = data_dir / "bugzilla-mozilla" / "fixture_bugs_history_union.jsonl.xz"
    return [r for r in read_reports("bugzilla", path) if isinstance(r, Report)]


def test_a_fixed_enhancement_or_task_is_not_a_defect(typed_bugs: list[Report]) -> None:
    by_type = Counter((r.type, r.resolution, defect_from_report(r)) for r in typed_bugs)
    assert by_type[("enhancement", "FIXED", NOT_DEFECT)] == 6
    assert by_type[("task", "FIXED", NOT_DEFECT)] == 6
    assert by_type[("enhancement", "FIXED", DEFECT)] == 0
    assert by_type[("defect", "FIXED", DEFECT)] == 30  # a fixed defect stays one
    assert by_type[("defect", "INVALID", NOT_DEFECT)] == 1
    # An open enhancement needs no verdict to be no defect; an open defect still has none.
    assert by_type[("enhancement", None, NOT_DEFECT)] == 9
    assert by_type[("defect", None, None)] == 4


def test_bugzilla_without_a_type_field_says_enhancement_by_severity_or_keyword(mozilla: list[Report]) -> None:
    said = [r for r in mozilla if recorded_type(r) == "enhancement"]
    assert said, "older Mozilla bugs mark requests by severity 'enhancement' or keyword 'feature'"
    assert all(r.type is None for r in said)
    assert all(r.severity == "enhancement" or "feature" in r.keywords for r in said)
    assert {defect_from_report(r) for r in said} == {NOT_DEFECT}


def test_types_filled_in_by_the_2019_migration_are_named(typed_bugs: list[Report]) -> None:
    backfilled = [r for r in typed_bugs if type_backfilled(r)]
    assert backfilled and all(r.created_at is not None and r.created_at.year < 2019 for r in backfilled)
    assert not any(type_backfilled(r) for r in typed_bugs if r.created_at and r.created_at.year >= 2019)


def test_training_says_how_many_labels_the_type_decided(sqlite_db: Database, data_dir: Path) -> None:
    base = data_dir / "bugzilla-mozilla"
    paths = [base / "bugs_full_add08f170.jsonl.xz", base / "fixture_bugs_history_union.jsonl.xz"]
    import_reports(sqlite_db, "bugzilla", paths, tracker="mozilla")
    with sqlite_db.session() as session:
        dataset = load_dataset(session, "defect", tracker="mozilla")
    notes = dict(dataset.notes)
    assert notes["fixed, but the tracker records type enhancement: not a defect"] == 23
    assert notes["fixed, but the tracker records type task: not a defect"] == 6
    assert notes[BACKFILLED_NOTE] > 0
    evaluation = evaluate_dataset(dataset, "filing")
    text = describe(evaluation)
    assert "labels: 23 fixed, but the tracker records type enhancement: not a defect" in text
    assert evaluation.as_dict()["data"]["label_notes"] == notes


def test_a_filing_mode_dataset_holds_no_later_comments_or_raw_record(
    sqlite_db: Database, data_dir: Path
) -> None:
    """A filing-time model never reads them, and they are most of a report's memory (issue 20)."""
    import_reports(sqlite_db, "bugzilla", [data_dir / "bugzilla-mozilla" / "bugs_full_add08f170.jsonl.xz"])
    with sqlite_db.session() as session:
        backlog = load_dataset(session, "defect")
        filing = load_dataset(session, "defect", mode="filing")
    assert filing.labels == backlog.labels and filing.notes == backlog.notes
    assert any(r.comments for r in backlog.reports) and all(r.raw for r in backlog.reports)
    assert not any(r.comments or r.raw for r in filing.reports)


def test_the_training_window_reads_only_the_newest_labelled_reports(
    sqlite_db: Database, data_dir: Path
) -> None:
    """`train_max_reports` bounds training memory by a setting: the newest labelled reports, oldest first."""
    from bugsift.learn.component.task import _load
    from bugsift.learn.tasks import TaskOptions

    import_reports(sqlite_db, "bugzilla", [data_dir / "bugzilla-mozilla" / "bugs_full_add08f170.jsonl.xz"])
    with sqlite_db.session() as session:
        everything = load_dataset(session, "defect", mode="filing")
        window = load_dataset(session, "defect", mode="filing", max_reports=200)
        roomy = load_dataset(session, "defect", mode="filing", max_reports=5_000)
    assert roomy.labels == everything.labels and roomy.row_ids == everything.row_ids  # no window needed
    assert len(window.labels) == 200
    newest = sorted(everything.reports, key=lambda r: r.created_at)[-200:]
    assert {r.external_id for r in window.reports} == {r.external_id for r in newest}
    dates = [r.created_at for r in window.reports]
    assert dates == sorted(dates)  # oldest first, as without a window
    (why,) = [k for k in window.excluded if k.startswith("not read")]
    assert window.excluded[why] > 0
    components = _load(sqlite_db, TaskOptions(), max_reports=300)
    assert len(components) == 300 and not any(r.raw or r.comments for r in components)
    assert min(r.created_at for r in components) >= sorted(r.created_at for r in everything.reports)[-300]


def test_scale_and_fix_time_trainings_read_the_same_window(sqlite_db: Database, data_dir: Path) -> None:
    """Severity, priority and fix-time read the newest N stored reports (not N labelled: their labels
    are rarer), oldest first again, and say how many older ones they left unread."""
    from bugsift.learn.fix_time.target import load_dataset as load_fix_times
    from bugsift.learn.scale.targets import load_scale_dataset

    import_reports(sqlite_db, "bugzilla", [data_dir / "bugzilla-mozilla" / "bugs_full_add08f170.jsonl.xz"])
    with sqlite_db.session() as session:
        stored = sorted(r.created_at for _, r in iter_reports(session))
        for task in ("severity", "priority"):
            whole = load_scale_dataset(session, task, mode="filing")
            window = load_scale_dataset(session, task, mode="filing", max_reports=300)
            assert window.excluded["not read: older than the newest 300 reports"] == len(stored) - 300
            assert 0 < len(window.labels) < len(whole.labels)
            dates = [r.created_at for r in window.reports]
            assert dates == sorted(dates) and dates[0] >= stored[-300]
            # the same reports get the same labels as in the whole store's data set
            by_row = dict(zip(whole.row_ids, whole.labels, strict=True))
            assert all(by_row[row] == label for row, label in zip(window.row_ids, window.labels, strict=True))
        whole_fix, window_fix = load_fix_times(session), load_fix_times(session, max_reports=300)
    assert window_fix.excluded["not read: older than the newest 300 reports"] == len(stored) - 300
    assert 0 < len(window_fix) < len(whole_fix)
    assert list(window_fix.created) == sorted(window_fix.created)
    assert min(r.created_at for r in window_fix.reports) >= stored[-300]
