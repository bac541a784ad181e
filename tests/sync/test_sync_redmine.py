"""Redmine sync against a real Redmine 5 (see conftest.py `redmine` and redmine_server.py), seeded with
real Apache Jira reports: journals give the filing-time values, a second cycle changes nothing, an edit
after the watermark is picked up, bad answers are one clear line, a killed sync loses and doubles nothing.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner, Result
from sqlalchemy import select

from bugsift.cli import main
from bugsift.jobs.core import validate_args
from bugsift.jobs.sync_task import tracker_url
from bugsift.settings import Settings
from bugsift.sources.base import Report
from bugsift.store.db import open_database
from bugsift.store.models import ReportRow
from bugsift.sync.redmine import CLOCK_SKEW_MARGIN, RedmineClient, never_edited

Invoke = Callable[..., Result]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redmine: Any) -> Invoke:
    """`bugsift ...` in process, with a fresh home and the test Redmine in the settings."""
    for name in [n for n in os.environ if n.startswith("BUGSIFT_") and n != "BUGSIFT_SHARED_DATA"]:
        monkeypatch.delenv(name)
    env = {
        "BUGSIFT_HOME": str(tmp_path / "home"),
        "BUGSIFT_EMBEDDINGS": "off",
        "BUGSIFT_REDMINE_URL": redmine.url,
        "BUGSIFT_REDMINE_API_KEY": redmine.api_key,
        "BUGSIFT_REDMINE_PROJECT": "hive",
        "BUGSIFT_SYNC_BACKOFF_S": "0.2",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True, **extra_env: str) -> Result:
        result = runner.invoke(main, [str(a) for a in args], env=extra_env or None, catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return invoke


def stored(home: Path) -> dict[str, ReportRow]:
    database = open_database(Settings(home=home))
    try:
        with database.session() as session:
            rows = session.scalars(select(ReportRow).where(ReportRow.tracker == "redmine")).all()
            session.expunge_all()
            return {row.external_id: row for row in rows}
    finally:
        database.dispose()


def summary(result: Result) -> dict[str, int]:
    """``sync redmine: imported 3, updated 0, ...`` -> {"imported": 3, ...}."""
    line = result.stdout.strip().splitlines()[-1]
    counts = line.split(": ", 1)[1].split(";")[0]
    return {name: int(value) for value, name in (part.split()[::-1] for part in counts.split(", "))}


def test_sync_recovers_filing_values_and_is_incremental(redmine: Any, cli: Invoke, tmp_path: Path) -> None:
    seeded = redmine.seeded
    first = cli("sync", "redmine")
    assert summary(first) == {"imported": len(seeded.ids), "updated": 0, "unchanged": 0, "rejected": 0}
    rows = stored(tmp_path / "home")
    assert len(rows) == len(seeded.ids)
    for redmine_id, category in seeded.filed_category.items():
        row = rows[str(redmine_id)]
        assert row.filed_from_history, row.external_id
        assert (row.filed_component, row.filed_type, row.filed_product) == (category, "Bug", "Hive")
        if redmine_id in seeded.edited:
            assert (row.component, row.type) == (seeded.edited[redmine_id], "Support")
            assert row.comments == ["Triaged: moved to another area."]
        else:
            assert (row.component, row.type) == (category, "Bug")
    assert seeded.duplicates
    for duplicate, original in seeded.duplicates.items():
        assert rows[str(duplicate)].duplicate_of == str(original)
        assert rows[str(original)].duplicate_of is None  # the other end of the relation is not a duplicate

    second = cli("sync", "redmine")  # issues changed in the watermark's own second are read again, unchanged
    assert summary(second) | {"unchanged": 0} == {"imported": 0, "updated": 0, "unchanged": 0, "rejected": 0}
    assert len(stored(tmp_path / "home")) == len(rows)

    target = next(
        i for i in sorted(seeded.filed_category) if i not in seeded.edited and i not in seeded.duplicates
    )
    redmine.api("PUT", f"/issues/{target}.json", {"issue": {"subject": "Edited after the watermark"}})
    third = cli("sync", "redmine")
    assert summary(third) | {"unchanged": 0} == {"imported": 0, "updated": 1, "unchanged": 0, "rejected": 0}
    assert stored(tmp_path / "home")[str(target)].title == "Edited after the watermark"

    status = json.loads(cli("db", "status", "--json").stdout)
    assert status["reports_by_tracker"]["redmine"] == {
        "reports": len(seeded.ids),
        "projects": {"Hive": len(seeded.ids)},
    }


def synced_reports(redmine: Any, skip_unedited: bool) -> tuple[dict[str, Report], RedmineClient]:
    """One full cycle of the client alone (no store): the reports by id, and the client (its counts)."""
    client = RedmineClient(redmine.url, redmine.api_key, "hive", skip_unedited=skip_unedited)
    client.server_time()
    reports = {r.external_id: r for page in client.pages(None, None, 100) for r in page.reports}
    return reports, client


def comparable(report: Report) -> dict[str, Any]:
    """Every field but the record as read (a list record has fewer keys than a detail document)."""
    return {k: v for k, v in asdict(report).items() if k != "raw"}


def test_only_issues_that_can_have_journals_get_a_detail_request(redmine: Any) -> None:
    """An issue noted after its creation still gets its journals; a never-edited one is read from the list
    alone, with the same report as from its /issues/ID.json: fields, filing-time values, duplicate_of."""
    seeded = redmine.seeded
    untouched = [
        i for i in sorted(seeded.filed_category) if i not in seeded.edited and i not in seeded.duplicates
    ]
    related = set(seeded.duplicates) | set(seeded.duplicates.values())
    lonely = [i for i in untouched if i not in related]  # no relation, so no journal yet
    noted = lonely[-1]  # not the issue the incremental test edits (untouched[0])
    redmine.api("PUT", f"/issues/{noted}.json", {"issue": {"notes": "Seen on 4.0 too."}})

    skipping, client = synced_reports(redmine, skip_unedited=True)
    full, every = synced_reports(redmine, skip_unedited=False)
    assert every.detailed == every.listed == len(seeded.ids)
    # Edited issues, the noted one and both ends of each relation (its journal does not bump updated_on);
    # one more when the incremental test above, which edits untouched[0], ran first.
    expected = len(set(seeded.edited) | related | {noted})
    assert expected <= client.detailed <= expected + 1
    assert client.listed == len(seeded.ids)
    assert {k: comparable(r) for k, r in skipping.items()} == {k: comparable(r) for k, r in full.items()}

    assert skipping[str(noted)].comments == ["Seen on 4.0 too."]
    assert skipping[str(noted)].extra["journals_count"] == 1
    plain_id = next(i for i in lonely if i != untouched[0])  # read from the list alone
    plain = skipping[str(plain_id)]
    assert plain.comments == [] and plain.extra["journals_count"] == 0
    assert plain.filed == {
        "product": "Hive",
        "component": seeded.filed_category[plain_id],
        "type": "Bug",
        "severity": None,
        "priority": plain.priority,
    }
    duplicate = next(d for d in sorted(seeded.duplicates) if d not in seeded.edited)
    assert skipping[str(duplicate)].duplicate_of == str(seeded.duplicates[duplicate])


def test_train_and_predict_after_sync(redmine: Any, cli: Invoke, tmp_path: Path) -> None:
    cli("sync", "redmine")
    trained = cli("train", "component", "--tracker", "redmine", "--min-support", "5")
    assert "component" in trained.stdout.lower()
    issue_id = sorted(redmine.seeded.filed_category)[-1]
    answer = requests.get(
        f"{redmine.url}/issues/{issue_id}.json",
        params={"include": "journals,relations"},
        headers={"X-Redmine-API-Key": redmine.api_key},
        timeout=30,
    )
    new = tmp_path / "new.json"
    new.write_text(answer.text)  # a real /issues/ID.json answer, read by format detection
    predicted = cli("predict", "component", "--input", new)
    result = json.loads(predicted.stdout.strip().splitlines()[0])
    assert result["id"] == str(issue_id)
    labels = {f"Hive::{c}" for c in redmine.seeded.filed_category.values()} | {"Hive::(other)"}
    assert result["prediction"] in labels, result  # product::component, folded rare ones as (other)
    assert result["candidates"] and result["explanation"]


def test_recorded_answers_import_like_the_sync(redmine: Any, cli: Invoke, tmp_path: Path) -> None:
    """Real answers of the server (a list page, /issues/ID.json documents, the CSV export) recorded to
    files and imported: the same reports as the sync, filing-time values only where journals are."""
    headers = {"X-Redmine-API-Key": redmine.api_key}
    ids = sorted(redmine.seeded.edited)[:3]

    def get(path: str, **params: Any) -> requests.Response:
        return requests.get(f"{redmine.url}{path}", params=params, headers=headers, timeout=30)

    page = tmp_path / "page.json"
    page.write_text(get("/issues.json", project_id="hive", status_id="*", sort="id", limit=25).text)
    details = tmp_path / "details.jsonl"
    # Edited issues with unedited ones: a file import names the journals' old ids from the issues it holds.
    recorded = ids + [i for i in sorted(redmine.seeded.filed_category) if i not in redmine.seeded.edited][:20]
    details.write_text(
        "".join(get(f"/issues/{i}.json", include="journals,relations").text + "\n" for i in recorded)
    )
    export = tmp_path / "issues.csv"
    export.write_bytes(
        get("/projects/hive/issues.csv", status_id="*", **{"c[]": ["all_inline", "description"]}).content
    )
    header = export.read_text(encoding="utf-8").splitlines()[0]
    for column in (
        "#",
        "Project",
        "Tracker",
        "Status",
        "Priority",
        "Subject",
        "Author",
        "Category",
        "Created",
    ):
        assert column in header.split(","), header

    cli("import", "redmine", details, "--tracker", "rm-details")
    cli("import", "redmine", page, "--tracker", "rm-page")
    cli("import", "redmine", export, "--tracker", "rm-csv")
    database = open_database(Settings(home=tmp_path / "home"))
    with database.session() as session:
        rows = {(r.tracker, r.external_id): r for r in session.scalars(select(ReportRow))}
    database.dispose()
    for redmine_id in ids:
        detail, csv_row = rows[("rm-details", str(redmine_id))], rows[("rm-csv", str(redmine_id))]
        assert (
            detail.filed_from_history and detail.filed_component == redmine.seeded.filed_category[redmine_id]
        )
        assert detail.filed_type == "Bug" and detail.type == "Support"
        assert (csv_row.title, csv_row.component, csv_row.type, csv_row.project) == (
            detail.title,
            detail.component,
            detail.type,
            "Hive",
        )
        assert not csv_row.filed_from_history
    assert sum(1 for tracker, _ in rows if tracker == "rm-page") == 25
    assert not any(r.filed_from_history for (tracker, _), r in rows.items() if tracker == "rm-page")


@contextmanager
def local_http(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A one-handler HTTP server on a free loopback port (answers Redmine never gives), stopped on exit."""
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def html_server() -> Iterator[str]:
    """A server that answers every GET with an HTML page (a proxy's login page, not Redmine's API)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!DOCTYPE html><html><body><form>Sign in</form></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    with local_http(Handler) as url:
        yield url


def test_bad_answers_are_one_clear_line(cli: Invoke, html_server: str) -> None:
    cases = [
        ({"BUGSIFT_REDMINE_URL": html_server}, "not JSON"),
        ({"BUGSIFT_REDMINE_API_KEY": "0" * 40}, "401 Unauthorized: Redmine refused the API key"),
        ({"BUGSIFT_REDMINE_PROJECT": "no-such-project"}, "no Redmine project 'no-such-project'"),
        ({"BUGSIFT_REDMINE_URL": "file:///etc/passwd"}, "must be an http:// or https:// URL"),
    ]
    for env, expected in cases:
        result = cli("sync", "redmine", ok=False, **env)
        assert result.exit_code == 1, result.output
        errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and expected in errors[0], result.output
        assert "Traceback" not in result.output


def test_killed_sync_then_rerun_loses_and_doubles_nothing(redmine: Any, cli: Invoke, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items()}
    env.update(BUGSIFT_SYNC_PAGE_SIZE="10", BUGSIFT_HOME=str(home))
    command = [sys.executable, "-m", "bugsift.cli", "sync", "redmine"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    database = home / "bugsift.sqlite3"
    deadline = time.monotonic() + 60
    count = 0
    while time.monotonic() < deadline and process.poll() is None:
        count = _count(database)
        if count >= 20:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the sync ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert 0 < _count(database) < len(redmine.seeded.ids)
    rerun = cli("sync", "redmine")
    counts = summary(rerun)
    assert counts["imported"] + counts["unchanged"] + counts["updated"] == len(redmine.seeded.ids)
    rows = stored(home)
    assert sorted(rows) == sorted(str(i) for i in redmine.seeded.filed_category)  # none lost
    assert _count(database) == len(redmine.seeded.ids)  # none doubled


def test_redmine_stopped_mid_sync_and_started_again_the_sync_finishes(
    redmine: Any, cli: Invoke, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items()}
    # retries 1+2+4+8+16 s: longer than Redmine's ~10 s restart
    env.update(BUGSIFT_SYNC_PAGE_SIZE="10", BUGSIFT_HOME=str(home), BUGSIFT_SYNC_BACKOFF_S="1")
    command = [sys.executable, "-m", "bugsift.cli", "sync", "redmine"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    database = home / "bugsift.sqlite3"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None and _count(database) < 20:
        time.sleep(0.05)
    assert process.poll() is None, "the sync ended before Redmine could be stopped"
    redmine.stop()
    try:
        time.sleep(1.0)
    finally:
        redmine.start()
    output, _ = process.communicate(timeout=180)
    assert process.returncode == 0, output
    assert "Traceback" not in output
    assert "Redmine did not answer" in output and "retrying" in output
    assert _count(database) == len(redmine.seeded.ids)  # every issue, once


def _count(database: Path) -> int:
    if not database.is_file():
        return 0
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT count(*) FROM reports WHERE tracker = 'redmine'").fetchone()[0]
    except sqlite3.Error:
        return 0


# --- without a server ----------------------------------------------------------------------------------


def test_the_sync_job_takes_redmine() -> None:
    assert validate_args("sync", {"source": "redmine", "project": "hive"})["project"] == "hive"
    with pytest.raises(ValueError, match=r"args\.repo is for a github sync"):
        validate_args("sync", {"source": "redmine", "repo": "a/b"})
    with pytest.raises(ValueError, match="project"):
        validate_args("sync", {"source": "redmine", "project": "a b; drop"})
    with pytest.raises(ValueError, match="BUGSIFT_REDMINE_URL 'gopher://x'"):
        tracker_url(Settings(redmine_url="gopher://x"), "redmine", None)
    with pytest.raises(ValueError, match="needs a url"):
        tracker_url(Settings(redmine_url=None), "redmine", None)


def test_never_edited_needs_equal_times_and_no_relation() -> None:
    when = "2025-03-01T10:00:00Z"
    assert never_edited({"created_on": when, "updated_on": when, "relations": []})
    assert not never_edited({"created_on": when, "updated_on": "2025-03-01T10:00:01Z", "relations": []})
    assert not never_edited({"created_on": when, "updated_on": when, "relations": [{"id": 1}]})
    assert not never_edited({"created_on": when, "updated_on": when})  # a server that did not list relations
    assert not never_edited({"created_on": None, "updated_on": None, "relations": []})


def test_a_server_without_a_date_header_gives_this_clock_less_the_margin() -> None:
    """Puma, as Redmine's Docker image serves it, sends no Date header."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            key = {"/trackers.json": "trackers", "/enumerations/issue_priorities.json": "issue_priorities"}
            body = json.dumps({key.get(self.path.split("?")[0], "projects"): [], "total_count": 0}).encode()
            self.send_response_only(200)  # no Date, unlike send_response
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    logs: list[str] = []
    with local_http(Handler) as url:
        client = RedmineClient(url, retries=0, log=logs.append)
        watermark = datetime.strptime(client.server_time(), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - CLOCK_SKEW_MARGIN - watermark).total_seconds()) < 60
    assert any("no Date header" in line for line in logs), logs
