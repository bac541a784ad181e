"""GitHub sync against a local server replaying real facebook/react issues: Link pagination, a rate
limit waited out, a 500 retried, a malformed page resumed, pull requests skipped, and the conditional
request (ETag -> 304) of a cycle that finds nothing new."""

from __future__ import annotations

import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest
from jobs_support import job_settings
from sqlalchemy import func, select
from trackers_replay import REPO, ReplayServer, github_issues, serving

from bugsift.jobs.core import database_for, get_job, run_job, submit
from bugsift.store.job_tables import SyncStateRow
from bugsift.store.models import ReportRow

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z, the replay server's clock


@pytest.fixture
def github() -> Iterator[ReplayServer]:
    issues = github_issues(25)
    issues[4]["pull_request"] = {"url": f"https://api.github.com/repos/{REPO}/pulls/5"}  # one PR
    with serving(issues) as server:
        server.now = NOW
        yield server


def settings_for(tmp_path: Path, server: ReplayServer):
    return job_settings(
        tmp_path / "home",
        github_api_url=server.url,
        github_repo=REPO,
        github_token="gh-token",
        sync_page_size=10,
        sync_backoff_s=0.05,
    )


def reports(settings) -> dict[str, str]:
    with database_for(settings).session() as session:
        return {i: t for i, t in session.execute(select(ReportRow.external_id, ReportRow.title))}


def issue_pages(server: ReplayServer) -> list[dict[str, str]]:
    return [params for path, params, _ in server.requests if path.endswith("/issues")]


def sync_once(settings) -> dict:
    job_id = submit("sync", settings, source="github")
    assert run_job(job_id, settings).state == "done", get_job(database_for(settings), job_id).log
    return get_job(database_for(settings), job_id).result


def test_github_sync_follows_links_waits_out_limits_and_skips_pull_requests(tmp_path, github) -> None:
    settings = settings_for(tmp_path, github)
    github.faults = {"page=2": ["ratelimit"], "page=3": ["500"]}
    started = time.monotonic()
    result = sync_once(settings)
    assert time.monotonic() - started >= 0.5  # waited for X-RateLimit-Reset instead of failing
    assert result["imported"] == 24 and result["rejected"] == 0  # 25 items, one a pull request
    stored = reports(settings)
    assert len(stored) == 24 and "5" not in stored
    pages = issue_pages(github)
    assert [p.get("page", "1") for p in pages] == ["1", "2", "2", "3", "3"]
    assert all(p["state"] == "all" and p["per_page"] == "10" and "since" not in p for p in pages)
    headers = [h for path, _, h in github.requests if path.endswith("/issues")]
    assert headers[0]["Authorization"] == "Bearer gh-token"
    assert "If-None-Match" not in headers[0]
    assert result["watermark"] == "2026-01-01T00:00:00Z"  # the server's Date, not ours
    with database_for(settings).session() as session:
        assert session.scalar(select(SyncStateRow.watermark)) == "2026-01-01T00:00:00Z"


def test_github_cycles_use_since_and_a_conditional_request(tmp_path, github) -> None:
    settings = settings_for(tmp_path, github)
    sync_once(settings)
    github.requests.clear()
    github.now = NOW + 3600
    quiet = sync_once(settings)  # nothing changed: an empty first page, the watermark stays
    assert quiet["imported"] == quiet["updated"] == 0 and quiet["watermark"] == "2026-01-01T00:00:00Z"
    assert [p["since"] for p in issue_pages(github)] == ["2026-01-01T00:00:00Z"]
    github.requests.clear()
    unchanged = sync_once(settings)  # the same URL again, now conditional: 304
    ((_, _, headers),) = [r for r in github.requests if r[0].endswith("/issues")]
    assert headers["If-None-Match"] == quiet["etag"]
    assert unchanged["not_modified"] and unchanged["watermark"] == "2026-01-01T00:00:00Z"
    # An issue edited after the watermark: the ETag no longer matches, the edit is imported.
    github.records[7].update(title="Edited title", updated_at="2026-01-01T01:00:00Z")
    github.now = NOW + 7200
    edited = sync_once(settings)
    assert edited["updated"] == 1 and not edited["not_modified"]
    assert edited["watermark"] == "2026-01-01T02:00:00Z"
    assert reports(settings)["8"] == "Edited title"


def test_a_malformed_page_fails_the_attempt_and_the_retry_resumes_there(tmp_path, github) -> None:
    settings = settings_for(tmp_path, github)
    github.faults = {"page=2": ["junk"]}
    job_id = submit("sync", settings, source="github")
    assert run_job(job_id, settings).state == "retry"
    job = get_job(database_for(settings), job_id)
    assert "malformed JSON" in job.error and "page=2" in job.progress["cursor"]
    assert len(reports(settings)) == 9  # page 1: ten items, one a pull request
    with database_for(settings).session() as session:
        assert session.scalar(select(func.count()).select_from(SyncStateRow)) == 0  # no watermark mid-cycle
    github.requests.clear()
    assert run_job(job_id, settings).state == "done"
    assert [p.get("page") for p in issue_pages(github)] == ["2", "3"]  # resumed, nothing fetched twice
    assert len(reports(settings)) == 24
    assert get_job(database_for(settings), job_id).result["imported"] == 24


def test_a_rate_limit_longer_than_the_allowed_wait_fails_the_attempt(tmp_path, github) -> None:
    settings = settings_for(tmp_path, github).model_copy(update={"sync_max_wait_s": 0.1})
    github.faults = {"page=1": ["ratelimit"]}
    job_id = submit("sync", settings, source="github")
    assert run_job(job_id, settings).state == "retry"
    assert "over sync_max_wait_s" in get_job(database_for(settings), job_id).error
    assert formatdate(NOW, usegmt=True).startswith("Thu, 01 Jan 2026")
