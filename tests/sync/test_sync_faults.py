"""A real `bugsift worker` killed with SIGKILL in the middle of a Jira sync job: restarted, the job
resumes at its checkpointed page and every report is imported exactly once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from jobs_support import backend_settings, wait_for
from sqlalchemy import func, select
from trackers_replay import jira_issues, serving

from bugsift.jobs.core import database_for, get_job, submit
from bugsift.store.models import ReportRow

ISSUES = 60


@pytest.mark.parametrize("backend", ["embedded", "redis", "rabbitmq"])
def test_a_worker_killed_mid_sync_resumes_without_lost_or_duplicated_reports(
    tmp_path: Path, start_worker, backend: str
) -> None:
    with serving(jira_issues(ISSUES)) as jira:
        jira.delay_s = 0.25  # 12 pages of 5: about 3 s of paging, time to kill the worker halfway
        settings = backend_settings(tmp_path / "home", backend, jira_url=jira.url, sync_page_size=5)
        database = database_for(settings)
        job_id = submit("sync", settings, source="jira")
        first = start_worker(settings)
        wait_for(
            lambda: (get_job(database, job_id).progress.get("done") or 0) >= 15, 45, "progress", tmp_path
        )
        first.kill9()
        job = get_job(database, job_id)
        assert job.state == "running" and 15 <= job.progress["done"] < ISSUES
        start_worker(settings)
        wait_for(lambda: get_job(database, job_id).state == "done", 60, "the restarted sync", tmp_path)
        job = get_job(database, job_id)
        assert job.attempts == 2
        assert job.result["imported"] == ISSUES and job.result["updated"] == 0
        with database.session() as session:
            keys = session.scalars(select(ReportRow.external_id)).all()
            assert session.scalar(select(func.count()).select_from(ReportRow)) == ISSUES
        assert sorted(keys) == sorted(i["key"] for i in jira.records)
        fetched = Counter(p["startAt"] for path, p, _ in jira.requests if path == "/rest/api/2/search")
        assert len(fetched) == ISSUES // 5
        assert sum(fetched.values()) - len(fetched) <= 1  # only the page in flight at the kill, again
