"""Importing real tracker files and label files into the store, including bad input and crashes."""

from __future__ import annotations

import json
import lzma
from itertools import islice
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bugsift import ingest
from bugsift.ingest import import_labels, import_reports
from bugsift.store.db import Database
from bugsift.store.labels import effective_labels
from bugsift.store.models import LabelRow, ReportRow


def head_lines(source: Path, n: int) -> list[str]:
    opener = lzma.open if source.suffix == ".xz" else open
    with opener(source, "rt", encoding="utf-8") as handle:
        return list(islice(handle, n))


@pytest.fixture
def mozilla_slice(shared_data: Path, tmp_path: Path) -> Path:
    """The first 40 real Mozilla bugs, as a plain JSON-lines file."""
    path = tmp_path / "mozilla.jsonl"
    path.write_text("".join(head_lines(shared_data / "bugzilla-mozilla/bugs_full_add08f170.jsonl.xz", 40)))
    return path


def count(database: Database, table: type) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def test_import_is_idempotent_on_real_bugs(database: Database, mozilla_slice: Path) -> None:
    first = import_reports(database, "bugzilla", [mozilla_slice], tracker="mozilla", batch_size=16)
    again = import_reports(database, "bugzilla", [mozilla_slice], tracker="mozilla", batch_size=16)
    assert first.line() == "imported 40, updated 0, unchanged 0, rejected 0"
    assert again.line() == "imported 0, updated 0, unchanged 40, rejected 0"
    assert count(database, ReportRow) == 40
    with database.session() as session:
        row = session.scalar(select(ReportRow).where(ReportRow.external_id == "518272"))
        assert row is not None
        assert row.title.startswith("Namoroka - datepicker")
        # Filed under the old component name, renamed later (replayed from its history).
        assert row.filed_from_history is True and row.filed_component == "XP Toolkit/Widgets: XUL"
        assert row.component == "XUL"
        assert row.raw["id"] == 518272


def test_a_changed_record_is_updated(database: Database, mozilla_slice: Path, tmp_path: Path) -> None:
    import_reports(database, "bugzilla", [mozilla_slice])
    bugs = [json.loads(line) for line in mozilla_slice.read_text().splitlines()]
    bugs[3]["summary"] = "A reworded summary"
    changed = tmp_path / "changed.jsonl"
    changed.write_text("\n".join(json.dumps(bug) for bug in bugs))
    summary = import_reports(database, "bugzilla", [changed])
    assert (summary.counts.updated, summary.counts.unchanged) == (1, 39)
    with database.session() as session:
        assert session.scalar(select(ReportRow.title).where(ReportRow.external_id == str(bugs[3]["id"]))) == (
            "A reworded summary"
        )


def test_malformed_lines_are_reported_and_the_rest_imported(
    database: Database, mozilla_slice: Path, tmp_path: Path
) -> None:
    lines = mozilla_slice.read_text().splitlines()
    broken = tmp_path / "broken.jsonl"
    broken.write_text(
        "\n".join([lines[0], '{"id": 1, "summary": ', lines[1], '{"summary": "no id"}', lines[2]])
    )
    summary = import_reports(database, "bugzilla", [broken])
    assert summary.counts.imported == 3
    assert [r.location for r in summary.rejected] == [f"{broken}:2", f"{broken}:4"]
    assert "id" in summary.rejected[1].reason


