"""What the security probe of issue 19 found, each as a test: report privacy, the login redirect,
throttles, server-side sessions, the server's connection limits, the database file's mode, bidi spoofing.

Real app, real SQLite, real waitress; the duplicates model is a real re-ranker fitted on real Mozilla bug
texts (its pair classifier learns "similar titles are duplicates", enough to rank stored candidates).
"""

from __future__ import annotations

import socket
import stat
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from sqlalchemy import select

from bugsift.learn.duplicates.features import FEATURE_NAMES, Doc
from bugsift.learn.duplicates.ranker import DuplicateRanker, save_ranker
from bugsift.settings import Settings
from bugsift.sources import read_reports
from bugsift.sources.base import Report
from bugsift.store.db import open_database
from bugsift.store.models import LabelRow, ReportRow
from bugsift.store.reports import upsert_reports
from bugsift.web import accounts
from bugsift.web.app import create_app
from bugsift.web.blueprints.auth import safe_next
from bugsift.web.extensions import limiter

from .conftest import PASSWORD, Web, csrf_token, login, register, waitress_in_thread

SECRET_TEXT = "the staging password is hunter2 and the VPN host is vpn7.internal"


@pytest.fixture
def dup_web(web: Web, shared_data: Path, tmp_path: Path) -> Web:
    """The web fixture plus an active duplicates model and 40 imported Mozilla bugs."""
    path = shared_data / "bugzilla-mozilla" / "bugs_compact_labeled.jsonl"
    reports = [r for r in read_reports("bugzilla", path) if isinstance(r, Report)][:40]
    with web.database.session() as session:
        upsert_reports(session, reports)
    docs = [Doc(i, r.external_id, r.title, r.description) for i, r in enumerate(reports)]
    ranker = DuplicateRanker(max_iter=20, min_samples_leaf=5).fit_text(docs)
    rng = np.random.default_rng(0)
    X = rng.random((400, len(FEATURE_NAMES)))
    ranker.fit(X, (X[:, FEATURE_NAMES.index("cos_title")] > 0.4).astype(int))
    model_path = save_ranker(ranker, tmp_path / "duplicates.skops")
    register(
        web.database,
        {
            "task": "duplicates",
            "label": "all",
            "mode": "filing",
            "version": 1,
            "path": model_path,
            "params": {"tracker": None},
            "data": {},
            "metrics": {},
            "thresholds": {"uncertain": 0.5},
        },
    )
    return web


def _submit(client: Any, title: str, description: str) -> str:
    fields = {"title": title, "description": description, "csrf_token": csrf_token(client), "submit": "1"}
    response = client.post("/", data=fields)
    assert response.status_code == 302, response.get_data(as_text=True)
    return str(response.headers["Location"]).rsplit("/", 1)[-1]


def _suggest(client: Any, title: str) -> dict[str, Any]:
    answer = client.post("/suggest", json={"title": title}, headers={"X-CSRFToken": csrf_token(client)})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return dict(answer.json)


def test_an_anonymous_visitor_never_sees_another_reporters_submission(dup_web: Web) -> None:
    reporter, stranger = dup_web.app.test_client(), dup_web.app.test_client()
    ref = _submit(reporter, "Printing a page crashes the browser", SECRET_TEXT)
    assert reporter.get(f"/r/{ref}").status_code == 200  # the reporter rereads their own report

    answer = _suggest(stranger, "Printing a page crashes the browser")
    assert "duplicates" not in answer  # the default: nothing of stored reports
    assert ref not in str(answer) and "hunter2" not in str(answer)
    page = stranger.get(f"/r/{ref}")
    assert page.status_code == 404 and "hunter2" not in page.get_data(as_text=True)

    login(stranger, "viewer")  # people of the team see everything
    seen = _suggest(stranger, "Printing a page crashes the browser")["duplicates"]
    assert ref in [c["label"] for c in seen["candidates"]]
    assert "hunter2" in stranger.get(f"/r/{ref}").get_data(as_text=True)


