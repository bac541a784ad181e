"""Jira sync against a local server replaying real Apache Jira issues: JQL with startAt/maxResults
paging (the server caps the page size), fields and changelog expansion, a 429 with Retry-After, a
500, a malformed page resumed, and the watermark in JQL's minute precision."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from jobs_support import job_settings
from sqlalchemy import select
from trackers_replay import ReplayServer, jira_issues, serving

from bugsift.jobs.core import database_for, get_job, run_job, submit
from bugsift.store.job_tables import SyncStateRow
from bugsift.store.models import ReportRow
from bugsift.sync.jira import jql_time


@pytest.fixture
def jira() -> Iterator[ReplayServer]:
    with serving(jira_issues(25)) as server:
        server.max_results = 8
        yield server


def settings_for(tmp_path: Path, server: ReplayServer):
    return job_settings(
        tmp_path / "home",
        jira_url=server.url,
        jira_jql="project = HADOOP",
        jira_user="me@example.org",
        jira_token="jira-token",
        sync_page_size=10,
        sync_backoff_s=0.05,
    )


def stored(settings) -> dict[str, tuple[str, str | None]]:
    with database_for(settings).session() as session:
        rows = session.execute(select(ReportRow.external_id, ReportRow.project, ReportRow.resolution))
        return {key: (project, resolution) for key, project, resolution in rows}


def searches(server: ReplayServer) -> list[dict[str, str]]:
    return [params for path, params, _ in server.requests if path == "/rest/api/2/search"]


def test_jira_sync_pages_through_capped_pages_429_and_500(tmp_path: Path, jira) -> None:
    settings = settings_for(tmp_path, jira)
    jira.faults = {"startAt=8": ["429"], "startAt=16": ["500"]}
    started = time.monotonic()
    job_id = submit("sync", settings, source="jira")
    assert run_job(job_id, settings).state == "done"
    assert time.monotonic() - started >= 1.0  # Retry-After: 1 was honoured
    result = get_job(database_for(settings), job_id).result
    assert result["imported"] == 25 and result["rejected"] == 0
    reports = stored(settings)
    assert len(reports) == 25 and reports["HADOOP-2"] == ("HADOOP", "Fixed")
    pages = searches(jira)
    assert [p["startAt"] for p in pages] == ["0", "8", "8", "16", "16", "24"]  # capped at 8, then total
    first = pages[0]
    assert first["jql"] == "(project = HADOOP) ORDER BY created ASC, key ASC"
    assert first["expand"] == "changelog" and "summary" in first["fields"].split(",")
    _, _, headers = jira.requests[0]
    assert headers["Authorization"].startswith("Basic ")
    assert result["watermark"] == jql_time(jira.server_time) == "2026-11-25 10:00"
    # The next cycle asks only for what was updated since the server time of the last one.
    jira.requests.clear()
    jira.records[3]["fields"].update(summary="Edited", updated="2026-11-25T10:30:00.000+0000")
    again = submit("sync", settings, source="jira")
    assert run_job(again, settings).state == "done"
    (page,) = searches(jira)
    assert page["jql"] == '(project = HADOOP) AND updated >= "2026-11-25 10:00" ORDER BY created ASC, key ASC'
    assert get_job(database_for(settings), again).result["updated"] == 1


def test_a_malformed_page_fails_the_attempt_and_the_retry_resumes_there(tmp_path: Path, jira) -> None:
    settings = settings_for(tmp_path, jira)
    jira.faults = {"startAt=16": ["junk"]}
    job_id = submit("sync", settings, source="jira")
    assert run_job(job_id, settings).state == "retry"
    job = get_job(database_for(settings), job_id)
    assert "malformed JSON" in job.error and job.progress["cursor"] == 16
    assert len(stored(settings)) == 16
    with database_for(settings).session() as session:
        assert session.scalar(select(SyncStateRow.watermark)) is None  # no watermark mid-cycle
    jira.requests.clear()
    assert run_job(job_id, settings).state == "done"
    assert [p["startAt"] for p in searches(jira)] == ["16", "24"]
    assert len(stored(settings)) == 25
    assert get_job(database_for(settings), job_id).result["imported"] == 25


def test_jql_time_is_the_server_minute() -> None:
    assert jql_time("2019-03-01T23:59:59.999+0100") == "2019-03-01 23:59"
