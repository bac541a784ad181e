"""The dashboard's model versions (thresholds, coverage, each version's own validation report) and the jobs
panel and API: a real classify job queued through the API, run by the jobs layer, then shown."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bugsift.jobs import run_job
from bugsift.learn.tasks import TaskOptions, TrainOutcome, evaluation_path, get_task, report_path
from bugsift.report.html import FORMAT_MARK
from bugsift.settings import Settings
from bugsift.store.models import ModelRow
from bugsift.store.reports import upsert_reports
from bugsift.web import accounts
from bugsift.web.app import create_app
from bugsift.web.model_reports import PHONE_STYLE, fit_phones
from bugsift.web.suggest import parse_report

from .conftest import PASSWORD, Web, bearer, login, register

pytestmark = pytest.mark.usefixtures("dispose_job_databases")


def test_training_keeps_the_evaluation_beside_the_model(defect_model: dict[str, Any]) -> None:
    kept = evaluation_path(defect_model["path"])
    assert kept.name == "defect-is_bug_derived-filing-v1.evaluation.json"
    assert kept.parent == defect_model["path"].parent
    assert '"predictions"' in kept.read_text()  # what the report draws, which the registry row does not keep


def test_every_task_keeps_its_evaluation_through_the_registry(tmp_path: Path) -> None:
    """`get_task(...).train` (the CLI's and the jobs' way in) writes the evaluation of any task family."""

    class Row:
        path = tmp_path / "files-fixed_files-filing-v3.skops"

    class Handler:
        name, help = "files", "stand-in"

        def train(self, *_: Any) -> TrainOutcome:
            return TrainOutcome(model=Row(), evaluation={"projects": [{"project": "SWT"}]}, text="")

    # left from an earlier database whose v3 was another model: replaced, and its drawn report dropped
    stale = tmp_path / "files-fixed_files-filing-v3.evaluation.json"
    stale.write_text('{"projects": []}')
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    (tmp_path / "files-fixed_files-filing-v3.report.html").write_text("<html>old</html>")
    handler = get_task("files")
    handler.handler = Handler()  # type: ignore[attr-defined]
    handler.train(None, None, TaskOptions())  # type: ignore[arg-type]
    assert stale.read_text() == '{"projects": [{"project": "SWT"}]}'
    assert not report_path(Row.path).exists()


def test_dashboard_shows_thresholds_coverage_and_the_versions_own_report(
    web: Web, defect_model: dict[str, Any]
) -> None:
    login(web.client, "viewer")
    page = web.client.get("/dashboard/").get_data(as_text=True)
    uncertain = defect_model["thresholds"]["uncertain"]
    assert f"not sure below {uncertain:.2f}" in page
    coverage = defect_model["metrics"]["at_threshold"]["coverage"]
    assert f"answers {coverage:.0%} of test reports at precision" in page
    assert "triagers only" in page and "/report" not in page
    with web.database.session() as session:
        model_id = session.scalars(select(ModelRow.id)).one()
    assert web.client.get(f"/dashboard/models/{model_id}/report").status_code == 403

    web.client.post("/logout", data={"csrf_token": _token(page)})
    login(web.client, "triager")
    page = web.client.get("/dashboard/").get_data(as_text=True)
    assert f'href="/dashboard/models/{model_id}/report"' in page
    response = web.client.get(f"/dashboard/models/{model_id}/report")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" in html and "defect" in html and 'data-figure="' in html
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert "script-src" not in response.headers["Content-Security-Policy"]
    kept = report_path(defect_model["path"]).read_text(encoding="utf-8")
    assert fit_phones(kept) == html and PHONE_STYLE in html  # rendered once, then read
    assert web.client.get("/dashboard/models/999/report").status_code == 404


def test_a_report_kept_in_an_older_format_is_drawn_again(web: Web, defect_model: dict[str, Any]) -> None:
    """A report kept before classes were named in words ('not_defect') is not served as it is."""
    kept = report_path(defect_model["path"])
    # newer than its evaluation, so only its format tells that it is old
    kept.write_text("<html><body>'not_defect' reports</body></html>", encoding="utf-8")
    login(web.client, "triager")
    with web.database.session() as session:
        model_id = session.scalars(select(ModelRow.id)).one()
    html = web.client.get(f"/dashboard/models/{model_id}/report").get_data(as_text=True)
    assert FORMAT_MARK in html and "'not_defect' reports" not in html
    assert FORMAT_MARK in kept.read_text(encoding="utf-8")  # kept again, in the current format


def _token(page: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert found
    return found.group(1)


def test_jobs_api_queues_runs_and_shows_a_real_job(web: Web, admin_token: str) -> None:
    api = web.client
    with web.database.session() as session:  # one stored report for the job to classify
        upsert_reports(session, [parse_report({"id": "w1", "title": "Crash when printing a page"})])
    assert api.get("/api/v1/jobs", headers=bearer(web.tokens["read"])).json == []
    body = {"task": "classify", "args": {"task": "defect"}}
    # queueing takes the jobs scope and an admin's token
    assert api.post("/api/v1/jobs", json=body, headers=bearer(web.tokens["all"])).status_code == 403
    with web.database.session() as session:  # an admin's token, and then the admin is demoted
        bot = accounts.get_user(session, "bot")
        with pytest.raises(ValueError, match="jobs scope is for admins"):
            accounts.create_token(session, bot, "x", ("jobs",))
        bot.role = "admin"
        demoted = accounts.create_token(session, bot, "x", ("jobs",))[1]
        accounts.set_role(session, "bot", "viewer")
    refused = api.post("/api/v1/jobs", json=body, headers=bearer(demoted))
    assert refused.status_code == 403 and "admin" in refused.json["message"]

    for bad, words in (
        ({"task": "notify"}, "task must be one of train, classify, sync"),
        ({"task": "classify", "args": {"task": "defect", "colour": "red"}}, "no argument colour"),
        ({"task": "classify", "args": {}}, "classify needs task"),
        ({"task": "train", "args": {"task": "weather"}}, "args.task must be one of"),
        ({"task": "train", "args": {"task": "defect", "label": ["a"]}}, "plain value"),
        ([1], "send a JSON object"),
    ):
        response = api.post("/api/v1/jobs", json=bad, headers=bearer(admin_token))
        assert response.status_code == 400 and words in response.json["message"], (bad, response.json)

    queued = api.post("/api/v1/jobs", json=body, headers=bearer(admin_token))
    assert queued.status_code == 202, queued.json
    job_id = queued.json["id"]
    assert queued.headers["Location"] == f"/api/v1/jobs/{job_id}"
    assert queued.json["state"] == "queued" and queued.json["args"] == {"task": "defect"}

    assert run_job(job_id, web.app.extensions["bugsift"].settings).state == "done"

    shown = api.get(f"/api/v1/jobs/{job_id}", headers=bearer(web.tokens["read"])).json
    assert shown["state"] == "done" and shown["attempts"] == 1
    assert (
        shown["result"]["predicted"] == 1
        and shown["last_log"].endswith(" done")
        and "classify defect" in shown["log"]
    )
    listed = api.get("/api/v1/jobs?state=done&limit=5", headers=bearer(web.tokens["read"])).json
    assert [j["id"] for j in listed] == [job_id] and "log" not in listed[0]
    assert api.get("/api/v1/jobs?state=queued", headers=bearer(web.tokens["read"])).json == []
    assert api.get("/api/v1/jobs?state=lost", headers=bearer(web.tokens["read"])).status_code == 400
    assert api.get("/api/v1/jobs?limit=x", headers=bearer(web.tokens["read"])).status_code == 400
    assert api.get("/api/v1/jobs/999", headers=bearer(web.tokens["read"])).status_code == 404
    assert api.get("/api/v1/jobs", headers=bearer(web.tokens["predict"])).status_code == 403

    login(web.client, "viewer")
    page = web.client.get("/dashboard/").get_data(as_text=True)
    row = re.search(
        rf'<tr class="job-done"><td>{job_id}</td><td>classify task=defect</td><td>done</td>', page
    )
    assert row, page
    assert PASSWORD not in page


def test_admins_queue_jobs_from_the_dashboard(web: Web) -> None:
    login(web.client, "triager")
    page = web.client.get("/dashboard/").get_data(as_text=True)
    assert 'id="job-form"' not in page
    form = {"job": "train", "task": "defect", "label": "is_bug", "csrf_token": _token(page)}
    assert web.client.post("/dashboard/jobs", data=form).status_code == 403

    web.client.post("/logout", data={"csrf_token": _token(page)})
    login(web.client, "admin")
    page = web.client.get("/dashboard/").get_data(as_text=True)
    assert 'id="job-form"' in page
    assert web.client.post("/dashboard/jobs", data={**form, "csrf_token": ""}).status_code == 400
    assert (
        web.client.post(
            "/dashboard/jobs", data={**form, "task": "weather", "csrf_token": _token(page)}
        ).status_code
        == 400
    )
    response = web.client.post("/dashboard/jobs", data={**form, "csrf_token": _token(page)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/dashboard/#jobs")
    jobs = web.client.get("/api/v1/jobs", headers=bearer(web.tokens["read"])).json
    assert [(j["task"], j["args"], j["state"]) for j in jobs] == [
        ("train", {"task": "defect", "label": "is_bug"}, "queued")
    ]
    page = web.client.get("/dashboard/").get_data(as_text=True)
    assert f"Queued job {jobs[0]['id']}: train defect" in page
    assert f"<td>{jobs[0]['id']}</td><td>train task=defect label=is_bug</td><td>queued</td>" in page


def test_the_job_form_offers_the_stores_label_sets_and_trained_field_tasks(web: Web) -> None:
    from bugsift.sources.base import Report
    from bugsift.store.labels import upsert_labels
    from bugsift.store.reports import find_report_ids

    report = Report(tracker="bugzilla", external_id="990001", title="Crash on start", description="x")
    with web.database.session() as session:
        upsert_reports(session, [report])
        (row_id,) = find_report_ids(session, "bugzilla", ["990001"])["990001"]
        upsert_labels(session, [(row_id, "regression", "yes")], "import")
        trained = ModelRow(task="field:cf_crash", label="cf_crash", mode="filing", version=1, path="x")
        session.add(trained)
        trained.active = False  # a row only: nothing to load
    login(web.client, "admin")
    page = web.client.get("/dashboard/").get_data(as_text=True)
    options = re.findall(r'<option value="([^"]+)"', page.split('id="job-form"', 1)[1].split("</form>")[0])
    assert options[:3] == ["train", "classify", "type"] and "component" in options
    assert "label:regression" in options and "field:cf_crash" in options
    form = {"job": "train", "task": "label:regression", "csrf_token": _token(page)}
    assert web.client.post("/dashboard/jobs", data=form).status_code == 302
    jobs = web.client.get("/api/v1/jobs", headers=bearer(web.tokens["read"])).json
    assert [(j["task"], j["args"]) for j in jobs] == [("train", {"task": "label:regression"})]


def test_an_unreachable_job_queue_is_a_503_not_a_500(web: Web, admin_token: str) -> None:
    settings = web.app.extensions["bugsift"].settings
    broken = settings.model_copy(update={"jobs_backend": "celery", "broker_url": "redis://127.0.0.1:1/0"})
    client = create_app(broken, database=web.database, TESTING=True).test_client()
    body = {"task": "classify", "args": {"task": "defect"}}
    response = client.post("/api/v1/jobs", json=body, headers=bearer(admin_token))
    assert response.status_code == 503
    assert "job queue is unavailable" in response.json["message"]


def test_dashboard_tells_imports_from_syncs_explains_metrics_and_warns_of_no_worker(
    web: Web, shared_data: Path, defect_model: dict[str, Any]
) -> None:
    from datetime import timedelta

    from bugsift.sources import read_reports
    from bugsift.sources.base import Report
    from bugsift.store.job_tables import JobRow, SyncStateRow
    from bugsift.store.models import utcnow

    path = shared_data / "bugzilla-mozilla" / "bugs_compact_labeled.jsonl"
    with web.database.session() as session:
        upsert_reports(session, [r for r in read_reports("bugzilla", path) if isinstance(r, Report)][:5])
    login(web.client, "viewer")
    page = web.client.get("/dashboard/").get_data(as_text=True)
    assert "never: imported from files" in page
    # the defect model's headline metric, in words
    assert re.search(r"macro-F1 \d\.\d{3} \(F1 with every class weighing the same\)", page)
    assert 'id="no-worker"' not in page

    with web.database.session() as session:
        session.add(SyncStateRow(source="bugzilla:https://bugzilla.example:", watermark="x"))
        session.add(JobRow(task="train", args={"task": "defect"}, created_at=utcnow() - timedelta(minutes=5)))
    page = web.client.get("/dashboard/").get_data(as_text=True)
    assert "never: imported from files" not in page
    assert 'id="no-worker"' in page and "bugsift worker" in page


def test_new_reports_are_answered_by_the_filing_time_model_and_pages_name_it_plainly(
    web: Web, defect_model: dict[str, Any]
) -> None:
    from bugsift.web.extensions import predictors

    backlog = {**defect_model, "mode": "backlog", "version": 1}  # newer, and active for its own mode
    register(web.database, backlog)
    with web.app.app_context():
        served = predictors().active()["defect"]
    assert served.mode == "filing"
    login(web.client, "viewer")
    page = web.client.get("/dashboard/").get_data(as_text=True)
    assert "Real defect? (is_bug_derived) · at filing · v1" in page
    assert "Real defect? (is_bug_derived) · in the backlog · v1" in page
    assert page.count("yes: the form and the API") == 1
    assert "current for its mode (batch jobs)" in page


def test_dashboard_says_when_the_bot_has_no_rules_or_bad_ones(web: Web, settings: Settings) -> None:
    login(web.client, "viewer")
    page = web.client.get("/dashboard/").get_data(as_text=True)
    assert 'id="bot-none"' in page and "the bot writes nothing into the tracker" in page
    settings.home.mkdir(parents=True, exist_ok=True)
    settings.bot_rules_path.write_text('[[rule]]\nname = "c"\ntracker = "redmine"\ntask = "component"\n')
    page = web.client.get("/dashboard/").get_data(as_text=True)
    assert 'id="bot-problem"' in page and "bot.toml:1: rule 1: action: missing" in page
