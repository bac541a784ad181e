"""`bugsift db vacuum` on real rows: the space of deleted reports comes back, search still answers."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, func, select

from bugsift.cli import main
from bugsift.learn.duplicates.index import search
from bugsift.learn.duplicates.query import query_terms
from bugsift.settings import Settings
from bugsift.sources import read_reports
from bugsift.sources.base import Report
from bugsift.store.db import Database
from bugsift.store.maintenance import database_bytes, vacuum
from bugsift.store.models import ReportRow
from bugsift.store.reports import upsert_reports


@pytest.fixture(scope="module")
def jira_reports(shared_data: Path) -> list[Report]:
    reports = islice(read_reports("jira", shared_data / "apache-jira/jira_issues.jsonl.xz"), 1500)
    return [r for r in reports if isinstance(r, Report)]


def test_vacuum_gives_back_the_space_of_deleted_reports(
    database: Database, jira_reports: list[Report]
) -> None:
    with database.session() as session:
        upsert_reports(session, jira_reports)
    kept = jira_reports[-1]
    with database.session() as session:
        session.execute(delete(ReportRow).where(ReportRow.external_id != kept.external_id))
    result = vacuum(database, full=True)
    assert result.bytes_after < result.bytes_before, result.line()
    assert result.bytes_after == database_bytes(database)
    assert "given back" in result.line()
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(ReportRow)) == 1
        kept_id = session.scalar(select(ReportRow.id))
        found = search(session, query_terms(kept.title), limit=5)
    assert [hit.row_id for hit in found] == [kept_id]  # the full-text index still answers, for it only


def test_the_cli_says_what_it_gave_back(settings: Settings, jira_reports: list[Report]) -> None:
    from bugsift.store.db import open_database

    database = open_database(settings)
    with database.session() as session:
        upsert_reports(session, jira_reports[:300])
        session.execute(delete(ReportRow))
    database.dispose()
    result = CliRunner().invoke(main, ["db", "vacuum"], env={"BUGSIFT_HOME": str(settings.home)})
    assert result.exit_code == 0, result.output
    assert "sqlite VACUUM: " in result.output and "MB given back" in result.output
