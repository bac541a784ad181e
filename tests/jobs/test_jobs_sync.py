"""Bugzilla sync against a local HTTP server replaying real bugs in REST page shape, with a 429 and
Retry-After, a 500, and a malformed page."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from jobs_support import JsonHandler, full_bugs, job_settings, serving_in_thread
from sqlalchemy import func, select

from bugsift.jobs.core import database_for, get_job, run_job, submit
from bugsift.store.job_tables import SyncStateRow
from bugsift.store.models import ReportRow

SERVER_TIME = "2026-11-25T10:00:00Z"


class FakeBugzilla(ThreadingHTTPServer):
    def __init__(self, bugs: list[dict]) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.bugs = bugs
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.faults: dict[int, list[str]] = {}  # offset -> faults to play, in order ("429", "500", "junk")


class Handler(JsonHandler):
    server: FakeBugzilla

    def do_GET(self) -> None:
        url = urlparse(self.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.server.requests.append((url.path, params, dict(self.headers)))
        if url.path == "/rest/time":
            return self._send(200, json.dumps({"db_time": SERVER_TIME, "web_time": SERVER_TIME}).encode())
        if self.headers.get("X-BUGZILLA-API-KEY") != "secret-key":
            return self._send(401, b'{"error": true, "message": "bad key"}')
        offset, limit = int(params["offset"]), int(params["limit"])
        faults = self.server.faults.get(offset)
        if faults:
            fault = faults.pop(0)
            if fault == "429":
                return self._send(429, b'{"error": true}', {"Retry-After": "1"})
            if fault == "500":
                return self._send(500, b'{"error": true}')
            return self._send(200, b'{"bugs": [{"id": 1, "summ')  # truncated, malformed JSON
        since = params.get("last_change_time")
        bugs = [b for b in self.server.bugs if not since or b["last_change_time"] >= since]
        self._send(200, json.dumps({"bugs": bugs[offset : offset + limit]}).encode())


@pytest.fixture
def bugzilla() -> Iterator[FakeBugzilla]:
    with serving_in_thread(FakeBugzilla(full_bugs(25))) as server:
        yield server


def count_reports(settings) -> int:
    with database_for(settings).session() as session:
        return session.scalar(select(func.count()).select_from(ReportRow))


def saved_watermark(settings) -> str | None:
    with database_for(settings).session() as session:
        return session.scalar(select(SyncStateRow.watermark))


def sync_settings(tmp_path: Path, server: FakeBugzilla):
    return job_settings(
        tmp_path / "home",
        bugzilla_url=f"http://127.0.0.1:{server.server_address[1]}",
        bugzilla_api_key="secret-key",
        sync_page_size=10,
        sync_backoff_s=0.05,
    )


def test_sync_pages_through_429_and_500_and_saves_the_watermark(tmp_path: Path, bugzilla) -> None:
    settings = sync_settings(tmp_path, bugzilla)
    bugzilla.faults = {0: ["429"], 10: ["500"]}
    started = time.monotonic()
    job_id = submit("sync", settings)
    assert run_job(job_id, settings).state == "done"
    assert time.monotonic() - started >= 1.0  # Retry-After: 1 was honoured
    job = get_job(database_for(settings), job_id)
    assert job.result["imported"] == 25 and job.result["rejected"] == 0
    assert count_reports(settings) == 25 and saved_watermark(settings) == SERVER_TIME
    pages = [params for path, params, _ in bugzilla.requests if path == "/rest/bug"]
    assert [p["offset"] for p in pages] == ["0", "0", "10", "10", "20", "25"]
    assert all("last_change_time" not in p for p in pages) and pages[0]["include_fields"]
    # The next cycle asks only for changes since the saved server time; re-import is idempotent.
    bugzilla.requests.clear()
    again = submit("sync", settings)
    assert run_job(again, settings).state == "done"
    pages = [params for path, params, _ in bugzilla.requests if path == "/rest/bug"]
    assert {p["last_change_time"] for p in pages} == {SERVER_TIME}
    assert count_reports(settings) == 25


def test_a_malformed_page_fails_the_attempt_and_the_retry_resumes_there(tmp_path: Path, bugzilla) -> None:
    settings = sync_settings(tmp_path, bugzilla)
    bugzilla.faults = {10: ["junk"]}
    job_id = submit("sync", settings)
    assert run_job(job_id, settings).state == "retry"
    job = get_job(database_for(settings), job_id)
    assert "malformed JSON" in job.error and job.progress["cursor"] == 10
    assert count_reports(settings) == 10 and saved_watermark(settings) is None  # no watermark mid-cycle
    bugzilla.requests.clear()
    assert run_job(job_id, settings).state == "done"
    pages = [params["offset"] for path, params, _ in bugzilla.requests if path == "/rest/bug"]
    assert pages == ["10", "20", "25"]  # resumed at the failed page, nothing fetched twice
    assert count_reports(settings) == 25 and saved_watermark(settings) == SERVER_TIME
    assert get_job(database_for(settings), job_id).result["imported"] == 25