def test_imported_duplicates_can_be_public_without_submissions_or_matched_words(dup_web: Web) -> None:
    dup_web.app.config["PUBLIC_DUPLICATES"] = "imported"
    with dup_web.database.session() as session:
        imported = session.scalars(select(ReportRow).where(ReportRow.tracker == "bugzilla")).first()
        assert imported is not None
        title = imported.title
    reporter, stranger = dup_web.app.test_client(), dup_web.app.test_client()
    ref = _submit(reporter, title, SECRET_TEXT)

    answer = _suggest(stranger, title)["duplicates"]
    labels = [c["label"] for c in answer["candidates"]]
    assert imported.external_id in labels and ref not in labels
    assert all(c["tracker"] == "bugzilla" for c in answer["candidates"])
    assert all("matched_terms" not in c for c in answer["candidates"])
    assert "matched terms" not in str(answer["explanation"])
    # the server-side preview (no JavaScript) shows the same
    fields = {"title": title, "csrf_token": csrf_token(stranger), "preview": "1"}
    page = stranger.post("/", data=fields).get_data(as_text=True)
    assert imported.external_id in page and ref not in page


def test_the_stored_page_of_a_reporter_hides_which_report_it_duplicates(dup_web: Web) -> None:
    first, second = dup_web.app.test_client(), dup_web.app.test_client()
    ref_one = _submit(first, "Printing a page crashes the browser", SECRET_TEXT)
    ref_two = _submit(second, "Printing a page crashes the browser", "Same here.")
    with dup_web.database.session() as session:  # the model did name the first report: hiding it matters
        stored = session.scalars(select(LabelRow.value).where(LabelRow.name == "duplicate_of")).all()
    assert ref_one in stored
    page = second.get(f"/r/{ref_two}").get_data(as_text=True)
    assert ref_one not in page
    assert second.get(f"/r/{ref_one}").status_code == 404


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/dashboard/", "/dashboard/"),
        ("/\t/evil.example", "/triage/"),
        ("/\n/x", "/triage/"),
        ("//evil.example", "/triage/"),
        ("/\\evil.example", "/triage/"),
        ("https://evil.example/", "/triage/"),
        (" /dashboard/", "/triage/"),
    ],
)
def test_the_login_redirect_stays_on_the_site(web: Web, target: str, expected: str) -> None:
    with web.app.test_request_context():
        assert safe_next(target) == expected


