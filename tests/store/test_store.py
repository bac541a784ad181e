"""The store on SQLite and PostgreSQL: schema, idempotent upsert, labels kept apart, the registry."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select

from bugsift.sources.base import Report
from bugsift.store.db import Database
from bugsift.store.labels import effective_labels, upsert_labels
from bugsift.store.migrate import current_revision, downgrade, head_revision, upgrade
from bugsift.store.models import LabelRow, ReportRow
from bugsift.store.registry import active_model, next_version, register_model
from bugsift.store.reports import find_report_ids, iter_reports, upsert_reports
from bugsift.store.schema import metadata


def make_report(external_id: str, **changes: object) -> Report:
    report = Report(
        tracker="jira",
        project="HADOOP",
        external_id=external_id,
        title="Reused Keys and Values fail with a Combiner",
        description="If the map function reuses the key or value by destructively modifying it ...",
        created_at=datetime(2006, 2, 4, 5, 54, 30, tzinfo=UTC),
        type="Bug",
        component="io",
        components=["io", "mapred"],
        resolution="Fixed",
        comments=["The reason that new objects are allocated during map ..."],
        labels={"triage": "defect"},
        raw={"key": external_id, "\u00e9": "non-ASCII survives"},
    )
    return replace(report, **changes)


def test_migrations_match_the_models(database: Database) -> None:
    assert current_revision(database.engine) == head_revision(database.engine)

    # Search indexes (FTS5 tables and their shadow tables, the tsvector side table, the title trigrams)
    # are not ORM models: compare the rest.
    def ours(name: str | None, type_: str, parent_names: object) -> bool:
        if type_ == "index":
            return name != "ix_reports_title_trigrams"
        return type_ != "table" or name in metadata.tables

    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": ours})
        assert compare_metadata(context, metadata) == []


def test_downgrade_and_upgrade_round_trip(database: Database) -> None:
    downgrade(database.engine, "base")
    assert current_revision(database.engine) is None
    upgrade(database.engine)
    assert current_revision(database.engine) == head_revision(database.engine)


def test_upsert_is_idempotent_and_counts_changes(database: Database) -> None:
    reports = [make_report(f"HADOOP-{n}") for n in range(1, 6)]
    with database.session() as session:
        first = upsert_reports(session, reports)
    with database.session() as session:
        again = upsert_reports(session, reports)
    changed = [replace(reports[0], resolution="Won't Fix"), *reports[1:]]
    with database.session() as session:
        third = upsert_reports(session, changed)
        stored = session.scalar(select(ReportRow).where(ReportRow.external_id == "HADOOP-1"))
        count = session.scalar(select(func.count()).select_from(ReportRow))
    assert (first.imported, first.updated, first.unchanged) == (5, 0, 0)
    assert (again.imported, again.updated, again.unchanged) == (0, 0, 5)
    assert (third.imported, third.updated, third.unchanged) == (0, 1, 4)
    assert count == 5
    assert stored is not None and stored.resolution == "Won't Fix"


def test_same_id_in_two_projects_or_trackers_are_distinct_reports(database: Database) -> None:
    with database.session() as session:
        counts = upsert_reports(
            session,
            [
                make_report("7"),
                make_report("7", project="HDFS"),
                make_report("7", tracker="bugzilla", project=""),
            ],
        )
        ids = find_report_ids(session, None, ["7"])
    assert counts.imported == 3
    assert len(ids["7"]) == 3


def test_round_trip_keeps_fields_and_utc(database: Database) -> None:
    paris = timezone(timedelta(hours=2))
    original = make_report(
        "HADOOP-9",
        created_at=datetime(2010, 6, 1, 12, 0, tzinfo=paris),
        filed={"product": None, "component": "io", "type": "Bug", "severity": None, "priority": "Major"},
        fixed_files=["Combiner.java"],
    )
    with database.session() as session:
        upsert_reports(session, [original, make_report("HADOOP-10")])
    with database.session() as session:
        loaded = {report.external_id: report for _, report in iter_reports(session)}
    report = loaded["HADOOP-9"]
    assert report.created_at == datetime(2010, 6, 1, 10, 0, tzinfo=UTC)
    assert report.created_at.tzinfo is not None
    assert report.filed == original.filed
    assert report.components == ["io", "mapred"] and report.fixed_files == ["Combiner.java"]
    assert report.raw["\u00e9"] == "non-ASCII survives"
    # No history: filing-time values are unknown, not guessed from today's.
    assert loaded["HADOOP-10"].filed is None


def test_naive_datetimes_are_refused(database: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"), database.session() as session:
        upsert_reports(session, [make_report("HADOOP-1", created_at=datetime(2006, 2, 4))])
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(ReportRow)) == 0


def test_human_labels_win_and_survive_reimport(database: Database) -> None:
    report = make_report("HADOOP-1")
    with database.session() as session:
        upsert_reports(session, [report])
        report_id = find_report_ids(session, "jira", ["HADOOP-1"])["HADOOP-1"][0]
        upsert_labels(session, [(report_id, "triage", "not_defect")], source="human", author="ana")
        upsert_labels(session, [(report_id, "triage", "defect")], source="model")
    with database.session() as session:
        upsert_reports(session, [replace(report, labels={"triage": "defect"}, title="edited")])
    with database.session() as session:
        rows = session.execute(select(LabelRow.source, LabelRow.value, LabelRow.author)).all()
        assert effective_labels(session, "triage") == {report_id: "not_defect"}
    assert sorted(rows) == [
        ("human", "not_defect", "ana"),
        ("import", "defect", None),
        ("model", "defect", None),
    ]


def test_unknown_label_source_is_refused(database: Database) -> None:
    with pytest.raises(ValueError, match="label source"), database.session() as session:
        upsert_labels(session, [(1, "x", "y")], source="robot")


def test_registry_versions_and_active_model(database: Database, tmp_path) -> None:
    common = {
        "params": {},
        "data": {},
        "metrics": {"test": {"accuracy": 0.9}},
        "thresholds": {"uncertain": 0.6},
    }
    with database.session() as session:
        assert next_version(session, "defect", "is_bug", "filing") == 1
        register_model(
            session, task="defect", label="is_bug", mode="filing", version=1, path=tmp_path / "a", **common
        )
        register_model(
            session, task="defect", label="is_bug", mode="filing", version=2, path=tmp_path / "b", **common
        )
        assert next_version(session, "defect", "is_bug", "filing") == 3
    with database.session() as session:
        assert active_model(session, "defect", "is_bug", "filing").version == 2
        with pytest.raises(LookupError, match="bugsift train type"):
            active_model(session, "type")
