"""The bulk path of the upsert (issue 20): a multi-row INSERT on SQLite, COPY on PostgreSQL, with the
full-text index current and a concurrent writer's rows updated, not duplicated."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from bugsift.sources.base import Report
from bugsift.store import reports as reports_module
from bugsift.store.db import Database
from bugsift.store.models import LabelRow, ReportRow
from bugsift.store.reports import iter_reports, upsert_reports
from bugsift.store.upsert import SQLITE_ROWS_PER_STATEMENT


def make_report(n: int, **changes: object) -> Report:
    report = Report(
        tracker="jira",
        project="HDFS",
        external_id=f"HDFS-{n}",
        title=f"NameNode crashes on restart number{n}",
        description="The NameNode fails to replay the edit log \u00e9 " * 3,
        created_at=datetime(2012, 1, 1, tzinfo=UTC) + timedelta(hours=n),
        components=["namenode"],
        comments=[f"comment {n}", "second"],
        labels={"triage": "defect"},
        extra={"versions": ["2.0.0"]},
        raw={"key": f"HDFS-{n}", "n": n},
    )
    return replace(report, **changes)


def search_ids(database: Database, word: str) -> list[int]:
    """Row ids the full-text index finds for one word, as the duplicate search reads it."""
    with database.engine.connect() as connection:
        if database.engine.dialect.name == "sqlite":
            sql = "SELECT rowid FROM reports_fts WHERE reports_fts MATCH :w ORDER BY rowid"
        else:
            sql = (
                "SELECT report_id FROM report_search "
                "WHERE document @@ to_tsquery('english', :w) ORDER BY report_id"
            )
        return list(connection.execute(text(sql), {"w": word}).scalars())


def test_a_batch_larger_than_one_statement_is_stored_whole_and_searchable(database: Database) -> None:
    n = SQLITE_ROWS_PER_STATEMENT * 2 + 7  # three statements on SQLite, one COPY on PostgreSQL
    batch = [make_report(i) for i in range(n)]
    with database.session() as session:
        counts = upsert_reports(session, batch)
    assert (counts.imported, counts.updated, counts.unchanged) == (n, 0, 0)

    with database.session() as session:
        stored = {report.external_id: report for _, report in iter_reports(session)}
        labels = session.scalar(select(func.count()).select_from(LabelRow))
    assert len(stored) == n and labels == n
    for report in batch[:3] + batch[-3:]:
        assert replace(stored[report.external_id], labels={}) == replace(report, labels={})
    assert len(search_ids(database, "namenode")) == n
    assert len(search_ids(database, f"number{n - 1}")) == 1

    with database.session() as session:  # idempotent: the same batch again changes nothing
        again = upsert_reports(session, batch)
    assert (again.imported, again.updated, again.unchanged) == (0, 0, n)


def test_a_key_a_concurrent_writer_stored_meanwhile_is_updated(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    with database.session() as session:
        upsert_reports(session, [make_report(1)])
    # The lookup misses the stored key, as when another importer commits it between lookup and insert.
    real, calls = reports_module._existing, []

    def missing_the_first_time(session: object, keys: list[tuple[str, str, str]]) -> dict:
        calls.append(keys)
        return {} if len(calls) == 1 else real(session, keys)

    monkeypatch.setattr(reports_module, "_existing", missing_the_first_time)
    changed = make_report(1, title="Edited title mentions zookeeper")
    with database.session() as session:
        upsert_reports(session, [changed, make_report(2)])

    with database.session() as session:
        rows = session.execute(select(ReportRow.external_id, ReportRow.title).order_by(ReportRow.id)).all()
    assert rows == [("HDFS-1", "Edited title mentions zookeeper"), ("HDFS-2", make_report(2).title)]
    assert len(search_ids(database, "zookeeper")) == 1  # the index follows the update


def test_a_failing_batch_leaves_nothing_of_it(database: Database) -> None:
    with database.session() as session:
        upsert_reports(session, [make_report(1)])
    bad = make_report(3, created_at=datetime(2012, 1, 1))  # naive: refused by the column type
    with pytest.raises(Exception, match="naive datetime"), database.session() as session:
        upsert_reports(session, [make_report(2), bad])
    with database.session() as session:
        assert session.scalars(select(ReportRow.external_id)).all() == ["HDFS-1"]