def test_login_with_a_hostile_next_redirects_home_instead_of_away_or_500(web: Web) -> None:
    for query in ("next=/%09/evil.example", "next=/%0a/x", "next=/%0d%0aSet-Cookie:x=1"):
        token = csrf_token(web.client, "/login")
        response = web.client.post(
            f"/login?{query}", data={"username": "triager", "password": PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 302, query
        assert response.headers["Location"] == "/triage/", query


def test_failed_logins_are_throttled_per_address_and_per_user(settings: Settings, sqlite_db: Any) -> None:
    with sqlite_db.session() as session:
        accounts.create_user(session, "alice", PASSWORD, "triager")
    app = create_app(settings, database=sqlite_db, TESTING=True, LOGIN_RATE_LIMIT="5 per hour")
    limiter.reset()

    def attempt(address: str, password: str) -> int:
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        token = csrf_token(client, "/login")
        data = {"username": "alice", "password": password, "csrf_token": token}
        return client.post("/login", data=data).status_code

    assert attempt("10.0.0.1", PASSWORD) == 302  # successful logins do not count
    assert [attempt("10.0.0.1", "wrong password") for _ in range(6)] == [401] * 5 + [429]
    assert attempt("10.0.0.1", PASSWORD) == 429  # even the right password waits: no oracle
    assert attempt("10.0.0.2", "wrong password") == 429  # the user is throttled from any address


def test_the_form_and_anonymous_submissions_are_rate_limited(settings: Settings, sqlite_db: Any) -> None:
    app = create_app(
        settings, database=sqlite_db, TESTING=True, FORM_RATE_LIMIT="4 per minute", SUBMIT_RATE_LIMIT="2/hour"
    )
    limiter.reset()
    client = app.test_client()

    def post(button: str) -> int:
        data = {"title": "Crash on start", "csrf_token": csrf_token(client), button: "1"}
        return client.post("/", data=data).status_code

    assert [post("submit"), post("submit"), post("submit")] == [302, 302, 429]
    assert [post("preview"), post("preview")] == [200, 429]  # the 5th POST of the minute
    with sqlite_db.session() as session:
        assert len(session.scalars(select(ReportRow.id)).all()) == 2


def _session_cookie(client: Any) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return str(cookie.value)


def test_a_session_cookie_dies_with_logout(web: Web) -> None:
    login(web.client, "triager")
    captured = _session_cookie(web.client)
    assert web.client.get("/triage/").status_code == 200
    response = web.client.post("/logout", data={"csrf_token": csrf_token(web.client)})
    assert response.status_code == 302
    thief = web.app.test_client()
    thief.set_cookie("session", captured)
    assert thief.get("/triage/").status_code == 302  # to the login page


def test_a_new_password_ends_every_session_of_the_user(web: Web) -> None:
    login(web.client, "triager")
    other_browser = web.app.test_client()
    login(other_browser, "triager")
    with web.database.session() as session:
        accounts.set_password(session, "triager", "a brand new password")
    assert web.client.get("/triage/").status_code == 302
    assert other_browser.get("/triage/").status_code == 302


def test_logout_with_a_stale_form_says_so_and_offers_a_fresh_button(web: Web) -> None:
    login(web.client, "triager")
    stale = web.client.post("/logout", data={"csrf_token": "stale"})
    assert stale.status_code == 400
    page = stale.get_data(as_text=True)
    assert "still logged in" in page and 'id="logout-button"' in page
    assert web.client.get("/triage/").status_code == 200
    assert web.client.post("/logout", data={"csrf_token": csrf_token(web.client)}).status_code == 302
    assert web.client.get("/triage/").status_code == 302


def test_secure_cookies_setting_marks_the_session_cookie(settings: Settings, sqlite_db: Any) -> None:
    with sqlite_db.session() as session:
        accounts.create_user(session, "alice", PASSWORD, "triager")
    for secure in (False, True):
        app = create_app(settings.model_copy(update={"web_secure_cookies": secure}), database=sqlite_db)
        app.config["TESTING"] = True
        client = app.test_client()
        token = csrf_token(client, "/login")
        data = {"username": "alice", "password": PASSWORD, "csrf_token": token}
        response = client.post("/login", data=data)
        cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
        assert ("Secure" in cookie) is secure
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_new_sqlite_database_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    database = open_database(Settings(home=tmp_path / "home"))
    try:
        path = Path(database.url.split("///", 1)[1])
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        for sidecar in path.parent.glob(path.name + "-*"):  # -wal, -shm
            assert stat.S_IMODE(sidecar.stat().st_mode) & 0o077 == 0, sidecar
    finally:
        database.dispose()


def test_bidi_overrides_are_not_drawn_on_pages_but_kept_in_the_store(web: Web) -> None:
    spoof = "Invoice \u202egnp.exe crashes the viewer"
    ref = _submit(web.client, spoof, "It \u2066really\u2069 does.")
    page = web.client.get(f"/r/{ref}").get_data(as_text=True)
    assert "\u202e" not in page and "\u2066" not in page
    assert "Invoice gnp.exe crashes the viewer" in page
    with web.database.session() as session:
        assert session.scalar(select(ReportRow.title).where(ReportRow.external_id == ref)) == spoof


def test_a_viewer_cannot_hold_a_label_token(web: Web) -> None:
    with web.database.session() as session, pytest.raises(ValueError, match="label scope"):
        accounts.create_token(session, accounts.get_user(session, "viewer"), "x", ("label",))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_three_hundred_half_open_connections_do_not_take_the_server_down(
    web: Web, settings: Settings
) -> None:
    from bugsift.web.commands import server_options

    port = _free_port()
    idle: list[socket.socket] = []
    with waitress_in_thread(web.app, port=port, **server_options(settings, 4)):
        try:
            for _ in range(300):  # each sends half a request line and then nothing
                conn = socket.create_connection(("127.0.0.1", port), timeout=5)
                conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
                idle.append(conn)
            started = time.monotonic()
            response = requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=10)
            assert response.status_code == 200
            assert time.monotonic() - started < 5
        finally:
            for conn in idle:
                conn.close()