def test_a_crash_mid_import_leaves_whole_batches_and_a_rerun_finishes(
    database: Database, mozilla_slice: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_read = ingest.read_reports

    def crashing_read(*args: object, **kwargs: object):
        for number, item in enumerate(real_read(*args, **kwargs)):
            if number == 25:
                raise KeyboardInterrupt("power cut")
            yield item

    monkeypatch.setattr(ingest, "read_reports", crashing_read)
    with pytest.raises(KeyboardInterrupt):
        import_reports(database, "bugzilla", [mozilla_slice], batch_size=10)
    assert count(database, ReportRow) == 20  # two whole batches, nothing of the third
    monkeypatch.setattr(ingest, "read_reports", real_read)
    rerun = import_reports(database, "bugzilla", [mozilla_slice], batch_size=10)
    assert (rerun.counts.imported, rerun.counts.unchanged) == (20, 20)
    assert count(database, ReportRow) == 40


def test_import_real_jira_github_and_eclipse_slices(
    database: Database, shared_data: Path, tmp_path: Path
) -> None:
    jira = tmp_path / "jira.jsonl"
    jira.write_text("".join(head_lines(shared_data / "apache-jira/jira_issues.jsonl.xz", 50)))
    eclipse = tmp_path / "eclipse.jsonl"
    eclipse.write_text("".join(head_lines(shared_data / "eclipse-localization/bug_reports.jsonl.xz", 30)))
    github = tmp_path / "issues.csv"
    github.write_text("".join(head_lines(shared_data / "github-issues/nlbse24_train.csv", 400)))
    assert import_reports(database, "jira", [jira]).counts.imported == 50
    assert import_reports(database, "bugzilla", [eclipse], tracker="eclipse").counts.imported == 30
    imported_github = import_reports(database, "github", [github]).counts.imported
    assert imported_github > 5
    with database.session() as session:
        hadoop = session.scalar(select(ReportRow).where(ReportRow.external_id == "HADOOP-2"))
        assert hadoop is not None and hadoop.project == "HADOOP" and hadoop.filed_from_history is False
        eclipse_row = session.scalar(select(ReportRow).where(ReportRow.tracker == "eclipse"))
        assert eclipse_row is not None and eclipse_row.fixed_files
        assert not eclipse_row.title.startswith("Bug ")
        labels = effective_labels(session, "label")
    assert set(labels.values()) <= {"bug", "feature", "question"} and len(labels) == imported_github


def test_labels_from_wide_long_and_json_files(
    database: Database, mozilla_slice: Path, tmp_path: Path
) -> None:
    import_reports(database, "bugzilla", [mozilla_slice], tracker="mozilla")
    ids = [str(json.loads(line)["id"]) for line in mozilla_slice.read_text().splitlines()]
    wide = tmp_path / "wide.csv"
    wide.write_text("id,is_bug\n" + f"{ids[0]},True\n{ids[1]},False\n999999999,True\n")
    long = tmp_path / "long.csv"
    long.write_text(f"bug_id,file,columns,values\n{ids[0]},a.csv,is_bug,False\n{ids[2]},a.csv,category,x\n")
    lines = tmp_path / "labels.jsonl"
    lines.write_text(json.dumps({"id": int(ids[3]), "kind": "enhancement"}) + "\nnot json\n")

    summary = import_labels(database, wide, "is_bug", tracker="mozilla")
    assert (summary.stored, summary.unknown_ids) == (2, ["999999999"])
    human = import_labels(database, long, "is_bug", source="human", author="triager")
    assert human.stored == 1
    from_json = import_labels(database, lines, "kind")
    assert from_json.stored == 1 and from_json.rejected[0].location == f"{lines}:2"
    with database.session() as session:
        labels = effective_labels(session, "is_bug")
        by_id = {row_id: ext for row_id, ext in session.execute(select(ReportRow.id, ReportRow.external_id))}
    assert {by_id[row_id]: value for row_id, value in labels.items()} == {ids[0]: "False", ids[1]: "False"}
    assert count(database, LabelRow) == 4  # the import label of ids[0] is kept beside the human one


def test_a_label_file_without_the_column_names_it(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("bug,verdict\n1,True\n")
    with pytest.raises(ValueError, match=r"labels.csv: cannot tell which column is the id"):
        import_labels(database, path, "is_bug")


def test_an_import_refreshes_the_planner_statistics(database: Database, mozilla_slice: Path) -> None:
    import_reports(database, "bugzilla", [mozilla_slice])
    with database.engine.connect() as connection:
        if database.engine.dialect.name == "postgresql":
            analysed = connection.exec_driver_sql(
                "SELECT n_live_tup, last_analyze FROM pg_stat_user_tables WHERE relname = 'reports'"
            ).one()
            assert analysed.last_analyze is not None
        else:
            # SQLite keeps its statistics in sqlite_stat1, one row per analysed index.
            rows = connection.exec_driver_sql("SELECT tbl FROM sqlite_stat1").scalars().all()
            assert "reports" in rows
