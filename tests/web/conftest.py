"""Fixtures of the web tests: a real defect model trained once on 300 real Mozilla bugs (from
../shared/data, never copied here), a fresh SQLite database per test with that model registered, users
and API tokens made with the plain functions of `bugsift.web.accounts`."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bugsift.jobs import core as jobs_core
from bugsift.learn.lifecycle import train_task
from bugsift.settings import Settings
from bugsift.sources import read_reports
from bugsift.sources.base import Report
from bugsift.store.db import Database, open_database
from bugsift.store.registry import register_model
from bugsift.store.reports import upsert_reports
from bugsift.web import accounts
from bugsift.web.app import create_app
from bugsift.web.extensions import limiter

PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def defect_model(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`defect` (label is_bug_derived) trained on the oldest 300 Mozilla bugs; the registry row's fields."""
    path = shared_data / "bugzilla-mozilla" / "bugs_compact_labeled.jsonl"
    reports = sorted(
        (r for r in read_reports("bugzilla", path) if isinstance(r, Report)), key=lambda r: r.created_at
    )[:300]
    settings = Settings(home=tmp_path_factory.mktemp("web-model"))
    database = open_database(settings)
    try:
        with database.session() as session:
            upsert_reports(session, reports)
        row, _ = train_task(database, settings, "defect", "is_bug_derived")
    finally:
        database.dispose()
    names = ("task", "label", "mode", "version", "params", "data", "metrics", "thresholds")
    return {"path": Path(row.path), **{name: getattr(row, name) for name in names}}


def register(database: Database, model: dict[str, Any]) -> int:
    with database.session() as session:
        return register_model(session, **model).id


@dataclass
class Web:
    app: Flask
    client: FlaskClient
    database: Database
    tokens: dict[str, str]
    """Scope name (or 'all', 'revoked') -> token secret."""


@pytest.fixture
def web(settings: Settings, sqlite_db: Database, defect_model: dict[str, Any]) -> Iterator[Web]:
    register(sqlite_db, defect_model)
    tokens = {}
    with sqlite_db.session() as session:
        for name, role in (("triager", "triager"), ("viewer", "viewer"), ("admin", "admin")):
            accounts.create_user(session, name, PASSWORD, role)
        bot = accounts.create_user(session, "bot", PASSWORD, "triager")
        for scopes in (("predict",), ("read",), ("label",)):
            tokens[scopes[0]] = accounts.create_token(session, bot, scopes[0], scopes)[1]
        tokens["all"] = accounts.create_token(session, bot, "all", ("predict", "read", "label"))[1]
        revoked, tokens["revoked"] = accounts.create_token(session, bot, "old", ("predict",))
        accounts.revoke_token(session, revoked.id)
    app = create_app(settings, database=sqlite_db, TESTING=True)
    limiter.reset()
    yield Web(app, app.test_client(), sqlite_db, tokens)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def csrf_token(client: FlaskClient, path: str = "/") -> str:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert found, "no CSRF token in the page"
    return found.group(1)


def login(client: FlaskClient, username: str) -> None:
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)


@pytest.fixture
def dispose_job_databases() -> Iterator[None]:
    """`bugsift.jobs.submit` keeps one Database per URL and process: close them after each test."""
    yield
    for database in jobs_core._databases.values():
        database.dispose()
    jobs_core._databases.clear()


@pytest.fixture
def admin_token(web: Web) -> str:
    """An admin's token that may read and queue jobs."""
    with web.database.session() as session:
        admin = accounts.get_user(session, "admin")
        return accounts.create_token(session, admin, "ops", ("read", "jobs"))[1]


@contextmanager
def waitress_in_thread(app: Flask, **options: Any) -> Iterator[Any]:
    """The app under waitress (what `bugsift serve` runs) on a free loopback port, in a thread; stopped
    on exit. Closing the sockets while the loop sits in select() can raise EBADF in that thread: once the
    stop was asked, that is the stop, not a failure."""
    from waitress.server import create_server

    server = create_server(app, host="127.0.0.1", port=options.pop("port", 0), **options)
    stopping = threading.Event()

    def run() -> None:
        try:
            server.run()
        except OSError:
            if not stopping.is_set():
                raise

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stopping.set()
        server.close()
        thread.join(timeout=5)
